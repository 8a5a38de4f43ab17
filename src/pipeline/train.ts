import * as path from 'node:path';
import { scanDataset, stratifiedSplit, type Dataset, type Sample } from '../dataset';
import { presetParams, type Preset } from '../augment';
import type { Fit } from '../image';
import { openBase, embedSamples, type Base, type EmbeddedSamples } from '../base';
import { DEFAULT_BASE, resolveBase } from '../models';
import {
  initBackend, trainHead, predictHead, argmaxRows, headWeights, serializeHead, DEFAULT_HEAD,
  type HeadSpec, type EmbeddingSet, type EpochRecord, type BackendChoice, type BackendName,
} from '../head';
import type { HeadWeights, Pooling } from '../tflite';
import { exportTflite, exportEdgeTpu, edgeTpuBlocker, verifyExport, writeModelFolder, checkModelFolder, isInside, type Verification, type FileContents } from '../export';
import { historyCurvesSvg, svgToPng } from '../eval';
import { silentReporter, type Reporter } from './report';

/** Below this top-1 agreement between the exported model and the trained head, export fails. */
export const MIN_AGREEMENT = 0.98;

/** Everything `train` can be told; `defaultTrainOptions` fills the rest. */
export interface TrainOptions {
  /** Base name (`edgetune models list`). */
  base: string;
  /** Where the pretrained bases are installed. */
  modelsDir: string;
  head: HeadSpec;
  /** Fraction of each class held out for validation (0 < f < 1). */
  valSplit: number;
  /** Augmentation preset: 'objects' (flips), 'digits' (no flips), 'none'. */
  preset: Preset;
  /** How non-square photos become square (default 'crop'). Kept in metadata.json for prediction. */
  fit: Fit;
  /** Embedding: 'avg' (global average, Edge TPU-ready) or 'grid' (2×2); default: the preset's (`defaultPooling`). */
  pooling: Pooling;
  /** Augmented views embedded per training image (0 = no augmentation). */
  augViews: number;
  /** Seed of the split, the augmentation and the head. */
  seed: number;
  /** Export a float head behind a DEQUANTIZE instead of a quantized one. */
  float: boolean;
  /** 'auto': also write model_edgetpu.tflite when the base has a compiled extractor; true: require it. */
  edgetpu: boolean | 'auto';
  /** Interpreter threads (default: the machine's cores). */
  threads?: number;
  backend: BackendChoice;
  reporter: Reporter;
}

/** Defaults, measured on ../shared/datasets (README, "Training defaults"). */
export function defaultTrainOptions(modelsDir: string): TrainOptions {
  return {
    base: DEFAULT_BASE, modelsDir, head: { ...DEFAULT_HEAD }, valSplit: 0.2, preset: 'objects', fit: 'crop', pooling: 'avg',
    augViews: 2, seed: 1, float: false, edgetpu: 'auto', backend: 'auto', reporter: silentReporter,
  };
}

/**
 * The pooling a preset implies when --pooling is not given: 'grid' for digits (a global average
 * forgets where strokes are: measured on the shared digit photos, about 83% → 91% validation
 * accuracy), 'avg' otherwise (objects are recognised anywhere in the frame, and only the global
 * average has Coral's compiled Edge TPU extractor).
 */
export function defaultPooling(preset: Preset): Pooling {
  return preset === 'digits' ? 'grid' : 'avg';
}

/** Options with defaults filled in; the pooling follows the preset unless given. */
export function resolveOptions(options: Partial<TrainOptions> & { modelsDir: string }): TrainOptions {
  const d = defaultTrainOptions(options.modelsDir);
  // An option given as undefined means "the default", as on the command line.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<TrainOptions>;
  const preset = given.preset ?? d.preset;
  return { ...d, ...given, modelsDir: options.modelsDir, preset, pooling: given.pooling ?? defaultPooling(preset), head: { ...DEFAULT_HEAD, ...given.head } };
}

/** metadata.json of a model folder. */
export interface ModelMetadata {
  format: 'edgetune-model/1';
  created: string;
  base: { name: string; file: string; sha256: string; inputSize: number; embeddingDim: number; pooling: Pooling };
  labels: string[];
  quantized: boolean;
  files: { model: string; edgetpu?: string; labels: string; head: string; history: string; curves: string[] };
  options: Omit<TrainOptions, 'reporter' | 'modelsDir'>;
  dataset: { root: string; train: number; val: number; skipped: { path: string; reason: string }[] };
  training: { backend: BackendName; epochs: number; bestEpoch: number; stoppedEarly: boolean; seconds: { embed: number; train: number; export: number } };
  metrics: { val_accuracy: number; val_loss: number; export: Verification };
}

/** What `train` returns. */
export interface TrainResult {
  dir: string;
  metadata: ModelMetadata;
  history: EpochRecord[];
}

/** Clean and augmented embeddings of one dataset split, ready for the head. */
interface Embedded {
  train: EmbeddedSamples;
  val: EmbeddedSamples;
}

/**
 * The main job: dataset folder → augmented embeddings from the base without its top → head with
 * early stopping → quantized TFLite export verified on the validation images → model folder.
 *
 * Writes `out/` atomically: model.tflite, [model_edgetpu.tflite], labels.txt, metadata.json,
 * history.json, curves.svg/.png, head/ (tfjs layers format with calibration ranges).
 *
 * @throws Error on a bad dataset (fewer than 2 classes, a class with fewer than 2 readable
 *   images), a missing base, or an export whose top-1 agreement with the head is below 98%.
 */
export async function train(datasetDir: string, out: string, options: Partial<TrainOptions> & { modelsDir: string }): Promise<TrainResult> {
  const o = resolveOptions(options);
  checkModelFolder(out);
  if (isInside(out, datasetDir)) {
    throw new Error(`output folder ${out} is inside the dataset ${datasetDir}: its files would become a class; choose a folder outside it`);
  }
  await initBackend(o.backend); // a missing backend fails here, not after embedding
  if (o.edgetpu === true) {
    const blocker = edgeTpuBlocker(o.base, resolveBase(o.base, o.modelsDir).spec.edgetpuGraftable, o.pooling, o.float);
    if (blocker) throw new Error(blocker);
  }
  const prepared = await prepareEmbeddings(datasetDir, o);
  try {
    return await trainPrepared(prepared, datasetDir, out, o);
  } finally {
    prepared.base.session.close();
  }
}

async function trainPrepared(p: Prepared, datasetDir: string, out: string, o: TrainOptions): Promise<TrainResult> {
  const r = o.reporter;
  const { ds, base, emb, trainSet, valSet, seconds: tEmbed } = p;
  const backend = await initBackend(o.backend);
  r.info(`head: Dense ${[...o.head.hidden, ds.labels.length].join(' → ')} (dropout ${o.head.dropout}) on TensorFlow.js backend '${backend}'`);
  const t1 = performance.now();
  const bar = r.progress('training', o.head.epochs);
  const trained = await trainHead(trainSet, valSet, ds.labels.length, o.head, (e) =>
    bar.update(e.epoch, `loss ${e.loss.toFixed(3)} acc ${e.accuracy.toFixed(3)} val_loss ${e.val_loss.toFixed(3)} val_acc ${e.val_accuracy.toFixed(3)}`));
  bar.stop();
  const tTrain = (performance.now() - t1) / 1000;
  const best = trained.history[trained.bestEpoch - 1];
  r.info(`best epoch ${trained.bestEpoch}/${trained.history.length}${trained.stoppedEarly ? ' (early stopping)' : ''}: val_loss ${best.val_loss.toFixed(4)}, val_accuracy ${(best.val_accuracy * 100).toFixed(1)}%`);

  const t2 = performance.now();
  const weights = headWeights(trained.model, trainSet);
  const headTop1 = argmaxRows(predictHead(trained.model, valSet.x, valSet.n, valSet.dim), ds.labels.length);
  const files = await exportFiles(base, weights, o, emb.val.kept, headTop1, r);
  const tExport = (performance.now() - t2) / 1000;

  const history = trained.history;
  const curvesSvg = await historyCurvesSvg(history, { title: `${path.basename(path.resolve(datasetDir))} on ${o.base}`, bestEpoch: trained.bestEpoch });
  const head = await serializeHead(trained.model, { labels: ds.labels, outputRanges: weights.layers.map((l) => l.outputRange) });
  const { reporter: _r, modelsDir: _m, ...recorded } = o;
  const metadata: ModelMetadata = {
    format: 'edgetune-model/1',
    created: new Date().toISOString(),
    base: { name: base.spec.name, file: base.spec.file, sha256: base.spec.sha256, inputSize: base.inputSize, embeddingDim: base.dim, pooling: base.pooling },
    labels: ds.labels,
    quantized: !o.float,
    files: {
      model: 'model.tflite', ...(files.edgetpu ? { edgetpu: 'model_edgetpu.tflite' } : {}),
      labels: 'labels.txt', head: 'head/model.json', history: 'history.json', curves: ['curves.svg', 'curves.png'],
    },
    options: recorded,
    dataset: {
      root: path.resolve(datasetDir), train: emb.train.kept.length, val: emb.val.kept.length,
      skipped: [...ds.ignored, ...emb.train.skipped, ...emb.val.skipped],
    },
    training: {
      backend, epochs: history.length, bestEpoch: trained.bestEpoch, stoppedEarly: trained.stoppedEarly,
      seconds: { embed: round(tEmbed), train: round(tTrain), export: round(tExport) },
    },
    metrics: { val_accuracy: best.val_accuracy, val_loss: best.val_loss, export: files.verification },
  };
  const folder: Record<string, FileContents> = {
    'model.tflite': files.model,
    'labels.txt': ds.labels.join('\n') + '\n',
    'metadata.json': JSON.stringify(metadata, null, 2) + '\n',
    'history.json': JSON.stringify(history, null, 2) + '\n',
    'curves.svg': curvesSvg,
    'curves.png': await svgToPng(curvesSvg),
    'head/model.json': head.modelJson,
    'head/weights.bin': head.weightsBin,
  };
  if (files.edgetpu) folder['model_edgetpu.tflite'] = files.edgetpu;
  writeModelFolder(out, folder);
  trained.model.dispose();
  r.info(`wrote ${out}/model.tflite${files.edgetpu ? ' and model_edgetpu.tflite' : ''}`);
  return { dir: out, metadata, history };
}

/** A dataset embedded by a base: what head training (and a sweep) starts from. */
export interface Prepared {
  ds: Dataset;
  base: Base;
  emb: Embedded;
  /** Clean + augmented training embeddings. */
  trainSet: EmbeddingSet;
  /** Clean validation embeddings. */
  valSet: EmbeddingSet;
  /** Time spent embedding, s. */
  seconds: number;
}

/**
 * Scans and splits a dataset, opens the base and embeds the split (with augmented views of the
 * training images). The caller closes `base.session`.
 * @throws Error on a bad dataset or a missing base.
 */
export async function prepareEmbeddings(datasetDir: string, o: TrainOptions): Promise<Prepared> {
  const r = o.reporter;
  resolveBase(o.base, o.modelsDir); // fail fast on a missing base, before scanning the dataset
  const ds = scanDataset(datasetDir);
  ds.ignored.forEach((s) => r.warn(`skipped ${s.path}: ${s.reason}`));
  const split = stratifiedSplit(ds.samples, o.valSplit, o.seed);
  r.info(`dataset ${datasetDir}: ${ds.labels.length} classes, ${ds.samples.length} images (${split.train.length} training / ${split.val.length} validation before decoding)`);
  const base = openBase(o.base, o.modelsDir, o.threads, o.pooling);
  r.info(`base ${o.base}: input ${base.inputSize}×${base.inputSize} uint8, embedding ${base.dim} (${o.pooling === 'grid' ? '2×2 grid' : 'global average'}), ${base.session.threads} interpreter thread${base.session.threads === 1 ? '' : 's'}`);
  const t0 = performance.now();
  try {
    const emb = await embedSplit(base, split.train, split.val, o, r);
    checkClasses(ds.labels, emb.train.kept, emb.val.kept);
    return {
      ds, base, emb,
      trainSet: trainingSet(emb.train, o.augViews),
      valSet: toSet(emb.val.clean, emb.val.kept, emb.val.dim),
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    base.session.close();
    throw e;
  }
}

async function embedSplit(base: Base, train: Sample[], val: Sample[], o: TrainOptions, r: Reporter): Promise<Embedded> {
  const aug = presetParams(o.preset);
  const total = train.length + val.length;
  const bar = r.progress(`embedding (${o.augViews} augmented view${o.augViews === 1 ? '' : 's'} per training image)`, total);
  const warnSkips = (e: EmbeddedSamples) => e.skipped.forEach((s) => r.warn(`skipped ${s.path}: ${s.reason}`));
  const t = await embedSamples(base, train, { views: o.augViews, augment: aug, seed: o.seed, fit: o.fit, onProgress: (d) => bar.update(d) });
  const v = await embedSamples(base, val, { views: 0, augment: aug, seed: o.seed, fit: o.fit, onProgress: (d) => bar.update(train.length + d) });
  bar.stop();
  warnSkips(t);
  warnSkips(v);
  return { train: t, val: v };
}

/** Every class must keep at least one readable training and one validation image. */
function checkClasses(labels: string[], train: Sample[], val: Sample[]): void {
  for (const [name, set] of [['training', train], ['validation', val]] as const) {
    const seen = new Set(set.map((s) => s.labelIndex));
    const missing = labels.filter((_, i) => !seen.has(i));
    if (missing.length) throw new Error(`class ${missing.join(', ')} has no readable ${name} image: add at least 2 readable images per class`);
  }
}

/** The head's training set: each kept image's clean embedding plus its augmented views. */
export function trainingSet(e: EmbeddedSamples, views: number): EmbeddingSet {
  const n = e.kept.length * (1 + views);
  const x = new Float32Array(n * e.dim);
  const y = new Int32Array(n);
  x.set(e.clean, 0);
  x.set(e.views, e.clean.length);
  e.kept.forEach((s, i) => {
    y[i] = s.labelIndex;
    for (let v = 0; v < views; v++) y[e.kept.length + i * views + v] = s.labelIndex;
  });
  return { x, y, n, dim: e.dim };
}

function toSet(x: Float32Array, kept: Sample[], dim: number): EmbeddingSet {
  return { x, y: Int32Array.from(kept.map((s) => s.labelIndex)), n: kept.length, dim };
}

async function exportFiles(
  base: Base, weights: HeadWeights, o: TrainOptions, val: Sample[], headTop1: number[], r: Reporter,
): Promise<{ model: Uint8Array; edgetpu?: Uint8Array; verification: Verification }> {
  const model = exportTflite(base.model, weights, { float: o.float });
  const verification = await verifyExport(model, val.map((s) => s.path), headTop1, val.map((s) => s.labelIndex), o.threads, o.fit);
  r.info(`export check on ${verification.n} validation images: top-1 agreement with the head ${(verification.agreement * 100).toFixed(1)}%, accuracy ${(verification.accuracy * 100).toFixed(1)}%, ${verification.msPerImage.toFixed(1)} ms/image`);
  if (verification.agreement < MIN_AGREEMENT) {
    throw new Error(`export check failed: the exported model agrees with the trained head on only ${(verification.agreement * 100).toFixed(1)}% of validation images (need ≥ ${MIN_AGREEMENT * 100}%); try --float`);
  }
  let edgetpu: Uint8Array | undefined;
  if (o.edgetpu === 'auto' && o.pooling !== 'avg' && base.spec.edgetpuGraftable) {
    r.info(`no model_edgetpu.tflite: Coral's compiled extractor gives only the global average embedding (train with --pooling avg for the Edge TPU)`);
  }
  if (o.edgetpu === true || (o.edgetpu === 'auto' && base.edgetpuPath && !o.float)) {
    if (o.float) throw new Error('--edgetpu needs the quantized head: drop --float');
    edgetpu = exportEdgeTpu(base.spec.name, base.edgetpuPath, weights, o.pooling);
  }
  return { model, edgetpu, verification };
}

function round(s: number): number {
  return Math.round(s * 10) / 10;
}
