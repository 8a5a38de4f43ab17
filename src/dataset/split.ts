import { hashString, makeRng, shuffled } from '../augment/rng';
import { fail } from '../errors';
import { compareNames, type Sample } from './scan';

/** Options of `splitDataset`. */
export interface SplitOptions {
  /** Fraction of each class for validation, 0 ≤ f < 1. */
  valFraction: number;
  /** Fraction of each class for the test set, 0 ≤ f < 1 (default 0); valFraction + testFraction < 1. */
  testFraction?: number;
  /** Integer seed (low 32 bits used). */
  seed: number;
  /**
   * Duplicate group id per sample (`groupDuplicates(...).groupOf`, same order as `samples`):
   * samples sharing an id always land on the same side, so a photo and its re-encoded copy are
   * never one in training and one in validation.
   */
  groupOf?: Int32Array;
  /** Least number of photos of each class in validation and in test when the class is big enough (default 3). */
  minPerClass?: number;
}

/** Train/validation/test partition of a sample list. */
export interface DatasetSplit {
  train: Sample[];
  val: Sample[];
  test: Sample[];
  /**
   * Labels of the classes too small to give validation (and test, when asked for) `minPerClass`
   * photos each while keeping one for training; they are split by the fractions alone (see `splitCounts`).
   */
  infeasible: string[];
}

/** How many photos of one class go where (see `splitCounts`). */
export interface ClassCounts {
  train: number;
  val: number;
  test: number;
  /** false when the class cannot give val/test `minPerClass` photos each and keep one for training. */
  feasible: boolean;
}

/**
 * How many of a class's n photos go to validation and test.
 *
 * A side with fraction f > 0 gets max(minPerClass, round(n × f)) photos when the class is big
 * enough for both sides' minimum plus one training photo (n ≥ minVal + minTest + 1); if the two
 * rounded counts would then leave no training photo, test and then validation give one back.
 * A smaller class is infeasible: validation gets min(n − 1, max(1, round(n × valFraction))) and
 * test min(what is left − 1, max(1, round(n × testFraction))), so training keeps at least one
 * photo and a 1-photo class gives none. A side with fraction 0 gets 0.
 *
 * With minPerClass 1 and no test this is exactly `valCount(n, valFraction)`.
 */
export function splitCounts(n: number, valFraction: number, testFraction = 0, minPerClass = 3): ClassCounts {
  const needV = valFraction > 0 ? minPerClass : 0;
  const needT = testFraction > 0 ? minPerClass : 0;
  const feasible = n >= needV + needT + 1;
  let val: number;
  let test: number;
  if (feasible) {
    val = valFraction > 0 ? Math.max(minPerClass, Math.round(n * valFraction)) : 0;
    test = testFraction > 0 ? Math.max(minPerClass, Math.round(n * testFraction)) : 0;
    while (val + test > n - 1) {
      if (test > needT) test--;
      else val--;
    }
  } else {
    let room = Math.max(0, n - 1);
    val = valFraction > 0 ? Math.min(room, Math.max(1, Math.round(n * valFraction))) : 0;
    room -= val;
    test = testFraction > 0 ? Math.min(room, Math.max(1, Math.round(n * testFraction))) : 0;
  }
  return { train: n - val - test, val, test, feasible };
}

/**
 * How many of a class's n images go to validation in a plain train/validation split:
 * round(n × valFraction), at least 1 when valFraction > 0 and n ≥ 2, never all n (at least one
 * stays for training); 0 when n < 2. (`splitCounts` with minPerClass 1 and no test.)
 */
export function valCount(n: number, valFraction: number): number {
  if (n < 2 || valFraction <= 0) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
}

function checkFraction(name: string, f: number): void {
  if (!Number.isFinite(f) || f < 0 || f >= 1) {
    throw fail('BAD_OPTION', `${name} fraction ${f} is invalid; expected a number in [0, 1), e.g. 0.2`);
  }
}

/**
 * Units to split: each duplicate group (or each sample, without groups), owned by the class of its
 * member with the first path, members in input order. Units of a class are returned in the order
 * of their first path, which is what the per-class shuffle starts from.
 */
function unitsByClass(samples: readonly Sample[], groupOf?: Int32Array): Map<string, number[][]> {
  if (groupOf && groupOf.length !== samples.length) {
    throw fail('BAD_OPTION', `groupOf has ${groupOf.length} entries for ${samples.length} samples; pass groupDuplicates(...).groupOf for the same samples`);
  }
  const byGroup = new Map<number, number[]>();
  const units: number[][] = [];
  samples.forEach((_, i) => {
    const g = groupOf ? groupOf[i] : -1;
    if (g < 0) {
      units.push([i]);
      return;
    }
    const u = byGroup.get(g);
    if (u) u.push(i);
    else {
      const nu = [i];
      byGroup.set(g, nu);
      units.push(nu);
    }
  });
  const first = (u: number[]) => u.reduce((a, b) => (compareNames(samples[b].path, samples[a].path) < 0 ? b : a));
  const owned = new Map<string, { key: string; unit: number[] }[]>();
  for (const unit of units) {
    const f = first(unit);
    const list = owned.get(samples[f].label) ?? [];
    list.push({ key: samples[f].path, unit });
    owned.set(samples[f].label, list);
  }
  const out = new Map<string, number[][]>();
  for (const [label, list] of owned) out.set(label, list.sort((a, b) => compareNames(a.key, b.key)).map((x) => x.unit));
  return out;
}

/** The per-class random stream: mulberry32 seeded by seed XOR FNV-1a(label). */
function classRng(seed: number, label: string) {
  return makeRng((seed ^ hashString(label)) >>> 0);
}

/**
 * Stratified, seeded train/validation/test split that keeps duplicate groups together.
 *
 * Within each class (by `label`) the units (duplicate groups, else single photos) are put in path
 * order, shuffled with mulberry32 seeded by seed XOR FNV-1a(label) — exactly as the former
 * `stratifiedSplit` — then the first units go to validation until it has its count
 * (`splitCounts`), the next to test, the rest to training. Seeding per label keeps a class's
 * split unchanged when other classes are added or removed. A whole group goes to one side, so a
 * side may get a few photos more than its count; a unit is never taken for validation or test when
 * it would leave its class without a training photo. A group spanning several classes (a
 * conflict) is placed by the class of its first path, and its members in the other classes follow
 * it (they are not counted towards those classes' quotas).
 *
 * @param samples e.g. `scanDataset(dir).samples` (any order; paths unique).
 * @returns `{ train, val, test, infeasible }`: disjoint, union = samples, each in input order.
 * @throws EdgeTuneError BAD_OPTION for fractions outside [0, 1), a sum ≥ 1, a groupOf of another
 *   length, or a minPerClass that is not an integer ≥ 1.
 */
export function splitDataset(samples: readonly Sample[], opts: SplitOptions): DatasetSplit {
  const vf = opts.valFraction;
  const tf = opts.testFraction ?? 0;
  const minPerClass = opts.minPerClass ?? 3;
  checkFraction('validation', vf);
  checkFraction('test', tf);
  if (vf + tf >= 1) throw fail('BAD_OPTION', `validation fraction ${vf} + test fraction ${tf} leave nothing for training; their sum must be below 1`);
  if (!Number.isInteger(minPerClass) || minPerClass < 1) throw fail('BAD_OPTION', `minPerClass ${minPerClass} is invalid; expected an integer ≥ 1`);
  const side = new Int8Array(samples.length); // 0 train, 1 val, 2 test
  const perClass = new Map<string, number>();
  for (const s of samples) perClass.set(s.label, (perClass.get(s.label) ?? 0) + 1);
  const infeasible: string[] = [];
  const units = unitsByClass(samples, opts.groupOf);
  for (const label of [...perClass.keys()].sort(compareNames)) {
    const counts = splitCounts(perClass.get(label)!, vf, tf, minPerClass);
    if (!counts.feasible && (vf > 0 || tf > 0)) infeasible.push(label);
    const order = shuffled(units.get(label) ?? [], classRng(opts.seed, label));
    const mine = (u: number[]) => u.filter((i) => samples[i].label === label).length;
    let left = order.reduce((a, u) => a + mine(u), 0);
    let val = 0;
    let test = 0;
    let train = 0;
    for (const u of order) {
      const n = mine(u);
      left -= n;
      // Test first: the test photos do not depend on --val-split or --heads, so runs that differ
      // only in those are scored on the same photos (paired comparisons).
      const target = test < counts.test ? 2 : val < counts.val ? 1 : 0;
      // Keep at least one photo of the class for training (the units still to come go there).
      const s = target !== 0 && (left >= 1 || train >= 1) ? target : 0;
      if (s === 0) train += n;
      if (s === 1) val += n;
      if (s === 2) test += n;
      for (const i of u) side[i] = s;
    }
  }
  return {
    train: samples.filter((_, i) => side[i] === 0),
    val: samples.filter((_, i) => side[i] === 1),
    test: samples.filter((_, i) => side[i] === 2),
    infeasible,
  };
}

/** Train/validation partition (the former `stratifiedSplit` result). */
export interface Split {
  train: Sample[];
  val: Sample[];
}

/**
 * The plain seeded train/validation split (no test set, no groups, at least one validation photo
 * per class of ≥ 2): `splitDataset` with minPerClass 1, so each class gives `valCount(n, f)`.
 * @throws EdgeTuneError BAD_OPTION when valFraction is outside [0, 1).
 */
export function stratifiedSplit(samples: readonly Sample[], valFraction: number, seed: number): Split {
  const { train, val } = splitDataset(samples, { valFraction, seed, minPerClass: 1 });
  return { train, val };
}

/**
 * Stratified k-fold assignment that keeps duplicate groups together.
 *
 * Per class, units (groups, else photos) are shuffled as in `splitDataset` (seed XOR
 * FNV-1a(label)) and each goes to the fold holding the fewest photos of that class so far; ties
 * go to the first such fold counting from a per-class offset (from the same stream), so the
 * folds that get a class's remainder differ between classes. A class's folds do not depend on
 * the other classes. A class with fewer photos than k leaves some folds without it.
 *
 * @param k number of folds, integer 2..samples.length.
 * @returns Int32Array [samples.length]: fold id 0..k-1 per sample.
 * @throws EdgeTuneError BAD_OPTION for an invalid k or a groupOf of another length.
 */
export function kFolds(samples: readonly Sample[], k: number, seed: number, groupOf?: Int32Array): Int32Array {
  if (!Number.isInteger(k) || k < 2 || k > samples.length) {
    throw fail('BAD_OPTION', `k ${k} is invalid for ${samples.length} samples; expected an integer in 2..${samples.length}`);
  }
  const fold = new Int32Array(samples.length);
  for (const [label, list] of unitsByClass(samples, groupOf)) {
    const rng = classRng(seed, label);
    const order = shuffled(list, rng);
    const offset = Math.floor(rng() * k);
    const count = new Array<number>(k).fill(0);
    for (const u of order) {
      let best = -1;
      for (let j = 0; j < k; j++) {
        const f = (offset + j) % k;
        if (best < 0 || count[f] < count[best]) best = f;
      }
      count[best] += u.filter((i) => samples[i].label === label).length;
      for (const i of u) fold[i] = best;
    }
  }
  return fold;
}

/**
 * Photos per class and the imbalance ratio.
 * @param numClasses number of classes (`Dataset.labels.length`).
 * @returns counts[c] = photos with labelIndex c; ratio = max / min count (Infinity when a class has none).
 * @throws EdgeTuneError BAD_OPTION when a labelIndex is outside 0..numClasses-1.
 */
export function classBalance(samples: readonly Sample[], numClasses: number): { counts: number[]; ratio: number } {
  const counts = new Array<number>(numClasses).fill(0);
  for (const s of samples) {
    if (!Number.isInteger(s.labelIndex) || s.labelIndex < 0 || s.labelIndex >= numClasses) {
      throw fail('BAD_OPTION', `sample ${s.path} has class index ${s.labelIndex}, outside 0..${numClasses - 1}`);
    }
    counts[s.labelIndex]++;
  }
  const min = Math.min(...counts);
  return { counts, ratio: numClasses === 0 ? 1 : min === 0 ? Infinity : Math.max(...counts) / min };
}
