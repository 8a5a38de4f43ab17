import { strict as assert } from 'node:assert';
import sharp from 'sharp';
import { centreCropBox, preprocess, preprocessTo, toGrey, loadImage, toInputShape } from '../../src/image';
import { augmentTo, applyTransformTo, sampleTransform, presetParams, makeRng, IDENTITY } from '../../src/augment';
import { sample } from '../helpers';

/** A W×H PNG whose left `split` columns are black and the rest white. */
async function halves(width: number, height: number, split: number): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px.fill(x < split ? 0 : 255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  return sharp(px, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** A height×width grey image whose pixel (x, y) is 10·x + y: every position is distinguishable. */
function greyGradient(height: number, width: number): Uint8Array {
  const a = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) a[y * width + x] = 10 * x + y;
  return a;
}

describe('CNN input: H×W and grey preprocessing', () => {
  it('centre-crops to the target aspect ratio (square by default)', () => {
    assert.deepEqual(centreCropBox(100, 50), { left: 25, top: 0, width: 50, height: 50 });
    // 32×20 (H×W) target: aspect 20/32 = 0.625.
    assert.deepEqual(centreCropBox(100, 50, 20 / 32), { left: 34, top: 0, width: 31, height: 50 });
    assert.deepEqual(centreCropBox(30, 100, 20 / 32), { left: 0, top: 26, width: 30, height: 48 });
    assert.deepEqual(centreCropBox(20, 32, 20 / 32), { left: 0, top: 0, width: 20, height: 32 });
    assert.deepEqual(centreCropBox(1, 40, 4), { left: 0, top: 19, width: 1, height: 1 });
  });

  it('grey is BT.601 luma, rounded', () => {
    assert.deepEqual([...toGrey(Uint8Array.from([200, 100, 50, 255, 255, 255, 0, 0, 0, 0, 0, 255]))], [124, 255, 0, 29]);
  });

  it('gives height·width·channels bytes: a uniform colour becomes its luma everywhere', async () => {
    const png = await sharp({ create: { width: 50, height: 70, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toBuffer();
    const g = await preprocessTo(png, { height: 32, width: 20, channels: 1 });
    assert.equal(g.pixels.length, 32 * 20);
    assert.ok(g.pixels.every((v) => v === 124));
    assert.deepEqual([g.width, g.height, g.format], [50, 70, 'png']);
    const c = await preprocessTo(png, { height: 32, width: 20, channels: 3 });
    assert.equal(c.pixels.length, 32 * 20 * 3);
    assert.deepEqual([...c.pixels.subarray(0, 3)], [200, 100, 50]);
  });

  it('keeps the layout: columns stay columns, non-square output is H rows of W', async () => {
    // 40×64 (W×H) has the 20/32 aspect already: nothing is cropped, the black half is on the left.
    const g = await preprocessTo(await halves(40, 64, 20), { height: 32, width: 20, channels: 1 });
    for (let y = 0; y < 32; y++) {
      assert.equal(g.pixels[y * 20 + 2], 0, `row ${y} left`);
      assert.equal(g.pixels[y * 20 + 17], 255, `row ${y} right`);
    }
    // A wide image: the crop takes the centre 31 of 100 columns, all white right of column 60.
    const wide = await preprocessTo(await halves(100, 50, 50), { height: 32, width: 20, channels: 1, fit: 'crop' });
    assert.equal(wide.pixels[0], 0);
    assert.equal(wide.pixels[19], 255);
  });

  it('a square RGB shape gives exactly the bases\' preprocessing, on every path', async () => {
    const bmp = sample('images', 'grace_hopper.bmp');
    for (const fit of ['crop', 'squash', 'pad'] as const) {
      const a = await preprocess(bmp, 48, fit);
      const b = (await preprocessTo(bmp, { height: 48, width: 48, channels: 3, fit })).pixels;
      assert.deepEqual(Buffer.from(b), Buffer.from(a), fit);
    }
    // The one-pass (JPEG) and the two-step (decoded) path agree for a non-square grey shape too.
    const rgb = await loadImage(bmp);
    const jpeg = await sharp(Buffer.from(rgb.data), { raw: { width: rgb.width, height: rgb.height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    const decoded = await loadImage(jpeg);
    const onePass = (await preprocessTo(jpeg, { height: 32, width: 20, channels: 1 })).pixels;
    const twoStep = await toInputShape(decoded, { height: 32, width: 20, channels: 1 });
    assert.deepEqual(Buffer.from(onePass), Buffer.from(twoStep));
  });

  it('refuses a bad shape in one line', async () => {
    const png = await halves(20, 20, 10);
    await assert.rejects(preprocessTo(png, { height: 0, width: 20, channels: 1 }), (e: Error & { code?: string }) => e.code === 'BAD_OPTION');
    await assert.rejects(preprocessTo(png, { height: 8, width: 8, channels: 2 as 1 }), /expected 1 \(grey\) or 3 \(RGB\)/);
  });
});

describe('CNN input: H×W and grey augmentation', () => {
  const shape = { height: 6, width: 4, channels: 1 };

  it('the identity returns the same bytes', () => {
    const img = greyGradient(6, 4);
    assert.deepEqual([...applyTransformTo(img, shape, IDENTITY)], [...img]);
  });

  it('a shift moves content by whole pixels along each side of a non-square grey image', () => {
    const img = greyGradient(6, 4);
    const out = applyTransformTo(img, shape, { ...IDENTITY, shiftX: 1, shiftY: 2 });
    // dst(x, y) = src(x − 1, y − 2), clamped at the border ('nearest' fill).
    for (let y = 0; y < 6; y++) for (let x = 0; x < 4; x++) {
      assert.equal(out[y * 4 + x], img[Math.max(0, y - 2) * 4 + Math.max(0, x - 1)], `(${x}, ${y})`);
    }
  });

  it('a 180° turn about the centre of a non-square image reverses it', () => {
    const img = greyGradient(6, 4);
    const out = applyTransformTo(img, shape, { ...IDENTITY, angleDeg: 180 });
    assert.deepEqual([...out], [...img].reverse());
  });

  it('contrast works around the one grey channel\'s mean; brightness scales', () => {
    const img = Uint8Array.from([100, 200, 100, 200]);
    assert.deepEqual([...applyTransformTo(img, { height: 2, width: 2, channels: 1 }, { ...IDENTITY, contrast: 0.5 })], [125, 175, 125, 175]);
    assert.deepEqual([...applyTransformTo(img, { height: 2, width: 2, channels: 1 }, { ...IDENTITY, brightness: 1.2 })], [120, 240, 120, 240]);
  });

  it('shift ranges follow each side; the digits preset never flips', () => {
    const rng = makeRng(3);
    const p = presetParams('digits');
    let maxX = 0, maxY = 0;
    for (let i = 0; i < 2000; i++) {
      const t = sampleTransform(p, { height: 32, width: 20 }, rng);
      assert.equal(t.flip, false);
      maxX = Math.max(maxX, Math.abs(t.shiftX));
      maxY = Math.max(maxY, Math.abs(t.shiftY));
    }
    assert.ok(maxX <= p.shiftFrac * 20 && maxX > 0.9 * p.shiftFrac * 20, `x ${maxX}`);
    assert.ok(maxY <= p.shiftFrac * 32 && maxY > 0.9 * p.shiftFrac * 32, `y ${maxY}`);
    // objects does flip about half the time (the mirror of the same check).
    const o = presetParams('objects');
    const flips = Array.from({ length: 1000 }, () => sampleTransform(o, { height: 32, width: 20 }, rng).flip).filter(Boolean).length;
    assert.ok(flips > 400 && flips < 600, `${flips} flips`);
  });

  it('augmentTo is deterministic per seed and keeps the size', () => {
    const img = greyGradient(32, 20);
    const a = augmentTo(img, { height: 32, width: 20, channels: 1 }, presetParams('digits'), makeRng(9));
    const b = augmentTo(img, { height: 32, width: 20, channels: 1 }, presetParams('digits'), makeRng(9));
    assert.equal(a.length, 640);
    assert.deepEqual([...a], [...b]);
    assert.throws(() => augmentTo(img, { height: 20, width: 20, channels: 1 }, presetParams('digits'), makeRng(9)), /expected 20x20x1 = 400 bytes, got 640/);
  });
});
