import { strict as assert } from 'node:assert';
import { initBackend, mergeHeads, headLogits, headForward, headModel, headWeightsWithRanges, predictHead } from '../../src/head';
import { makeRng } from '../../src/augment';
import type { DenseLayer, HeadWeights } from '../../src/tflite';

/** A random head with the given widths (embedding dim first, classes last). */
function randomHead(widths: number[], seed: number): HeadWeights {
  const rng = makeRng(seed);
  const layers: DenseLayer[] = [];
  for (let i = 1; i < widths.length; i++) {
    const [inDim, units] = [widths[i - 1], widths[i]];
    layers.push({
      weights: Float32Array.from({ length: units * inDim }, () => rng() * 2 - 1),
      bias: Float32Array.from({ length: units }, () => rng() - 0.5),
      units, inDim, activation: i < widths.length - 1 ? 'relu' : 'linear',
      outputRange: [-rng() * 4, rng() * 4],
    });
  }
  return { layers };
}

function randomInputs(count: number, dim: number, seed: number): Float32Array[] {
  const rng = makeRng(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: dim }, () => rng() * 3 - 1));
}

/** Asserts the merged head's logits equal the mean of the heads' logits on each input. */
function assertMeanLogits(merged: HeadWeights, heads: HeadWeights[], inputs: Float32Array[]): void {
  for (const x of inputs) {
    const got = headLogits(merged, x);
    const per = heads.map((h) => headLogits(h, x));
    got.forEach((v, c) => {
      const mean = per.reduce((s, l) => s + l[c], 0) / heads.length;
      assert.ok(Math.abs(v - mean) < 1e-5, `class ${c}: merged ${v}, mean ${mean}`);
    });
  }
}

describe('mergeHeads', () => {
  before(async () => { await initBackend(); });

  it('merges one-hidden-layer heads into one Dense → Dense head with the mean logits', () => {
    const heads = [randomHead([6, 5, 3], 1), randomHead([6, 4, 3], 2), randomHead([6, 5, 3], 3)];
    const m = mergeHeads(heads);
    assert.deepEqual(m.layers.map((l) => [l.units, l.inDim, l.activation]), [[14, 6, 'relu'], [3, 14, 'linear']]);
    assertMeanLogits(m, heads, randomInputs(20, 6, 9));
    // Hidden range: the union; logits range: [mean of mins, mean of maxes].
    const r = heads.map((h) => h.layers);
    assert.deepEqual(m.layers[0].outputRange, [Math.min(...r.map((l) => l[0].outputRange[0])), Math.max(...r.map((l) => l[0].outputRange[1]))]);
    assert.ok(Math.abs(m.layers[1].outputRange[0] - r.reduce((s, l) => s + l[1].outputRange[0], 0) / 3) < 1e-12);
  });

  it('merges deeper heads block-diagonally and softmax-regression heads by the mean', () => {
    const deep = [randomHead([5, 4, 3, 2], 4), randomHead([5, 6, 2, 2], 5)];
    const md = mergeHeads(deep);
    assert.deepEqual(md.layers.map((l) => [l.units, l.inDim]), [[10, 5], [5, 10], [2, 5]]);
    // Off-diagonal blocks are zero: head 0's second-layer units never read head 1's first-layer units.
    for (let r = 0; r < 3; r++) for (let c = 4; c < 10; c++) assert.equal(md.layers[1].weights[r * 10 + c], 0);
    assertMeanLogits(md, deep, randomInputs(20, 5, 10));

    const flat = [randomHead([7, 4], 6), randomHead([7, 4], 7), randomHead([7, 4], 8), randomHead([7, 4], 9)];
    const mf = mergeHeads(flat);
    assert.deepEqual(mf.layers.map((l) => [l.units, l.inDim, l.activation]), [[4, 7, 'linear']]);
    assertMeanLogits(mf, flat, randomInputs(20, 7, 11));
  });

  it('recalibrates the ranges on a representative dataset and runs as a tfjs head', () => {
    const heads = [randomHead([4, 3, 2], 12), randomHead([4, 3, 2], 13)];
    const xs = randomInputs(30, 4, 14);
    const rep = { x: Float32Array.from(xs.flatMap((x) => [...x])), y: new Int32Array(30), n: 30, dim: 4 };
    const m = mergeHeads(heads, rep);
    const hidden = xs.flatMap((x) => [...headLogits({ layers: [m.layers[0]] }, x)]);
    const logits = xs.flatMap((x) => [...headLogits(m, x)]);
    assert.equal(m.layers[0].outputRange[0], 0);
    assert.equal(Math.min(...hidden), 0);
    assert.ok(Math.abs(m.layers[0].outputRange[1] - Math.max(...hidden)) < 1e-5);
    assert.ok(Math.abs(m.layers[1].outputRange[0] - Math.min(...logits)) < 1e-5);
    assert.ok(Math.abs(m.layers[1].outputRange[1] - Math.max(...logits)) < 1e-5);
    const model = headModel(m);
    const p = predictHead(model, rep.x, 30, 4);
    xs.forEach((x, i) => headForward(m, x).forEach((v, c) => assert.ok(Math.abs(v - p[i * 2 + c]) < 1e-5)));
    // The tfjs head reads back as the same weights.
    const back = headWeightsWithRanges(model, m.layers.map((l) => l.outputRange));
    assert.deepEqual(back.layers.map((l) => [...l.weights]), m.layers.map((l) => [...l.weights]));
    model.dispose();
  });

  it('refuses heads that cannot be merged', () => {
    assert.throws(() => mergeHeads([]), (e: any) => e.code === 'BAD_OPTION');
    assert.throws(() => mergeHeads([randomHead([6, 5, 3], 1), randomHead([6, 3], 2)]), /cannot merge head 1: it has 1 layers/);
    assert.throws(() => mergeHeads([randomHead([6, 5, 3], 1), randomHead([7, 5, 3], 2)]), /embedding size 7/);
    assert.throws(() => mergeHeads([randomHead([6, 5, 3], 1), randomHead([6, 5, 4], 2)]), /4 classes/);
  });
});
