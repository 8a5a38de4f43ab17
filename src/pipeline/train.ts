import * as path from 'node:path';
import {
  scanDataset, splitDataset, kFolds, groupDuplicates, perceptualHash,
  type Dataset, type Sample,
} from '../dataset';
import { presetParams } from '../augment';
import { openBase, embedSamples, type Base, type EmbeddedSamples } from '../base';
import { diskCache, noCache, defaultCacheDir, type EmbeddingCache } from '../base/cache';
import { defaultModelsDir, resolveBase } from '../models';
import * as tf from '@tensorflow/tfjs';
import {
  initBackend, trainHead, predictHead, argmaxRows, headWeights, serializeHead, mergeHeads, headModel,
  type HeadSpec, type EmbeddingSet, type EpochRecord, type BackendChoice, type BackendName, type TrainedHead,
} from '../head';
import type { HeadWeights } from '../tflite';
import { exportTflite, exportEdgeTpu, verifyExport } from '../export';
import {
  MODEL_FORMAT, checkModelFolder, isInside, writeModelFolder, checkVerification, edgeTpuPlan,
  type ModelMetadata, type SetMetrics,
} from '../artifact';
import { historyCurvesSvg } from '../eval';
import type { DeviceChoice } from '../runtime';
import { resolveTrainOptions, type TrainOptions, type TrainOptionsInput } from '../options';
import { fail } from '../errors';
import type { Prepared } from './prepared';
import { silentReporter, phaseProgress, type Reporter } from './report';
import { trainCnnModel } from './train-cnn';
import { MIN_PER_CLASS, setMetrics, reportDuplicates, chooseClassWeights, modelFolderFiles } from './split-rules';
import { checkFineTuneOptions, fineTuneStage, type FineTuned } from './finetune';

/** How a run is carried out: machine and process settings that do not change the trained model. */
export interface RunOptions {
  /** Where the pretrained bases are installed (default: `defaultModelsDir()`, $EDGETUNE_MODELS). */
  modelsDir?: string;
  /** Embedding cache folder (default `defaultCacheDir()`, $EDGETUNE_CACHE); false = no cache. */
  cacheDir?: string | false;
  /** Interpreter threads (default: cores − 1, at least 1). */
  threads?: number;
  /**
   * Where the base computes embeddings (pycoral's grammar, see `DeviceChoice`): 'auto' (default)
   * takes the Edge TPU-compiled extractor when a Coral is ready and the base has one (global
   * average pooling), else the CPU graph.
   */
  device?: DeviceChoice;
  /** TensorFlow.js backend for the head (default 'auto': tfjs-node if installed, else WASM). */
  backend?: BackendChoice;
  /** Where progress and warnings go (default: silent). */
  reporter?: Reporter;
  /** Cancels the run between steps; it then rejects with EdgeTuneError('CANCELLED') and writes nothing. */
  signal?: AbortSignal;
}

/** What `train` returns. */
export interface TrainResult {
  dir: string;
  metadata: ModelMetadata;
  history: EpochRecord[];
}

export type { Prepared } from './prepared';

export { MIN_PER_CLASS, setMetrics } from './split-rules';

/**
 * The main job: dataset folder → embeddings from the base without its top (cached) → duplicate-aware
 * split into train / validation / test → head with augmentation and early stopping → quantized
 * TFLite export verified against the head → the honest accuracy estimate on the test photos →
 * model folder.
 *
 * Writes `out/` atomically (see src/artifact for the layout). Options not given take the defaults of
 * `src/options` (nested subsets allowed: `{ head: { epochs: 5 } }`).
 * With `fineTune` N > 0 one head is trained (not the ensemble), then MobileNet v1's last N blocks
 * with it (`fineTuneStage`, src/pipeline/finetune.ts), and model.tflite holds the fine-tuned blocks.
 *
 * @throws EdgeTuneError: BAD_OPTION, BAD_DATASET (fewer than 2 classes, a class without readable
 *   photos), BASE_MISSING, CONFLICT (--out), EDGETPU_UNAVAILABLE (--edgetpu impossible),
 *   EXPORT_CHECK_FAILED (agreement below 98%), CANCELLED; with --fine-tune also BAD_OPTION (not a
 *   MobileNet v1 base, grid pooling, --edgetpu) and UNSUPPORTED (the graph is not MobileNet v1's).
 */
export async function train(datasetDir: string, out: string, input: TrainOptionsInput & RunOptions = {}): Promise<TrainResult> {
  const { o: given, run } = splitInput(input);
  checkFineTuneOptions(given);
  // Fine-tuning follows Keras' recipe: one head converges, then it trains on with the top blocks,
  // both stopped early on the validation photos (an ensemble has no validation split to share).
  const o = given.fineTune > 0 && given.heads > 1 ? { ...given, heads: 1 } : given;
  if (o !== given) run.reporter.info(`--fine-tune ${o.fineTune}: one head with a validation split (--heads ${given.heads} is for the frozen base)`);
  checkModelFolder(out);
  if (isInside(out, datasetDir)) {
    throw fail('BAD_OPTION', `output folder ${out} is inside the dataset ${datasetDir}: its files would become a class; choose a folder outside it`);
  }
  // The CNN trained from scratch has its own pipeline (no base, no embeddings): train-cnn.ts.
  if (o.arch === 'cnn') return trainCnnModel(datasetDir, out, o, run);
  const backend = await initBackend(run.backend); // a missing backend fails here, not after embedding
  const spec = resolveBase(o.base, run.modelsDir);
  const tpu = o.fineTune > 0
    ? { write: false, note: o.edgetpu === 'auto' ? 'no model_edgetpu.tflite: the compiled extractor holds the original blocks, not the fine-tuned ones (edgetune export --compile compiles model.tflite)' : undefined }
    : edgeTpuPlan(o.edgetpu, o.base, spec.spec.edgetpuGraftable, spec.edgetpuPath !== undefined, o.pooling, o.float);
  const p = await prepare(datasetDir, o, run);
  try {
    return await trainPrepared(p, datasetDir, out, o, run, backend, tpu);
  } finally {
    await p.base.session.close();
  }
}

/** Options with defaults, and the run settings with theirs. */
export function splitInput(input: TrainOptionsInput & RunOptions): { o: TrainOptions; run: Required<Omit<RunOptions, 'signal' | 'threads'>> & Pick<RunOptions, 'signal' | 'threads'> } {
  const { modelsDir, cacheDir, threads, backend, reporter, signal, device, ...rest } = input;
  return {
    o: resolveTrainOptions(rest),
    run: {
      modelsDir: modelsDir ?? defaultModelsDir(),
      cacheDir: cacheDir ?? defaultCacheDir(),
      threads,
      backend: backend ?? 'auto',
      reporter: reporter ?? silentReporter,
      signal,
      device: device ?? 'auto',
    },
  };
}

async function trainPrepared(
  p: Prepared, datasetDir: string, out: string, o: TrainOptions, run: ReturnType<typeof splitInput>['run'],
  backend: BackendName, tpu: { write: boolean; note?: string },
): Promise<TrainResult> {
  const r = run.reporter;
  const { ds, base, all } = p;
  const labels = ds.labels;
  const spec = headSpec(o, p.classWeights);

  r.info(`head: Dense ${[...spec.hidden, labels.length].join(' → ')} (dropout ${spec.dropout}${spec.classWeights === 'balanced' ? ', balanced class weights' : ''})${o.heads > 1 ? ` × ${o.heads} heads, one per fold, merged into one` : ''} on TensorFlow.js backend '${backend}'`);
  const t1 = performance.now();
  const fitted = o.heads > 1 ? await fitEnsemble(p, o, spec, r, run.signal) : await fitSingle(p, o, spec, r, run.signal);
  const { heads } = fitted;
  const trained = heads[0];
  const tHead = (performance.now() - t1) / 1000;
  r.info(o.heads > 1
    ? `heads stopped at epochs ${heads.map((h) => h.bestEpoch).join(', ')}: out-of-fold val_accuracy ${pct(fitted.val.accuracy)} (each fold chose its head's epoch: optimistic)`
    : `best epoch ${trained.bestEpoch}/${trained.history.length}${trained.stoppedEarly ? ' (early stopping)' : ''}: val_loss ${fitted.val.loss.toFixed(4)}, val_accuracy ${pct(fitted.val.accuracy)} (chosen on these photos: optimistic)`);
  const ft: FineTuned | undefined = o.fineTune > 0
    ? await fineTuneStage(p, o, fitted.weights, spec, trained.history.length, { reporter: r, signal: run.signal, threads: run.threads })
    : undefined;
  const tTrain = (performance.now() - t1) / 1000;
  // From here on the model is the fine-tuned one when there is one.
  const headTf = ft?.headModel ?? fitted.model;
  const weights = ft?.weights ?? fitted.weights;
  const val = ft ? { accuracy: ft.record.after.val_accuracy, loss: ft.record.after.val_loss } : fitted.val;

  let estimate: ModelMetadata['metrics']['estimate'];
  if (p.estimate === 'k-fold') estimate = await kFoldEstimate(p, o, spec, r, run.signal);
  if (ft && p.estimate === 'k-fold') r.warn('the k-fold estimate scores heads on the frozen base: fine-tuning itself is not cross-validated (add photos for a test split)');

  // Export, then check it on validation + test photos: agreement with the head (the gate) and, on
  // the test photos, the estimate of what the shipped file does on photos it never saw.
  const t2 = performance.now();
  const checkIdx = [...fitted.checkIdx, ...p.split.test];
  const headProbs = ft ? ft.probs(checkIdx) : predictHead(headTf, rowsOf(all, checkIdx).x, checkIdx.length, all.dim);
  const model = exportTflite(ft?.base ?? base.model, weights, { float: o.float, labels, name: path.basename(path.resolve(datasetDir)), baseName: o.base });
  const bar = phaseProgress(r, 'export', 'checking the exported model', checkIdx.length);
  const v = await verifyExport(model, checkIdx.map((i) => all.kept[i].path), headProbs, checkIdx.map((i) => all.kept[i].labelIndex), {
    threads: run.threads, fit: o.fit, signal: run.signal, onProgress: (d) => bar.update(d),
  });
  bar.stop();
  r.info(`export check on ${v.n} photos: top-1 agreement with the head ${pct(v.agreement)}, ${v.msPerImage.toFixed(1)} ms/photo`);
  // Fine-tuned blocks stay uint8 even with --float: fewer re-quantized blocks is what helps there.
  checkVerification(v, ft ? `try fewer blocks than --fine-tune ${o.fineTune}` : o.float ? 'report this as a bug' : 'try --float');
  if (p.estimate === 'test-split') {
    const nVal = fitted.checkIdx.length;
    const truth = p.split.test.map((i) => all.kept[i].labelIndex);
    estimate = { method: 'test-split', ...setMetrics(truth, v.predictions.slice(nVal), labels) };
  }
  let edgetpu: Uint8Array | undefined;
  if (tpu.write) edgetpu = exportEdgeTpu(base.spec.name, base.edgetpuPath, weights, o.pooling, { labels, name: path.basename(path.resolve(datasetDir)), baseName: o.base });
  else if (tpu.note) r.info(tpu.note);
  const tExport = (performance.now() - t2) / 1000;

  if (estimate) {
    r.info(`estimated accuracy on photos never used for training or early stopping (${estimate.method === 'k-fold' ? `${estimate.folds}-fold cross-validation` : 'test split'}, ${estimate.n} photos): ${pct(estimate.accuracy)}`);
  } else {
    r.warn('no accuracy estimate: --test-split 0 leaves no photos that training did not see; the validation accuracy above is optimistic');
  }

  // history.json and the curves show the first head (an ensemble's heads look alike), then the
  // fine-tuning epochs.
  const history = ft ? [...trained.history, ...ft.history] : trained.history;
  const title = `${path.basename(path.resolve(datasetDir))} on ${o.base}`;
  const bestEpoch = ft && ft.record.bestEpoch > trained.history.length ? ft.record.bestEpoch : trained.bestEpoch;
  const curvesSvg = await historyCurvesSvg(history, { title, bestEpoch });
  const head = await serializeHead(headTf, { labels, outputRanges: weights.layers.map((l) => l.outputRange) });
  const rel = (i: number) => path.relative(ds.root, all.kept[i].path);
  const metadata: ModelMetadata = {
    format: MODEL_FORMAT,
    created: new Date().toISOString(),
    edgetune: VERSION,
    base: { name: base.spec.name, file: base.spec.file, sha256: base.spec.sha256, inputSize: base.inputSize, embeddingDim: base.dim, pooling: base.pooling, embedder: base.embedder },
    fit: o.fit,
    labels,
    quantized: !o.float,
    files: {
      model: 'model.tflite', ...(edgetpu ? { edgetpu: 'model_edgetpu.tflite' } : {}),
      labels: 'labels.txt', head: 'head/model.json', history: 'history.json', curves: ['curves.svg', 'curves.png'],
      ...(estimate ? { confusion: ['confusion.svg', 'confusion.png'] } : {}),
    },
    options: o,
    dataset: {
      root: ds.root,
      counts: { train: p.split.train.length, val: p.split.val.length, test: p.split.test.length },
      split: { train: p.split.train.map(rel), val: p.split.val.map(rel), test: p.split.test.map(rel) },
      classCounts: Object.fromEntries(labels.map((l, c) => [l, all.kept.filter((s) => s.labelIndex === c).length])),
      skipped: [...ds.ignored, ...all.skipped],
      duplicates: p.duplicates.map((g) => g.map(rel)),
      conflicts: p.conflicts.map((g) => ({ paths: g.map(rel), labels: [...new Set(g.map((i) => all.kept[i].label))] })),
    },
    training: {
      backend, epochs: history.length, bestEpoch, stoppedEarly: ft?.record.stoppedEarly ?? trained.stoppedEarly,
      classWeights: p.classWeights,
      heads: heads.map((h) => ({ epochs: h.history.length, bestEpoch: h.bestEpoch, stoppedEarly: h.stoppedEarly, val_loss: h.history[h.bestEpoch - 1].val_loss, val_accuracy: h.history[h.bestEpoch - 1].val_accuracy })),
      seconds: { embed: round(p.seconds), train: round(tTrain), export: round(tExport), ...(ft ? { head: round(tHead) } : {}) },
      cache: { ...p.cache.stats },
    },
    metrics: { val_accuracy: val.accuracy, val_loss: val.loss, ...(estimate ? { estimate } : {}), export: stripPredictions(v) },
    ...(ft ? { fineTune: ft.record } : {}),
  };
  const folder = await modelFolderFiles(model, metadata, history, curvesSvg, estimate);
  folder['head/model.json'] = head.modelJson;
  folder['head/weights.bin'] = head.weightsBin;
  if (edgetpu) folder['model_edgetpu.tflite'] = edgetpu;
  if (run.signal?.aborted) throw fail('CANCELLED', 'training cancelled: nothing was written');
  writeModelFolder(out, folder);
  // A single head is its own model; an ensemble's heads are separate from the merged one.
  for (const m of new Set([fitted.model, ...heads.map((h) => h.model)])) m.dispose();
  ft?.dispose();
  r.info(`wrote ${out}/model.tflite${edgetpu ? ' and model_edgetpu.tflite' : ''}`);
  return { dir: out, metadata, history };
}

/** The version of this package (metadata.json `edgetune`). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../../package.json').version;

function stripPredictions<T extends { predictions?: unknown }>(v: T): Omit<T, 'predictions'> {
  const { predictions: _p, ...rest } = v;
  return rest;
}

/** The head's full spec from the options: the seed reaches the head, class weights resolved. */
export function headSpec(o: TrainOptions, classWeights: 'none' | 'balanced'): HeadSpec {
  return { ...o.head, hidden: [...o.head.hidden], classWeights, seed: o.seed };
}

async function fitHead(train: EmbeddingSet, val: EmbeddingSet, classes: number, spec: HeadSpec, r: Reporter, signal?: AbortSignal, title = 'training'): Promise<TrainedHead> {
  const bar = phaseProgress(r, 'train', title, spec.epochs);
  try {
    return await trainHead(train, val, classes, spec, {
      signal,
      onEpoch: (e) => bar.step(e.epoch, e,
        `loss ${e.loss.toFixed(3)} acc ${e.accuracy.toFixed(3)} val_loss ${e.val_loss.toFixed(3)} val_acc ${e.val_accuracy.toFixed(3)}`),
    });
  } finally {
    bar.stop();
  }
}

/** A trained head (or merged ensemble) ready to export. */
interface Fitted {
  /** The head as a tfjs model (softmax outputs), for predictions and saving. */
  model: tf.LayersModel;
  /** Its Dense layers in TFLite layout, calibrated on the training embeddings. */
  weights: HeadWeights;
  /** The trained head(s), one per fold for an ensemble. */
  heads: TrainedHead[];
  /** Validation: accuracy and loss at the chosen epoch(s) (out of fold for an ensemble). */
  val: { accuracy: number; loss: number };
  /** Photos (indices into all.kept) to check the export on besides the test photos. */
  checkIdx: number[];
}

async function fitSingle(p: Prepared, o: TrainOptions, spec: HeadSpec, r: Reporter, signal?: AbortSignal): Promise<Fitted> {
  const trainSet = trainingSet(p, p.split.train, o.augViews);
  const head = await fitHead(trainSet, rowsOf(p.all, p.split.val), p.ds.labels.length, spec, r, signal);
  const best = head.history[head.bestEpoch - 1];
  return {
    model: head.model, weights: headWeights(head.model, trainSet), heads: [head],
    val: { accuracy: best.val_accuracy, loss: best.val_loss }, checkIdx: p.split.val,
  };
}

/**
 * K heads, head k trained on the other folds' photos (with their augmented views) and stopped early
 * on fold k, merged into one Dense head whose logits are the mean of theirs: every photo trains the
 * model, and averaging cancels much of what early stopping on a small fold gets wrong.
 */
async function fitEnsemble(p: Prepared, o: TrainOptions, spec: HeadSpec, r: Reporter, signal?: AbortSignal): Promise<Fitted> {
  const pool = p.split.train;
  const samples = pool.map((i) => p.all.kept[i]);
  const fold = kFolds(samples, o.heads, o.seed, Int32Array.from(pool.map((i) => p.groupOf[i])));
  const heads: TrainedHead[] = [];
  const parts: HeadWeights[] = [];
  let correct = 0, loss = 0, n = 0;
  try {
    for (let k = 0; k < o.heads; k++) {
      const tr = pool.filter((_, j) => fold[j] !== k);
      const va = pool.filter((_, j) => fold[j] === k);
      if (va.length === 0) continue; // fewer photos than folds: nothing to stop this head on
      const trainSet = trainingSet(p, tr, o.augViews);
      const valSet = rowsOf(p.all, va);
      // Each head its own seed, derived from the run's (reproducible, distinct dropout and shuffles).
      const h = await fitHead(trainSet, valSet, p.ds.labels.length, { ...spec, seed: (Math.imul(spec.seed ^ 0x5bd1e995, k + 1) ^ k) >>> 0 }, r, signal, `training head ${k + 1}/${o.heads}`);
      heads.push(h);
      parts.push(headWeights(h.model, trainSet));
      const best = h.history[h.bestEpoch - 1];
      correct += best.val_accuracy * va.length;
      loss += best.val_loss * va.length;
      n += va.length;
    }
    const weights = mergeHeads(parts, trainingSet(p, pool, o.augViews));
    return {
      model: headModel(weights), weights, heads, val: { accuracy: correct / n, loss: loss / n },
      checkIdx: pool.filter((_, j) => fold[j] === 0),
    };
  } catch (e) {
    heads.forEach((h) => h.model.dispose());
    throw e;
  }
}

/**
 * Scans, embeds (cached), finds duplicates, checks the class balance and splits a dataset; then
 * embeds the augmented views of the training photos. The caller closes `base.session`.
 * @throws EdgeTuneError on a bad dataset, a missing base, or cancellation.
 */
export async function prepare(datasetDir: string, o: TrainOptions, run: ReturnType<typeof splitInput>['run']): Promise<Prepared> {
  const r = run.reporter;
  resolveBase(o.base, run.modelsDir); // fail fast on a missing base, before scanning the dataset
  const ds = scanDataset(datasetDir);
  reportSkipped(r, ds.ignored);
  const base = openBase(o.base, run.modelsDir, run.threads, o.pooling, run.device);
  try {
    r.info(`embeddings on ${base.embedder.device === 'edgetpu' ? `the Edge TPU (${base.embedder.deviceName}, ${base.embedder.file})` : 'the CPU'} (--device ${run.device})`);
    if (base.embedder.device === 'cpu' && run.device !== 'cpu' && run.device !== 'auto') r.warn(`--device ${run.device}: base ${o.base} has no Edge TPU-compiled extractor for ${o.pooling} pooling; embedding on the CPU`);
    r.info(`dataset ${datasetDir}: ${ds.labels.length} classes, ${ds.samples.length} photos`);
    r.info(`base ${o.base}: input ${base.inputSize}×${base.inputSize} uint8 (${o.fit}), embedding ${base.dim} (${o.pooling === 'grid' ? '2×2 grid' : 'global average'}), ${base.session.threads} interpreter thread${base.session.threads === 1 ? '' : 's'}`);
    const cache = run.cacheDir === false ? noCache() : diskCache(run.cacheDir);
    const aug = presetParams(o.preset);
    const t0 = performance.now();
    const bar = phaseProgress(r, 'embed', 'embedding', ds.samples.length);
    const all = await embedSamples(base, ds.samples, {
      views: 0, augment: aug, seed: o.seed, fit: o.fit, cache, fingerprint: phashHex, signal: run.signal, onProgress: (d) => bar.update(d),
    });
    bar.stop();
    reportSkipped(r, all.skipped);
    checkClassesPresent(ds.labels, all.kept);

    // Identical and near-identical photos (burst shots, re-imports) stay on one side of every split.
    const dups = groupDuplicates(all.kept.map((s, i) => ({ key: all.sha[i], hash: BigInt(`0x${all.info[i].phash || '0'}`), labelIndex: s.labelIndex })));
    reportDuplicates(r, ds.root, all.kept, dups);
    // Class balance: warn with the counts; 'auto' class weights become balanced above the ratio.
    const classWeights = chooseClassWeights(r, ds.labels, all.kept, o);

    // Split: test (held out from everything), validation (early stopping), training.
    // A class must be big enough for MIN_PER_CLASS validation and test photos and some training
    // ones; else the estimate comes from k-fold cross-validation and every photo trains the model.
    // An ensemble (heads > 1) needs no validation split: each head stops early on its own fold.
    let estimate: Prepared['estimate'] = o.testSplit > 0 ? 'test-split' : 'none';
    const valFraction = o.heads > 1 ? 0 : o.valSplit;
    const feasible = splitDataset(all.kept, { valFraction: o.valSplit, testFraction: o.testSplit, seed: o.seed, groupOf: dups.groupOf, minPerClass: MIN_PER_CLASS });
    let testFraction = o.testSplit;
    if (o.testSplit > 0 && feasible.infeasible.length) {
      r.warn(`class ${feasible.infeasible.join(', ')} is too small for ${MIN_PER_CLASS} validation and ${MIN_PER_CLASS} test photos: the accuracy estimate comes from ${o.folds}-fold cross-validation instead, and every photo is used for the model`);
      estimate = 'k-fold';
      testFraction = 0;
    }
    const sp = valFraction === o.valSplit && testFraction === o.testSplit
      ? feasible
      : splitDataset(all.kept, { valFraction, testFraction, seed: o.seed, groupOf: dups.groupOf, minPerClass: MIN_PER_CLASS });
    const index = new Map(all.kept.map((s, i) => [s, i]));
    const split = { train: sp.train.map((s) => index.get(s)!), val: sp.val.map((s) => index.get(s)!), test: sp.test.map((s) => index.get(s)!) };
    checkClassesPresent(ds.labels, sp.train, 'training');
    if (o.heads === 1) checkClassesPresent(ds.labels, sp.val, 'validation');
    r.info(o.heads > 1
      ? `split: ${split.train.length} training photos in ${o.heads} folds (one head per fold) / ${split.test.length} test photos`
      : `split: ${split.train.length} training / ${split.val.length} validation / ${split.test.length} test photos`);

    // Augmented views of the training photos (their clean embeddings are cached: no re-embedding).
    const vbar = phaseProgress(r, 'augment', `embedding ${o.augViews} augmented view${o.augViews === 1 ? '' : 's'} per training photo`, split.train.length);
    const views = o.augViews > 0
      ? await embedSamples(base, sp.train, { views: o.augViews, augment: aug, seed: o.seed, fit: o.fit, cache, signal: run.signal, onProgress: (d) => vbar.update(d) })
      : undefined;
    vbar.stop();
    if (views && views.kept.length !== split.train.length) {
      throw fail('BAD_IMAGE', `a training photo could not be read a second time (${views.skipped.map((s) => s.path).join(', ')}): was it changed during training?`);
    }
    return {
      ds, base, all, split, groupOf: dups.groupOf, duplicates: dups.groups, conflicts: dups.conflicts, classWeights, estimate,
      trainViews: views?.views ?? new Float32Array(0), cache, seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    await base.session.close();
    throw e;
  }
}

/** Perceptual hash of preprocessed pixels as 16 hex digits (stored in the embedding cache). */
function phashHex(pixels: Uint8Array, size: number): string {
  return perceptualHash(pixels, size).toString(16).padStart(16, '0');
}

/** Every file not used, one warning each (the CLI shows them; metadata.json keeps them). */
function reportSkipped(r: Reporter, skipped: { path: string; reason: string }[]): void {
  for (const s of skipped) r.warn(`skipped ${s.path}: ${s.reason}`);
}

function checkClassesPresent(labels: string[], set: Sample[], what = 'readable'): void {
  const seen = new Set(set.map((s) => s.labelIndex));
  const missing = labels.filter((_, i) => !seen.has(i));
  if (missing.length) {
    throw fail('BAD_DATASET', `class ${missing.join(', ')} has no ${what} photo: add at least ${what === 'readable' ? 2 : MIN_PER_CLASS + 1} readable photos per class`);
  }
}

/**
 * The head's training set: the clean embedding of each training photo plus its augmented views.
 * @param idx indices into `p.all.kept` (p.split.train, or a fold's training part).
 * @param views views per photo to include (≤ the views embedded).
 */
export function trainingSet(p: Prepared, idx: number[], views: number): EmbeddingSet {
  const { all } = p;
  const dim = all.dim;
  const K = p.trainViews.length / Math.max(1, p.split.train.length * dim);
  const pos = new Map(p.split.train.map((i, j) => [i, j]));
  const withViews = idx.filter((i) => pos.has(i));
  const n = idx.length + withViews.length * Math.min(views, K);
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  let row = 0;
  for (const i of idx) {
    x.set(all.clean.subarray(i * dim, (i + 1) * dim), row * dim);
    y[row++] = all.kept[i].labelIndex;
  }
  for (const i of withViews) {
    const j = pos.get(i)!;
    for (let v = 0; v < Math.min(views, K); v++) {
      const at = (j * K + v) * dim;
      x.set(p.trainViews.subarray(at, at + dim), row * dim);
      y[row++] = all.kept[i].labelIndex;
    }
  }
  return { x, y, n, dim };
}

/** Clean embeddings of some kept photos. */
export function rowsOf(all: EmbeddedSamples, idx: number[]): EmbeddingSet {
  const x = new Float32Array(idx.length * all.dim);
  idx.forEach((i, r) => x.set(all.clean.subarray(i * all.dim, (i + 1) * all.dim), r * all.dim));
  return { x, y: Int32Array.from(idx.map((i) => all.kept[i].labelIndex)), n: idx.length, dim: all.dim };
}

/**
 * Out-of-fold estimate: the photos are cut into k stratified folds (duplicate groups kept whole);
 * for each fold a head is trained on the others (early stopping on a validation part of them) and
 * scores the fold it never saw. Used when a class is too small for a test split.
 */
export async function kFoldEstimate(p: Prepared, o: TrainOptions, spec: HeadSpec, r: Reporter, signal?: AbortSignal): Promise<SetMetrics & { method: 'k-fold'; folds: number }> {
  const scored = await crossValidate(p, o, spec, r, signal);
  return { method: 'k-fold', folds: scored.folds, ...setMetrics(scored.truth, scored.predicted, p.ds.labels) };
}

/**
 * k-fold cross-validation of one head spec on prepared embeddings (augmented views only for the
 * photos of the training split, as embedded).
 * @returns true and out-of-fold predicted class per photo (in `p.all.kept` order of the scored photos).
 */
export async function crossValidate(p: Prepared, o: TrainOptions, spec: HeadSpec, r: Reporter, signal?: AbortSignal): Promise<{ truth: number[]; predicted: number[]; folds: number }> {
  const idx = [...p.split.train, ...p.split.val];
  const samples = idx.map((i) => p.all.kept[i]);
  // At least 3 folds: each round needs a test fold, a validation fold (early stopping) and a
  // training fold. With 2, a class of 2 photos made the training part empty. A class smaller than
  // k is simply absent from some folds (kFolds).
  const k = Math.min(idx.length, Math.max(3, Math.min(o.folds, minClassCount(samples, p.ds.labels.length))));
  const fold = kFolds(samples, k, o.seed, Int32Array.from(idx.map((i) => p.groupOf[i])));
  const truth: number[] = [];
  const predicted: number[] = [];
  for (let f = 0; f < k; f++) {
    const test = idx.filter((_, j) => fold[j] === f);
    const valFold = (f + 1) % k;
    const val = idx.filter((_, j) => fold[j] === valFold);
    let tr = idx.filter((_, j) => fold[j] !== f && fold[j] !== valFold);
    if (tr.length === 0) tr = val; // a handful of photos in all: early stopping then sees its own training photos
    const head = await fitHead(trainingSet(p, tr, o.augViews), rowsOf(p.all, val), p.ds.labels.length, spec, r, signal, `cross-validation fold ${f + 1}/${k}`);
    const rows = rowsOf(p.all, test);
    predicted.push(...argmaxRows(predictHead(head.model, rows.x, rows.n, rows.dim), p.ds.labels.length));
    truth.push(...Array.from(rows.y));
    head.model.dispose();
  }
  return { truth, predicted, folds: k };
}

function minClassCount(samples: Sample[], classes: number): number {
  const c = new Array<number>(classes).fill(0);
  for (const s of samples) c[s.labelIndex]++;
  return Math.min(...c.filter((n) => n > 0));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function round(s: number): number {
  return Math.round(s * 10) / 10;
}

export type { HeadWeights };
