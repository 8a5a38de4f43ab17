import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/head';
import {
  buildCnn, trainCnn, predictCnn, evaluateCnn, serializeCnn, loadCnn, pooledSize, type CnnSpec, type ImageSet,
} from '../../src/cnn';
import { presetParams, makeRng } from '../../src/augment';
import { sweep } from '../../src/pipeline/sweep';
import { tmpDir } from '../helpers';

/**
 * n grey h×w images of two classes: class 0 has a bright vertical bar in its left third, class 1
 * in its right third (positions jittered by a pixel), on a noisy background.
 */
function bars(n: number, h: number, w: number, seed: number): ImageSet {
  const rng = makeRng(seed);
  const x = new Uint8Array(n * h * w);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const col = (y[i] === 0 ? 1 : w - 3) + Math.floor(rng() * 2);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) x[(i * h + r) * w + c] = c === col || c === col + 1 ? 200 + Math.floor(rng() * 55) : Math.floor(rng() * 60);
    }
  }
  return { x, y, n, shape: [h, w, 1] };
}

const spec = (over: Partial<CnnSpec['train']> = {}): CnnSpec => ({
  cnn: { input: [8, 12], channels: 'grey', filters: [4, 4], dense: 8 },
  train: { lr: 0.01, batch: 16, epochs: 12, patience: 4, labelSmoothing: 0, ...over },
  classWeights: 'none',
  augment: presetParams('none'),
  seed: 3,
});

describe('cnn: the seed network', () => {
  before(async () => { await initBackend(); });

  it('stacks Conv 3×3 same ReLU → BN → MaxPool per filter count, Dropout between, Flatten → Dense → Dropout → softmax', () => {
    const m = buildCnn({ input: [32, 20], channels: 'grey', filters: [75, 50, 25], dense: 512 }, 10, 1);
    assert.deepEqual(m.layers.map((l) => l.name), [
      'conv1', 'bn1', 'pool1', 'drop1', 'conv2', 'bn2', 'pool2', 'drop2', 'conv3', 'bn3', 'pool3', 'flatten', 'dense', 'dense_drop', 'logits',
    ]);
    const conv = m.getLayer('conv2').getConfig() as { kernelSize: number[]; padding: string; activation: string; strides: number[] };
    assert.deepEqual([conv.kernelSize, conv.padding, conv.activation, conv.strides], [[3, 3], 'same', 'relu', [1, 1]]);
    assert.deepEqual((m.getLayer('pool1').getConfig() as { poolSize: number[]; padding: string }).poolSize, [2, 2]);
    assert.deepEqual(m.inputs[0].shape, [null, 32, 20, 1]);
    // 'same' pooling: 32×20 → 16×10 → 8×5 → 4×3, × 25 filters = 300 features.
    assert.deepEqual(m.getLayer('flatten').outputShape, [null, 300]);
    assert.equal(pooledSize(20, 3), 3);
    assert.deepEqual(m.outputs[0].shape, [null, 10]);
    assert.equal((m.getLayer('logits').getConfig() as { activation: string }).activation, 'softmax');
    // conv 750 + 33 800 + 11 275, BN 4 per channel (300 + 200 + 100), Dense 154 112 + 5 130.
    assert.equal(m.countParams(), 205667);
    m.dispose();
  });

  it('takes RGB, no Dense layer, and refuses what cannot be built', () => {
    const m = buildCnn({ input: [64, 64], channels: 'rgb', filters: [8], dense: 0 }, 3, 1);
    assert.deepEqual(m.layers.map((l) => l.getClassName()), ['Conv2D', 'BatchNormalization', 'MaxPooling2D', 'Flatten', 'Dense']);
    assert.deepEqual(m.inputs[0].shape, [null, 64, 64, 3]);
    m.dispose();
    assert.throws(() => buildCnn({ input: [8, 8], channels: 'rgb', filters: [], dense: 0 }, 3, 1), /--filters is empty/);
    assert.throws(() => buildCnn({ input: [8, 8], channels: 'rgb', filters: [4], dense: 0 }, 1, 1), /at least 2 classes/);
  });

  it('trains, restores the best epoch (BN statistics too), and leaks no tensors', async () => {
    const train = bars(64, 8, 12, 1);
    const val = bars(32, 8, 12, 2);
    const before = tf.memory().numTensors;
    const epochs: number[] = [];
    const t = await trainCnn(train, val, 2, spec(), { onEpoch: (e) => epochs.push(e.epoch) });
    assert.deepEqual(epochs, t.history.map((h) => h.epoch));
    const best = t.history[t.bestEpoch - 1];
    assert.equal(best.val_loss, Math.min(...t.history.map((h) => h.val_loss)));
    const ev = evaluateCnn(t.model, val, 2);
    assert.ok(Math.abs(ev.loss - best.val_loss) < 1e-5, `restored val_loss ${ev.loss} vs best ${best.val_loss}`);
    assert.equal(ev.accuracy, best.val_accuracy);
    assert.ok(best.val_accuracy >= 0.9, `val accuracy ${best.val_accuracy}`);
    const probs = predictCnn(t.model, val);
    assert.equal(probs.length, 64);
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(probs[2 * i] + probs[2 * i + 1] - 1) < 1e-5);
    t.model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('is a function of its seed: the same data and spec give the same history', async () => {
    const train = bars(32, 8, 12, 5);
    const val = bars(16, 8, 12, 6);
    const s = { ...spec({ epochs: 3, patience: 3 }), augment: presetParams('digits') };
    const a = await trainCnn(train, val, 2, s);
    const b = await trainCnn(train, val, 2, s);
    assert.deepEqual(b.history, a.history);
    const c = await trainCnn(train, val, 2, { ...s, seed: 4 });
    assert.notDeepEqual(c.history, a.history);
    [a, b, c].forEach((t) => t.model.dispose());
  });

  it('cancels through its AbortSignal with CANCELLED and frees what it made', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    await assert.rejects(trainCnn(bars(64, 8, 12, 1), bars(16, 8, 12, 2), 2, spec(), { signal: ac.signal, onBatch: () => ac.abort() }),
      (e: Error & { code?: string }) => e.code === 'CANCELLED' && /epoch 1, batch 1 of 4/.test(e.message));
    assert.equal(tf.memory().numTensors, before);
  });

  it('refuses photos of another shape in one line', async () => {
    const wrong = bars(8, 12, 8, 1);
    await assert.rejects(trainCnn(wrong, wrong, 2, spec()), /photos are 12×8×1, the CNN takes 8×12×1/);
  });

  it('saves in the tfjs layers format and loads back with the same outputs', async () => {
    const val = bars(8, 8, 12, 2);
    const m = buildCnn(spec().cnn, 2, 9);
    const saved = await serializeCnn(m, { labels: ['left', 'right'], input: { height: 8, width: 12, channels: 1 }, inputScale: 1 / 255 });
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'model.json'), saved.modelJson);
    fs.writeFileSync(path.join(dir, 'weights.bin'), saved.weightsBin);
    const back = await loadCnn(dir);
    assert.deepEqual(back.meta, { labels: ['left', 'right'], input: { height: 8, width: 12, channels: 1 }, inputScale: 1 / 255 });
    assert.deepEqual([...predictCnn(back.model, val)], [...predictCnn(m, val)]);
    m.dispose(); back.model.dispose();
    await assert.rejects(loadCnn(tmpDir()), (e: Error & { code?: string }) => e.code === 'BAD_MODEL');
  });

  it('sweep refuses --arch cnn instead of sweeping heads in its place', async () => {
    await assert.rejects(sweep(tmpDir(), { dropout: [0.2, 0.5] }, { arch: 'cnn' }), (e: Error & { code?: string }) => e.code === 'BAD_OPTION' && /does not train CNNs/.test(e.message));
    await assert.rejects(sweep(tmpDir(), { arch: ['head', 'cnn'] }), /does not train CNNs/);
  });
});
