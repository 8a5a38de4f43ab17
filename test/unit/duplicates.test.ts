import * as assert from 'node:assert/strict';
import sharp from 'sharp';
import { groupDuplicates, hamming, perceptualHash, DEFAULT_MAX_DISTANCE, type DuplicateItem } from '../../src/dataset';
import { preprocess } from '../../src/image';
import { makeRng } from '../../src/augment/rng';

/**
 * The pHash written out from its definition, as slowly and plainly as possible: per-pixel luma,
 * box means over a 32×32 grid, the full 2-D DCT-II formula for frequencies 1..8, median split.
 */
function referenceHash(px: Uint8Array, size: number): bigint {
  const g: number[][] = Array.from({ length: 32 }, () => new Array(32).fill(0));
  const c: number[][] = Array.from({ length: 32 }, () => new Array(32).fill(0));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      const gy = Math.floor((y * 32) / size);
      const gx = Math.floor((x * 32) / size);
      g[gy][gx] += 0.299 * px[o] + 0.587 * px[o + 1] + 0.114 * px[o + 2];
      c[gy][gx]++;
    }
  }
  const mean = g.map((row, y) => row.map((v, x) => v / c[y][x]));
  const coef: number[] = [];
  for (let u = 1; u <= 8; u++) {
    for (let v = 1; v <= 8; v++) {
      let s = 0;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) s += mean[y][x] * Math.cos(((2 * x + 1) * v * Math.PI) / 64) * Math.cos(((2 * y + 1) * u * Math.PI) / 64);
      coef.push(s);
    }
  }
  const sorted = [...coef].sort((a, b) => a - b);
  const median = (sorted[31] + sorted[32]) / 2;
  return coef.reduce((h, v) => (h << 1n) | (v > median ? 1n : 0n), 0n);
}

function randomPixels(size: number, seed: number): Uint8Array {
  const rng = makeRng(seed);
  // Smooth random blobs plus noise: structure at the frequencies the hash looks at.
  const out = new Uint8Array(size * size * 3);
  const blobs = Array.from({ length: 6 }, () => [rng() * size, rng() * size, 4 + rng() * size / 3, rng() * 255]);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v = 40;
      for (const [bx, by, r, a] of blobs) v += a * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (r * r));
      for (let ch = 0; ch < 3; ch++) out[(y * size + x) * 3 + ch] = Math.max(0, Math.min(255, Math.round(v * (0.6 + 0.2 * ch) + rng() * 10)));
    }
  }
  return out;
}

describe('duplicates: perceptualHash and hamming', () => {
  it('equals the plain reference implementation bit for bit (sizes 32, 57, 224)', () => {
    for (const [size, seed] of [[32, 1], [57, 2], [224, 3], [224, 4]]) {
      const px = randomPixels(size, seed);
      assert.equal(perceptualHash(px, size), referenceHash(px, size), `size ${size}`);
    }
  });

  it('a flat image hashes to 0; others have exactly 32 bits set (median split), so distances are even', () => {
    assert.equal(perceptualHash(new Uint8Array(64 * 64 * 3).fill(77), 64), 0n);
    const h = perceptualHash(randomPixels(64, 9), 64);
    assert.equal(hamming(h, 0n), 32);
  });

  it('re-encoding and halving keep the hash close; another picture is far', async () => {
    const size = 224;
    const px = randomPixels(size, 5);
    const raw = () => sharp(Buffer.from(px), { raw: { width: size, height: size, channels: 3 } });
    const h = perceptualHash(px, size);
    const q75 = perceptualHash(await preprocess(new Uint8Array(await raw().jpeg({ quality: 75 }).toBuffer()), size), size);
    const half = perceptualHash(await preprocess(new Uint8Array(await raw().resize(112, 112).jpeg({ quality: 90 }).toBuffer()), size), size);
    assert.ok(hamming(h, q75) <= DEFAULT_MAX_DISTANCE, `q75 ${hamming(h, q75)}`);
    assert.ok(hamming(h, half) <= DEFAULT_MAX_DISTANCE, `half ${hamming(h, half)}`);
    assert.ok(hamming(h, perceptualHash(randomPixels(size, 6), size)) > 3 * DEFAULT_MAX_DISTANCE);
  });

  it('hamming counts differing bits of 64-bit values, both halves', () => {
    assert.equal(hamming(0n, 0n), 0);
    assert.equal(hamming(0n, (1n << 64n) - 1n), 64);
    assert.equal(hamming(1n << 63n, 1n), 2);
    assert.equal(hamming(0xf0f0n << 32n, 0x0f0fn), 16);
  });

  it('rejects a wrong pixel count or a side below 32', () => {
    assert.throws(() => perceptualHash(new Uint8Array(10), 2), /perceptualHash needs a square RGB image of side ≥ 32: got 10 bytes for size 2/);
    assert.throws(() => perceptualHash(new Uint8Array(31 * 31 * 3), 31), /side ≥ 32/);
  });
});

/** The partition groupOf describes, as sorted lists of item indices (ids themselves are arbitrary). */
function partition(groupOf: Int32Array): number[][] {
  const m = new Map<number, number[]>();
  groupOf.forEach((g, i) => (m.get(g) ?? m.set(g, []).get(g)!).push(i));
  return [...m.values()].sort((a, b) => a[0] - b[0]);
}

/** Brute-force connected components over all pairs (the definition groupDuplicates must match). */
function bruteForce(items: DuplicateItem[], d: number): number[][] {
  const parent = items.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  // Plain bit counting on 32-bit halves (BigInt per pair would make 8 M comparisons slow).
  const hi = items.map((it) => Number(it.hash >> 32n));
  const lo = items.map((it) => Number(it.hash & 0xffffffffn));
  const bits = (x: number) => { let n = 0; for (let v = x >>> 0; v; v >>>= 1) n += v & 1; return n; };
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      if (items[i].key === items[j].key || bits(hi[i] ^ hi[j]) + bits(lo[i] ^ lo[j]) <= d) parent[find(j)] = find(i);
    }
  }
  const g = new Int32Array(items.length).map((_, i) => find(i));
  return partition(g);
}

function randomHash(rng: () => number): bigint {
  return (BigInt(Math.floor(rng() * 2 ** 32)) << 32n) | BigInt(Math.floor(rng() * 2 ** 32));
}

function flipBits(h: bigint, n: number, rng: () => number): bigint {
  const bits = new Set<number>();
  while (bits.size < n) bits.add(Math.floor(rng() * 64));
  let out = h;
  for (const b of bits) out ^= 1n << BigInt(b);
  return out;
}

describe('duplicates: groupDuplicates', () => {
  it('links equal keys, distances ≤ d (not d+1), chains; reports groups and cross-class conflicts', () => {
    const base = 0x0123456789abcdefn;
    const items: DuplicateItem[] = [
      { key: 'a', hash: base, labelIndex: 0 },
      { key: 'b', hash: base ^ 0b111111n, labelIndex: 0 }, // 6 bits from 0: grouped at d = 6
      { key: 'c', hash: base ^ (0b1111111n << 20n), labelIndex: 1 }, // 7 bits from 0, 13 from 1: alone
      { key: 'd', hash: 0xffffn, labelIndex: 2 },
      { key: 'a', hash: 0n, labelIndex: 2 }, // same bytes as item 0, another class
      { key: 'f', hash: base ^ 0b111111n ^ (0b111111n << 40n), labelIndex: 0 }, // 6 from 1, 12 from 0: chained
    ];
    const r = groupDuplicates(items, 6);
    assert.deepEqual(partition(r.groupOf), [[0, 1, 4, 5], [2], [3]]);
    assert.deepEqual(r.groups, [[0, 1, 4, 5]]);
    assert.deepEqual(r.conflicts, [[0, 1, 4, 5]]);
    assert.deepEqual(Array.from(r.groupOf), [0, 0, 1, 2, 0, 0]);
    assert.deepEqual(partition(groupDuplicates(items, 5).groupOf), [[0, 4], [1], [2], [3], [5]]);
    assert.deepEqual(groupDuplicates(items, 0).groups, [[0, 4]]);
  });

  it('matches brute force on 2,000 hashes with planted near-duplicates, and is fast', () => {
    const rng = makeRng(11);
    const items: DuplicateItem[] = [];
    for (let i = 0; i < 1600; i++) items.push({ key: `k${i}`, hash: randomHash(rng), labelIndex: i % 5 });
    for (let i = 0; i < 400; i++) {
      const src = items[Math.floor(rng() * 1600)];
      items.push({ key: `c${i}`, hash: flipBits(src.hash, Math.floor(rng() * 10), rng), labelIndex: rng() < 0.9 ? src.labelIndex : 4 });
    }
    for (const d of [0, 4, DEFAULT_MAX_DISTANCE, 9]) {
      const t0 = performance.now();
      const r = groupDuplicates(items, d);
      const ms = performance.now() - t0;
      assert.ok(ms < 500, `${ms.toFixed(0)} ms for d = ${d}`);
      const want = bruteForce(items, d);
      assert.deepEqual(partition(r.groupOf), want, `d = ${d}`);
      assert.deepEqual(r.groups, want.filter((g) => g.length >= 2));
      assert.deepEqual(r.conflicts, r.groups.filter((g) => new Set(g.map((i) => items[i].labelIndex)).size > 1));
    }
  });

  it('rejects a threshold outside 0..63', () => {
    for (const d of [-1, 64, 2.5]) assert.throws(() => groupDuplicates([], d), /maxDistance .* is invalid; expected an integer number of bits in 0\.\.63/);
  });
});
