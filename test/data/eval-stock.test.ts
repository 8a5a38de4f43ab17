/// <reference types="mocha" />
/**
 * `predict` and `eval` on a real pretrained classifier given as a bare .tflite (Coral's
 * mobilenet_v2_1.0_224_quant from ../shared/models): refused without labels, right with
 * `labels`, and `eval` of a folder holding 2 of its 1000 class names.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { predict } from '../../src/pipeline/predict';
import { evaluate } from '../../src/pipeline/evaluate';
import { formatReport } from '../../src/eval';
import { EdgeTuneError } from '../../src/errors';
import { spawnSync } from 'node:child_process';
import { MODELS_DIR, ROOT, shared, tmpDir } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

const MODEL = path.join(MODELS_DIR, 'mobilenet_v2_1.0_224_quant.tflite');
const IMAGENET = path.join(MODELS_DIR, 'imagenet_labels.txt');

describe('predict / eval with a bare .tflite classifier (real base)', () => {
  it('a bare .tflite names its classes from its own TFLite Metadata, and --labels gives the same answer', async () => {
    // Coral's classifier carries its labels in a zip after the flatbuffer (TFLite Metadata); the
    // imagenet_labels.txt beside it is not labels.txt and is not read.
    const images = ['cat.bmp', 'grace_hopper.bmp'].map((f) => shared('images', f));
    const own = await predict(images, { model: MODEL, modelsDir: MODELS_DIR, top: 3, threads: 1 });
    const withLabels = await predict(images, { model: MODEL, modelsDir: MODELS_DIR, labels: IMAGENET, top: 3, threads: 1 });
    const stock = await predict(images, { modelsDir: MODELS_DIR, top: 3, threads: 1 });
    assert.deepEqual(own.map((r) => r.predictions), stock.map((r) => r.predictions));
    assert.deepEqual(withLabels.map((r) => r.predictions), stock.map((r) => r.predictions));
    assert.match(own[0].predictions[0].label, /cat/i);
  });

  it('a bare .tflite with no labels anywhere is refused with one line naming what to pass', async () => {
    const dir = tmpDir();
    const bare = path.join(dir, 'extractor.tflite');
    // The embedding extractor carries no metadata; give it a 1-output head-less use: any labels-free model will do.
    fs.copyFileSync(path.join(MODELS_DIR, 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'), bare);
    await assert.rejects(predict([shared('images', 'cat.bmp')], { model: bare, modelsDir: MODELS_DIR, threads: 1 }),
      (e: Error) => e instanceof EdgeTuneError && e.code === 'BAD_MODEL' && /--labels FILE/.test(e.message));
  });

  it('eval on a folder holding 2 of the 1000 class names: macro average over those 2 only', async () => {
    const [cat, hopper, bird] = await predict(['cat.bmp', 'grace_hopper.bmp', 'bird.bmp'].map((f) => shared('images', f)),
      { model: MODEL, modelsDir: MODELS_DIR, labels: IMAGENET, top: 1, threads: 1 });
    const catLabel = cat.predictions[0].label;
    const hopperLabel = hopper.predictions[0].label;
    assert.notEqual(bird.predictions[0].label, catLabel, 'bird.bmp is not taken for the cat');
    // cat.bmp and bird.bmp filed as the cat's class (bird.bmp wrongly), grace_hopper.bmp as hers.
    const ds = tmpDir();
    for (const [label, file] of [[catLabel, 'cat.bmp'], [catLabel, 'bird.bmp'], [hopperLabel, 'grace_hopper.bmp']]) {
      fs.mkdirSync(path.join(ds, label), { recursive: true });
      fs.copyFileSync(shared('images', file), path.join(ds, label, file));
    }
    const res = await evaluate(MODEL, ds, { modelsDir: MODELS_DIR, labels: IMAGENET, threads: 1 });
    // 1001 outputs, 1000 names: 'crane' (the bird, the machine) is scored as one class.
    assert.equal(res.labels.length, 1000);
    assert.equal(res.labels.filter((l) => l === 'crane').length, 1);
    assert.equal(res.accuracy, 2 / 3);
    assert.deepEqual(res.macro.classes, [catLabel, hopperLabel].sort((a, b) => res.labels.indexOf(a) - res.labels.indexOf(b)));
    assert.equal(res.macro.excluded.length, 998);
    // cat: recall 1/2, precision 1/1; hopper: recall 1, precision 1.
    assert.deepEqual(res.perClass[catLabel], { precision: 1, recall: 0.5, f1: 2 / 3, support: 2 });
    assert.deepEqual(res.perClass[hopperLabel], { precision: 1, recall: 1, f1: 1, support: 1 });
    assert.equal(res.macro.recall, 0.75);
    const table = formatReport(res);
    assert.match(table, /macro avg \(2 of 1000 classes\)/);
    // Shown: the cat's and Grace Hopper's classes, and the class bird.bmp was taken for.
    assert.ok(table.endsWith("not shown: 997 classes with no photos and no predictions ('background', 'tench, Tinca tinca', " +
      "'goldfish, Carassius auratus', 'great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias', " +
      "'tiger shark, Galeocerdo cuvieri', 'hammerhead, hammerhead shark', 'electric ray, crampfish, numbfish, torpedo', 'stingray', … (997 in all))"), table);
    // The CLI writes a plot of the 3 classes involved (cat, Grace Hopper's, bird's prediction), not 1000×1000 cells.
    const plot = path.join(tmpDir(), 'cm');
    const r = spawnSync(process.execPath, [CLI, '--models-dir', MODELS_DIR, 'eval', MODEL, ds, '--labels', IMAGENET, '--plot', `${plot}.svg`, '--threads', '1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const svg = fs.readFileSync(`${plot}.svg`, 'utf8');
    assert.ok(svg.includes('3 of 1000 classes; 997 with no photos and no predictions not shown'));
    assert.ok(fs.statSync(`${plot}.png`).size > 0);
  });
});
