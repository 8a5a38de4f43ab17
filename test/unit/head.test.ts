import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  initBackend, trainHead, buildHead, predictHead, headWeights, headWeightsWithRanges, headForward,
  serializeHead, loadHead, balancedWeights, argmaxRows, DEFAULT_HEAD, type HeadSpec,
} from '../../src/head';
import { makeRng } from '../../src/augment';
import { blobs } from '../synthetic';
import { tmpDir } from '../helpers';

const spec = (over: Partial<HeadSpec> = {}): HeadSpec => ({ ...DEFAULT_HEAD, hidden: [16], epochs: 15, patience: 3, ...over });

describe('head', () => {
  before(async () => { await initBackend(); });

  it('builds plain Dense layers for inference: ReLU hidden layers, softmax last (dropout acts only in training)', () => {
    const m = buildHead(8, 3, spec({ hidden: [16, 4], dropout: 0.5 }));
    assert.deepEqual(m.layers.map((l) => [l.getClassName(), (l.getConfig() as { activation: string }).activation]),
      [['Dense', 'relu'], ['Dense', 'relu'], ['Dense', 'softmax']]);
    const r = buildHead(8, 3, spec({ hidden: [], dropout: 0.2 }));
    assert.deepEqual(r.layers.map((l) => l.getClassName()), ['Dense']);
    assert.deepEqual(r.outputs[0].shape, [null, 3]);
    m.dispose(); r.dispose();
  });

  it('learns separable embeddings and restores the epoch with the lowest val_loss', async () => {
    const train = blobs(300, 8, 3, 1);
    const val = blobs(90, 8, 3, 2);
    const t = await trainHead(train, val, 3, spec({ lr: 0.01, epochs: 30, patience: 5 }));
    const best = Math.min(...t.history.map((h) => h.val_loss));
    assert.equal(t.history[t.bestEpoch - 1].val_loss, best);
    const p = predictHead(t.model, val.x, val.n, val.dim);
    const acc = argmaxRows(p, 3).filter((c, i) => c === val.y[i]).length / val.n;
    assert.ok(acc > 0.9, `accuracy ${acc}`);
    // The restored weights are the best epoch's: evaluating them gives that epoch's val accuracy.
    assert.ok(Math.abs(acc - t.history[t.bestEpoch - 1].val_accuracy) < 1e-6);
    t.model.dispose();
  });

  it('stops early when val_loss stops improving', async () => {
    // Random labels: nothing generalises, so val_loss rises soon and patience 2 ends training.
    const train = blobs(200, 8, 2, 3);
    const rng = makeRng(9);
    train.y = train.y.map(() => (rng() < 0.5 ? 0 : 1));
    const val = blobs(60, 8, 2, 4);
    val.y = val.y.map(() => (rng() < 0.5 ? 0 : 1));
    const t = await trainHead(train, val, 2, spec({ epochs: 200, patience: 2, hidden: [64], dropout: 0 }));
    assert.ok(t.stoppedEarly);
    assert.equal(t.history.length, t.bestEpoch + 2);
    t.model.dispose();
  });

  it('exports weights in TFLite layout whose float forward pass equals the tfjs head', async () => {
    const train = blobs(120, 6, 3, 5);
    const t = await trainHead(train, blobs(30, 6, 3, 6), 3, spec({ hidden: [5] }));
    const w = headWeights(t.model, train);
    assert.deepEqual(w.layers.map((l) => [l.units, l.inDim, l.activation]), [[5, 6, 'relu'], [3, 5, 'linear']]);
    const p = predictHead(t.model, train.x, train.n, train.dim);
    for (let i = 0; i < 10; i++) {
      const ref = headForward(w, train.x.subarray(i * 6, i * 6 + 6));
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(ref[c] - p[i * 3 + c]) < 1e-5);
    }
    // Calibration: the hidden layer's range is a ReLU range (min 0) and covers every activation.
    assert.equal(w.layers[0].outputRange[0], 0);
    assert.ok(w.layers[1].outputRange[0] < w.layers[1].outputRange[1]);
    t.model.dispose();
  });

  it('round-trips through the tfjs layers format with its calibration ranges', async () => {
    const train = blobs(60, 4, 2, 7);
    const t = await trainHead(train, blobs(20, 4, 2, 8), 2, spec({ hidden: [3], epochs: 3 }));
    const w = headWeights(t.model, train);
    const ser = await serializeHead(t.model, { labels: ['a', 'b'], outputRanges: w.layers.map((l) => l.outputRange) });
    const dir = path.join(tmpDir(), 'head');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'model.json'), ser.modelJson);
    fs.writeFileSync(path.join(dir, 'weights.bin'), ser.weightsBin);
    const { model, meta } = await loadHead(dir);
    assert.deepEqual(meta.labels, ['a', 'b']);
    const w2 = headWeightsWithRanges(model, meta.outputRanges);
    assert.deepEqual(w2, w);
    assert.deepEqual(predictHead(model, train.x, train.n, 4), predictHead(t.model, train.x, train.n, 4));
    await assert.rejects(loadHead(tmpDir()), /no trained head/);
    t.model.dispose(); model.dispose();
  });

  it('computes Keras balanced class weights', () => {
    assert.deepEqual(balancedWeights(Int32Array.from([0, 0, 0, 1]), 2), { 0: 4 / 6, 1: 2 });
  });

  it('rejects bad hyperparameters with the option name', async () => {
    const s = blobs(10, 2, 2, 1);
    await assert.rejects(trainHead(s, s, 2, spec({ dropout: 1 })), /--dropout 1/);
    await assert.rejects(trainHead(s, s, 2, spec({ hidden: [0] })), /--hidden 0/);
  });
});
