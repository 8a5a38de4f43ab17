/**
 * Helpers for the converter's unit tests: seeded random layers and inputs, and running a
 * converted .tflite in the TFLite interpreter next to the tfjs float reference.
 */
import { makeRng } from '../../src/augment';
import { readModel, TensorType } from '../../src/tflite';
import { runFloat, verifyConversion, type Layer, type Verification } from '../../src/convert';

/** Seeded uniform values in [−scale, scale). */
export function randomValues(seed: number, n: number, scale = 1): Float32Array {
  const r = makeRng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** Seeded raw pixel values 0..255 (integers, as float32), `count` images of `size` values. */
export function randomPixels(seed: number, count: number, size: number): Float32Array[] {
  const r = makeRng(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: size }, () => Math.floor(r() * 256)));
}

/** A batch normalization with seeded statistics around the identity. */
export function randomBatchNorm(seed: number, c: number): Layer {
  return {
    kind: 'batchnorm',
    gamma: randomValues(seed, c, 0.4).map((v) => 1 + v),
    beta: randomValues(seed + 1, c, 0.3),
    mean: randomValues(seed + 2, c, 0.3),
    variance: randomValues(seed + 3, c, 0.5).map((v) => 1 + v),
    epsilon: 1e-3,
  };
}

/**
 * The coarsest quantization step of a model's activations: the largest scale of its non-constant
 * int8/uint8 tensors (1 for float models). Rounding at any op is at most half such a step, so an
 * integer model's output error is bounded by a few of them.
 */
export function coarsestStep(bytes: Uint8Array): number {
  const m = readModel(bytes);
  const acts = m.subgraphs[0].tensors.filter((t) => (t.type === TensorType.INT8 || t.type === TensorType.UINT8) && !m.buffers[t.buffer]?.data.length);
  return acts.length ? Math.max(...acts.map((t) => t.quantization!.scale![0])) : 1;
}

/** verifyConversion plus the max difference in coarsest activation steps (coarsestStep). */
export async function check(layers: Layer[], bytes: Uint8Array, inputs: Float32Array[]): Promise<Verification & { steps: number }> {
  const v = await verifyConversion(layers, bytes, inputs, { threads: 1 });
  return { ...v, steps: v.maxAbsDiff / coarsestStep(bytes) };
}

export { runFloat };
