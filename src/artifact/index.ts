/**
 * The model folder, as one contract: what `train` writes and every command (and the web server)
 * reads. It owns the `ModelMetadata` type, reading with a check of its `format`, writing
 * atomically, the export verification gate, and the rule deciding when an Edge TPU file can be
 * written. Nothing else reads or writes metadata.json.
 *
 * Layout of a model folder:
 *   model.tflite           base + grafted head (quantized like the base, or float with --float),
 *                          with TFLite Metadata (labels) embedded
 *   model_edgetpu.tflite   Coral's compiled extractor + the same head (when eligible)
 *   labels.txt             one class name per line, line i = output i
 *   metadata.json          ModelMetadata
 *   history.json, curves.svg, curves.png, confusion.svg, confusion.png
 *   head/model.json, head/weights.bin   the trained tfjs head (re-export without retraining)
 *
 * A CNN trained from scratch (`arch: 'cnn'`) has no base: model.tflite is the whole network,
 * full-integer (uint8 input/output), no model_edgetpu.tflite, and cnn/model.json + cnn/weights.bin
 * hold the tfjs model instead of head/.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail, ioError } from '../errors';
import type { TrainOptions } from '../options';
import type { Pooling } from '../tflite';
import type { Fit } from '../image';
import type { ClassificationReport } from '../eval';

/** The format this build writes. */
export const MODEL_FORMAT = 'edgetune-model/2';
/** Formats this build reads (older ones are upgraded in memory by `readModelFolder`). */
export const READABLE_FORMATS = ['edgetune-model/1', MODEL_FORMAT] as const;

/** Below this top-1 agreement between the exported model and the trained head, export fails. */
export const MIN_AGREEMENT = 0.98;

/**
 * Metrics of a classifier on one labelled set of photos: the classification report (accuracy,
 * per-class precision/recall/F1/support, macro average over classes with photos, confusion
 * [true][predicted] indexed like the model's labels) and the number of photos scored.
 */
export type SetMetrics = Omit<ClassificationReport, 'labels'> & { n: number };

/** Result of checking an exported model against the trained head. */
export interface Verification {
  /** Photos the exported model ran on. */
  n: number;
  /** Fraction (0..1) of photos where the exported top-1 equals the trained head's top-1. */
  agreement: number;
  /** Fraction (0..1) of photos where the exported top-1 equals the true label. */
  accuracy: number;
  /** Mean inference time of the exported model, ms per photo. */
  msPerImage: number;
}

/** Where each photo went, as paths relative to the dataset root. */
export interface SplitRecord {
  train: string[];
  val: string[];
  test: string[];
}

/** metadata.json of a model folder (format 'edgetune-model/2'). */
export interface ModelMetadata {
  format: typeof MODEL_FORMAT;
  /** ISO 8601 time the folder was written. */
  created: string;
  /** EdgeTune version that wrote it. */
  edgetune: string;
  /** Which network: 'head' (absent in folders written before the CNN) or 'cnn'. */
  arch?: 'head' | 'cnn';
  /**
   * The CNN's input: height × width pixels, channels 3 (RGB) or 1 (grey). Absent for a head model,
   * whose input is its base's square RGB input (`base.inputSize`).
   */
  input?: { height: number; width: number; channels: 1 | 3 };
  /** The pretrained base (absent for a CNN, which has none). */
  base?: {
    name: string; file: string; sha256: string; inputSize: number; embeddingDim: number; pooling: Pooling;
    /** What computed the training embeddings: the CPU graph or the Edge TPU-compiled extractor (absent before EdgeTune 0.2: CPU). */
    embedder?: { device: 'cpu' | 'edgetpu'; deviceName: string; file: string; sha256: string };
  };
  /** How photos are made square for this model (also in options; here for readers that only predict). */
  fit: Fit;
  /** Class names; index i = output i. Also in labels.txt and inside model.tflite's metadata. */
  labels: string[];
  quantized: boolean;
  /** Files of the folder; `head` for a head model, `cnn` (the tfjs model.json) for a CNN. */
  files: { model: string; edgetpu?: string; labels: string; head?: string; cnn?: string; history: string; curves: string[]; confusion?: string[]; compiled?: string };
  /** `edgetune export --compile`: what Coral's Edge TPU Compiler made of model.tflite. */
  compiled?: { version: string; edgetpuOps: number; cpuOps: number };
  /** Every training option, defaults filled in. */
  options: TrainOptions;
  dataset: {
    /** Absolute path of the dataset at training time. */
    root: string;
    /** Photos per set. */
    counts: { train: number; val: number; test: number };
    /** Which photos were in which set (relative paths). */
    split: SplitRecord;
    /** Photos per class (all sets), by label. */
    classCounts: Record<string, number>;
    /** Files not used, with the reason. */
    skipped: { path: string; reason: string }[];
    /** Groups of identical or near-identical photos (kept on one side of every split), relative paths. */
    duplicates: string[][];
    /** Duplicate groups that span more than one class. */
    conflicts: { paths: string[]; labels: string[] }[];
  };
  training: {
    backend: string;
    /** Epochs run, the 1-based epoch whose weights were kept, whether early stopping ended it. */
    epochs: number;
    bestEpoch: number;
    stoppedEarly: boolean;
    /** The class weights used ('balanced' chosen by 'auto' is recorded as 'balanced'). */
    classWeights: 'none' | 'balanced';
    /** Each head of the ensemble (one entry for a single head): epochs run, epoch kept, its validation. */
    heads: { epochs: number; bestEpoch: number; stoppedEarly: boolean; val_loss: number; val_accuracy: number }[];
    /** Wall time per phase, s (with fine-tuning, `train` includes it and `head` is the head alone). */
    seconds: { embed: number; train: number; export: number; head?: number };
    /** Embeddings reused from the cache / computed. */
    cache: { hits: number; misses: number };
  };
  metrics: {
    /** Validation set at the best epoch (chosen by early stopping on it: optimistic). */
    val_accuracy: number;
    val_loss: number;
    /**
     * The honest estimate: the exported model on the test photos (held out from training and
     * early stopping), or out-of-fold predictions of k-fold cross-validation (`estimate.method`).
     */
    estimate?: SetMetrics & { method: 'test-split' | 'k-fold'; folds?: number };
    /** The exported model checked against the trained head. */
    export: Verification;
  };
  /**
   * `train --fine-tune N`: the base's last N blocks were trained with the head; model.tflite holds
   * them (uint8) after the base cut at `cut`. Absent for a frozen base.
   */
  fineTune?: FineTuneRecord;
}

/** What fine-tuning records in metadata.json (`fineTune`). */
export interface FineTuneRecord {
  /** N: blocks unfrozen. */
  blocks: number;
  /** The cut tensor (input of the first unfrozen block) and its shape. */
  cut: string;
  cutShape: number[];
  /** The unfrozen ops, e.g. ['Conv2d_13_depthwise', 'Conv2d_13_pointwise']. */
  layers: string[];
  /** Adam learning rate (the head's × src/finetune FINE_TUNE_LR_FACTOR), epoch cap and patience used. */
  lr: number;
  maxEpochs: number;
  patience: number;
  /** Epochs run, the epoch kept (numbered after the head's; = the head's last epoch when none improved). */
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Validation before fine-tuning (the converged head) and at the kept epoch. */
  before: { val_loss: number; val_accuracy: number };
  after: { val_loss: number; val_accuracy: number };
  /** Activations at the cut: views computed / read from the cache, and their RAM, bytes. */
  activations: { views: number; bytes: number };
  seconds: { activations: number; train: number };
}

/** A model folder read through `readModelFolder`. */
export interface ModelFolder {
  dir: string;
  metadata: ModelMetadata;
  /** Absolute paths of the files present. */
  paths: { model: string; edgetpu?: string; labels: string; head?: string; cnn?: string };
}

/**
 * Reads and checks a model folder's metadata.json only (its format version; files are not checked).
 * Format 1 (EdgeTune 0.1) is upgraded in memory.
 * @throws EdgeTuneError 'NOT_FOUND' when the folder is missing; 'BAD_MODEL' when metadata.json is
 *   missing, not JSON, or of an unknown format version (naming it and what to do).
 */
export function readMetadata(dir: string): ModelMetadata {
  const metaPath = path.join(dir, 'metadata.json');
  if (!fs.existsSync(dir)) throw fail('NOT_FOUND', `model folder ${dir} does not exist: pass the --out folder of 'edgetune train'`);
  if (!fs.statSync(dir).isDirectory()) throw fail('BAD_MODEL', `${dir} is a file, not a model folder: pass the --out folder of 'edgetune train'`);
  if (!fs.existsSync(metaPath)) throw fail('BAD_MODEL', `${dir} is not an EdgeTune model folder (no metadata.json): pass the --out folder of 'edgetune train'`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  } catch (e) {
    throw fail('BAD_MODEL', `${metaPath} is not valid JSON (${(e as Error).message.split('\n')[0]}): retrain or re-export the model`);
  }
  const format = raw?.format;
  if (!READABLE_FORMATS.includes(format as never)) {
    throw fail('BAD_MODEL', `${metaPath} has format '${String(format)}', which this EdgeTune cannot read (it reads ${READABLE_FORMATS.join(', ')}): ${typeof format === 'string' && format.startsWith('edgetune-model/') ? 'upgrade EdgeTune' : 'this is not an EdgeTune model folder'}`);
  }
  return format === MODEL_FORMAT ? (raw as unknown as ModelMetadata) : upgradeV1(raw);
}

/**
 * Reads and checks a model folder: metadata.json (see `readMetadata`) and the files it names.
 * @throws EdgeTuneError 'NOT_FOUND' when the folder or metadata.json is missing; 'BAD_MODEL' when
 *   it is not JSON, of an unknown format version (naming it and what to do), or misses model.tflite
 *   or labels.txt.
 */
export function readModelFolder(dir: string): ModelFolder {
  const metadata = readMetadata(dir);
  const file = (name: string | undefined, what: string): string => {
    const p = path.join(dir, name ?? '');
    if (!name || !fs.existsSync(p)) throw fail('BAD_MODEL', `model folder ${dir} has no ${name ?? what}: retrain into it with 'edgetune train' or re-export with 'edgetune export'`);
    return p;
  };
  const paths = {
    model: file(metadata.files.model, 'model.tflite'),
    labels: file(metadata.files.labels, 'labels.txt'),
    ...(metadata.files.head ? { head: path.join(dir, metadata.files.head) } : {}),
    ...(metadata.files.cnn ? { cnn: path.join(dir, metadata.files.cnn) } : {}),
    ...(metadata.files.edgetpu && fs.existsSync(path.join(dir, metadata.files.edgetpu)) ? { edgetpu: path.join(dir, metadata.files.edgetpu) } : {}),
  };
  return { dir, metadata, paths };
}

/** A format-1 metadata.json (EdgeTune 0.1) in the format-2 shape; fields it lacks are left empty. */
function upgradeV1(raw: Record<string, unknown>): ModelMetadata {
  const m = raw as unknown as {
    created: string; base: NonNullable<ModelMetadata['base']>; labels: string[]; quantized: boolean; files: ModelMetadata['files'];
    options: TrainOptions & { head: TrainOptions['head'] & { classWeights: 'none' | 'balanced' } };
    dataset: { root: string; train: number; val: number; skipped: { path: string; reason: string }[] };
    training: { backend: string; epochs: number; bestEpoch: number; stoppedEarly: boolean; seconds: ModelMetadata['training']['seconds'] };
    metrics: { val_accuracy: number; val_loss: number; export: Verification };
  };
  const fit = (m.options?.fit ?? 'crop') as Fit;
  return {
    format: MODEL_FORMAT,
    created: m.created,
    edgetune: '0.1.0',
    base: { ...m.base, pooling: m.base.pooling ?? 'avg' },
    fit,
    labels: m.labels,
    quantized: m.quantized,
    files: m.files,
    options: { ...m.options, heads: 1, testSplit: (m.options as Partial<TrainOptions>).testSplit ?? 0, folds: (m.options as Partial<TrainOptions>).folds ?? 5, fit },
    dataset: {
      root: m.dataset.root, counts: { train: m.dataset.train, val: m.dataset.val, test: 0 },
      split: { train: [], val: [], test: [] }, classCounts: {}, skipped: m.dataset.skipped ?? [], duplicates: [], conflicts: [],
    },
    training: {
      ...m.training, classWeights: m.options?.head?.classWeights === 'balanced' ? 'balanced' : 'none', cache: { hits: 0, misses: 0 },
      heads: [{ epochs: m.training.epochs, bestEpoch: m.training.bestEpoch, stoppedEarly: m.training.stoppedEarly, val_loss: m.metrics.val_loss, val_accuracy: m.metrics.val_accuracy }],
    },
    metrics: { val_accuracy: m.metrics.val_accuracy, val_loss: m.metrics.val_loss, export: m.metrics.export },
  };
}

/**
 * The verification gate: an exported model must agree with the trained head on at least
 * `MIN_AGREEMENT` of the checked photos.
 * @param hint what the user can do (e.g. "try --float").
 * @throws EdgeTuneError('EXPORT_CHECK_FAILED') with the agreement found.
 */
export function checkVerification(v: Verification, hint: string): void {
  if (v.agreement < MIN_AGREEMENT) {
    throw fail('EXPORT_CHECK_FAILED', `export check failed: the exported model agrees with the trained head on only ${(v.agreement * 100).toFixed(1)}% of ${v.n} photos (need ≥ ${MIN_AGREEMENT * 100}%); ${hint}`);
  }
}

/**
 * Why a model_edgetpu.tflite cannot be made for a model, or undefined when it can. Known from the
 * options alone, so callers check it before any long work. The one place this rule lives.
 * @param graftable whether the base has Coral's compiled embedding extractor (BaseSpec.edgetpuGraftable).
 */
export function edgeTpuBlocker(baseName: string, graftable: boolean, pooling: Pooling, float: boolean): string | undefined {
  if (float) return 'the Edge TPU runs only the quantized head: drop --float';
  if (!graftable) {
    return `base ${baseName} has no Edge TPU-compiled embedding extractor (Coral compiles only the full classifier, which cannot be cut): train with --base mobilenet_v1_1.0_224 for --edgetpu`;
  }
  if (pooling !== 'avg') {
    return `the Edge TPU file needs --pooling avg: Coral's compiled extractor ends at the global average pool inside its custom op, so a ${pooling} embedding cannot come from it`;
  }
  return undefined;
}

/**
 * Whether to write model_edgetpu.tflite: `request` true = required (throws when impossible),
 * false = never, 'auto' = when possible and the compiled extractor is installed.
 * @returns `{ write, note }`: note says why not, for the log, when 'auto' skips it.
 * @throws EdgeTuneError('EDGETPU_UNAVAILABLE') when required but impossible.
 */
export function edgeTpuPlan(
  request: boolean | 'auto', baseName: string, graftable: boolean, installed: boolean, pooling: Pooling, float: boolean,
): { write: boolean; note?: string } {
  if (request === false) return { write: false };
  const blocker = edgeTpuBlocker(baseName, graftable, pooling, float)
    ?? (installed ? undefined : `the compiled extractor of ${baseName} is not installed: run edgetune models fetch`);
  if (request === true && blocker) throw fail('EDGETPU_UNAVAILABLE', `--edgetpu: ${blocker}`);
  if (blocker) return { write: false, note: graftable || pooling === 'avg' ? `no model_edgetpu.tflite: ${blocker}` : undefined };
  return { write: true };
}

/**
 * Checks that `dir` may receive a model folder: absent, empty, or an earlier EdgeTune model (has
 * metadata.json). Called before training so that a wrong --out fails in milliseconds, not after it.
 * @throws EdgeTuneError 'BAD_OPTION' / 'CONFLICT' / 'IO' naming the folder.
 */
export function checkModelFolder(dir: string): void {
  if (dir.trim() === '') throw fail('BAD_OPTION', 'the output folder is empty: name the model folder to write, e.g. --out runs/my-model');
  const abs = path.resolve(dir);
  const cwd = process.cwd();
  if (abs === path.parse(abs).root || cwd === abs || cwd.startsWith(abs + path.sep)) {
    throw fail('BAD_OPTION', `output folder ${dir} is the working directory or one of its parents: choose a new folder for --out`);
  }
  if (!fs.existsSync(abs)) {
    // The nearest existing ancestor must take the new folder: fail now, not after training.
    let anc = path.dirname(abs);
    while (!fs.existsSync(anc)) anc = path.dirname(anc);
    try {
      if (!fs.statSync(anc).isDirectory()) throw new Error('not a folder');
      fs.accessSync(anc, fs.constants.W_OK);
    } catch {
      throw fail('IO', `cannot create output folder ${dir}: ${anc} is not a writable folder`);
    }
    return;
  }
  if (!fs.statSync(abs).isDirectory()) throw fail('CONFLICT', `output ${dir} is a file, not a folder: choose another --out`);
  const entries = fs.readdirSync(abs);
  if (entries.length && !entries.includes('metadata.json')) {
    throw fail('CONFLICT', `output folder ${dir} exists and is not an EdgeTune model folder (no metadata.json): choose another --out`);
  }
}

/** True when `inner` is `outer` or lies inside it (both resolved). */
export function isInside(inner: string, outer: string): boolean {
  const a = path.resolve(inner);
  const b = path.resolve(outer);
  return a === b || a.startsWith(b.endsWith(path.sep) ? b : b + path.sep);
}

/** Contents of one file of a model folder. */
export type FileContents = string | Uint8Array;

/**
 * Writes a model folder so that it is complete or absent: everything goes to a temporary sibling
 * folder first, which then replaces `dir` by rename. An existing `dir` (the last good model) stays
 * intact until the new folder is complete, then is removed. Folders and files get the usual
 * permissions under the process umask (0755 and 0644 under umask 022).
 * @param files relative file name → contents (sub-folders allowed, e.g. 'head/model.json').
 * @throws EdgeTuneError when `dir` exists but is neither empty nor an EdgeTune model folder, or on
 *   a file-system error (naming the path).
 */
export function writeModelFolder(dir: string, files: Record<string, FileContents>): void {
  const abs = path.resolve(dir);
  checkModelFolder(dir);
  const parent = path.dirname(abs);
  let tmp: string;
  try {
    fs.mkdirSync(parent, { recursive: true });
    tmp = makeTempFolder(path.join(parent, `.${path.basename(abs)}.tmp-`));
  } catch (e) {
    throw ioError('create the model folder', dir, e);
  }
  try {
    for (const [name, data] of Object.entries(files)) {
      const p = path.join(tmp, name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
    }
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw ioError('write the model folder', dir, e);
  }
  try {
    if (fs.existsSync(abs)) {
      const old = `${tmp}.old`;
      fs.renameSync(abs, old);
      fs.renameSync(tmp, abs);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, abs);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw ioError('replace the model folder', dir, e);
  }
}

/**
 * Creates a new empty folder `prefix` + 6 random characters, like `fs.mkdtempSync`, but with the
 * permissions of any other new folder (mode 0o777 less the umask, e.g. 0755 under umask 022).
 * mkdtemp creates 0700, which would survive the rename and keep the model from another user, e.g.
 * the service account that serves it on the Pi. `mkdir` without `recursive` fails when the path
 * exists, so the name is still exclusive; the umask is never read (reading it through
 * `process.umask()` sets it, a race with worker threads).
 */
function makeTempFolder(prefix: string): string {
  for (let attempt = 0; ; attempt++) {
    const dir = prefix + crypto.randomBytes(6).toString('base64url').slice(0, 6);
    try {
      fs.mkdirSync(dir, 0o777);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 9) throw e;
    }
  }
}

/** Every file of a model folder (a few MB), by relative path, to rewrite the folder as a whole. */
export function readFolderFiles(dir: string): Record<string, FileContents> {
  const out: Record<string, FileContents> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[path.relative(dir, abs)] = fs.readFileSync(abs);
  }
  return out;
}

