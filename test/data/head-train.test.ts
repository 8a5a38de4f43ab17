import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import {
  initBackend, trainHead, trainHeads, mergeHeads, buildHead, predictHead, headWeights, headLogits, headForward,
  headModel, DEFAULT_HEAD, type EmbeddingSet, type HeadSpec, type TrainedHead,
} from '../../src/head';
import { streamSeed, STREAM } from '../../src/head/streams';
import { EdgeTuneError } from '../../src/errors';
import { blobs } from '../synthetic';

const spec = (over: Partial<HeadSpec> = {}): HeadSpec => ({
  ...DEFAULT_HEAD, labelSmoothing: 0, hidden: [16], dropout: 0.5, lr: 0.01, batch: 16, epochs: 8, patience: 8,
  classWeights: 'balanced', l2: 1e-3, seed: 7, ...over,
});

/** The trained weights as raw bytes, for a bit-exact comparison. */
function weightBytes(t: TrainedHead): Buffer[] {
  return t.model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).slice().buffer));
}

/** A 3-class set where class 0 has twice the rows (so balanced class weights are not all 1). */
function imbalanced(n: number, dim: number, seed: number): EmbeddingSet {
  const s = blobs(n, dim, 3, seed);
  for (let i = 0; i < n; i++) if (s.y[i] === 2 && i % 2 === 0) s.y[i] = 0;
  return s;
}

function isCancelled(re: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof EdgeTuneError && e.code === 'CANCELLED' && re.test(e.message) && !e.message.includes('\n');
}

describe('head training (reproducible)', () => {
  let backend = '';
  before(async () => { backend = await initBackend(); });

  it('gives bit-identical weights and history for the same seed, different weights for another seed', async () => {
    const train = imbalanced(120, 6, 1);
    const val = blobs(45, 6, 3, 2);
    const tensors = tf.memory().numTensors;
    const seen: unknown[] = [];
    const a = await trainHead(train, val, 3, spec(), { onEpoch: (r) => seen.push(r) });
    const b = await trainHead(train, val, 3, spec());
    const c = await trainHead(train, val, 3, spec({ seed: 8 }));
    assert.equal(a.history.length, 8);
    assert.deepEqual(seen, a.history);
    assert.deepEqual(b.history, a.history);
    assert.equal(b.bestEpoch, a.bestEpoch);
    const [wa, wb, wc] = [a, b, c].map(weightBytes);
    wa.forEach((w, i) => assert.ok(w.equals(wb[i]), `weight ${i} differs between identical runs`));
    assert.ok(wa.some((w, i) => !w.equals(wc[i])), 'another seed gave the same weights');
    assert.notDeepEqual(c.history, a.history);
    // Only the three heads' weights are left; disposing them frees everything training made.
    [a, b, c].forEach((t) => t.model.dispose());
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('is bit-reproducible on the cpu backend too', async () => {
    const train = imbalanced(60, 4, 3);
    const val = blobs(30, 4, 3, 4);
    const s = spec({ hidden: [8], epochs: 3, patience: 3 });
    await tf.setBackend('cpu');
    try {
      const [a, b] = [await trainHead(train, val, 3, s), await trainHead(train, val, 3, s)];
      assert.equal(tf.getBackend(), 'cpu');
      assert.deepEqual(b.history, a.history);
      const [wa, wb] = [a, b].map(weightBytes);
      wa.forEach((w, i) => assert.ok(w.equals(wb[i])));
      a.model.dispose(); b.model.dispose();
    } finally {
      await tf.setBackend(backend);
    }
  });

  it('applies dropout in training only: the epoch loss changes with the rate, inference is plain Dense', async () => {
    const train = blobs(96, 6, 3, 5);
    const val = blobs(30, 6, 3, 6);
    // lr 1e-9: the weights stay at their initial values, so the epoch loss is the initial model's loss.
    const still = spec({ lr: 1e-9, epochs: 1, patience: 1, classWeights: 'none', l2: 0 });
    const init = buildHead(6, 3, still);
    const p = predictHead(init, train.x, train.n, train.dim);
    let ce = 0;
    for (let i = 0; i < train.n; i++) ce -= Math.log(p[i * 3 + train.y[i]]);
    ce /= train.n;
    init.dispose();
    const d0 = await trainHead(train, val, 3, { ...still, dropout: 0 });
    const d9 = await trainHead(train, val, 3, { ...still, dropout: 0.9 });
    assert.ok(Math.abs(d0.history[0].loss - ce) < 1e-5, `dropout 0: loss ${d0.history[0].loss}, initial cross-entropy ${ce}`);
    assert.ok(d9.history[0].loss > ce + 0.05, `dropout 0.9: loss ${d9.history[0].loss}, initial cross-entropy ${ce}`);
    // Validation runs without dropout: both heads (same initial weights) score the same val_loss.
    assert.ok(Math.abs(d9.history[0].val_loss - d0.history[0].val_loss) < 1e-6);
    d0.model.dispose(); d9.model.dispose();

    const t = await trainHead(train, val, 3, spec({ dropout: 0.9, epochs: 4, patience: 4 }));
    assert.deepEqual(t.model.layers.map((l) => l.getClassName()), ['Dense', 'Dense']);
    const once = predictHead(t.model, val.x, val.n, val.dim);
    assert.deepEqual(predictHead(t.model, val.x, val.n, val.dim), once);
    const w = headWeights(t.model, train);
    for (let i = 0; i < val.n; i++) {
      headForward(w, val.x.subarray(i * 6, i * 6 + 6)).forEach((v, c) => assert.ok(Math.abs(v - once[i * 3 + c]) < 1e-5));
    }
    t.model.dispose();
  });

  it('reports the loss Keras reports: class-weighted cross-entropy + L2 penalty, val_loss with the penalty', async () => {
    // Reference: tfjs-layers' own fit (Keras semantics for the training loss) on the same initial
    // weights, full batch (so the shuffle cannot matter) and no dropout; its evaluate() leaves the
    // penalty out of val_loss, so the test adds λ·Σw² as Keras does.
    const train = imbalanced(90, 5, 7);
    const val = blobs(30, 5, 3, 8);
    const s = spec({ hidden: [8], dropout: 0, batch: 90, epochs: 4, patience: 4 });
    const ours = await trainHead(train, val, 3, s);
    const init = buildHead(5, 3, s);
    const l2 = tf.regularizers.l2({ l2: s.l2 });
    const ref = tf.sequential({
      layers: [
        tf.layers.dense({ units: 8, activation: 'relu', inputShape: [5], kernelRegularizer: l2 }),
        tf.layers.dense({ units: 3, activation: 'softmax', kernelRegularizer: l2 }),
      ],
    });
    ref.setWeights(init.getWeights());
    init.dispose();
    ref.compile({ optimizer: tf.train.adam(s.lr), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const xs = tf.tensor2d(train.x, [train.n, 5]);
    const ys = tf.oneHot(tf.tensor1d(train.y, 'int32'), 3);
    const vx = tf.tensor2d(val.x, [val.n, 5]);
    const vy = tf.oneHot(tf.tensor1d(val.y, 'int32'), 3);
    const classWeight = { 0: 90 / (3 * 45), 1: 90 / (3 * 30), 2: 90 / (3 * 15) };
    for (let e = 0; e < s.epochs; e++) {
      const fit = await ref.fit(xs, ys, { epochs: 1, batchSize: 90, shuffle: false, verbose: 0, classWeight });
      const [vl, va] = (ref.evaluate(vx, vy) as tf.Scalar[]).map((t) => t.dataSync()[0]);
      const penalty = s.l2 * ref.getWeights().filter((w) => w.rank === 2).reduce((sum, k) => sum + tf.sum(tf.square(k)).dataSync()[0], 0);
      const h = ours.history[e];
      assert.ok(Math.abs(h.loss - Number(fit.history.loss[0])) < 1e-5, `epoch ${e + 1}: loss ${h.loss} vs ${fit.history.loss[0]}`);
      // tfjs averages accuracy in float32; ours is the exact ratio.
      assert.ok(Math.abs(h.accuracy - Number(fit.history.acc[0])) < 1e-6);
      assert.ok(Math.abs(h.val_loss - (vl + penalty)) < 1e-5, `epoch ${e + 1}: val_loss ${h.val_loss} vs ${vl + penalty}`);
      assert.ok(Math.abs(h.val_accuracy - va) < 1e-6);
    }
    assert.equal(ours.bestEpoch, 4);
    const [wo, wr] = [ours.model.getWeights(), ref.getWeights()].map((ws) => ws.map((w) => w.dataSync()));
    wo.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - wr[i][j]) < 1e-5)));
    tf.dispose([xs, ys, vx, vy]);
    ours.model.dispose(); ref.dispose();
  });

  it('cancels between batches through an AbortSignal, reporting batch progress and freeing its tensors', async () => {
    const train = blobs(120, 6, 3, 9);
    const val = blobs(30, 6, 3, 10);
    const tensors = tf.memory().numTensors;
    const ac = new AbortController();
    const calls: number[][] = [];
    await assert.rejects(trainHead(train, val, 3, spec({ batch: 32, epochs: 10, patience: 10 }), {
      signal: ac.signal,
      onBatch: (done, total, epoch) => { calls.push([done, total, epoch]); if (epoch === 2 && done === 3) ac.abort(); },
    }), isCancelled(/at epoch 2, batch 3 of 4/));
    assert.deepEqual(calls, [[1, 4, 1], [2, 4, 1], [3, 4, 1], [4, 4, 1], [1, 4, 2], [2, 4, 2], [3, 4, 2]]);
    assert.equal(tf.memory().numTensors, tensors);

    await assert.rejects(trainHead(train, val, 3, spec(), { signal: AbortSignal.abort() }), isCancelled(/before the first epoch/));
    assert.equal(tf.memory().numTensors, tensors);

    // A timer fires while training runs: the loop yields to the event loop between batches.
    const timed = new AbortController();
    setTimeout(() => timed.abort(), 30);
    await assert.rejects(trainHead(train, val, 3, spec({ epochs: 100_000, patience: 100_000 }), { signal: timed.signal }), isCancelled(/at epoch \d+, batch \d of 8/));
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('trains an ensemble on folds, each fold reproducible alone, merged into one head with the mean logits', async () => {
    const all = blobs(150, 5, 3, 11);
    const folds = [0, 1, 2].map((k) => ({
      train: [...Array(150).keys()].filter((i) => i % 3 !== k),
      val: [...Array(150).keys()].filter((i) => i % 3 === k),
    }));
    const s = spec({ hidden: [6], epochs: 5, patience: 5 });
    const started: number[][] = [];
    const heads = await trainHeads(all, all, folds, 3, s, { onFold: (k, total) => started.push([k, total]) });
    assert.deepEqual(started, [[0, 3], [1, 3], [2, 3]]);
    assert.deepEqual(heads.map((h) => h.spec.seed), [0, 1, 2].map((k) => streamSeed(s.seed, STREAM.fold, k)));

    const sub = (idx: number[]): EmbeddingSet => ({
      x: Float32Array.from(idx.flatMap((i) => [...all.x.subarray(i * 5, i * 5 + 5)])),
      y: Int32Array.from(idx.map((i) => all.y[i])), n: idx.length, dim: 5,
    });
    const alone = await trainHead(sub(folds[1].train), sub(folds[1].val), 3, heads[1].spec);
    const [wa, wh] = [alone, heads[1]].map(weightBytes);
    wa.forEach((w, i) => assert.ok(w.equals(wh[i])));
    alone.model.dispose();

    const merged = mergeHeads(heads.map((h) => headWeights(h.model, all)), all);
    assert.deepEqual(merged.layers.map((l) => [l.units, l.inDim]), [[18, 5], [3, 18]]);
    const each = heads.map((h) => headWeights(h.model, all));
    for (let i = 0; i < all.n; i++) {
      const x = all.x.subarray(i * 5, i * 5 + 5);
      const per = each.map((w) => headLogits(w, x));
      headLogits(merged, x).forEach((v, c) => assert.ok(Math.abs(v - per.reduce((a, l) => a + l[c], 0) / 3) < 1e-5));
    }
    const model = headModel(merged);
    const p = predictHead(model, all.x, all.n, 5);
    for (let i = 0; i < 10; i++) headForward(merged, all.x.subarray(i * 5, i * 5 + 5)).forEach((v, c) => assert.ok(Math.abs(v - p[i * 3 + c]) < 1e-5));
    model.dispose();
    heads.forEach((h) => h.model.dispose());

    await assert.rejects(trainHeads(all, all, [{ train: [0, 999], val: [1] }], 3, s), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION' && /row 999 is outside 0\.\.149/.test(e.message));
  });
});
