import * as fs from 'node:fs';
import {
  readModel, writeModel, graftHead, embeddingInfo, isEdgeTpuCompiled, setMinRuntimeVersion, attachClassifierMetadata,
  type HeadWeights, type Model, type Pooling,
} from '../tflite';
import { openModel } from '../runtime';
import { preprocessTo, inputShapeOf, type Fit } from '../image';
import { edgeTpuBlocker, type Verification } from '../artifact';
import { fail } from '../errors';

/**
 * Grafts a trained head onto a base graph and serialises the result.
 *
 * Quantized (default, when the base embedding is uint8): uint8 FULLY_CONNECTED layers with
 * per-tensor weights, int32 bias (scale = input scale × weight scale), uint8 activations over the
 * calibrated ranges, SOFTMAX output uint8 with scale 1/256 — Coral's rules (TFLITE-FACTS.md).
 * Float (`float: true`): DEQUANTIZE after the embedding, then float32 layers.
 *
 * @param base the base graph ending at its embedding (a cut classifier, an extractor, or a compiled
 *   `_edgetpu` extractor whose custom op is kept byte-for-byte).
 * With `labels` (and `name`, `baseName`) the file describes itself: TFLite Metadata (name,
 * description naming EdgeTune, the base and the classes; input image properties; output
 * TENSOR_AXIS_LABELS) with labels.txt in a zip appended after the flatbuffer, as tflite-support's
 * populator writes it, so standard clients (MediaPipe, the Task Library) can name the classes. The
 * `min_runtime_version` entry is computed from the ops actually used.
 * @returns the `.tflite` bytes.
 */
export function exportTflite(base: Model, head: HeadWeights, opts: { float?: boolean } & Partial<ModelDescription> = {}): Uint8Array {
  let model = graftHead(base, head, { float: !!opts.float });
  // The base's own trailing data (Coral's zip of ImageNet labels) described the removed top.
  delete model.trailing;
  model = setMinRuntimeVersion(model);
  if (opts.labels) {
    const base = opts.baseName ?? 'a MobileNet base';
    model = attachClassifierMetadata(model, {
      name: `EdgeTune ${opts.name ?? 'image'} classifier`,
      description: `EdgeTune image classifier: ${base} without its top (include_top=False) + a ${opts.float ? 'float' : 'uint8-quantized'} Dense head trained by EdgeTune; ${opts.labels.length} classes: ${listLabels(opts.labels)}.`,
      version: `edgetune ${VERSION}`,
      author: 'EdgeTune',
      labels: opts.labels,
    });
  }
  return writeModel(model);
}

/** The first labels, joined, with a count of the rest (a description stays short). */
function listLabels(labels: readonly string[]): string {
  const shown = labels.slice(0, 20).join(', ');
  return labels.length > 20 ? `${shown} and ${labels.length - 20} more` : shown;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../../package.json').version;

/** What an exported file says about itself (its TFLite Metadata). */
export interface ModelDescription {
  /** Class names, index i = output i. */
  labels: string[];
  /** Model name (e.g. the dataset folder's name). */
  name: string;
  /** The base it was trained on. */
  baseName: string;
}

/**
 * The Edge TPU variant without the Edge TPU compiler: the head grafted after Coral's compiled
 * embedding extractor (`*_embedding_extractor_edgetpu.tflite`).
 * @param edgetpuPath the compiled extractor, or undefined when the base has none.
 * @throws Error naming the base when Coral publishes no compiled extractor for it, or the file is
 *   not an Edge TPU-compiled graph.
 */
export function exportEdgeTpu(baseName: string, edgetpuPath: string | undefined, head: HeadWeights, pooling: Pooling = 'avg', describe?: ModelDescription): Uint8Array {
  const blocker = edgeTpuBlocker(baseName, edgetpuPath !== undefined, pooling, false);
  if (blocker || !edgetpuPath) throw new Error(blocker);
  const model = readModel(fs.readFileSync(edgetpuPath));
  if (!isEdgeTpuCompiled(model)) throw new Error(`${edgetpuPath} is not compiled for the Edge TPU (no edgetpu-custom-op)`);
  embeddingInfo(model);
  return exportTflite(model, head, describe);
}

/**
 * Runs an exported `.tflite` on photos through the same preprocessing as training (input height,
 * width and channels read from the file's input tensor) and compares its top-1 with the trained
 * network's (head or CNN) predictions for the same photos.
 * A photo counts as agreeing when the exported top-1 equals the head's, or when the head itself
 * scores the two classes within one step of the exported model's output quantization (1/256 for a
 * uint8 softmax): such near-ties cannot be told apart by a uint8 output, and an undertrained head
 * on a handful of photos has many.
 * @param headProbs the head's class probabilities, float32 `[images.length, classes]` row-major;
 *   `labels` the true class per photo.
 * @param opts.fit the fit the model was trained with; opts.threads interpreter threads;
 *   opts.signal cancels between photos (EdgeTuneError 'CANCELLED').
 * @returns the Verification plus the exported model's top-1 per photo (`predictions`).
 * @throws EdgeTuneError('BAD_IMAGE') when a photo cannot be read (these photos already decoded
 *   during training: it changed meanwhile).
 */
export async function verifyExport(
  modelBytes: Uint8Array, images: string[], headProbs: Float32Array, labels: number[],
  opts: { threads?: number; fit?: Fit; signal?: AbortSignal; onProgress?: (done: number) => void } = {},
): Promise<Verification & { predictions: number[] }> {
  const s = openModel(modelBytes, { threads: opts.threads, device: 'cpu' });
  try {
    // Input size and channels from the file: a base + head (square RGB) or a CNN (H×W, grey or RGB).
    const shape = inputShapeOf(s.input.shape);
    const classes = s.output.shape[s.output.shape.length - 1];
    // One output step: the uint8 softmax's scale (1/256), or a float rounding margin.
    const step = s.output.scale > 0 ? s.output.scale : 1e-6;
    let agree = 0, correct = 0, ms = 0;
    const predictions: number[] = [];
    for (let i = 0; i < images.length; i++) {
      if (opts.signal?.aborted) throw fail('CANCELLED', 'export check cancelled');
      const px = (await preprocessTo(images[i], { ...shape, fit: opts.fit ?? 'crop' })).pixels;
      s.inputBuffer.set(px);
      const t0 = performance.now();
      const p = s.run();
      ms += performance.now() - t0;
      let top = 0;
      for (let j = 1; j < p.length; j++) if (p[j] > p[top]) top = j;
      predictions.push(top);
      const row = headProbs.subarray(i * classes, (i + 1) * classes);
      let headTop = 0;
      for (let j = 1; j < classes; j++) if (row[j] > row[headTop]) headTop = j;
      if (top === headTop || row[headTop] - row[top] <= step) agree++;
      if (top === labels[i]) correct++;
      opts.onProgress?.(i + 1);
    }
    const n = images.length;
    return { n, agreement: n ? agree / n : 1, accuracy: n ? correct / n : 0, msPerImage: n ? Math.round((ms / n) * 100) / 100 : 0, predictions };
  } finally {
    s.close();
  }
}
