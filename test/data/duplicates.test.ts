import * as assert from 'node:assert/strict';
import sharp from 'sharp';
import { DEFAULT_MAX_DISTANCE, groupDuplicates, hamming, perceptualHash, scanDataset } from '../../src/dataset';
import { loadImage, preprocess } from '../../src/image';
import { shared } from '../helpers';

const SIZE = 224;

/** A JPEG quality-75 re-encode and a ×0.5 resize (JPEG quality 90) of a photo. */
async function copies(file: string): Promise<[Uint8Array, Uint8Array]> {
  const img = await loadImage(file);
  const raw = () => sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } });
  const q75 = await raw().jpeg({ quality: 75 }).toBuffer();
  const half = await raw().resize(Math.max(1, Math.round(img.width / 2)), Math.max(1, Math.round(img.height / 2))).jpeg({ quality: 90 }).toBuffer();
  return [new Uint8Array(q75), new Uint8Array(half)];
}

interface Measured {
  photos: number;
  /** Share of q75 and of ×0.5 copies within DEFAULT_MAX_DISTANCE of their original. */
  q75: number;
  half: number;
  /** Share of photos that groupDuplicates puts with a distinct photo of the same class. */
  falseGroup: number;
}

/** Every 3rd photo of a shared dataset (all classes), hashed from the 224 px centre crop as training would. */
async function measure(name: string): Promise<Measured> {
  const samples = scanDataset(shared('datasets', name)).samples.filter((_, i) => i % 3 === 0);
  const hashes: bigint[] = [];
  let q75 = 0;
  let half = 0;
  for (const s of samples) {
    const h = perceptualHash(await preprocess(s.path, SIZE), SIZE);
    hashes.push(h);
    const [a, b] = await copies(s.path);
    if (hamming(h, perceptualHash(await preprocess(a, SIZE), SIZE)) <= DEFAULT_MAX_DISTANCE) q75++;
    if (hamming(h, perceptualHash(await preprocess(b, SIZE), SIZE)) <= DEFAULT_MAX_DISTANCE) half++;
  }
  const { groupOf } = groupDuplicates(samples.map((s, i) => ({ key: s.path, hash: hashes[i], labelIndex: s.labelIndex })));
  const sizes = new Map<number, number>();
  groupOf.forEach((g) => sizes.set(g, (sizes.get(g) ?? 0) + 1));
  const grouped = Array.from(groupOf).filter((g) => sizes.get(g)! > 1).length;
  const n = samples.length;
  const m = { photos: n, q75: q75 / n, half: half / n, falseGroup: grouped / n };
  // The measurement is the point of this test: print it.
  console.log(`      ${name}: ${n} photos; copies within ${DEFAULT_MAX_DISTANCE} bits: q75 ${(m.q75 * 100).toFixed(1)}%, ×0.5 ${(m.half * 100).toFixed(1)}%; photos grouped with a distinct photo: ${(m.falseGroup * 100).toFixed(1)}%`);
  return m;
}

describe('near-duplicate threshold on ../shared/datasets (every 3rd photo)', () => {
  it('objects-small: every re-encoded and halved copy groups with its original; distinct photos (almost) never group', async () => {
    const m = await measure('objects-small');
    assert.equal(m.q75, 1);
    assert.equal(m.half, 1);
    assert.ok(m.falseGroup <= 0.01, `false-group rate ${m.falseGroup}`);
  });

  it('gestures: every copy groups; consecutive frames of one hand rarely do', async () => {
    const m = await measure('gestures');
    assert.equal(m.q75, 1);
    assert.equal(m.half, 1);
    assert.ok(m.falseGroup <= 0.04, `false-group rate ${m.falseGroup}`);
  });

  it('digits-photo (17–160 px crops): re-encodes group; halving a tiny crop loses real detail', async () => {
    const m = await measure('digits-photo');
    assert.equal(m.q75, 1);
    assert.ok(m.half >= 0.5, `×0.5 recall ${m.half}`);
    assert.ok(m.falseGroup <= 0.3, `false-group rate ${m.falseGroup}`);
  });
});
