import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { train, predict, reexport, EdgeTuneError, type RunOptions, type TrainOptionsInput } from '../../src';
import { readModel, mainGraph, opName } from '../../src/tflite';
import { MODELS_DIR, shared, tmpDir } from '../helpers';

/** A dataset of `perClass` photos of each of the given gesture classes (files copied unmodified). */
function gestures(classes: string[], perClass: number): string {
  const dir = tmpDir();
  for (const label of classes) {
    const src = shared('datasets', 'gestures', label);
    fs.mkdirSync(path.join(dir, label), { recursive: true });
    for (const f of fs.readdirSync(src).sort().slice(0, perClass)) fs.copyFileSync(path.join(src, f), path.join(dir, label, f));
  }
  return dir;
}

const SMALL: TrainOptionsInput & RunOptions = { base: 'mobilenet_v1_0.25_128', head: { epochs: 20, patience: 4 }, augViews: 1, modelsDir: MODELS_DIR };

describe('train --fine-tune (small base, a few gesture photos)', () => {
  let dir: string;
  let ds: string;
  let result: Awaited<ReturnType<typeof train>>;
  const cache = tmpDir();

  before(async () => {
    ds = gestures(['0', '1', '2'], 16);
    dir = path.join(tmpDir(), 'ft');
    result = await train(ds, dir, { ...SMALL, fineTune: 1, cacheDir: cache });
  });

  it('writes a model folder whose metadata says fine-tuned, with the fine-tuning epochs after the head\'s', () => {
    const m = result.metadata;
    assert.ok(m.fineTune, 'metadata.fineTune');
    assert.equal(m.fineTune.blocks, 1);
    assert.deepEqual(m.fineTune.layers, ['Conv2d_13_depthwise', 'Conv2d_13_pointwise']);
    assert.equal(m.fineTune.cut.split(';')[0], 'MobilenetV1/MobilenetV1/Conv2d_12_pointwise/Relu6');
    assert.deepEqual(m.fineTune.cutShape, [1, 4, 4, 256]);
    assert.equal(m.options.fineTune, 1);
    assert.equal(m.options.heads, 1, 'fine-tuning trains one head with a validation split');
    assert.equal(m.fineTune.lr, 1e-4, "the head's learning rate / 10");
    const head = m.training.heads[0];
    assert.equal(result.history.length, head.epochs + m.fineTune.epochs);
    assert.deepEqual(result.history.map((h) => h.epoch), result.history.map((_, i) => i + 1));
    assert.ok(m.fineTune.after.val_loss <= m.fineTune.before.val_loss, 'the kept weights are never worse on validation than the converged head');
    assert.equal(m.metrics.val_loss, m.fineTune.after.val_loss);
    assert.equal(m.files.edgetpu, undefined, 'no model_edgetpu.tflite: the compiled extractor holds the original blocks');
    assert.ok(!fs.existsSync(path.join(dir, 'model_edgetpu.tflite')));
    assert.equal(m.fineTune.activations.views, 48 + m.dataset.counts.train);
    const hist = JSON.parse(fs.readFileSync(path.join(dir, 'history.json'), 'utf8')) as unknown[];
    assert.equal(hist.length, result.history.length);
  });

  it('model.tflite: the base up to the cut, the re-quantized block and pool, then the head; all uint8 builtins', () => {
    const model = readModel(fs.readFileSync(path.join(dir, 'model.tflite')));
    const sg = mainGraph(model);
    const ops = sg.operators.map((o) => opName(model, o));
    // Stem + blocks 1–12 (25 ops) from the base, block 13 and the pool from the fragment, head.
    assert.deepEqual(ops.slice(25), ['DEPTHWISE_CONV_2D', 'CONV_2D', 'AVERAGE_POOL_2D', 'RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'SOFTMAX']);
    const dw = sg.operators[25];
    assert.match(sg.tensors[dw.outputs[0]].name, /^edgetune\//);
    assert.equal(dw.inputs[0], sg.operators[24].outputs[0], 'the fine-tuned block reads the cut tensor');
    for (const t of sg.tensors) assert.ok(t.type === 3 /* UINT8 */ || t.type === 2 /* INT32 */, `${t.name} is uint8 or int32`);
  });

  it('passes the export check (≥ 98% top-1 agreement) and predicts with labels', async () => {
    const v = result.metadata.metrics.export;
    assert.ok(v.agreement >= 0.98, `agreement ${v.agreement}`);
    assert.equal(v.n, result.metadata.dataset.counts.val + result.metadata.dataset.counts.test);
    assert.equal(result.metadata.metrics.estimate?.method, 'test-split');
    const photo = path.join(ds, '1', fs.readdirSync(path.join(ds, '1')).sort()[0]);
    const [top] = await predict([photo], { model: dir, top: 3, modelsDir: MODELS_DIR, device: 'cpu' });
    assert.equal(top.error, undefined);
    assert.equal(top.predictions.length, 3);
    assert.deepEqual(top.predictions.map((p) => p.label).sort(), ['0', '1', '2']);
  });

  it('export: --float refuses in one line; a plain re-export keeps model.tflite byte for byte', async () => {
    await assert.rejects(reexport(dir, { float: true, modelsDir: MODELS_DIR }), (e: unknown) => e instanceof EdgeTuneError && e.code === 'UNSUPPORTED' && /--fine-tune 1/.test(e.message) && !e.message.includes('\n'));
    const before = fs.readFileSync(path.join(dir, 'model.tflite'));
    const out = path.join(tmpDir(), 're');
    await reexport(dir, { out, modelsDir: MODELS_DIR });
    assert.ok(fs.readFileSync(path.join(out, 'model.tflite')).equals(before));
  });

  it('is reproducible: the same data, options and seed give a byte-identical model.tflite (activations from the cache)', async () => {
    const again = await train(ds, path.join(tmpDir(), 'again'), { ...SMALL, fineTune: 1, cacheDir: cache });
    assert.ok(fs.readFileSync(path.join(again.dir, 'model.tflite')).equals(fs.readFileSync(path.join(dir, 'model.tflite'))));
    assert.deepEqual(again.history, result.history);
  });

  it('refuses a MobileNet v2 base and --edgetpu before any work', async () => {
    await assert.rejects(train(ds, path.join(tmpDir(), 'v2'), { ...SMALL, base: 'mobilenet_v2_1.0_224', fineTune: 1 }), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION' && /MobileNet v1/.test(e.message));
    await assert.rejects(train(ds, path.join(tmpDir(), 'tpu'), { ...SMALL, fineTune: 1, edgetpu: true }), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION' && /--edgetpu/.test(e.message));
  });
});
