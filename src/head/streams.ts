/**
 * Seeded dropout masks for head training. tfjs' own `dropout` layer draws from an unseeded
 * generator (and a seeded one reuses a single mask on every step), so training was not a function
 * of its seed. Here every mask comes from EdgeTune's platform-independent PRNG (mulberry32), keyed
 * by (seed, epoch, batch, position): the same key gives the same mask on every backend and run.
 */
import { makeRng } from '../augment/rng';

/** Purpose tags that keep the shuffle, dropout and fold streams of one seed apart. */
export const STREAM = { shuffle: 0x53485546, dropout: 0x44524f50, fold: 0x464f4c44 } as const;

/**
 * Derives a 32-bit seed from a seed and a key (e.g. purpose, epoch, batch, layer position): each
 * part is folded in FNV-1a style and stirred with MurmurHash3's 32-bit finalizer (fmix32, constants
 * 0x85ebca6b, 0xc2b2ae35; source: Appleby's MurmurHash3), so neighbouring keys give unrelated seeds.
 * @param parts integers; only their low 32 bits are used.
 * @returns an unsigned 32-bit integer for `makeRng`.
 */
export function streamSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/**
 * An inverted-dropout mask as Keras' `Dropout` applies it in training: each entry is 0 with
 * probability `rate`, else 1 / (1 − rate), so the expected activation is unchanged and inference
 * needs no rescaling (tf.nn.dropout: keep where uniform ≥ rate).
 * @param rate dropout rate, 0 ≤ rate < 1.
 * @param size number of entries (rows × units of the activation it multiplies).
 * @param seed from `streamSeed(seed, STREAM.dropout, epoch, batch, position)`.
 * @returns float32 `[size]`, entries in {0, 1/(1−rate)}.
 */
export function dropoutMask(rate: number, size: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  const keep = 1 / (1 - rate);
  const m = new Float32Array(size);
  for (let i = 0; i < size; i++) m[i] = rng() < rate ? 0 : keep;
  return m;
}

/**
 * A seeded Fisher–Yates permutation of 0..n−1 (the per-epoch shuffle).
 * @param seed from `streamSeed(seed, STREAM.shuffle, epoch)`.
 * @returns int32 `[n]`.
 */
export function permutation(n: number, seed: number): Int32Array {
  const rng = makeRng(seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}
