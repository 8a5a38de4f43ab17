/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  classificationReport,
  confusionMatrix,
  confusionMatrixSvg,
  formatConfusion,
  formatReport,
  historyCurvesSvg,
  macroAverage,
  shownClasses,
  listSome,
  svgToPng,
  preparePlotDir,
  writePlot,
  type HistoryEntry,
} from '../../src/eval';
import { EdgeTuneError } from '../../src/errors';
import { tmpDir } from '../helpers';

// 4 classes: 'c' has support but is never predicted, 'd' has no support but is predicted once.
const LABELS = ['a', 'b', 'c', 'd'];
const Y_TRUE = [0, 0, 0, 1, 1, 2, 2];
const Y_PRED = [0, 1, 0, 1, 3, 1, 0];
// Hand count: row = true, col = predicted.
const EXPECTED_CM = [
  [2, 1, 0, 0],
  [0, 1, 0, 1],
  [1, 1, 0, 0],
  [0, 0, 0, 0],
];

const HISTORY: HistoryEntry[] = [
  { epoch: 1, loss: 1.2, accuracy: 0.5, val_loss: 1.1, val_accuracy: 0.55 },
  { epoch: 2, loss: 0.8, accuracy: 0.7, val_loss: 0.9, val_accuracy: 0.65 },
  { epoch: 3, loss: 0.5, accuracy: 0.85, val_loss: 0.7, val_accuracy: 0.8 },
  { epoch: 4, loss: 0.4, accuracy: 0.9, val_loss: 0.75, val_accuracy: 0.78 },
];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Balanced-tag check: every opened element is closed in order (enough to catch broken SVG). */
function assertWellFormed(svg: string): void {
  assert.ok(svg.startsWith('<svg'), 'starts with <svg');
  assert.ok(svg.trimEnd().endsWith('</svg>'), 'ends with </svg>');
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g)) {
    const [, close, name, rest] = m;
    if (close) assert.equal(stack.pop(), name, `closing </${name}> matches its opening tag`);
    else if (!rest.endsWith('/')) stack.push(name);
  }
  assert.deepEqual(stack, [], 'all elements closed');
  assert.doesNotMatch(svg.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, ''), /&/, 'only escaped ampersands');
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg);
  assert.ok(m, 'svg has integer width/height attributes');
  return { width: Number(m[1]), height: Number(m[2]) };
}

describe('eval/metrics', () => {
  it('confusionMatrix counts (true, predicted) pairs, rows = true', () => {
    assert.deepEqual(confusionMatrix(Y_TRUE, Y_PRED, 4), EXPECTED_CM);
    assert.deepEqual(confusionMatrix([], [], 2), [
      [0, 0],
      [0, 0],
    ]);
  });

  it('confusionMatrix rejects bad input', () => {
    assert.throws(() => confusionMatrix([0, 1], [0], 2), /yTrue has 2 entries but yPred has 1/);
    assert.throws(() => confusionMatrix([0, 2], [0, 1], 2), /yTrue\[1\] = 2 is not a class index in 0\.\.1/);
    assert.throws(() => confusionMatrix([0], [0.5], 2), /yPred\[0\] = 0.5/);
    assert.throws(() => confusionMatrix([0], [0], 0), /numClasses = 0/);
  });

  it('classificationReport: hand-computed values incl. never-predicted and no-support classes', () => {
    const r = classificationReport(Y_TRUE, Y_PRED, LABELS);
    assert.deepEqual(r.labels, LABELS);
    assert.deepEqual(r.confusion, EXPECTED_CM);
    assert.equal(r.accuracy, 3 / 7);
    // a: tp 2, predicted 3, support 3
    assert.equal(r.perClass.a.precision, 2 / 3);
    assert.equal(r.perClass.a.recall, 2 / 3);
    assert.ok(Math.abs(r.perClass.a.f1 - 2 / 3) < 1e-12);
    assert.equal(r.perClass.a.support, 3);
    // b: tp 1, predicted 3, support 2 → f1 = 2·(1/3)(1/2)/(5/6) = 0.4
    assert.equal(r.perClass.b.precision, 1 / 3);
    assert.equal(r.perClass.b.recall, 1 / 2);
    assert.ok(Math.abs(r.perClass.b.f1 - 0.4) < 1e-12);
    assert.equal(r.perClass.b.support, 2);
    // c: never predicted → precision 0 by convention; recall 0/2
    assert.deepEqual(r.perClass.c, { precision: 0, recall: 0, f1: 0, support: 2 });
    // d: predicted once wrongly, no support → all 0
    assert.deepEqual(r.perClass.d, { precision: 0, recall: 0, f1: 0, support: 0 });
    assert.deepEqual(Object.keys(r.perClass), LABELS);
  });

  it('classificationReport: perfect predictions give 1s; the labels array is copied', () => {
    const labels = ['x', 'y'];
    const r = classificationReport([0, 1, 1], [0, 1, 1], labels);
    assert.equal(r.accuracy, 1);
    assert.deepEqual(r.perClass.x, { precision: 1, recall: 1, f1: 1, support: 1 });
    assert.deepEqual(r.perClass.y, { precision: 1, recall: 1, f1: 1, support: 2 });
    labels.push('z');
    assert.deepEqual(r.labels, ['x', 'y']);
  });

  it('classificationReport rejects empty input, empty or duplicate labels', () => {
    assert.throws(() => classificationReport([], [], ['a', 'b']), /yTrue is empty/);
    assert.throws(() => classificationReport([0], [0], []), /labels is empty/);
    assert.throws(() => classificationReport([0], [0], ['a', 'b', 'a', 'c', 'b']), /^Error: labels contain duplicates \(a, b\); pass unique class names$/);
  });

  it('formatConfusion: aligned table, labels on both axes, no ANSI codes', () => {
    const text = formatConfusion(classificationReport(Y_TRUE, Y_PRED, LABELS));
    const expected = [
      '┌──────────────────┬───┬───┬───┬───┐',
      '│ true \\ predicted │ a │ b │ c │ d │',
      '├──────────────────┼───┼───┼───┼───┤',
      '│ a                │ 2 │ 1 │ 0 │ 0 │',
      '├──────────────────┼───┼───┼───┼───┤',
      '│ b                │ 0 │ 1 │ 0 │ 1 │',
      '├──────────────────┼───┼───┼───┼───┤',
      '│ c                │ 1 │ 1 │ 0 │ 0 │',
      '├──────────────────┼───┼───┼───┼───┤',
      '│ d                │ 0 │ 0 │ 0 │ 0 │',
      '└──────────────────┴───┴───┴───┴───┘',
    ].join('\n');
    assert.equal(text, expected);
  });

  it('formatConfusion right-aligns counts under long labels', () => {
    const text = formatConfusion(classificationReport([0, 0, 1], [0, 0, 1], ['background', 'cat']));
    const lines = text.split('\n');
    assert.equal(lines[1], '│ true \\ predicted │ background │ cat │');
    assert.equal(lines[3], '│ background       │          2 │   0 │');
    assert.equal(lines[5], '│ cat              │          0 │   1 │');
  });

  it('formatReport: per-class table, "no photos" row, macro avg over classes with photos, accuracy line', () => {
    const text = formatReport(classificationReport(Y_TRUE, Y_PRED, LABELS));
    const expected = [
      '┌────────────────────────────┬────────────┬─────────┬───────┬─────────┐',
      '│ class                      │  precision │  recall │    f1 │ support │',
      '├────────────────────────────┼────────────┼─────────┼───────┼─────────┤',
      '│ a                          │      0.667 │   0.667 │ 0.667 │       3 │',
      '├────────────────────────────┼────────────┼─────────┼───────┼─────────┤',
      '│ b                          │      0.333 │   0.500 │ 0.400 │       2 │',
      '├────────────────────────────┼────────────┼─────────┼───────┼─────────┤',
      '│ c                          │      0.000 │   0.000 │ 0.000 │       2 │',
      '├────────────────────────────┼────────────┴─────────┴───────┼─────────┤',
      '│ d                          │ no photos (not in macro avg) │       0 │',
      '├────────────────────────────┼────────────┬─────────┬───────┼─────────┤',
      // macro over a, b, c (d has no photos): p = (2/3 + 1/3 + 0)/3 = 0.333,
      // r = (2/3 + 1/2 + 0)/3 = 0.389, f1 = (2/3 + 0.4 + 0)/3 = 0.356
      '│ macro avg (3 of 4 classes) │      0.333 │   0.389 │ 0.356 │       7 │',
      '└────────────────────────────┴────────────┴─────────┴───────┴─────────┘',
      'accuracy: 0.429 (3/7)',
    ].join('\n');
    assert.equal(text, expected);
  });

  it('formatReport: plain "macro avg" row when every class has photos', () => {
    const text = formatReport(classificationReport([0, 1, 1], [0, 1, 0], ['x', 'y']));
    const lines = text.split('\n');
    // p = (1/2 + 1)/2 = 0.75, r = (1 + 1/2)/2 = 0.75, f1 = (2/3 + 2/3)/2 = 0.667
    assert.equal(lines[lines.length - 3], '│ macro avg │     0.750 │  0.750 │ 0.667 │       3 │');
    assert.ok(!text.includes('no photos'));
  });

  it('tables and the plot leave out classes with no photos and no predictions, and say so', async () => {
    // 'y' has no photos and is never predicted; 'w' has no photos but is predicted once.
    const r = classificationReport([0, 0, 2], [0, 3, 2], ['x', 'y', 'z', 'w']);
    assert.deepEqual(shownClasses(r), [0, 2, 3]);
    const confusion = formatConfusion(r).split('\n');
    assert.equal(confusion[1], '│ true \\ predicted │ x │ z │ w │');
    assert.equal(confusion[confusion.length - 1], "not shown: 1 class with no photos and no predictions ('y')");
    const report = formatReport(r);
    assert.ok(!report.includes('│ y '), 'no row for y');
    assert.match(report, /│ w +│ no photos \(not in macro avg\) │ +0 │/);
    assert.match(report, /│ macro avg \(2 of 4 classes\) │/);
    assert.ok(report.endsWith("accuracy: 0.667 (2/3)\nnot shown: 1 class with no photos and no predictions ('y')"));
    const svg = await confusionMatrixSvg(r);
    assert.ok(svg.includes('3 of 4 classes; 1 with no photos and no predictions not shown'));
    assert.ok(svg.includes('>w<') && !svg.includes('>y<'));
    assert.equal(listSome(['a', 'b', 'c'], 2), "'a', 'b', … (3 in all)");
  });

  it('macroAverage leaves classes without photos out (a subset test set is not penalised)', () => {
    const r = classificationReport(Y_TRUE, Y_PRED, LABELS);
    assert.deepEqual(r.macro.classes, ['a', 'b', 'c']);
    assert.deepEqual(r.macro.excluded, ['d']);
    assert.ok(Math.abs(r.macro.precision - 1 / 3) < 1e-12);
    assert.ok(Math.abs(r.macro.recall - (2 / 3 + 1 / 2) / 3) < 1e-12);
    assert.ok(Math.abs(r.macro.f1 - (2 / 3 + 0.4) / 3) < 1e-12);
    // A perfect model on a test set holding 2 of its 4 classes scores 1, not 0.5.
    const subset = classificationReport([0, 0, 2], [0, 0, 2], LABELS);
    assert.deepEqual(subset.macro, { precision: 1, recall: 1, f1: 1, classes: ['a', 'c'], excluded: ['b', 'd'] });
    assert.deepEqual(macroAverage(subset.perClass, LABELS), subset.macro);
  });
});

describe('eval/plot', () => {
  it('historyCurvesSvg: well-formed SVG with both panels, val series, best-epoch rule and title', async () => {
    const svg = await historyCurvesSvg(HISTORY, { title: 'head v1', bestEpoch: 3 });
    assertWellFormed(svg);
    for (const s of ['>loss<', '>val_loss<', '>accuracy<', '>val_accuracy<', '>epoch<', '>best epoch 3<', '>head v1<']) {
      assert.ok(svg.includes(s), `SVG contains ${s}`);
    }
    assert.equal(svg.match(/class="mark-rule role-mark /g)?.length, 2, 'a best-epoch rule in each panel');
    assert.ok(svg.includes('stroke-dasharray="5,4"'), 'best-epoch rule is dashed');
    const { width, height } = svgSize(svg);
    assert.ok(width > 700 && height > 250, `two side-by-side panels (${width}×${height})`);
  });

  it('historyCurvesSvg is deterministic and independent of entry order', async () => {
    const a = await historyCurvesSvg(HISTORY, { bestEpoch: 3 });
    const b = await historyCurvesSvg(HISTORY, { bestEpoch: 3 });
    const c = await historyCurvesSvg([...HISTORY].reverse(), { bestEpoch: 3 });
    assert.equal(a, b);
    assert.equal(a, c);
  });

  it('historyCurvesSvg without validation data draws only the training series', async () => {
    const svg = await historyCurvesSvg(HISTORY.map(({ epoch, loss, accuracy }) => ({ epoch, loss, accuracy })));
    assertWellFormed(svg);
    assert.ok(svg.includes('>loss<') && svg.includes('>accuracy<'));
    assert.ok(!svg.includes('val_loss') && !svg.includes('val_accuracy') && !svg.includes('best epoch'));
  });

  it('historyCurvesSvg rejects an empty history and an unknown bestEpoch', async () => {
    await assert.rejects(historyCurvesSvg([]), /history is empty/);
    await assert.rejects(historyCurvesSvg(HISTORY, { bestEpoch: 7 }), /bestEpoch 7 is not in the history \(epochs 1\.\.4\)/);
  });

  it('confusionMatrixSvg: heatmap with label names, axis titles and counts in cells', async () => {
    const report = classificationReport(Y_TRUE, Y_PRED, ['cat', 'dog', 'mug', 'background']);
    const svg = await confusionMatrixSvg(report);
    assertWellFormed(svg);
    for (const s of ['>cat<', '>dog<', '>mug<', '>background<', '>true<', '>predicted<', '>count<']) {
      assert.ok(svg.includes(s), `SVG contains ${s}`);
    }
    assert.ok(svg.includes('accuracy 42.9%, n=7'));
    // 16 cells → 16 rect paths in the rect mark, 16 count texts (values 0,1,2 from EXPECTED_CM)
    const start = svg.indexOf('class="mark-text role-mark layer_1_marks"');
    assert.ok(start > 0, 'has the cell text mark');
    const cellGroup = svg.slice(start, svg.indexOf('</g>', start));
    const cellTexts = cellGroup.match(/<text[^>]*>(\d+)<\/text>/g) ?? [];
    assert.equal(cellTexts.length, 16);
    const counts = cellTexts.map((t) => Number(/>(\d+)</.exec(t)![1])).sort();
    assert.deepEqual(counts, EXPECTED_CM.flat().sort());
    assert.equal(await confusionMatrixSvg(report), svg, 'deterministic (vega numbers gradient ids per process)');
    const gradientId = /<linearGradient id="(et[0-9a-f]{8}_0)"/.exec(svg)?.[1];
    assert.ok(gradientId && svg.includes(`url(#${gradientId})`), 'legend gradient id renamed and referenced');
  });

  it('confusionMatrixSvg escapes label names for XML', async () => {
    const svg = await confusionMatrixSvg(classificationReport([0, 1], [0, 1], ['mug & cup', 'a<b']));
    assertWellFormed(svg);
    assert.ok(svg.includes('mug &amp; cup') && svg.includes('a&lt;b'));
    await svgToPng(svg); // librsvg parses it
  });

  it('svgToPng: PNG signature and the SVG width/height in pixels (×2 at scale 2)', async () => {
    const svg = await historyCurvesSvg(HISTORY, { bestEpoch: 3 });
    const { width, height } = svgSize(svg);
    const png = await svgToPng(svg);
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, width);
    assert.equal(meta.height, height);
    const meta2 = await sharp(await svgToPng(svg, { scale: 2 })).metadata();
    assert.equal(meta2.width, 2 * width);
    assert.equal(meta2.height, 2 * height);
    await assert.rejects(svgToPng('not svg'), /svgToPng: could not render the SVG/);
  });

  it('svgToPng renders the text', async () => {
    const svg = await confusionMatrixSvg(classificationReport(Y_TRUE, Y_PRED, LABELS));
    const noText = svg.replace(/<text[^>]*>[^<]*<\/text>/g, '');
    const [a, b] = await Promise.all(
      [svg, noText].map(async (s) => (await sharp(await svgToPng(s)).raw().toBuffer({ resolveWithObject: true })).data),
    );
    assert.equal(a.length, b.length);
    let differing = 0;
    for (let i = 0; i < a.length; i += 4) if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) differing++;
    // Title, axis titles, 8 tick labels and 16 counts cover well over 1000 pixels when drawn.
    assert.ok(differing > 1000, `text changed only ${differing} pixels: no font found?`);
  });

  it('writePlot writes svg and png atomically and returns the paths', async () => {
    const dir = tmpDir();
    const svg = await confusionMatrixSvg(classificationReport(Y_TRUE, Y_PRED, LABELS));
    const base = path.join(dir, 'nested', 'confusion');
    const written = await writePlot(base, svg, ['png', 'svg', 'png']);
    assert.deepEqual(written, [`${base}.png`, `${base}.svg`]);
    assert.equal(fs.readFileSync(`${base}.svg`, 'utf8'), svg);
    assert.deepEqual(fs.readFileSync(`${base}.png`).subarray(0, 8), PNG_SIGNATURE);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'nested')).sort(), ['confusion.png', 'confusion.svg'], 'no temp files left');
    await assert.rejects(writePlot(base, svg, []), /no formats given/);
    await assert.rejects(writePlot(base, svg, ['pdf' as 'svg']), /unknown format 'pdf'/);
  });

  it('writePlot: a file in the way or an unwritable target is one EdgeTuneError line naming the path', async () => {
    const dir = tmpDir();
    const svg = await confusionMatrixSvg(classificationReport([0, 1], [0, 1], ['x', 'y']));
    const file = path.join(dir, 'model.tflite');
    fs.writeFileSync(file, 'x');
    await assert.rejects(writePlot(path.join(file, 'confusion'), svg, ['svg']), (e: Error) =>
      e instanceof EdgeTuneError && e.code === 'CONFLICT' &&
      e.message === `cannot create the plot folder ${file}: ${file} is a file, not a folder; write the plot elsewhere`);
    // <base>.svg is a folder: the rename onto it fails.
    fs.mkdirSync(path.join(dir, 'cm.svg'));
    await assert.rejects(writePlot(path.join(dir, 'cm'), svg, ['svg']), (e: Error) =>
      e instanceof EdgeTuneError && e.message.startsWith(`cannot write ${path.join(dir, 'cm.svg')}: `) && !e.message.includes('\n'));
    await assert.rejects(preparePlotDir(path.join(file, 'a', 'b')), (e: Error) => e instanceof EdgeTuneError && e.code === 'CONFLICT');
  });
});
