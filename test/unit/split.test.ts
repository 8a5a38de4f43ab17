import * as assert from 'node:assert/strict';
import { classBalance, kFolds, splitCounts, splitDataset, stratifiedSplit, valCount, type Sample } from '../../src/dataset';
import { hashString, makeRng, shuffled } from '../../src/augment/rng';

function samplesOf(sizes: Record<string, number>): Sample[] {
  const out: Sample[] = [];
  Object.entries(sizes).forEach(([label, n], labelIndex) => {
    for (let i = 0; i < n; i++) out.push({ path: `/d/${label}/${String(i).padStart(3, '0')}.jpg`, label, labelIndex });
  });
  return out;
}

/** The pre-existing algorithm, restated: per class, path order, shuffle with seed ^ FNV-1a(label), first valCount to val. */
function oldSplit(samples: Sample[], f: number, seed: number): Set<string> {
  const val = new Set<string>();
  for (const label of new Set(samples.map((s) => s.label))) {
    const list = samples.filter((s) => s.label === label).sort((a, b) => (a.path < b.path ? -1 : 1));
    const picked = shuffled(list, makeRng((seed ^ hashString(label)) >>> 0)).slice(0, valCount(list.length, f));
    for (const s of picked) val.add(s.path);
  }
  return val;
}

const count = (list: Sample[], label: string) => list.filter((s) => s.label === label).length;

describe('split: splitCounts', () => {
  it('gives val/test at least minPerClass when the class is big enough, training at least one', () => {
    assert.deepEqual(splitCounts(10, 0.2, 0, 3), { train: 7, val: 3, test: 0, feasible: true });
    assert.deepEqual(splitCounts(40, 0.2, 0.1, 3), { train: 28, val: 8, test: 4, feasible: true });
    assert.deepEqual(splitCounts(7, 0.2, 0.2, 3), { train: 1, val: 3, test: 3, feasible: true });
    assert.deepEqual(splitCounts(6, 0.2, 0.2, 3), { train: 4, val: 1, test: 1, feasible: false });
    assert.deepEqual(splitCounts(2, 0.2, 0.2, 3), { train: 1, val: 1, test: 0, feasible: false });
    assert.deepEqual(splitCounts(1, 0.5, 0, 1), { train: 1, val: 0, test: 0, feasible: false });
    assert.deepEqual(splitCounts(10, 0.6, 0.39, 1), { train: 1, val: 6, test: 3, feasible: true });
    for (let n = 0; n < 30; n++) for (const f of [0, 0.1, 0.25, 0.5, 0.99]) assert.equal(splitCounts(n, f, 0, 1).val, valCount(n, f), `${n} ${f}`);
  });
});

describe('split: splitDataset', () => {
  const samples = samplesOf({ a: 10, b: 7, c: 2, d: 1, e: 40 });

  it('with minPerClass 1 and no test it is exactly the former stratified split (and stratifiedSplit still is)', () => {
    for (const seed of [1, 7, 42]) {
      const r = splitDataset(samples, { valFraction: 0.2, seed, minPerClass: 1 });
      assert.deepEqual(new Set(r.val.map((s) => s.path)), oldSplit(samples, 0.2, seed));
      assert.deepEqual(stratifiedSplit(samples, 0.2, seed), { train: r.train, val: r.val });
      assert.deepEqual(r.test, []);
      assert.deepEqual(r.infeasible, ['d']);
    }
  });

  it('defaults: val and test get 3 per class when possible; small classes are listed as infeasible', () => {
    const r = splitDataset(samples, { valFraction: 0.2, testFraction: 0.1, seed: 3 });
    const want: Record<string, [number, number, number]> = { a: [4, 3, 3], b: [1, 3, 3], c: [1, 1, 0], d: [1, 0, 0], e: [28, 8, 4] };
    for (const [label, [tr, v, t]] of Object.entries(want)) assert.deepEqual([count(r.train, label), count(r.val, label), count(r.test, label)], [tr, v, t], label);
    assert.deepEqual(r.infeasible, ['c', 'd']);
    assert.equal(r.train.length + r.val.length + r.test.length, samples.length);
    assert.equal(new Set([...r.train, ...r.val, ...r.test]).size, samples.length);
    assert.deepEqual(r.train, samples.filter((s) => r.train.includes(s)), 'input order');
    assert.deepEqual(splitDataset(samples, { valFraction: 0.2, testFraction: 0.1, seed: 3 }), r, 'deterministic');
  });

  it("a class's split does not depend on the other classes or the input order", () => {
    const onlyE = samples.filter((s) => s.label === 'e');
    const all = splitDataset(samples, { valFraction: 0.25, testFraction: 0.15, seed: 3 });
    const alone = splitDataset(onlyE, { valFraction: 0.25, testFraction: 0.15, seed: 3 });
    assert.deepEqual(alone.val, all.val.filter((s) => s.label === 'e'));
    assert.deepEqual(alone.test, all.test.filter((s) => s.label === 'e'));
    const reversed = splitDataset(samples.slice().reverse(), { valFraction: 0.25, testFraction: 0.15, seed: 3 });
    assert.deepEqual(reversed.val.map((s) => s.path).sort(), all.val.map((s) => s.path).sort());
  });

  it('keeps every duplicate group on one side, and still leaves each class a training photo', () => {
    const s = samplesOf({ a: 30, b: 30 });
    const groupOf = new Int32Array(s.length).map((_, i) => i);
    // Groups of 3 consecutive photos in class a, and one group spanning both classes (a conflict).
    for (let i = 0; i < 30; i += 3) groupOf[i + 1] = groupOf[i + 2] = groupOf[i];
    groupOf[45] = groupOf[0];
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = splitDataset(s, { valFraction: 0.2, testFraction: 0.2, seed, groupOf });
      const side = new Map<number, string>();
      for (const [name, list] of [['train', r.train], ['val', r.val], ['test', r.test]] as const) {
        for (const x of list) {
          const g = groupOf[s.indexOf(x)];
          assert.equal(side.get(g) ?? name, name, `group ${g} split across sides (seed ${seed})`);
          side.set(g, name);
        }
      }
      assert.ok(count(r.val, 'a') >= 6 && count(r.test, 'a') >= 6 && count(r.train, 'a') >= 1);
      assert.ok(count(r.val, 'b') >= 6 && count(r.test, 'b') >= 6);
    }
    const one = samplesOf({ a: 4 });
    const r = splitDataset(one, { valFraction: 0.5, seed: 1, groupOf: new Int32Array([0, 0, 0, 0]) });
    assert.deepEqual([r.train.length, r.val.length], [4, 0], 'one group: all of it stays in training');
  });

  it('rejects bad options with one line', () => {
    assert.throws(() => splitDataset(samples, { valFraction: 1, seed: 1 }), /validation fraction 1 is invalid; expected a number in \[0, 1\)/);
    assert.throws(() => splitDataset(samples, { valFraction: 0.2, testFraction: -0.1, seed: 1 }), /test fraction -0\.1 is invalid/);
    assert.throws(() => splitDataset(samples, { valFraction: 0.6, testFraction: 0.4, seed: 1 }), /leave nothing for training/);
    assert.throws(() => splitDataset(samples, { valFraction: 0.2, seed: 1, minPerClass: 0 }), /minPerClass 0 is invalid/);
    assert.throws(() => splitDataset(samples, { valFraction: 0.2, seed: 1, groupOf: new Int32Array(3) }), /groupOf has 3 entries for 60 samples/);
  });
});

describe('split: the test photos do not depend on the validation fraction', () => {
  it('picks the same test photos for any --val-split, so runs differing only there are paired', () => {
    const samples = samplesOf({ a: 30, b: 12, c: 50 });
    const test = (vf: number) => splitDataset(samples, { valFraction: vf, testFraction: 0.15, seed: 3 }).test.map((s) => s.path);
    assert.deepEqual(test(0), test(0.2));
    assert.deepEqual(test(0.3), test(0.2));
    assert.equal(test(0.2).length, 5 + 3 + 8);
  });
});

describe('split: kFolds and classBalance', () => {
  it('stratifies each class over the folds (sizes differ by at most 1), deterministically', () => {
    const s = samplesOf({ a: 23, b: 10, c: 3 });
    const folds = kFolds(s, 5, 9);
    for (const label of ['a', 'b', 'c']) {
      const per = [0, 1, 2, 3, 4].map((f) => s.filter((x, i) => x.label === label && folds[i] === f).length);
      assert.ok(Math.max(...per) - Math.min(...per) <= 1, `${label}: ${per}`);
      assert.equal(per.reduce((x, y) => x + y), s.filter((x) => x.label === label).length);
    }
    assert.deepEqual(kFolds(s, 5, 9), folds);
    assert.notDeepEqual(kFolds(s, 5, 10), folds);
    const onlyA = s.filter((x) => x.label === 'a');
    assert.deepEqual(Array.from(kFolds(onlyA, 5, 9)), Array.from(folds.filter((_, i) => s[i].label === 'a')), 'independent of other classes');
  });

  it('keeps groups in one fold; rejects k outside 2..n', () => {
    const s = samplesOf({ a: 20 });
    const groupOf = new Int32Array(20).map((_, i) => Math.floor(i / 4));
    const folds = kFolds(s, 3, 1, groupOf);
    for (let g = 0; g < 5; g++) assert.equal(new Set(Array.from(folds).filter((_, i) => groupOf[i] === g)).size, 1);
    assert.throws(() => kFolds(s, 1, 1), /k 1 is invalid for 20 samples; expected an integer in 2\.\.20/);
    assert.throws(() => kFolds(s, 21, 1), /k 21 is invalid/);
  });

  it('classBalance counts per class and the max/min ratio', () => {
    assert.deepEqual(classBalance(samplesOf({ a: 10, b: 7, c: 2 }), 3), { counts: [10, 7, 2], ratio: 5 });
    assert.deepEqual(classBalance(samplesOf({ a: 3 }), 2), { counts: [3, 0], ratio: Infinity });
    assert.throws(() => classBalance(samplesOf({ a: 1, b: 1 }), 1), /class index 1, outside 0\.\.0/);
  });
});
