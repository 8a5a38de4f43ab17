import type * as tf from '@tensorflow/tfjs';
import { layersFromTfjs, convertLayers, INTEGER_AGREEMENT } from '../convert';
import { readModel, writeModel, attachClassifierMetadata } from '../tflite';
import { verifyExport } from '../export';
import type { Verification } from '../artifact';
import type { Fit } from '../image';
import { fail } from '../errors';

/** What the exported CNN file describes itself as (its TFLite Metadata). */
export interface CnnDescription {
  labels: string[];
  /** Model name (e.g. the dataset folder's name). */
  name: string;
  /** EdgeTune version. */
  version: string;
}

/**
 * The trained CNN as a .tflite: EdgeTune's converter (src/convert) on the tfjs model with the
 * division by 255 folded into the input (inputScale 1/255), full-integer by default — int8 per
 * TFLite's quantization spec, calibrated on `representative`, uint8 input and output (what Coral's
 * tools and older runtimes expect), so the file takes raw pixels 0..255 and has no float op — or
 * float32 with `float`. TFLite Metadata (name, description, input colour space, the labels) is
 * attached as for head models.
 * @param representative raw training photos (uint8 H·W·C each, as preprocessed), ≥ 1.
 * @returns the .tflite bytes.
 * @throws EdgeTuneError from the converter (UNSUPPORTED for a layer it cannot write).
 */
export function convertCnn(model: tf.LayersModel, representative: readonly Uint8Array[], describe: CnnDescription, opts: { float?: boolean } = {}): Uint8Array {
  const layers = layersFromTfjs(model, { inputScale: 1 / 255, inputOffset: 0 });
  const bytes = convertLayers(layers, {
    name: 'edgetune_cnn',
    description: 'EdgeTune converter',
    ...(opts.float ? {} : { quantize: { representative: representative.map((p) => Float32Array.from(p)), scheme: 'int8' as const, io: 'uint8' as const } }),
  });
  const m = attachClassifierMetadata(readModel(bytes), {
    name: `EdgeTune ${describe.name} classifier`,
    description: `EdgeTune image classifier: a small CNN trained from scratch by EdgeTune (${opts.float ? 'float32' : 'full-integer int8, uint8 input and output'}); ${describe.labels.length} classes: ${describe.labels.slice(0, 20).join(', ')}${describe.labels.length > 20 ? ` and ${describe.labels.length - 20} more` : ''}.`,
    version: `edgetune ${describe.version}`,
    author: 'EdgeTune',
    labels: describe.labels,
    // A float export takes raw pixels (the 1/255 is folded in): (x − 0) / 1. A uint8 input's
    // normalization is derived from its quantization, as for head models.
    ...(opts.float ? { normalization: { mean: [0], std: [1] } } : {}),
  });
  return writeModel(m);
}

/**
 * The export gate of a CNN: the .tflite runs on the photos (its own input size, channels; the
 * model's fit) and its top-1 must agree with the tfjs CNN's on at least `INTEGER_AGREEMENT` (99%)
 * of them (a near-tie within one output step of the uint8 softmax counts as agreeing, as for head
 * models: `verifyExport`).
 * @param tfjsProbs the tfjs CNN's softmax outputs for `photos`, [n·classes].
 * @param truth true class per photo (for the accuracy and the estimate).
 * @returns the verification with the exported model's top-1 per photo.
 * @throws EdgeTuneError EXPORT_CHECK_FAILED below 99%, CANCELLED, BAD_IMAGE.
 */
export async function checkCnnExport(
  bytes: Uint8Array, photos: string[], tfjsProbs: Float32Array, truth: number[],
  opts: { fit: Fit; threads?: number; signal?: AbortSignal; onProgress?: (done: number) => void; hint: string },
): Promise<Verification & { predictions: number[] }> {
  const v = await verifyExport(bytes, photos, tfjsProbs, truth, { threads: opts.threads, fit: opts.fit, signal: opts.signal, onProgress: opts.onProgress });
  if (v.agreement < INTEGER_AGREEMENT) {
    throw fail('EXPORT_CHECK_FAILED', `export check failed: the exported model agrees with the trained CNN on only ${(v.agreement * 100).toFixed(1)}% of ${v.n} photos (need ≥ ${INTEGER_AGREEMENT * 100}%); ${opts.hint}`);
  }
  return v;
}
