import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  scanDataset, splitDataset, groupDuplicates, perceptualHash, type Sample,
} from '../dataset';
import { presetParams, makeRng, shuffled } from '../augment';
import { preprocessTo, tooSmallReason, type InputShape } from '../image';
import { initBackend } from '../head';
import { trainCnn, predictCnn, serializeCnn, cnnInputShape, type ImageSet, type TrainedCnn } from '../cnn';
import { MODEL_FORMAT, writeModelFolder, type ModelMetadata } from '../artifact';
import { historyCurvesSvg } from '../eval';
import type { TrainOptions } from '../options';
import { fail, ioError } from '../errors';
import { phaseProgress, type Reporter } from './report';
import { convertCnn, checkCnnExport } from './cnn-export';
import { REPRESENTATIVE_PHOTOS } from './cnn-constants';
import { MIN_PER_CLASS, setMetrics, reportDuplicates, chooseClassWeights, modelFolderFiles } from './split-rules';
import type { BackendChoice } from '../head';
import type { EpochRecord } from '../head';

/** The run settings the CNN pipeline uses (train.ts `RunOptions`, defaults filled in). */
export interface CnnRun {
  backend: BackendChoice;
  reporter: Reporter;
  threads?: number;
  signal?: AbortSignal;
}

export { REPRESENTATIVE_PHOTOS } from './cnn-constants';

/** Side of the square RGB image the perceptual hash is computed on (its 32×32 DCT grid). */
const HASH_SIDE = 32;

/** The dataset read for the CNN: every readable photo preprocessed to the network's input. */
interface LoadedPhotos {
  kept: Sample[];
  /** uint8 [kept·H·W·C]. */
  pixels: Uint8Array;
  sha: string[];
  phash: bigint[];
  skipped: { path: string; reason: string }[];
}

/**
 * `train --arch cnn`: dataset folder → every photo preprocessed to the CNN's input (H×W, grey or
 * RGB, the preset's fit) → the head pipeline's duplicate-aware split (train / validation / test;
 * identical and near-identical photos on one side) → the seed CNN trained from scratch with the
 * augmentation preset redrawn every epoch and early stopping → full-integer model.tflite through
 * EdgeTune's converter, checked against the tfjs CNN (top-1 agreement ≥ 99% on the validation and
 * test photos) → the accuracy estimate of the exported file on the test photos → model folder
 * (written atomically; cnn/model.json keeps the tfjs CNN for re-export).
 *
 * The accuracy estimate needs a test split. When a class is too small for one, a head model falls
 * back to k-fold cross-validation; a CNN does not (k networks from scratch would take k times the
 * training, minutes each on a small CPU): every photo trains the model and the run warns that
 * there is no estimate (metadata.json has no `metrics.estimate`).
 *
 * @param o resolved options (arch 'cnn'); `run` the run settings (train.ts `splitInput`). `train`
 *   dispatches here (its TrainResult).
 * @throws EdgeTuneError BAD_DATASET, BAD_OPTION, EXPORT_CHECK_FAILED, CANCELLED, IO.
 */
export async function trainCnnModel(datasetDir: string, out: string, o: TrainOptions, run: CnnRun): Promise<{ dir: string; metadata: ModelMetadata; history: EpochRecord[] }> {
  const r = run.reporter;
  const backend = await initBackend(run.backend);
  const [H, W, C] = cnnInputShape(o.cnn);
  const shape: InputShape = { height: H, width: W, channels: C as 1 | 3 };
  const ds = scanDataset(datasetDir);
  for (const s of ds.ignored) r.warn(`skipped ${s.path}: ${s.reason}`);
  r.info(`dataset ${datasetDir}: ${ds.labels.length} classes, ${ds.samples.length} photos`);
  r.info(`CNN input ${H}×${W} ${C === 1 ? 'grey' : 'RGB'} (${o.fit}); Conv 3×3 → BN → MaxPool blocks of ${o.cnn.filters.join(', ')} filters, Dense ${o.cnn.dense || 'none'} → softmax ${ds.labels.length}, on TensorFlow.js backend '${backend}'`);

  const t0 = performance.now();
  const photos = await loadPhotos(ds.samples, shape, o, r, run.signal);
  for (const s of photos.skipped) r.warn(`skipped ${s.path}: ${s.reason}`);
  checkClassesPresent(ds.labels, photos.kept);
  const tLoad = (performance.now() - t0) / 1000;

  const dups = groupDuplicates(photos.kept.map((s, i) => ({ key: photos.sha[i], hash: photos.phash[i], labelIndex: s.labelIndex })));
  reportDuplicates(r, ds.root, photos.kept, dups);
  const classWeights = chooseClassWeights(r, ds.labels, photos.kept, o);

  // The head's split rule (test held out from everything, validation for early stopping).
  let estimate: 'test-split' | 'none' = o.testSplit > 0 ? 'test-split' : 'none';
  let sp = splitDataset(photos.kept, { valFraction: o.valSplit, testFraction: o.testSplit, seed: o.seed, groupOf: dups.groupOf, minPerClass: MIN_PER_CLASS });
  if (o.testSplit > 0 && sp.infeasible.length) {
    r.warn(`class ${sp.infeasible.join(', ')} is too small for ${MIN_PER_CLASS} validation and ${MIN_PER_CLASS} test photos: no accuracy estimate (a CNN is not cross-validated: that would train ${o.folds} networks from scratch); add photos for one`);
    estimate = 'none';
    sp = splitDataset(photos.kept, { valFraction: o.valSplit, testFraction: 0, seed: o.seed, groupOf: dups.groupOf, minPerClass: MIN_PER_CLASS });
  }
  const index = new Map(photos.kept.map((s, i) => [s, i]));
  const split = { train: sp.train.map((s) => index.get(s)!), val: sp.val.map((s) => index.get(s)!), test: sp.test.map((s) => index.get(s)!) };
  checkClassesPresent(ds.labels, sp.train, 'training');
  checkClassesPresent(ds.labels, sp.val, 'validation');
  r.info(`split: ${split.train.length} training / ${split.val.length} validation / ${split.test.length} test photos`);

  const set = (idx: number[]): ImageSet => subset(photos, idx, [H, W, C]);
  const t1 = performance.now();
  const bar = phaseProgress(r, 'train', 'training the CNN', o.head.epochs);
  let trained: TrainedCnn;
  try {
    trained = await trainCnn(set(split.train), set(split.val), ds.labels.length, {
      cnn: o.cnn, train: o.head, classWeights, augment: presetParams(o.preset), seed: o.seed,
    }, {
      signal: run.signal,
      onEpoch: (e) => bar.step(e.epoch, e, `loss ${e.loss.toFixed(3)} acc ${e.accuracy.toFixed(3)} val_loss ${e.val_loss.toFixed(3)} val_acc ${e.val_accuracy.toFixed(3)}`),
    });
  } finally {
    bar.stop();
  }
  const model = trained.model;
  try {
    const tTrain = (performance.now() - t1) / 1000;
    const best = trained.history[trained.bestEpoch - 1];
    r.info(`best epoch ${trained.bestEpoch}/${trained.history.length}${trained.stoppedEarly ? ' (early stopping)' : ''}: val_loss ${best.val_loss.toFixed(4)}, val_accuracy ${pct(best.val_accuracy)} (chosen on these photos: optimistic)`);

    // Export (calibrated on a seeded sample of the training photos), then the gate and the estimate.
    const t2 = performance.now();
    const px = H * W * C;
    const rep = shuffled(split.train, makeRng(o.seed)).slice(0, REPRESENTATIVE_PHOTOS).map((i) => photos.pixels.slice(i * px, (i + 1) * px));
    const name = path.basename(path.resolve(datasetDir));
    const bytes = convertCnn(model, rep, { labels: ds.labels, name, version: VERSION }, { float: o.float });
    const checkIdx = [...split.val, ...split.test];
    const probs = predictCnn(model, set(checkIdx));
    const cbar = phaseProgress(r, 'export', 'checking the exported model', checkIdx.length);
    const v = await checkCnnExport(bytes, checkIdx.map((i) => photos.kept[i].path), probs, checkIdx.map((i) => photos.kept[i].labelIndex), {
      fit: o.fit, threads: run.threads, signal: run.signal, onProgress: (d) => cbar.update(d), hint: o.float ? 'report this as a bug' : 'try --float',
    }).finally(() => cbar.stop());
    r.info(`export check on ${v.n} photos: top-1 agreement with the CNN ${pct(v.agreement)}, ${v.msPerImage.toFixed(2)} ms/photo, ${(bytes.length / 1024).toFixed(0)} KB`);
    let metricsEstimate: ModelMetadata['metrics']['estimate'];
    if (estimate === 'test-split' && split.test.length) {
      const truth = split.test.map((i) => photos.kept[i].labelIndex);
      metricsEstimate = { method: 'test-split', ...setMetrics(truth, v.predictions.slice(split.val.length), ds.labels) };
      r.info(`estimated accuracy on photos never used for training or early stopping (test split, ${metricsEstimate.n} photos): ${pct(metricsEstimate.accuracy)}`);
    } else if (o.testSplit === 0) {
      r.warn('no accuracy estimate: --test-split 0 leaves no photos that training did not see; the validation accuracy above is optimistic');
    }
    const tExport = (performance.now() - t2) / 1000;

    const history = trained.history;
    const curvesSvg = await historyCurvesSvg(history, { title: `${name}: CNN ${H}×${W}${C === 1 ? ' grey' : ''}`, bestEpoch: trained.bestEpoch });
    const saved = await serializeCnn(model, { labels: ds.labels, input: shape, inputScale: 1 / 255 });
    const rel = (i: number) => path.relative(ds.root, photos.kept[i].path);
    const { predictions: _p, ...verification } = v;
    const metadata: ModelMetadata = {
      format: MODEL_FORMAT,
      created: new Date().toISOString(),
      edgetune: VERSION,
      arch: 'cnn',
      input: shape,
      fit: o.fit,
      labels: ds.labels,
      quantized: !o.float,
      files: {
        model: 'model.tflite', labels: 'labels.txt', cnn: 'cnn/model.json', history: 'history.json', curves: ['curves.svg', 'curves.png'],
        ...(metricsEstimate ? { confusion: ['confusion.svg', 'confusion.png'] } : {}),
      },
      options: o,
      dataset: {
        root: ds.root,
        counts: { train: split.train.length, val: split.val.length, test: split.test.length },
        split: { train: split.train.map(rel), val: split.val.map(rel), test: split.test.map(rel) },
        classCounts: Object.fromEntries(ds.labels.map((l, c) => [l, photos.kept.filter((s) => s.labelIndex === c).length])),
        skipped: [...ds.ignored, ...photos.skipped],
        duplicates: dups.groups.map((g) => g.map(rel)),
        conflicts: dups.conflicts.map((g) => ({ paths: g.map(rel), labels: [...new Set(g.map((i) => photos.kept[i].label))] })),
      },
      training: {
        backend, epochs: history.length, bestEpoch: trained.bestEpoch, stoppedEarly: trained.stoppedEarly, classWeights,
        heads: [{ epochs: history.length, bestEpoch: trained.bestEpoch, stoppedEarly: trained.stoppedEarly, val_loss: best.val_loss, val_accuracy: best.val_accuracy }],
        // 'embed' is the preprocessing of the photos here (a CNN has no base to embed with).
        seconds: { embed: round(tLoad), train: round(tTrain), export: round(tExport) },
        cache: { hits: 0, misses: 0 },
      },
      metrics: { val_accuracy: best.val_accuracy, val_loss: best.val_loss, ...(metricsEstimate ? { estimate: metricsEstimate } : {}), export: verification },
    };
    const folder = await modelFolderFiles(bytes, metadata, history, curvesSvg, metricsEstimate);
    folder['cnn/model.json'] = saved.modelJson;
    folder['cnn/weights.bin'] = saved.weightsBin;
    if (run.signal?.aborted) throw fail('CANCELLED', 'training cancelled: nothing was written');
    writeModelFolder(out, folder);
    r.info(`wrote ${out}/model.tflite`);
    return { dir: out, metadata, history };
  } finally {
    model.dispose();
  }
}

/**
 * Reads and preprocesses every photo to the CNN's input (and a 32×32 RGB crop for its perceptual
 * hash); unreadable and too-small photos are skipped with their reason, as the head pipeline does.
 */
async function loadPhotos(samples: Sample[], shape: InputShape, o: TrainOptions, r: Reporter, signal?: AbortSignal): Promise<LoadedPhotos> {
  const px = shape.height * shape.width * shape.channels;
  const chunks: Uint8Array[] = [];
  const kept: Sample[] = [];
  const sha: string[] = [];
  const phash: bigint[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const bar = phaseProgress(r, 'embed', 'reading photos', samples.length);
  try {
    for (let i = 0; i < samples.length; i++) {
      if (signal?.aborted) throw fail('CANCELLED', 'training cancelled while reading photos: nothing was written');
      const s = samples[i];
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await fs.promises.readFile(s.path));
      } catch (e) {
        // One line in the user's words ("permission denied (EACCES)"), as the head pipeline words it.
        const msg = ioError('read', s.path, e).message;
        skipped.push({ path: s.path, reason: msg.slice(msg.indexOf(': ') + 2) });
        bar.update(i + 1);
        continue;
      }
      try {
        const img = await preprocessTo(bytes, { ...shape, fit: o.fit });
        const small = tooSmallReason(img.width, img.height);
        if (small) throw new Error(small);
        const square = await preprocessTo(bytes, { height: HASH_SIDE, width: HASH_SIDE, channels: 3, fit: 'crop' });
        chunks.push(img.pixels);
        kept.push(s);
        sha.push(crypto.createHash('sha256').update(bytes).digest('hex'));
        phash.push(perceptualHash(square.pixels, HASH_SIDE));
      } catch (e) {
        // "cannot read image <N-byte buffer>: reason" (the bytes were passed): keep the reason.
        const msg = (e as Error).message;
        skipped.push({ path: s.path, reason: msg.startsWith('cannot read image <') ? msg.slice(msg.indexOf(': ') + 2) : msg });
      }
      bar.update(i + 1);
    }
  } finally {
    bar.stop();
  }
  const pixels = new Uint8Array(kept.length * px);
  chunks.forEach((c, i) => pixels.set(c, i * px));
  return { kept, pixels, sha, phash, skipped };
}

/** Some photos as an ImageSet (pixels copied in `idx` order). */
function subset(p: LoadedPhotos, idx: number[], shape: [number, number, number]): ImageSet {
  const px = shape[0] * shape[1] * shape[2];
  const x = new Uint8Array(idx.length * px);
  idx.forEach((i, j) => x.set(p.pixels.subarray(i * px, (i + 1) * px), j * px));
  return { x, y: Int32Array.from(idx.map((i) => p.kept[i].labelIndex)), n: idx.length, shape };
}

function checkClassesPresent(labels: string[], set: Sample[], what = 'readable'): void {
  const seen = new Set(set.map((s) => s.labelIndex));
  const missing = labels.filter((_, i) => !seen.has(i));
  if (missing.length) {
    throw fail('BAD_DATASET', `class ${missing.join(', ')} has no ${what} photo: add at least ${what === 'readable' ? 2 : MIN_PER_CLASS + 1} readable photos per class`);
  }
}

/** The version of this package (metadata.json `edgetune`). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../../package.json').version;

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function round(s: number): number {
  return Math.round(s * 10) / 10;
}
