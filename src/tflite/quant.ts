/**
 * Quantization arithmetic for the head EdgeTune appends to a quantized base, following the rules
 * Coral's on-device learning uses (../shared/TFLITE-FACTS.md "Appending a quantized head"):
 * asymmetric uint8, one scale per tensor, float range widened to include 0, zero point nudged
 * into [0, 255] and rounded; int32 bias with zero point 0 and scale = input scale × weight scale.
 * Dequantization: real = scale × (q − zero_point) (TFLite schema.fbs, QuantizationParameters).
 */

/** Per-tensor affine quantization parameters. `scale` is always a float32-representable value. */
export interface QuantParams {
  /** Real units per quantized step (float32 value). */
  scale: number;
  /** Quantized value that represents real 0 (integer in [0, 255] for uint8). */
  zeroPoint: number;
}

/** uint8 code range (TFLite TensorType UINT8). */
export const QMIN = 0;
export const QMAX = 255;

/**
 * Scale used when the widened range is empty (min = max = 0, e.g. an all-zero weight tensor or a
 * layer whose calibrated output is always 0). Any positive scale represents 0 exactly; a small one
 * keeps the FC output multiplier in_scale × w_scale / out_scale finite and non-zero, which TFLite's
 * kernels require (a 0 scale makes them divide by zero).
 */
export const DEGENERATE_SCALE = Math.fround(1e-6);

/** std::round semantics (half away from zero), as TFLite's quantization code uses. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * uint8 quantization parameters for a float range (Coral's rule / TF's ChooseQuantizationParams).
 *
 * The range is first widened to include 0: [min(0, min), max(0, max)]; scale = (max − min) / 255
 * rounded to float32; zero point = −min / scale nudged into [0, 255] and rounded half away from 0.
 * A degenerate range (min = max = 0) gives { scale: DEGENERATE_SCALE, zeroPoint: 0 }.
 *
 * @param min lowest real value seen (any units), finite.
 * @param max highest real value seen, finite, ≥ min.
 * @throws Error on non-finite bounds or min > max.
 */
export function chooseQuantParams(min: number, max: number): QuantParams {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new Error(`cannot quantize range [${min}, ${max}]: bounds must be finite`);
  if (min > max) throw new Error(`cannot quantize range [${min}, ${max}]: min > max`);
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (hi - lo === 0) return { scale: DEGENERATE_SCALE, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / (QMAX - QMIN));
  const zpFromMin = QMIN - lo / scale;
  const zeroPoint = zpFromMin <= QMIN ? QMIN : zpFromMin >= QMAX ? QMAX : roundHalfAway(zpFromMin);
  return { scale, zeroPoint };
}

/** [min, max] of a float array; [0, 0] for an empty one. NaN entries throw. */
export function minMax(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) throw new Error(`cannot quantize: value ${i} is NaN`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return values.length ? [lo, hi] : [0, 0];
}

/**
 * Quantizes floats to uint8: q = clamp(round(zp + v / scale), 0, 255), rounding half away from 0.
 * @param values float32 reals, any shape (row-major order kept).
 * @param qp scale/zero point, e.g. from chooseQuantParams.
 * @returns uint8 codes, same length.
 */
export function quantizeUint8(values: ArrayLike<number>, qp: QuantParams): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const q = roundHalfAway(qp.zeroPoint + values[i] / qp.scale);
    out[i] = q < QMIN ? QMIN : q > QMAX ? QMAX : q;
  }
  return out;
}

/**
 * Bias scale TFLite's FULLY_CONNECTED/CONV kernels expect: input scale × weight scale, computed in
 * float32 as the kernels see the stored float32 scales.
 */
export function biasScale(inputScale: number, weightScale: number): number {
  return Math.fround(Math.fround(inputScale) * Math.fround(weightScale));
}

/**
 * Quantizes a bias to int32 with zero point 0 and scale = biasScale(inputScale, weightScale):
 * q = round(b / scale), clamped to the int32 range.
 * @param bias float32 [units].
 * @param inputScale scale of the layer's uint8 input tensor.
 * @param weightScale scale of the layer's uint8 weight tensor.
 * @returns int32 [units].
 */
export function quantizeBias(bias: ArrayLike<number>, inputScale: number, weightScale: number): Int32Array {
  const scale = biasScale(inputScale, weightScale);
  const out = new Int32Array(bias.length);
  for (let i = 0; i < bias.length; i++) {
    const q = roundHalfAway(bias[i] / scale);
    out[i] = Math.max(-2147483648, Math.min(2147483647, q));
  }
  return out;
}

/**
 * Dequantizes codes: real = scale × (q − zeroPoint) (schema.fbs QuantizationParameters).
 * @param q uint8/int8/int32 codes.
 * @returns float32 reals, same length.
 */
export function dequantize(q: ArrayLike<number>, qp: QuantParams): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = qp.scale * (q[i] - qp.zeroPoint);
  return out;
}
