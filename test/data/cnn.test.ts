import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { train, openPredictor, evaluate, reexport, type TrainResult } from '../../src';
import { readModel } from '../../src/tflite';
import { TensorType } from '../../src/tflite/schema';
import { MODELS_DIR, shared, tmpDir } from '../helpers';

/**
 * `train --arch cnn` end to end on real digit photos, kept fast: a small network (16, 16 filters,
 * Dense 32) for 3 epochs. Accuracy is not the point here (it is measured in the bench); the folder,
 * the full-integer export and its gate, and predict/eval/export on a CNN folder are.
 */
describe('train --arch cnn on digits-photo', function () {
  let res: TrainResult;
  let dir: string;
  const dataset = shared('datasets', 'digits-photo');

  before(async () => {
    dir = path.join(tmpDir(), 'digits-cnn');
    res = await train(dataset, dir, {
      modelsDir: MODELS_DIR, preset: 'digits', arch: 'cnn', cnn: { filters: [16, 16], dense: 32 }, head: { epochs: 3 }, threads: 1,
    });
  });

  it('writes a CNN model folder: no base, its input, the tfjs CNN for re-export', () => {
    const m = res.metadata;
    assert.equal(m.arch, 'cnn');
    assert.deepEqual(m.input, { height: 32, width: 20, channels: 1 });
    assert.equal(m.base, undefined);
    assert.equal(m.quantized, true);
    assert.deepEqual(m.options.cnn, { input: [32, 20], channels: 'grey', filters: [16, 16], dense: 32 });
    assert.equal(m.training.epochs, 3);
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      'cnn', 'confusion.png', 'confusion.svg', 'curves.png', 'curves.svg', 'history.json', 'labels.txt', 'metadata.json', 'model.tflite',
    ]);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'cnn')).sort(), ['model.json', 'weights.bin']);
    assert.equal(fs.readFileSync(path.join(dir, 'labels.txt'), 'utf8'), '0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n');
    const { train: tr, val, test } = m.dataset.split;
    assert.equal(tr.length + val.length + test.length + m.dataset.skipped.length, 874);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8')).length, 3);
  });

  it('exports a full-integer model: uint8 [1,32,20,1] in, uint8 softmax out, no float tensor', () => {
    const model = readModel(fs.readFileSync(path.join(dir, 'model.tflite')));
    const sg = model.subgraphs[0];
    const input = sg.tensors[sg.inputs[0]];
    const output = sg.tensors[sg.outputs[0]];
    assert.deepEqual([input.shape, input.type], [[1, 32, 20, 1], TensorType.UINT8]);
    assert.deepEqual([output.shape, output.type], [[1, 10], TensorType.UINT8]);
    assert.ok(Math.abs(input.quantization!.scale![0] - 1 / 255) < 1e-9);
    assert.equal(Number(input.quantization!.zeroPoint![0]), 0);
    assert.deepEqual(sg.tensors.filter((t) => t.type === TensorType.FLOAT32).map((t) => t.name), []);
  });

  it('passes the export gate on the validation and test photos and estimates on the test photos with the exported file', () => {
    const m = res.metadata;
    assert.equal(m.metrics.export.n, m.dataset.counts.val + m.dataset.counts.test);
    assert.ok(m.metrics.export.agreement >= 0.99, `agreement ${m.metrics.export.agreement}`);
    assert.equal(m.metrics.estimate?.method, 'test-split');
    assert.equal(m.metrics.estimate?.n, m.dataset.counts.test);
  });

  it('predicts with the model\'s own input size, channels and fit', async () => {
    const p = openPredictor({ model: dir, threads: 1 });
    try {
      assert.deepEqual(p.inputShape, { height: 32, width: 20, channels: 1 });
      assert.equal(p.fit, 'crop');
      const photo = path.join(dataset, '7', fs.readdirSync(path.join(dataset, '7')).sort()[0]);
      const r = await p.predict(photo, 3);
      assert.equal(r.error, undefined);
      assert.equal(r.predictions.length, 3);
      assert.ok(r.predictions.every((q) => p.labels.includes(q.label)));
      assert.ok(r.predictions[0].score >= r.predictions[1].score);
      assert.throws(() => p.classify(new Uint8Array(32 * 20 * 3)), /takes 32×20×1 = 640/);
    } finally {
      await p.close();
    }
  });

  it('eval on the test photos gives the recorded estimate exactly', async () => {
    const testDir = tmpDir();
    for (const rel of res.metadata.dataset.split.test) {
      fs.mkdirSync(path.join(testDir, path.dirname(rel)), { recursive: true });
      fs.copyFileSync(path.join(dataset, rel), path.join(testDir, rel));
    }
    const e = await evaluate(dir, testDir, { threads: 1 });
    assert.deepEqual(e.skipped, []);
    assert.deepEqual(e.confusion, res.metadata.metrics.estimate!.confusion);
    assert.equal(e.accuracy, res.metadata.metrics.estimate!.accuracy);
  });

  it('export converts cnn/model.json again: the same file, calibrated on the same photos; --float gives a float model', async () => {
    const before = fs.readFileSync(path.join(dir, 'model.tflite'));
    const again = await reexport(dir, { out: path.join(tmpDir(), 'again'), threads: 1 });
    assert.deepEqual(fs.readFileSync(path.join(again.dir, 'model.tflite')), before);
    assert.ok(again.verification!.agreement >= 0.99);
    const float = await reexport(dir, { out: path.join(tmpDir(), 'float'), float: true, threads: 1 });
    const sg = readModel(fs.readFileSync(path.join(float.dir, 'model.tflite'))).subgraphs[0];
    assert.equal(sg.tensors[sg.inputs[0]].type, TensorType.FLOAT32);
    assert.ok(float.verification!.agreement >= 0.99);
    await assert.rejects(reexport(dir, { edgetpu: true }), (e: Error & { code?: string }) => e.code === 'EDGETPU_UNAVAILABLE' && /--compile/.test(e.message));
  });
});
