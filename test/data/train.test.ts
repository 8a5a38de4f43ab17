import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { train, reexport, EdgeTuneError, type RunOptions, type TrainOptionsInput, type Reporter } from '../../src';
import { labelsOf, declaredMinRuntimeVersion, readModel } from '../../src/tflite';
import { readModelFolder } from '../../src/artifact';
import { MODELS_DIR, shared, tmpDir } from '../helpers';

/**
 * Training behaviour that is not about accuracy, on small real datasets made from the shared
 * gesture photos and the small base (mobilenet_v1_0.25_128), with few epochs.
 */
const SMALL: TrainOptionsInput & RunOptions = { base: 'mobilenet_v1_0.25_128', head: { epochs: 4, patience: 2 }, augViews: 1, modelsDir: MODELS_DIR };

/** A dataset of `perClass` photos from each of the given gesture classes (files copied unmodified). */
function gestures(classes: Record<string, number>, dir = tmpDir()): string {
  for (const [label, n] of Object.entries(classes)) {
    const src = shared('datasets', 'gestures', label);
    fs.mkdirSync(path.join(dir, label), { recursive: true });
    for (const f of fs.readdirSync(src).sort().slice(0, n)) fs.copyFileSync(path.join(src, f), path.join(dir, label, f));
  }
  return dir;
}

/** A reporter that records warnings and infos. */
function recorder(): Reporter & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, info: (m) => infos.push(m), warn: (m) => warnings.push(m), progress: () => ({ update: () => undefined, stop: () => undefined }) };
}

describe('train: reproducible from the seed', () => {
  it('gives a byte-identical model.tflite for the same data, options and seed, cached or not; another seed differs', async () => {
    const ds = gestures({ 0: 14, 1: 14, 2: 14 });
    const cache = tmpDir();
    const a = await train(ds, path.join(tmpDir(), 'a'), { ...SMALL, cacheDir: cache });
    const b = await train(ds, path.join(tmpDir(), 'b'), { ...SMALL, cacheDir: cache });
    const c = await train(ds, path.join(tmpDir(), 'c'), { ...SMALL, cacheDir: false });
    assert.ok(b.metadata.training.cache.hits > 0 && b.metadata.training.cache.misses === 0, JSON.stringify(b.metadata.training.cache));
    const bytes = (r: typeof a) => fs.readFileSync(path.join(r.dir, 'model.tflite'));
    assert.ok(bytes(a).equals(bytes(b)), 'same seed, cached embeddings: identical file');
    assert.ok(bytes(a).equals(bytes(c)), 'same seed, no cache: identical file');
    assert.deepEqual(a.history, c.history);
    const d = await train(ds, path.join(tmpDir(), 'd'), { ...SMALL, seed: 7, cacheDir: cache });
    assert.equal(d.metadata.options.seed, 7);
    assert.ok(!bytes(a).equals(bytes(d)), 'another seed: another model');
  });
});

describe('train: honest estimate and a recorded split', () => {
  it('holds out a test split, records every file, and estimates on the exported model', async () => {
    const ds = gestures({ 0: 20, 1: 20, 2: 20 });
    // One head stopped early on a validation split (an ensemble has none: each head uses a fold).
    const r = await train(ds, path.join(tmpDir(), 'm'), { ...SMALL, heads: 1, cacheDir: false });
    const m = r.metadata;
    const { train: tr, val, test } = m.dataset.split;
    assert.equal(tr.length + val.length + test.length, 60);
    assert.equal(new Set([...tr, ...val, ...test]).size, 60, 'the three sets are disjoint');
    assert.deepEqual(m.dataset.counts, { train: tr.length, val: val.length, test: test.length });
    for (const label of ['0', '1', '2']) {
      assert.ok(val.filter((f) => f.startsWith(`${label}/`)).length >= 3, `validation keeps ≥ 3 of class ${label}`);
      assert.ok(test.filter((f) => f.startsWith(`${label}/`)).length >= 3, `test keeps ≥ 3 of class ${label}`);
    }
    assert.equal(m.metrics.estimate?.method, 'test-split');
    assert.equal(m.metrics.estimate?.n, test.length);
    assert.equal(m.metrics.estimate?.confusion.flat().reduce((x, y) => x + y, 0), test.length);
    assert.equal(m.metrics.export.n, val.length + test.length);
    for (const f of ['confusion.svg', 'confusion.png', 'curves.png']) assert.ok(fs.existsSync(path.join(r.dir, f)), f);
  });

  it('an ensemble (the default) trains every non-test photo and keeps the same test photos', async () => {
    const ds = gestures({ 0: 20, 1: 20, 2: 20 });
    const one = await train(ds, path.join(tmpDir(), 'one'), { ...SMALL, heads: 1, cacheDir: false });
    const five = await train(ds, path.join(tmpDir(), 'five'), { ...SMALL, cacheDir: false });
    assert.equal(five.metadata.training.heads.length, 5);
    assert.equal(five.metadata.dataset.split.val.length, 0);
    assert.equal(five.metadata.dataset.split.train.length, 60 - five.metadata.dataset.split.test.length);
    assert.deepEqual(five.metadata.dataset.split.test, one.metadata.dataset.split.test, 'paired: the same test photos');
  });

  it('falls back to k-fold cross-validation when a class is too small for a test split', async () => {
    const ds = gestures({ 0: 20, 1: 6 });
    const rep = recorder();
    const r = await train(ds, path.join(tmpDir(), 'm'), { ...SMALL, cacheDir: false, reporter: rep });
    assert.equal(r.metadata.metrics.estimate?.method, 'k-fold');
    assert.equal(r.metadata.metrics.estimate?.n, 26, 'every photo scored once, out of fold');
    assert.equal(r.metadata.dataset.counts.test, 0);
    assert.ok(rep.warnings.some((w) => /too small .*cross-validation/.test(w)), rep.warnings.join('\n'));
  });
});

describe('train: data a user would get wrong', () => {
  it('keeps identical photos on one side of the split (every photo copied once)', async () => {
    const ds = gestures({ 0: 12, 1: 12, 2: 12 });
    for (const label of ['0', '1', '2']) {
      for (const f of fs.readdirSync(path.join(ds, label))) fs.copyFileSync(path.join(ds, label, f), path.join(ds, label, `copy-${f}`));
    }
    const r = await train(ds, path.join(tmpDir(), 'm'), { ...SMALL, cacheDir: false });
    const { train: tr, val, test } = r.metadata.dataset.split;
    const twin = (f: string) => f.replace('copy-', '');
    const trained = new Set(tr.map(twin));
    assert.equal([...val, ...test].filter((f) => trained.has(twin(f))).length, 0, 'no validation or test photo has its twin in training');
    assert.equal(r.metadata.dataset.duplicates.length, 36, 'every pair reported as a group');
  });

  it('reports a photo that sits in two classes as a conflict', async () => {
    const ds = gestures({ 0: 10, 1: 10 });
    const f = fs.readdirSync(path.join(ds, '0')).sort()[0];
    fs.copyFileSync(path.join(ds, '0', f), path.join(ds, '1', `also-${f}`));
    const rep = recorder();
    const r = await train(ds, path.join(tmpDir(), 'm'), { ...SMALL, cacheDir: false, reporter: rep });
    assert.equal(r.metadata.dataset.conflicts.length, 1);
    assert.deepEqual(r.metadata.dataset.conflicts[0].labels.sort(), ['0', '1']);
    assert.ok(rep.warnings.some((w) => w.startsWith('conflict:') && w.includes(f)), rep.warnings.join('\n'));
  });

  it('warns about imbalanced classes with the counts and uses balanced weights (auto)', async () => {
    const ds = gestures({ 0: 40, 1: 8 });
    const rep = recorder();
    const r = await train(ds, path.join(tmpDir(), 'm'), { ...SMALL, cacheDir: false, reporter: rep });
    assert.ok(rep.warnings.some((w) => /imbalanced \(0 40, 1 8: largest\/smallest 5\.0× > 3×\): using balanced class weights/.test(w)), rep.warnings.join('\n'));
    assert.equal(r.metadata.training.classWeights, 'balanced');
    const none = await train(ds, path.join(tmpDir(), 'n'), { ...SMALL, cacheDir: false, heads: 1, head: { classWeights: 'none', epochs: 2 } });
    assert.equal(none.metadata.training.classWeights, 'none');
    assert.equal(none.metadata.training.heads.length, 1, 'a single head (--heads 1) trains and writes its folder');
    assert.ok(none.metadata.dataset.counts.val > 0);
  });

  it('lists every file it did not use, with the reason', async () => {
    const ds = gestures({ 0: 8, 1: 8 });
    fs.writeFileSync(path.join(ds, '0', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]));
    fs.writeFileSync(path.join(ds, '1', 'notes.txt'), 'not a photo');
    const rep = recorder();
    const r = await train(ds, path.join(tmpDir(), 'm'), { ...SMALL, cacheDir: false, reporter: rep });
    const skipped = r.metadata.dataset.skipped.map((s) => path.basename(s.path)).sort();
    assert.deepEqual(skipped, ['broken.jpg', 'notes.txt']);
    assert.equal(rep.warnings.filter((w) => w.startsWith('skipped ')).length, 2);
  });
});

describe('train: the model folder', () => {
  it('writes a model.tflite that names its classes (TFLite Metadata) and its minimum runtime', async () => {
    const ds = gestures({ 0: 8, 1: 8, 2: 8 });
    const r = await train(ds, path.join(tmpDir(), 'm'), { ...SMALL, cacheDir: false });
    const bytes = fs.readFileSync(path.join(r.dir, 'model.tflite'));
    assert.deepEqual(labelsOf(bytes), ['0', '1', '2']);
    assert.equal(declaredMinRuntimeVersion(readModel(bytes)), '1.5.0');
    assert.equal(fs.readFileSync(path.join(r.dir, 'labels.txt'), 'utf8'), '0\n1\n2\n');
    assert.equal(readModelFolder(r.dir).metadata.labels.join(), '0,1,2');
  });

  it('re-exports float without leaving a quantized Edge TPU file beside it, and --out writes a new folder', async () => {
    const ds = gestures({ 0: 8, 1: 8 });
    const dir = path.join(tmpDir(), 'm');
    await train(ds, dir, { ...SMALL, base: 'mobilenet_v1_1.0_224', augViews: 0, cacheDir: false });
    assert.ok(fs.existsSync(path.join(dir, 'model_edgetpu.tflite')));
    const before = fs.readFileSync(path.join(dir, 'model.tflite'));
    const out = path.join(tmpDir(), 'float');
    const res = await reexport(dir, { modelsDir: MODELS_DIR, float: true, out });
    assert.equal(res.dir, out);
    assert.ok(fs.readFileSync(path.join(dir, 'model.tflite')).equals(before), 'the original folder is untouched');
    assert.equal(fs.existsSync(path.join(out, 'model_edgetpu.tflite')), false);
    const meta = readModelFolder(out).metadata;
    assert.equal(meta.quantized, false);
    assert.equal(meta.files.edgetpu, undefined);
    assert.ok(Number((declaredMinRuntimeVersion(readModel(fs.readFileSync(path.join(out, 'model.tflite')))) ?? '').split('.')[1]) > 5, 'a float head needs a newer runtime than 1.5.0');
  });

  it('stops on an AbortSignal with CANCELLED and writes nothing', async () => {
    const ds = gestures({ 0: 8, 1: 8 });
    const out = path.join(tmpDir(), 'never');
    const ac = new AbortController();
    const p = train(ds, out, { ...SMALL, cacheDir: false, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, (e: unknown) => e instanceof EdgeTuneError && e.code === 'CANCELLED');
    assert.equal(fs.existsSync(out), false);
  });
});
