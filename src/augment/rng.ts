/** A deterministic pseudo-random source: each call returns a float in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit-state PRNG (Tommy Ettinger's constants 0x6D2B79F5, shifts 15/7/14).
 * Not cryptographic; fast, good enough for augmentation and shuffles, identical on every platform.
 *
 * @param seed any number; only its low 32 bits are used (floats are truncated with `>>> 0`).
 * @returns a function giving uniform floats in [0, 1) with 2^-32 resolution.
 */
export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 32-bit FNV-1a hash of a string's UTF-16 code units (offset basis 2166136261, prime 16777619;
 * source: Fowler–Noll–Vo spec). Used to derive stable per-key seeds, e.g. one per class label.
 */
export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/**
 * Fisher–Yates shuffle driven by `rng`; returns a new array, the input is not modified.
 * Deterministic for a given rng state and input order.
 */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
