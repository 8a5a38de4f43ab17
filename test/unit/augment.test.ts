import * as assert from 'node:assert/strict';
import {
  applyTransform, augment, IDENTITY, makeRng, parsePreset, presetParams, PRESETS, sampleTransform,
  shuffled, type AugmentParams,
} from '../../src/augment';
import { preprocess } from '../../src/image';
import { sample } from '../helpers';

/** A size×size image whose pixel (x, y) is (x*k, y*k, 7): every position is distinguishable. */
function gradient(size: number, k = 10): Uint8Array {
  const a = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) a.set([x * k, y * k, 7], (y * size + x) * 3);
  return a;
}

function at(img: Uint8Array, size: number, x: number, y: number): number[] {
  const o = (y * size + x) * 3;
  return [img[o], img[o + 1], img[o + 2]];
}

const ZERO: AugmentParams = { rotationDeg: 0, zoom: 0, shiftFrac: 0, brightness: 0, contrast: 0, hflip: false };

describe('augment: rng', () => {
  it('makeRng is deterministic, in [0,1), and seed-dependent', () => {
    const a = makeRng(42), b = makeRng(42), c = makeRng(43);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  });

  it('shuffled is a seeded permutation that leaves the input alone', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const s1 = shuffled(items, makeRng(1));
    assert.deepEqual(s1, shuffled(items, makeRng(1)));
    assert.deepEqual(s1.slice().sort((p, q) => p - q), items);
    assert.notDeepEqual(s1, items);
    assert.deepEqual(items, Array.from({ length: 20 }, (_, i) => i));
  });
});

describe('augment: presets', () => {
  it('objects flips, digits never flips, none is all zero', () => {
    assert.deepEqual(PRESETS, ['objects', 'digits', 'none']);
    assert.equal(presetParams('objects').hflip, true);
    assert.deepEqual(presetParams('digits'), { rotationDeg: 8, zoom: 0.1, shiftFrac: 0.08, brightness: 0.3, contrast: 0.3, hflip: false });
    assert.deepEqual(presetParams('objects'), { rotationDeg: 20, zoom: 0.15, shiftFrac: 0.1, brightness: 0.2, contrast: 0.2, hflip: true });
    assert.deepEqual(presetParams('none'), ZERO);
    const rng = makeRng(5);
    for (let i = 0; i < 500; i++) assert.equal(sampleTransform(presetParams('digits'), 224, rng).flip, false);
    const flips = Array.from({ length: 500 }, () => sampleTransform(presetParams('objects'), 224, rng).flip).filter(Boolean).length;
    assert.ok(flips > 180 && flips < 320, `objects flipped ${flips}/500`);
  });

  it('sampled values stay within the preset ranges', () => {
    const rng = makeRng(9);
    for (let i = 0; i < 500; i++) {
      const t = sampleTransform(presetParams('digits'), 100, rng);
      assert.ok(Math.abs(t.angleDeg) <= 8 && Math.abs(t.scale - 1) <= 0.1);
      assert.ok(Math.abs(t.shiftX) <= 8 && Math.abs(t.shiftY) <= 8);
      assert.ok(Math.abs(t.brightness - 1) <= 0.3 && Math.abs(t.contrast - 1) <= 0.3);
    }
    assert.throws(() => sampleTransform({ ...ZERO, zoom: -0.1 }, 10, rng), /zoom=-0.1 is out of range/);
  });

  it('parsePreset accepts the three names and rejects others in one line', () => {
    for (const p of PRESETS) assert.equal(parsePreset(p), p);
    assert.throws(() => parsePreset('flip'), (e: Error) => {
      assert.equal(e.message, "unknown augmentation preset 'flip'; valid presets: objects, digits, none");
      return true;
    });
  });
});

describe('augment: transforms', () => {
  const size = 16;
  const img = gradient(size);

  it('same seed → identical bytes; different seed → different bytes; input untouched', () => {
    const before = img.slice();
    const a = augment(img, size, presetParams('objects'), makeRng(123));
    const b = augment(img, size, presetParams('objects'), makeRng(123));
    const c = augment(img, size, presetParams('objects'), makeRng(124));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.deepEqual(img, before);
    assert.notEqual(a.buffer, img.buffer);
  });

  it("'none' and all-zero params return an identical copy", () => {
    const rng = makeRng(1);
    for (let i = 0; i < 5; i++) {
      const out = augment(img, size, presetParams('none'), rng);
      assert.deepEqual(out, img);
      assert.notEqual(out, img);
    }
    assert.deepEqual(applyTransform(img, size, IDENTITY), img);
    assert.deepEqual(augment(img, size, ZERO, makeRng(77)), img);
  });

  it('hflip mirrors left-right exactly', () => {
    const out = applyTransform(img, size, { ...IDENTITY, flip: true });
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) assert.deepEqual(at(out, size, x, y), at(img, size, size - 1 - x, y));
  });

  it('rotation by +90° is counter-clockwise on screen (exact permutation)', () => {
    // CCW by 90°: the source's top row becomes the left column, read bottom-to-top,
    // i.e. out(x, y) = in(size-1-y, x).
    const out = applyTransform(img, size, { ...IDENTITY, angleDeg: 90 });
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) assert.deepEqual(at(out, size, x, y), at(img, size, size - 1 - y, x));
    const back = applyTransform(out, size, { ...IDENTITY, angleDeg: -90 });
    assert.deepEqual(back, img);
    const twice = applyTransform(out, size, { ...IDENTITY, angleDeg: 90 });
    assert.deepEqual(twice, applyTransform(img, size, { ...IDENTITY, angleDeg: 180 }));
  });

  it('an integer shift moves content and fills the edge with the nearest pixel', () => {
    const out = applyTransform(img, size, { ...IDENTITY, shiftX: 3, shiftY: -2 });
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const sx = Math.max(0, x - 3), sy = Math.min(size - 1, y + 2);
        assert.deepEqual(at(out, size, x, y), at(img, size, sx, sy));
      }
    }
  });

  it('zoom 2 about the centre magnifies: the centre stays, corners come from the middle', () => {
    const out = applyTransform(img, size, { ...IDENTITY, scale: 2 });
    // Output pixel centre (x+0.5) maps to source 8 + (x+0.5-8)/2 - 0.5 → x=0 reads source x=3.75.
    assert.deepEqual(at(out, size, 0, 0), [38, 38, 7]);
    assert.deepEqual(at(out, size, 15, 15), [113, 113, 7]);
  });

  it('brightness and contrast: factors, clamping and rounding', () => {
    const flat = new Uint8Array(4 * 4 * 3).fill(100);
    assert.ok(applyTransform(flat, 4, { ...IDENTITY, brightness: 1.26 }).every((v) => v === 126));
    assert.ok(applyTransform(flat, 4, { ...IDENTITY, brightness: 3 }).every((v) => v === 255));
    assert.ok(applyTransform(flat, 4, { ...IDENTITY, contrast: 1.5 }).every((v) => v === 100));
    const two = new Uint8Array(2 * 1 * 3 * 2);
    two.set([50, 50, 50, 150, 150, 150, 50, 50, 50, 150, 150, 150]);
    assert.deepEqual(Array.from(applyTransform(two, 2, { ...IDENTITY, contrast: 1.5 })), [25, 25, 25, 175, 175, 175, 25, 25, 25, 175, 175, 175]);
    assert.deepEqual(Array.from(applyTransform(two, 2, { ...IDENTITY, contrast: 3 })), [0, 0, 0, 250, 250, 250, 0, 0, 0, 250, 250, 250]);
  });

  it('on a real preprocessed image every preset keeps the size and changes pixels (except none)', async () => {
    const input = await preprocess(sample('images', 'grace_hopper.bmp'), 64);
    const rng = makeRng(2024);
    for (const p of PRESETS) {
      for (let i = 0; i < 10; i++) {
        const out = augment(input, 64, presetParams(p), rng);
        assert.equal(out.length, 64 * 64 * 3);
        assert.equal(out.every((v, j) => v === input[j]), p === 'none');
      }
    }
    assert.throws(() => augment(input, 63, presetParams('none'), rng), /expected 63x63x3 = 11907 bytes, got 12288/);
  });
});
