/// <reference types="mocha" />
/**
 * `eval` and `predict` label/model resolution on a tiny RGB-mean model (no ../shared, no
 * training): labels never invented, subsets and single classes evaluated, every unused file
 * warned about, plots never written inside a file.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { evaluate, confusionPlotPath } from '../../src/pipeline/evaluate';
import { openPredictor, predict, resolveModel } from '../../src/pipeline/predict';
import { scanDataset } from '../../src/dataset';
import { EdgeTuneError } from '../../src/errors';
import type { Reporter } from '../../src/pipeline/report';
import { ROOT, tmpDir } from '../helpers';
import { solidPng, tinyRgbModel, TINY_COLOURS } from './tiny-model';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
const LABELS = ['red', 'green', 'blue'];
// The stock classifier is never used here; any folder will do.
const NO_MODELS = '/nonexistent-models';

/** A reporter that records what it is told. */
function recorder(): Reporter & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings, infos,
    info: (m) => infos.push(m),
    warn: (m) => warnings.push(m),
    progress: () => ({ update: () => undefined, stop: () => undefined }),
  };
}

/** A model folder like `edgetune train` writes, with only the files these tests need. */
function modelFolder(files: { labels?: string[]; metadata?: Record<string, unknown> } = {}): string {
  const dir = path.join(tmpDir(), 'model');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'model.tflite'), tinyRgbModel());
  if (files.labels) fs.writeFileSync(path.join(dir, 'labels.txt'), files.labels.join('\n') + '\n');
  if (files.metadata) fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ format: 'edgetune-model/2', ...files.metadata }));
  return dir;
}

/** A dataset DIR/<class>/<n>.png of solid colours: `counts[class]` photos per class. */
async function dataset(counts: Record<string, number>): Promise<string> {
  const dir = path.join(tmpDir(), 'ds');
  for (const [label, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) await solidPng(path.join(dir, label, `${i}.png`), TINY_COLOURS[label] ?? [128, 128, 128]);
  }
  return dir;
}

function code(e: unknown): string | undefined {
  return e instanceof EdgeTuneError ? e.code : undefined;
}

describe('predict: model and labels resolution', () => {
  it('reads labels.txt of a model folder and classifies by colour', async () => {
    const model = modelFolder({ labels: LABELS });
    const ds = await dataset({ red: 1, green: 1, blue: 1 });
    const res = await predict(['red', 'green', 'blue'].map((c) => path.join(ds, c, '0.png')), { model, modelsDir: NO_MODELS, top: 1, threads: 1 });
    assert.deepEqual(res.map((r) => r.predictions[0].label), ['red', 'green', 'blue']);
    const files = resolveModel(model, NO_MODELS);
    assert.equal(files.labelsSource, 'labels.txt');
    assert.deepEqual(files.warnings, []);
  });

  it('a folder without labels.txt falls back to metadata.json labels, with a warning naming the file', () => {
    const model = modelFolder({ metadata: { labels: LABELS, options: { fit: 'pad' } } });
    const rep = recorder();
    const p = openPredictor({ model, modelsDir: NO_MODELS, threads: 1, reporter: rep });
    try {
      assert.deepEqual(p.labels, LABELS);
      assert.equal(p.files.labelsSource, 'metadata.json');
      assert.equal(p.fit, 'pad');
    } finally {
      p.close();
    }
    assert.equal(rep.warnings.length, 1);
    assert.ok(rep.warnings[0].includes(path.join(model, 'labels.txt')) && rep.warnings[0].includes('metadata.json'), rep.warnings[0]);
  });

  it('a folder without labels.txt whose metadata.json lists no labels is refused (never "class 0")', () => {
    for (const metadata of [undefined, { options: { fit: 'crop' } }, { labels: [] }]) {
      const model = modelFolder({ metadata });
      assert.throws(() => openPredictor({ model, modelsDir: NO_MODELS, threads: 1 }), (e: Error) => {
        assert.equal(code(e), 'BAD_MODEL');
        assert.ok(e.message.includes(path.join(model, 'labels.txt')), e.message);
        assert.match(e.message, /--labels FILE/);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    }
  });

  it('a bare .tflite is refused unless --labels is given; --labels overrides labels.txt', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'tiny.tflite');
    fs.writeFileSync(file, tinyRgbModel());
    assert.throws(() => resolveModel(file, NO_MODELS), (e: Error) => code(e) === 'BAD_MODEL' && /carries no labels/.test(e.message) && e.message.includes(path.join(dir, 'labels.txt')));
    const labelsFile = path.join(tmpDir(), 'colours.txt');
    fs.writeFileSync(labelsFile, 'r\ng\nb\n');
    const ds = await dataset({ blue: 1 });
    const [r] = await predict([path.join(ds, 'blue', '0.png')], { model: file, modelsDir: NO_MODELS, labels: labelsFile, top: 3, threads: 1 });
    assert.deepEqual(r.predictions.map((p) => p.label), ['b', 'r', 'g']);
    // labels.txt beside the file is used, and --labels still wins over it.
    fs.writeFileSync(path.join(dir, 'labels.txt'), LABELS.join('\n'));
    assert.deepEqual(resolveModel(file, NO_MODELS).labels, LABELS);
    assert.deepEqual(resolveModel(file, NO_MODELS, { labels: labelsFile }).labels, ['r', 'g', 'b']);
    assert.equal(resolveModel(file, NO_MODELS, { labels: labelsFile }).labelsSource, '--labels');
  });

  it('a missing --labels file and a labels count that differs from the outputs are one-line errors', () => {
    const model = modelFolder({ labels: ['red', 'green'] });
    assert.throws(() => resolveModel(model, NO_MODELS, { labels: '/nonexistent/labels.txt' }), (e: Error) => code(e) === 'NOT_FOUND' && /labels file \/nonexistent\/labels\.txt does not exist/.test(e.message));
    assert.throws(() => openPredictor({ model, modelsDir: NO_MODELS, threads: 1 }), (e: Error) =>
      code(e) === 'BAD_MODEL' && e.message.includes(`labels in ${path.join(model, 'labels.txt')} list 2 classes but`) && /outputs 3/.test(e.message));
  });
});

describe('scanDataset minClasses / minImagesPerClass', () => {
  it('training defaults still demand 2 classes of 2 images; eval can ask for 1 and 1', async () => {
    const ds = await dataset({ red: 1 });
    assert.throws(() => scanDataset(ds), /has 1 class \(red\); need at least 2/);
    assert.throws(() => scanDataset(ds, { minClasses: 1 }), /class 'red' has 1 image; need at least 2 images per class/);
    const one = scanDataset(ds, { minClasses: 1, minImagesPerClass: 1 });
    assert.deepEqual(one.labels, ['red']);
    assert.equal(one.samples.length, 1);
    fs.mkdirSync(path.join(ds, 'green'));
    assert.throws(() => scanDataset(ds, { minClasses: 1, minImagesPerClass: 1 }), /class 'green' has 0 images; need at least 1 image per class/);
  });
});

describe('evaluate', () => {
  it('a subset of the classes: absent classes marked and left out of the macro average', async () => {
    const model = modelFolder({ labels: LABELS });
    const rep = recorder();
    const res = await evaluate(model, await dataset({ red: 2, blue: 3 }), { modelsDir: NO_MODELS, threads: 1, reporter: rep });
    assert.deepEqual(res.labels, LABELS);
    assert.equal(res.accuracy, 1);
    assert.deepEqual(res.confusion, [[2, 0, 0], [0, 0, 0], [0, 0, 3]]);
    assert.deepEqual(res.macro, { precision: 1, recall: 1, f1: 1, classes: ['red', 'blue'], excluded: ['green'] });
    assert.deepEqual(res.skipped, []);
    assert.deepEqual(rep.warnings, []);
    assert.deepEqual(rep.infos, ["no photos of 1 of the model's 3 classes ('green'): they are left out of the macro average"]);
  });

  it('outputs sharing a name are scored as one class (ImageNet has two "crane"s)', async () => {
    const model = modelFolder({ labels: ['red', 'green', 'red'] }); // output 2 (blue) is also 'red'
    const ds = await dataset({ red: 1 });
    await solidPng(path.join(ds, 'red', 'blue-ish.png'), TINY_COLOURS.blue);
    const rep = recorder();
    const res = await evaluate(model, ds, { modelsDir: NO_MODELS, threads: 1, reporter: rep });
    assert.deepEqual(res.labels, ['red', 'green']);
    assert.deepEqual(res.confusion, [[2, 0], [0, 0]]);
    assert.equal(res.accuracy, 1);
    assert.equal(rep.infos[0], "'red' names more than one model output: scored as one class");
  });

  it('a single-class folder works', async () => {
    const model = modelFolder({ labels: LABELS });
    const res = await evaluate(model, await dataset({ green: 2 }), { modelsDir: NO_MODELS, threads: 1 });
    assert.equal(res.accuracy, 1);
    assert.deepEqual(res.macro.classes, ['green']);
    assert.equal(res.perClass.green.support, 2);
  });

  it('warns about every file it does not use, with the reason, and lists them in skipped', async () => {
    const model = modelFolder({ labels: LABELS });
    const ds = await dataset({ red: 1, green: 1 });
    const notImage = path.join(ds, 'red', 'notes.jpg');
    fs.writeFileSync(notImage, 'this is text, not a photo');
    // A PNG signature with nothing after it: sniffed as an image, fails to decode.
    const broken = path.join(ds, 'green', 'broken.png');
    fs.writeFileSync(broken, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    const rep = recorder();
    const res = await evaluate(model, ds, { modelsDir: NO_MODELS, threads: 1, reporter: rep });
    assert.deepEqual(res.skipped.map((s) => s.path), [notImage, broken]);
    assert.match(res.skipped[0].reason, /not an image/);
    assert.equal(rep.warnings.length, 2);
    assert.ok(rep.warnings[0].startsWith(`skipped ${notImage}: not an image`), rep.warnings[0]);
    assert.ok(rep.warnings[1].startsWith(`skipped ${broken}: `), rep.warnings[1]);
    assert.equal(res.perClass.red.support + res.perClass.green.support, 2);
  });

  it('a class the model does not know, and a folder with no readable photo, are BAD_DATASET', async () => {
    const model = modelFolder({ labels: LABELS });
    await assert.rejects(evaluate(model, await dataset({ red: 1, purple: 1 }), { modelsDir: NO_MODELS, threads: 1 }),
      (e: Error) => code(e) === 'BAD_DATASET' && /classes the model does not know: 'purple'/.test(e.message));
    const ds = path.join(tmpDir(), 'ds');
    fs.mkdirSync(path.join(ds, 'red'), { recursive: true });
    fs.writeFileSync(path.join(ds, 'red', 'x.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    await assert.rejects(evaluate(model, ds, { modelsDir: NO_MODELS, threads: 1 }),
      (e: Error) => code(e) === 'BAD_DATASET' && /none of its 1 photos could be read/.test(e.message));
  });

  it('confusionPlotPath: inside a model folder, beside a .tflite file, or --plot without its extension', () => {
    const folder = modelFolder({ labels: LABELS });
    assert.equal(confusionPlotPath(folder), path.join(folder, 'confusion'));
    const file = path.join(folder, 'model.tflite');
    assert.equal(confusionPlotPath(file), path.join(folder, 'model.confusion'));
    assert.equal(confusionPlotPath(file, 'out/cm.svg'), 'out/cm');
    assert.equal(confusionPlotPath(file, 'out/cm.PNG'), 'out/cm');
    assert.equal(confusionPlotPath(file, 'out/cm'), 'out/cm');
  });
});

describe('edgetune eval / predict (CLI)', () => {
  function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [CLI, '--models-dir', NO_MODELS, ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('eval <file.tflite> writes the plots beside the file and prints the subset table', async () => {
    const folder = modelFolder({ labels: LABELS });
    const file = path.join(folder, 'model.tflite');
    const r = run('eval', file, await dataset({ red: 1, blue: 1 }), '--threads', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.statSync(path.join(folder, 'model.confusion.svg')).size > 0);
    assert.ok(fs.statSync(path.join(folder, 'model.confusion.png')).size > 0);
    assert.ok(!/│ green /.test(r.stdout), 'green (no photos, never predicted) is not a table row');
    assert.ok(r.stdout.includes("not shown: 1 class with no photos and no predictions ('green')"));
    assert.match(r.stdout, /│ macro avg \(2 of 3 classes\) │ +1\.000 │ +1\.000 │ +1\.000 │ +2 │/);
    assert.ok(r.stdout.includes(`confusion matrix: ${path.join(folder, 'model.confusion.svg')}, ${path.join(folder, 'model.confusion.png')}`));
  });

  it('eval --plot under a file fails at once with one line naming the folder', async () => {
    const folder = modelFolder({ labels: LABELS });
    const file = path.join(folder, 'model.tflite');
    const r = run('eval', folder, await dataset({ red: 1 }), '--plot', path.join(file, 'cm'));
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.equal(lines[0], `edgetune: cannot create the plot folder ${file}: ${file} is a file, not a folder; write the plot elsewhere`);
    assert.equal(r.stdout, '', 'nothing evaluated');
    // Deeper under the file: the same line names the file in the way.
    const deeper = run('eval', folder, await dataset({ red: 1 }), '--plot', path.join(file, 'a', 'b', 'cm'));
    assert.equal(deeper.stderr.trim(), `edgetune: cannot create the plot folder ${path.join(file, 'a', 'b')}: ${file} is a file, not a folder; write the plot elsewhere`);
  });

  it('predict --model <folder without labels> fails with exit 1; --labels makes it work', async () => {
    const model = modelFolder();
    const img = path.join(await dataset({ green: 1 }), 'green', '0.png');
    const bad = run('predict', img, '--model', model);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr.trim(), /^edgetune: model folder .* has no labels\.txt .*--labels FILE/);
    assert.equal(bad.stdout, '');
    const labelsFile = path.join(tmpDir(), 'l.txt');
    fs.writeFileSync(labelsFile, LABELS.join('\n'));
    const ok = run('predict', img, '--model', model, '--labels', labelsFile, '--top', '1', '--json', '--threads', '1');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout)[0].predictions[0].label, 'green');
  });

  it('--threads help states the runtime default (cores − 1) on predict, eval and export', () => {
    for (const cmd of ['predict', 'eval', 'export']) {
      const r = run(cmd, '--help');
      assert.match(r.stdout.replace(/\s+/g, ' '), /--threads <n> interpreter threads \(default: cores − 1, at least 1; \d+ here\)/, cmd);
    }
  });
});
