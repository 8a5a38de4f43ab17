import { hashString, makeRng, shuffled } from '../augment/rng';
import { compareNames, type Sample } from './scan';

/** Train/validation partition of a sample list. */
export interface Split {
  train: Sample[];
  val: Sample[];
}

/**
 * How many of a class's n images go to validation: round(n × valFraction), at least 1 when
 * valFraction > 0 and n ≥ 2, never all n (at least one stays for training); 0 when n < 2.
 */
export function valCount(n: number, valFraction: number): number {
  if (n < 2 || valFraction <= 0) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
}

/**
 * Stratified, seeded train/validation split: within each class (by `label`), samples are put in
 * path order, shuffled with mulberry32 seeded by seed XOR FNV-1a(label), and the first
 * `valCount(n, valFraction)` go to validation. Seeding per label keeps a class's split unchanged
 * when other classes are added or removed.
 *
 * @param samples e.g. `scanDataset(dir).samples` (any order; paths should be unique).
 * @param valFraction fraction of each class for validation, 0 ≤ f < 1.
 * @param seed integer seed (low 32 bits used).
 * @returns `{ train, val }`, disjoint, union = samples; each keeps the input order.
 * @throws Error when valFraction is outside [0, 1).
 */
export function stratifiedSplit(samples: readonly Sample[], valFraction: number, seed: number): Split {
  if (!Number.isFinite(valFraction) || valFraction < 0 || valFraction >= 1) {
    throw new Error(`validation fraction ${valFraction} is invalid; expected a number in [0, 1), e.g. 0.2`);
  }
  const byLabel = new Map<string, Sample[]>();
  for (const s of samples) {
    const list = byLabel.get(s.label);
    if (list) list.push(s);
    else byLabel.set(s.label, [s]);
  }
  const inVal = new Set<Sample>();
  for (const [label, list] of byLabel) {
    const ordered = list.slice().sort((a, b) => compareNames(a.path, b.path));
    const rng = makeRng((seed ^ hashString(label)) >>> 0);
    for (const s of shuffled(ordered, rng).slice(0, valCount(list.length, valFraction))) inVal.add(s);
  }
  return { train: samples.filter((s) => !inVal.has(s)), val: samples.filter((s) => inVal.has(s)) };
}
