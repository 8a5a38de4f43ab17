import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultModelsDir, stockClassifier } from '../models';
import { labelsOf } from '../tflite';
import { openModel, readLabels, topK, edgeTpuReady, type Device, type DeviceChoice } from '../runtime';
import { preprocessTo, inputShapeOf, tooSmallReason, type Fit, type Preprocessed, type InputShape } from '../image';
import { fail, ioError } from '../errors';
import { readMetadata, type ModelMetadata } from '../artifact';
import { silentReporter, type Reporter } from './report';

/** Where a classifier's labels came from (one label per output index). */
export type LabelsSource = 'stock' | 'labels.txt' | 'tflite-metadata' | 'metadata.json' | '--labels';

/** Where a classifier's files are. */
export interface ModelFiles {
  modelPath: string;
  /** One label per output index. */
  labels: string[];
  /** Where `labels` were read: the file path, or the model file for TFLite Metadata labels. */
  labelsFile: string;
  labelsSource: LabelsSource;
  /** The fit the model was trained with (its metadata.json), else 'crop'. */
  fit: Fit;
  /** The model's metadata.json when there is one (beside the .tflite or in the folder). */
  metadataPath?: string;
  /** Things the caller should tell the user (e.g. labels taken from metadata.json). */
  warnings: string[];
}

/** Options of `resolveModel`. */
export interface ResolveOptions {
  /** Default 'auto'. */
  device?: DeviceChoice;
  /** A labels file (one label per line, line i = output i) that overrides any other source. */
  labels?: string;
}

/**
 * HOOK — labels carried inside the .tflite as TFLite Metadata (the TFLITE_METADATA flatbuffer's
 * associated file of type TENSOR_AXIS_LABELS, packed as a zip after the model, as in Coral's
 * classifiers). Another helper adds `readAssociatedFiles` to src/tflite; when it lands, read the
 * labels file it lists here and return its lines. Until then no file counts as carrying labels.
 * @param modelPath the .tflite file
 * @returns one label per output, or null when the file carries none
 */
function embeddedLabels(modelPath: string): string[] | null {
  try {
    return labelsOf(fs.readFileSync(modelPath));
  } catch {
    return null; // unreadable metadata: fall through to the other sources
  }
}

function tryMetadata(folder: string): ModelMetadata | null {
  try {
    return readMetadata(folder);
  } catch {
    return null;
  }
}

/** `labels` of a metadata.json when it is a non-empty array of strings, else null. */
function metadataLabels(meta: Record<string, unknown>): string[] | null {
  const l = meta.labels;
  return Array.isArray(l) && l.length > 0 && l.every((x) => typeof x === 'string') ? (l as string[]) : null;
}

/**
 * Finds the model and labels to predict with. Never invents labels: a model whose labels cannot
 * be found is refused, so a prediction is never a made-up "class 0".
 * - undefined: the stock ImageNet classifier (`mobilenet_v2_1.0_224` + imagenet_labels.txt), the
 *   embedded default.
 * - a model folder from `edgetune train`: its model_edgetpu.tflite with an Edge TPU device
 *   ('edgetpu', 'usb', 'usb:N', 'pci', 'pci:N', ':N'), or with 'auto' when libedgetpu.so.1 loads and
 *   a Coral device is visible; else its model.tflite.
 * - a `.tflite` file: the fit from metadata.json beside it, if any.
 * Labels, first found: `opts.labels`; labels.txt (in the folder / beside the file); for a file,
 * TFLite Metadata labels inside it (hook, see `embeddedLabels`); the `labels` of metadata.json,
 * with a warning that labels.txt is missing. Otherwise refused.
 * @throws EdgeTuneError NOT_FOUND when the model or the --labels file does not exist; BAD_MODEL
 *   when a folder has no model.tflite or no labels can be found, naming the missing file.
 */
export function resolveModel(model: string | undefined, modelsDir: string = defaultModelsDir(), opts: ResolveOptions = {}): ModelFiles {
  const loc = locateModel(model, modelsDir, opts.device ?? 'auto');
  return { modelPath: loc.modelPath, fit: loc.fit, metadataPath: loc.metadataPath, ...findLabels(loc, opts.labels) };
}

/** Where a model's file is, before its labels are looked for. */
interface Located {
  /** The model argument as given (undefined = stock classifier). */
  model: string | undefined;
  modelPath: string;
  fit: Fit;
  /** labels.txt / metadata.json live here; null for the stock classifier. */
  folder: string | null;
  isFolder: boolean;
  metadataPath?: string;
  meta: Record<string, unknown> | null;
  /** The stock classifier's labels file. */
  stockLabels?: string;
}

function locateModel(model: string | undefined, modelsDir: string, device: DeviceChoice): Located {
  if (model === undefined) {
    const s = stockClassifier(modelsDir);
    return { model, modelPath: s.modelPath, fit: 'crop', folder: null, isFolder: false, meta: null, stockLabels: s.labelsPath };
  }
  if (!fs.existsSync(model)) throw fail('NOT_FOUND', `model ${model} does not exist: pass a model folder from 'edgetune train' or a .tflite file`);
  let modelPath = model;
  let folder = path.dirname(model);
  const isFolder = fs.statSync(model).isDirectory();
  if (isFolder) {
    const tpu = path.join(model, 'model_edgetpu.tflite');
    // 'auto' takes the Edge TPU file only when the runtime and a device are really there.
    const useTpu = fs.existsSync(tpu) && device !== 'cpu' && (device !== 'auto' || edgeTpuReady());
    modelPath = useTpu ? tpu : path.join(model, 'model.tflite');
    folder = model;
    if (!fs.existsSync(modelPath)) throw fail('BAD_MODEL', `model folder ${model} has no model.tflite: train into it with 'edgetune train' or export with 'edgetune export'`);
  }
  const metaPath = path.join(folder, 'metadata.json');
  // A model folder is read through the model-folder contract (format checked); beside a bare
  // .tflite, a metadata.json is used when it is one of ours.
  const meta = !fs.existsSync(metaPath) ? null : isFolder ? readMetadata(folder) : tryMetadata(folder);
  const fit: Fit = meta?.fit ?? meta?.options?.fit ?? 'crop';
  return { model, modelPath, fit, folder, isFolder, metadataPath: meta ? metaPath : undefined, meta: meta as unknown as Record<string, unknown> | null };
}

type FoundLabels = Pick<ModelFiles, 'labels' | 'labelsFile' | 'labelsSource' | 'warnings'>;

function findLabels(loc: Located, labelsOption: string | undefined): FoundLabels {
  if (labelsOption !== undefined) return { labels: readLabelsFile(labelsOption), labelsFile: labelsOption, labelsSource: '--labels', warnings: [] };
  if (loc.stockLabels) return { labels: readLabels(loc.stockLabels), labelsFile: loc.stockLabels, labelsSource: 'stock', warnings: [] };
  const folder = loc.folder!;
  const labelsPath = path.join(folder, 'labels.txt');
  if (fs.existsSync(labelsPath)) return { labels: readLabelsFile(labelsPath), labelsFile: labelsPath, labelsSource: 'labels.txt', warnings: [] };
  if (!loc.isFolder) {
    const inside = embeddedLabels(loc.modelPath);
    if (inside) return { labels: inside, labelsFile: loc.modelPath, labelsSource: 'tflite-metadata', warnings: [] };
  }
  const fromMeta = loc.meta ? metadataLabels(loc.meta) : null;
  if (fromMeta && loc.metadataPath) {
    return {
      labels: fromMeta, labelsFile: loc.metadataPath, labelsSource: 'metadata.json',
      warnings: [`${labelsPath} is missing: using the ${fromMeta.length} labels listed in ${loc.metadataPath} (restore labels.txt to silence this)`],
    };
  }
  throw fail('BAD_MODEL', loc.isFolder
    ? `model folder ${loc.model} has no labels.txt (${labelsPath})${loc.meta ? ' and its metadata.json lists no labels' : ''}: restore it, or pass --labels FILE (one label per line)`
    : `model ${loc.model} carries no labels and there is no ${labelsPath}${loc.meta ? ' (metadata.json beside it lists none)' : ''}: pass --labels FILE (one label per line)`);
}

/** readLabels with EdgeTune errors: NOT_FOUND / IO naming the file, BAD_MODEL when it is empty. */
function readLabelsFile(file: string): string[] {
  if (!fs.existsSync(file)) throw fail('NOT_FOUND', `labels file ${file} does not exist: pass a text file with one label per line (line i names output i)`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    throw ioError('read labels', file, e);
  }
  if (fs.statSync(file).isDirectory()) throw fail('BAD_OPTION', `labels file ${file} is a folder: pass a text file with one label per line`);
  const labels = readLabels(file);
  if (labels.length === 0) throw fail('BAD_MODEL', `labels file ${file} is empty: write one label per line (line i names output i)`);
  return labels;
}

/** One image's result; `error` instead of predictions when the image could not be read. */
export interface ImagePrediction {
  file: string;
  /** Top-k classes, best first; score = probability 0..1. */
  predictions: { label: string; score: number }[];
  /** Inference time of the interpreter for this image, ms (decoding excluded), to 0.01 ms. */
  ms: number;
  error?: string;
  /** Why the prediction may be unreliable (e.g. a photo below the minimum size). */
  warning?: string;
}

/** Options of `openPredictor`. */
export interface PredictorOptions {
  /**
   * A model folder written by `train` (its model_edgetpu.tflite is taken when the Edge TPU is
   * ready, see `device`), or a `.tflite` file. Default: the stock ImageNet classifier
   * (mobilenet_v2_1.0_224, 1001 classes) from `modelsDir`.
   */
  model?: string;
  /** Where the pretrained bases are installed (read for the stock classifier); default `defaultModelsDir()`. */
  modelsDir?: string;
  /** Interpreter CPU threads (integer ≥ 1); default cores − 1, at least 1. */
  threads?: number;
  /** 'cpu', 'edgetpu' (fails without Coral's runtime), or 'auto' (default: the Edge TPU when present). */
  device?: DeviceChoice;
  /** How non-square photos become square; default: the fit the model was trained with, else 'crop'. */
  fit?: Fit;
  /** Labels file overriding the model's (one label per line, line i = output i). */
  labels?: string;
  /** Where warnings go (default: nowhere). */
  reporter?: Reporter;
}

/** Options of `predict`: those of `openPredictor` plus how many classes to return. */
export interface PredictOptions extends PredictorOptions {
  /** Classes per image, best first (top-k, ≥ 1); default 5. */
  top?: number;
}

/** A model open for repeated predictions; `close()` it when done. */
export interface Predictor {
  /** Class names, one per model output. */
  readonly labels: string[];
  /** Where the model and its labels came from. */
  readonly files: ModelFiles;
  /** How photos are made square for this model. */
  readonly fit: Fit;
  /** Where the interpreter runs. */
  readonly device: Device;
  /** 'cpu', or the Edge TPU as `--device` names it ('usb:0', 'pci:0'). */
  readonly deviceName: string;
  /** Input height of the model in pixels (the side of a square base input). */
  readonly inputSize: number;
  /**
   * The model's input: height × width pixels and channels, read from its input tensor [1, H, W, C]
   * (a base + head: square RGB; a CNN from `--arch cnn`: e.g. 32×20 grey).
   */
  readonly inputShape: InputShape;
  /**
   * Classifies one image (any supported format, decoded by content).
   * @param source a file path, or the whole file's bytes (e.g. a camera's JPEG frame; `file` is then '<N bytes>').
   * @param top classes to return (top-k), default 5.
   * @returns never rejects for an unreadable image: the record then carries `error` instead.
   */
  predict(source: string | Uint8Array, top?: number): Promise<ImagePrediction>;
  /**
   * Classifies one already preprocessed input (what `preprocessTo(source, { ...inputShape, fit })`
   * returns), for callers that decode elsewhere, e.g. on another thread while this one infers.
   * @param pixels Uint8Array [height·width·channels], HWC uint8 (RGB, or grey for one channel).
   * @param top classes to return (top-k), default 5.
   * @returns top-k (score = probability 0..1) and the interpreter time, ms.
   * @throws EdgeTuneError BAD_IMAGE when `pixels` has the wrong length.
   */
  classify(pixels: Uint8Array, top?: number): { predictions: { label: string; score: number }[]; ms: number };
  /** Releases the interpreter (freed when the promise resolves, see `Session.close`); later calls fail. */
  close(): Promise<void>;
}

/**
 * Opens a classifier for prediction. Images go through the same preprocessing as training, to the
 * model's own input height, width and channels (its input tensor) with the fit it was trained with.
 * Warnings of `resolveModel` (e.g. labels taken from metadata.json) go to `opts.reporter.warn`.
 * @throws EdgeTuneError when the model or its labels cannot be found (see `resolveModel`), or the
 *   labels do not match its output size (BAD_MODEL); Error when it cannot be opened (e.g. an
 *   `_edgetpu` model without the Edge TPU runtime).
 */
export function openPredictor(opts: PredictorOptions = {}): Predictor {
  const loc = locateModel(opts.model, opts.modelsDir ?? defaultModelsDir(), opts.device ?? 'auto');
  // The model is opened before its labels are looked for: a model that cannot run at all (e.g. an
  // _edgetpu file without the runtime) is the first thing to tell.
  const session = openModel(loc.modelPath, { threads: opts.threads, device: opts.device });
  let files: ModelFiles;
  try {
    files = { modelPath: loc.modelPath, fit: loc.fit, metadataPath: loc.metadataPath, ...findLabels(loc, opts.labels) };
  } catch (e) {
    session.close();
    throw e;
  }
  const fit = opts.fit ?? files.fit;
  const classes = session.output.shape[session.output.shape.length - 1];
  const labels = files.labels;
  if (labels.length !== classes) {
    session.close();
    throw fail('BAD_MODEL', `labels in ${files.labelsFile} list ${labels.length} classes but ${files.modelPath} outputs ${classes}: fix the labels (one per output, in output order)`);
  }
  files.warnings.forEach((w) => (opts.reporter ?? silentReporter).warn(w));
  let shape: InputShape;
  try {
    shape = inputShapeOf(session.input.shape, files.modelPath);
  } catch (e) {
    session.close();
    throw e;
  }
  const classify = (pixels: Uint8Array, top = 5) => {
    if (pixels.length !== session.inputBuffer.length) {
      throw fail('BAD_IMAGE', `input has ${pixels.length} bytes; ${files.modelPath} takes ${shape.height}×${shape.width}×${shape.channels} = ${session.inputBuffer.length}`);
    }
    session.inputBuffer.set(pixels);
    const t0 = performance.now();
    const probs = session.run();
    const ms = Math.round((performance.now() - t0) * 100) / 100;
    return { predictions: topK(probs, top, labels).map((p) => ({ label: p.label ?? String(p.index), score: p.score })), ms };
  };
  return {
    classify,
    labels,
    files,
    fit,
    device: session.device,
    deviceName: session.deviceName,
    inputSize: shape.height,
    inputShape: shape,
    async predict(source: string | Uint8Array, top = 5): Promise<ImagePrediction> {
      const file = typeof source === 'string' ? source : `<${source.byteLength} bytes>`;
      let img: Preprocessed;
      try {
        img = await preprocessTo(source, { ...shape, fit });
      } catch (e) {
        return { file, predictions: [], ms: 0, error: (e as Error).message };
      }
      const { predictions, ms } = classify(img.pixels, top);
      // A tiny photo still gets an answer, but one not to trust: say so.
      const small = tooSmallReason(img.width, img.height);
      return small ? { file, predictions, ms, warning: `${file} is ${small}: the prediction is unreliable` } : { file, predictions, ms };
    },
    close: () => session.close(),
  };
}

/**
 * Classifies image files (the `edgetune predict` verb).
 * @param top number of classes per image (top-k), ≥ 1.
 * @returns one record per file, in order; unreadable files carry `error`.
 */
export async function predict(files: string[], opts: PredictOptions = {}): Promise<ImagePrediction[]> {
  const p = openPredictor(opts);
  try {
    const out: ImagePrediction[] = [];
    for (const f of files) out.push(await p.predict(f, opts.top ?? 5));
    return out;
  } finally {
    await p.close();
  }
}
