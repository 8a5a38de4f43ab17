import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultModelsDir, stockClassifier } from '../models';
import { openModel, readLabels, topK, probeEdgeTpu, type Device, type DeviceChoice } from '../runtime';
import { preprocess, type Fit } from '../image';

/** Where a classifier's files are. */
export interface ModelFiles {
  modelPath: string;
  /** One label per output index; generated names ("class 0", …) when the model has no labels file. */
  labels: string[];
  /** The fit the model was trained with (its metadata.json), else 'crop'. */
  fit: Fit;
}

/**
 * Finds the model and labels to predict with.
 * - undefined: the stock ImageNet classifier (`mobilenet_v2_1.0_224` + imagenet_labels.txt), the
 *   embedded default.
 * - a model folder from `edgetune train`: its model_edgetpu.tflite with `device: 'edgetpu'`, or
 *   with 'auto' when libedgetpu.so.1 loads and a Coral device is visible; else its model.tflite;
 *   and labels.txt.
 * - a `.tflite` file: labels (and the fit, from metadata.json) from the files beside it, if any.
 * @throws Error naming the path when it does not exist or holds no model.
 */
export function resolveModel(model: string | undefined, modelsDir: string = defaultModelsDir(), device: DeviceChoice = 'auto'): ModelFiles {
  if (model === undefined) {
    const s = stockClassifier(modelsDir);
    return { modelPath: s.modelPath, labels: readLabels(s.labelsPath), fit: 'crop' };
  }
  if (!fs.existsSync(model)) throw new Error(`model ${model} does not exist: pass a model folder from 'edgetune train' or a .tflite file`);
  let modelPath = model;
  let folder = path.dirname(model);
  if (fs.statSync(model).isDirectory()) {
    const tpu = path.join(model, 'model_edgetpu.tflite');
    // 'auto' takes the Edge TPU file only when the runtime and a device are really there.
    const useTpu = fs.existsSync(tpu) && (device === 'edgetpu' || (device === 'auto' && edgeTpuReady()));
    modelPath = useTpu ? tpu : path.join(model, 'model.tflite');
    folder = model;
    if (!fs.existsSync(modelPath)) throw new Error(`model folder ${model} has no model.tflite: train into it with 'edgetune train' or export with 'edgetune export'`);
  }
  const labelsPath = path.join(folder, 'labels.txt');
  const metaPath = path.join(folder, 'metadata.json');
  const fit: Fit = fs.existsSync(metaPath) ? JSON.parse(fs.readFileSync(metaPath, 'utf8')).options?.fit ?? 'crop' : 'crop';
  return { modelPath, labels: fs.existsSync(labelsPath) ? readLabels(labelsPath) : [], fit };
}

/** One image's result; `error` instead of predictions when the image could not be read. */
export interface ImagePrediction {
  file: string;
  /** Top-k classes, best first; score = probability 0..1. */
  predictions: { label: string; score: number }[];
  /** Inference time of the interpreter for this image, ms (decoding excluded), to 0.01 ms. */
  ms: number;
  error?: string;
}

/** Options of `openPredictor`. */
export interface PredictorOptions {
  /**
   * A model folder written by `train` (its model_edgetpu.tflite is taken when the Edge TPU is
   * ready, see `device`), or a `.tflite` file with labels.txt beside it. Default: the stock
   * ImageNet classifier (mobilenet_v2_1.0_224, 1001 classes) from `modelsDir`.
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
  /** How photos are made square for this model. */
  readonly fit: Fit;
  /** Where the interpreter runs. */
  readonly device: Device;
  /** Input side of the model in pixels (photos are resized to inputSize × inputSize). */
  readonly inputSize: number;
  /**
   * Classifies one image file (any supported format, decoded by content).
   * @param top classes to return (top-k), default 5.
   * @returns never rejects for an unreadable image: the record then carries `error` instead.
   */
  predict(file: string, top?: number): Promise<ImagePrediction>;
  /** Releases the interpreter; later `predict` calls fail. */
  close(): void;
}

/**
 * Opens a classifier for prediction. Images go through the same `preprocess` as training.
 * @throws Error when the model cannot be found or opened (e.g. an `_edgetpu` model without the
 *   Edge TPU runtime), or its labels do not match its output size.
 */
export function openPredictor(opts: PredictorOptions = {}): Predictor {
  const files = resolveModel(opts.model, opts.modelsDir, opts.device);
  const fit = opts.fit ?? files.fit;
  const session = openModel(files.modelPath, { threads: opts.threads, device: opts.device });
  const classes = session.output.shape[session.output.shape.length - 1];
  let labels = files.labels;
  if (labels.length === 0) labels = Array.from({ length: classes }, (_, i) => `class ${i}`);
  if (labels.length !== classes) {
    session.close();
    throw new Error(`labels for ${files.modelPath} list ${labels.length} classes but the model outputs ${classes}: fix labels.txt`);
  }
  const size = session.input.shape[1];
  return {
    labels,
    fit,
    device: session.device,
    inputSize: size,
    async predict(file: string, top = 5): Promise<ImagePrediction> {
      let px: Uint8Array;
      try {
        px = await preprocess(file, size, fit);
      } catch (e) {
        return { file, predictions: [], ms: 0, error: (e as Error).message };
      }
      session.inputBuffer.set(px);
      const t0 = performance.now();
      const probs = session.run();
      const ms = Math.round((performance.now() - t0) * 100) / 100;
      const predictions = topK(probs, top, labels).map((p) => ({ label: p.label ?? String(p.index), score: p.score }));
      return { file, predictions, ms };
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
    p.close();
  }
}

function edgeTpuReady(): boolean {
  const p = probeEdgeTpu();
  return p.library && p.device === true;
}
