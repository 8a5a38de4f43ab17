/**
 * Quantization rules of the converter's two schemes.
 *
 * 'int8' follows TFLite's 8-bit quantization specification
 * (https://www.tensorflow.org/lite/performance/quantization_spec): activations int8 per-tensor
 * asymmetric over the calibrated range widened to include 0; CONV_2D/DEPTHWISE_CONV_2D weights int8
 * per-axis symmetric (zero point 0, codes in [−127, 127]) along the output channel
 * (quantized_dimension 0 for CONV_2D's [cout, kh, kw, cin], 3 for DEPTHWISE's [1, kh, kw, C]);
 * FULLY_CONNECTED weights int8 per-tensor symmetric; biases int32, zero point 0,
 * scale = input scale × weight scale (per channel).
 *
 * 'uint8' is the older per-tensor asymmetric uint8 scheme of Coral's quantized MobileNets and of
 * src/tflite/graft.ts: weights and activations uint8 with one scale each (quant.ts
 * chooseQuantParams), int32 biases with scale = input scale × weight scale.
 */
import { chooseQuantParams, DEGENERATE_SCALE, minMax, quantizeUint8, roundHalfAway } from '../tflite/quant';
import { TensorType } from '../tflite/schema';
import type { TensorQuant } from './emit';

/** Quantization scheme of a full-integer model or fragment. */
export type Scheme = 'int8' | 'uint8';

/** The TFLite tensor type of a scheme's activations. */
export function schemeType(s: Scheme): TensorType {
  return s === 'int8' ? TensorType.INT8 : TensorType.UINT8;
}

/**
 * Per-tensor activation params over a calibrated range: the uint8 rule (range widened to include
 * 0, scale = range/255 as float32, zero point rounded into [0, 255]); int8 uses the same scale and
 * zero point − 128 (spec: int8 activations cover [−128, 127]).
 */
export function activationQuant(min: number, max: number, scheme: Scheme): TensorQuant {
  const q = chooseQuantParams(min, max);
  return { scale: [q.scale], zeroPoint: [scheme === 'int8' ? q.zeroPoint - 128 : q.zeroPoint] };
}

/** Quantized constant: codes plus their params. */
export interface QuantizedConst {
  data: Int8Array | Uint8Array;
  quant: TensorQuant;
  type: TensorType;
}

/**
 * Symmetric int8 codes of `w` with one scale per slice along `axis` of `shape`:
 * scale_c = max|w_c| / 127 (float32), q = clamp(round(w / scale_c), −127, 127), zero point 0.
 * An all-zero slice gets DEGENERATE_SCALE (any positive scale represents it exactly).
 * @param w float32 row-major values of `shape`.
 * @param axis quantized dimension (schema.fbs quantized_dimension); null for one scale.
 */
export function quantizeSymmetric(w: Float32Array, shape: number[], axis: number | null): QuantizedConst {
  const n = axis === null ? 1 : shape[axis];
  const inner = axis === null ? 1 : shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const chan = (i: number): number => (axis === null ? 0 : Math.floor(i / inner) % n);
  const maxAbs = new Float64Array(n);
  for (let i = 0; i < w.length; i++) maxAbs[chan(i)] = Math.max(maxAbs[chan(i)], Math.abs(w[i]));
  const scale = Array.from(maxAbs, (m) => (m > 0 ? Math.fround(m / 127) : DEGENERATE_SCALE));
  const data = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) data[i] = Math.max(-127, Math.min(127, roundHalfAway(w[i] / scale[chan(i)])));
  return { data, quant: { scale, zeroPoint: scale.map(() => 0), dim: axis ?? 0 }, type: TensorType.INT8 };
}

/** Per-tensor asymmetric uint8 codes of `w` (the 'uint8' scheme's weights, quant.ts rules). */
export function quantizeAsymmetricUint8(w: Float32Array): QuantizedConst {
  const [lo, hi] = minMax(w);
  const q = chooseQuantParams(lo, hi);
  return { data: quantizeUint8(w, q), quant: { scale: [q.scale], zeroPoint: [q.zeroPoint] }, type: TensorType.UINT8 };
}

/**
 * Weights of a conv/depthwise/dense op in a scheme. int8: per-axis symmetric along `axis` (conv,
 * depthwise) or per-tensor symmetric (axis null: dense). uint8: per-tensor asymmetric.
 */
export function quantizeWeights(w: Float32Array, shape: number[], axis: number | null, scheme: Scheme): QuantizedConst {
  return scheme === 'int8' ? quantizeSymmetric(w, shape, axis) : quantizeAsymmetricUint8(w);
}

/**
 * int32 bias codes: scale_c = float32(input scale × weight scale_c), zero point 0,
 * q = round(b / scale_c) clamped to int32 (spec; TFLite kernels require this scale).
 * @param weightScales one scale (per-tensor) or one per output channel.
 */
export function quantizeBiasPerChannel(bias: Float32Array, inputScale: number, weightScales: number[]): { data: Int32Array; quant: TensorQuant } {
  const scales = Array.from(bias, (_, c) => Math.fround(Math.fround(inputScale) * Math.fround(weightScales[weightScales.length === 1 ? 0 : c])));
  const data = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) data[c] = Math.max(-2147483648, Math.min(2147483647, roundHalfAway(bias[c] / scales[c])));
  const perAxis = weightScales.length > 1;
  return { data, quant: { scale: perAxis ? scales : [scales[0] ?? Math.fround(inputScale * weightScales[0])], zeroPoint: perAxis ? scales.map(() => 0) : [0], dim: 0 } };
}
