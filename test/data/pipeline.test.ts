import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { train, predict, evaluate, reexport, sweep, type Reporter, type TrainResult } from '../../src';
import { readModel, labelsOf } from '../../src/tflite';
import { openModel } from '../../src/runtime';
import { silentReporter } from '../../src/pipeline/report';
import { MODELS_DIR, shared, tmpDir } from '../helpers';

/**
 * The main job end to end on real photos (../shared/datasets), with the defaults. Accuracy is
 * asserted on the TEST photos (held out from training and early stopping) with floors well below
 * what the README reports (objects-small 0.80, digits-photo 0.80: a test split of ~120 photos has a
 * standard error of about 3 points), and the exported model must agree with the head.
 */
describe('pipeline on real data', function () {
  let objects: TrainResult;
  let objectsDir: string;

  before(async () => {
    objectsDir = path.join(tmpDir(), 'objects-model');
    objects = await train(shared('datasets', 'objects-small'), objectsDir, { modelsDir: MODELS_DIR });
  });

  it('trains objects-small with the defaults: every photo in one set, an honest estimate ≥ 0.80 on the test photos', () => {
    const m = objects.metadata;
    assert.deepEqual(m.labels, ['cardboard', 'glass', 'metal', 'paper', 'plastic', 'trash']);
    const { train: tr, val, test } = m.dataset.split;
    assert.equal(tr.length + val.length + test.length, 801);
    assert.equal(m.dataset.skipped.length, 0);
    assert.equal(m.options.heads, 5);
    assert.equal(m.training.heads.length, 5);
    assert.equal(m.metrics.estimate?.method, 'test-split');
    assert.equal(m.metrics.estimate?.n, test.length);
    assert.ok(m.metrics.estimate!.accuracy >= 0.8, `test accuracy ${m.metrics.estimate!.accuracy}`);
  });

  it('exports a model that agrees with the head', () => {
    const e = objects.metadata.metrics.export;
    assert.ok(e.n >= objects.metadata.dataset.counts.test);
    assert.ok(e.agreement >= 0.98, `agreement ${e.agreement}`);
  });

  it('writes a complete model folder', () => {
    for (const f of ['model.tflite', 'model_edgetpu.tflite', 'labels.txt', 'metadata.json', 'history.json', 'curves.svg', 'curves.png', 'confusion.svg', 'confusion.png', 'head/model.json', 'head/weights.bin']) {
      assert.ok(fs.existsSync(path.join(objectsDir, f)), f);
    }
    assert.equal(fs.readFileSync(path.join(objectsDir, 'labels.txt'), 'utf8'), objects.metadata.labels.join('\n') + '\n');
    for (const f of ['model.tflite', 'model_edgetpu.tflite']) assert.deepEqual(labelsOf(fs.readFileSync(path.join(objectsDir, f))), objects.metadata.labels, f);
    const history = JSON.parse(fs.readFileSync(path.join(objectsDir, 'history.json'), 'utf8'));
    assert.equal(history.length, objects.metadata.training.heads[0].epochs);
    assert.deepEqual(Object.keys(history[0]).sort(), ['accuracy', 'epoch', 'loss', 'val_accuracy', 'val_loss']);
    assert.deepEqual([...fs.readFileSync(path.join(objectsDir, 'curves.png')).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal(fs.readdirSync(path.dirname(objectsDir)).filter((f) => f.includes('.tmp-')).length, 0);
  });

  it('exports a uint8 model: quantized head after the base, softmax scale 1/256', () => {
    const m = readModel(fs.readFileSync(path.join(objectsDir, 'model.tflite')));
    const g = m.subgraphs[0];
    const out = g.tensors[g.outputs[0]];
    assert.equal(out.name, 'edgetune/probabilities');
    assert.deepEqual(out.shape, [1, 6]);
    assert.equal(out.quantization?.scale?.[0], 1 / 256);
    const s = openModel(path.join(objectsDir, 'model.tflite'));
    assert.equal(s.input.dtype, 'uint8');
    assert.equal(s.output.dtype, 'uint8');
    s.close();
  });

  it('predicts the test photos through the library exactly as the estimate scored them', async () => {
    const m = objects.metadata;
    const test = m.dataset.split.test.map((f) => ({ path: path.join(m.dataset.root, f), label: f.split('/')[0] }));
    const res = await predict(test.map((s) => s.path), { model: objectsDir, modelsDir: MODELS_DIR, top: 3, device: 'cpu' });
    const right = res.filter((r, i) => {
      assert.equal(r.error, undefined, r.file);
      assert.equal(r.predictions.length, 3);
      assert.ok(r.predictions[0].score >= r.predictions[1].score && r.predictions[1].score >= r.predictions[2].score);
      return r.predictions[0].label === test[i].label;
    }).length;
    // Same model file, same preprocessing, same photos: the library agrees with the estimate to the photo.
    assert.equal(right / test.length, m.metrics.estimate!.accuracy);
  });

  it('evaluates the exported model on the test photos: consistent confusion matrix, the estimate exactly', async () => {
    const m = objects.metadata;
    const held = path.join(tmpDir(), 'held-out');
    for (const f of m.dataset.split.test) {
      fs.mkdirSync(path.join(held, path.dirname(f)), { recursive: true });
      fs.copyFileSync(path.join(m.dataset.root, f), path.join(held, f));
    }
    const warnings: string[] = [];
    const reporter: Reporter = { ...silentReporter, warn: (w) => { warnings.push(w); } };
    const res = await evaluate(objectsDir, held, { modelsDir: MODELS_DIR, device: 'cpu', reporter });
    assert.deepEqual(warnings, []);
    assert.deepEqual(res.labels, m.labels);
    assert.deepEqual(res.confusion, m.metrics.estimate!.confusion);
    assert.equal(res.accuracy, m.metrics.estimate!.accuracy);
  });

  it('re-exports without retraining: float head, and the Edge TPU graft', async () => {
    const copy = path.join(tmpDir(), 'copy');
    fs.cpSync(objectsDir, copy, { recursive: true });
    const before = fs.readFileSync(path.join(copy, 'model_edgetpu.tflite'));
    const res = await reexport(copy, { modelsDir: MODELS_DIR, float: true });
    assert.ok(res.verification && res.verification.agreement >= 0.98);
    const m = readModel(fs.readFileSync(path.join(copy, 'model.tflite')));
    const g = m.subgraphs[0];
    assert.equal(g.tensors[g.outputs[0]].type, 0 /* FLOAT32 */);
    const meta = JSON.parse(fs.readFileSync(path.join(copy, 'metadata.json'), 'utf8'));
    assert.equal(meta.quantized, false);
    const floatModel = fs.readFileSync(path.join(copy, 'model.tflite'));
    assert.equal(fs.existsSync(path.join(copy, 'model_edgetpu.tflite')), false, 'no quantized Edge TPU file beside a float model');
    await assert.rejects(reexport(copy, { modelsDir: MODELS_DIR, float: true, edgetpu: true }), /drop --float/);
    assert.deepEqual(fs.readFileSync(path.join(copy, 'model.tflite')), floatModel);   // refused before any write
    await reexport(copy, { modelsDir: MODELS_DIR, edgetpu: true });
    // Same head, same calibration: the quantized Edge TPU file is reproduced byte for byte.
    assert.deepEqual(fs.readFileSync(path.join(copy, 'model_edgetpu.tflite')), before);
  });

  it('keeps the last good model when a new training run fails', async () => {
    const copy = path.join(tmpDir(), 'keep');
    fs.cpSync(objectsDir, copy, { recursive: true });
    const bad = path.join(tmpDir(), 'one-class');
    fs.mkdirSync(path.join(bad, 'only'), { recursive: true });
    await assert.rejects(train(bad, copy, { modelsDir: MODELS_DIR }), /1 class/);
    assert.deepEqual(fs.readFileSync(path.join(copy, 'model.tflite')), fs.readFileSync(path.join(objectsDir, 'model.tflite')));
  });

  it('refuses impossible Edge TPU requests before training', async () => {
    const ds = shared('datasets', 'objects-small');
    const out = path.join(tmpDir(), 'never');
    await assert.rejects(train(ds, out, { modelsDir: MODELS_DIR, edgetpu: true, pooling: 'grid' }), /--pooling avg/);
    await assert.rejects(train(ds, out, { modelsDir: MODELS_DIR, edgetpu: true, base: 'mobilenet_v2_1.0_224' }), /no Edge TPU-compiled embedding extractor/);
    await assert.rejects(train(ds, out, { modelsDir: MODELS_DIR, edgetpu: true, float: true }), /drop --float/);
    await assert.rejects(train(ds, path.join(ds, 'model'), { modelsDir: MODELS_DIR }), /inside the dataset/);
    assert.equal(fs.existsSync(out), false);
  });

  it('refuses to replace a folder that is not an EdgeTune model', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    await assert.rejects(train(shared('datasets', 'objects-small'), dir, { modelsDir: MODELS_DIR, head: { epochs: 1 } as never, augViews: 0 }),
      /not an EdgeTune model folder/);
    assert.equal(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'mine');
  });

  it('trains digits-photo with the digits preset (2×2 grid) to ≥ 0.80 on its test photos', async function () {
    // 4096-wide grid embeddings and five heads: the slowest training of the suite.
    this.timeout(45 * 60 * 1000);
    const out = path.join(tmpDir(), 'digits-model');
    const r = await train(shared('datasets', 'digits-photo'), out, { modelsDir: MODELS_DIR, preset: 'digits' });
    assert.deepEqual(r.metadata.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    // The digits preset embeds a 2×2 grid of the feature map, which Coral's compiled extractor cannot give.
    assert.equal(r.metadata.base!.pooling, 'grid');
    assert.equal(r.metadata.fit, 'crop');
    assert.equal(r.metadata.base!.embeddingDim, 4096);
    assert.equal(fs.existsSync(path.join(out, 'model_edgetpu.tflite')), false);
    assert.ok(r.metadata.metrics.estimate!.accuracy >= 0.8, `test accuracy ${r.metadata.metrics.estimate!.accuracy}`);
    assert.ok(r.metadata.metrics.export.agreement >= 0.98);
    assert.equal(r.metadata.options.preset, 'digits');
  });
});

describe('stock ImageNet classifier (the embedded default)', () => {
  it('labels cat.bmp as a cat', async () => {
    const [r] = await predict([shared('images', 'cat.bmp')], { modelsDir: MODELS_DIR, top: 5 });
    assert.match(r.predictions[0].label, /cat/i);
    assert.ok(r.predictions[0].score > 0.3);
    assert.ok(r.ms > 0);
  });

  it('reports an unreadable file without stopping the others', async () => {
    const junk = path.join(tmpDir(), 'junk.jpg');
    fs.writeFileSync(junk, 'not an image');
    const res = await predict([junk, shared('images', 'bird.bmp')], { modelsDir: MODELS_DIR, top: 1 });
    assert.match(res[0].error ?? '', /junk\.jpg/);
    assert.equal(res[1].predictions.length, 1);
  });
});

describe('sweep', () => {
  it('ranks every combination by cross-validated accuracy and prints the command that trains the winner', async () => {
    const rows = await sweep(shared('datasets', 'gestures'), { hidden: [[], [32]], dropout: [0, 0.3] },
      { modelsDir: MODELS_DIR, base: 'mobilenet_v1_0.25_128', augViews: 0, folds: 3, head: { epochs: 5, patience: 2 }, cacheDir: false });
    assert.equal(rows.length, 4);
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].cv_accuracy >= rows[i].cv_accuracy);
    assert.deepEqual(rows.map((r) => `${(r.values.hidden as number[]).join('x')}/${r.values.dropout}`).sort(), ['/0', '/0.3', '32/0', '32/0.3']);
    // Scored out of fold: every non-test photo once.
    assert.ok(rows.every((r) => r.n === rows[0].n && r.folds === 3));
    assert.match(rows[0].command, /^edgetune train .*gestures --out runs\/best .*--base mobilenet_v1_0\.25_128/);
    assert.ok(rows.every((r) => r.options.head.epochs === 5 && r.options.augViews === 0), 'every fixed option reaches every combination');
  });
});
