/**
 * Shared helpers for the tflite tests: real-image inputs, running a .tflite in the TFLite
 * interpreter (tfjs-tflite-node), a seeded PRNG, and TFLite's reference integer arithmetic.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODELS_DIR, shared } from './helpers';
import { readModel } from '../src/tflite';
import type { Model } from '../src/tflite';
import { makeRng } from '../src/augment';
import { preprocess } from '../src/image';

// tfjs-tflite-node ships no usable types for the runner used here.
const tflite = require('tfjs-tflite-node') as {
  TFLiteNodeModelRunner: new (model: ArrayBuffer, opts: { threads: number }) => {
    getInputs(): { data(): Uint8Array | Float32Array }[];
    getOutputs(): { data(): Uint8Array | Float32Array }[];
    infer(): void;
  };
};

/** Bytes of an installed base, e.g. modelBytes('mobilenet_v2_1.0_224_quant'). */
export function modelBytes(name: string): Uint8Array {
  const p = path.join(MODELS_DIR, `${name}.tflite`);
  if (!fs.existsSync(p)) throw new Error(`base missing: ${p} (copy it from ../shared/models)`);
  return new Uint8Array(fs.readFileSync(p));
}

/** Parsed installed base. */
export function loadModel(name: string): Model {
  return readModel(modelBytes(name));
}

/** The colour test images under ../shared/images. */
export const IMAGE_NAMES = ['bird.bmp', 'cat.bmp', 'dragonfly.bmp', 'grace_hopper.bmp'];

/** A real image as uint8 RGB [size, size, 3], through the product's one preprocessing path. */
export function imageInput(file: string, size: number): Promise<Uint8Array> {
  return preprocess(shared('images', file), size);
}

/** Deterministic PRNG in [0, 1): the project's own (mulberry32). */
export const rng = makeRng;

/** Pseudo-random uint8 pixels [size, size, 3]. */
export function randomInput(size: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: size * size * 3 }, () => Math.floor(r() * 256));
}

/** Test inputs: the four real images plus two pseudo-random ones. */
export async function testInputs(size: number): Promise<Uint8Array[]> {
  const imgs = await Promise.all(IMAGE_NAMES.map((f) => imageInput(f, size)));
  return [...imgs, randomInput(size, 1), randomInput(size, 2)];
}

/** An open interpreter over .tflite bytes; `run` copies the input in and the output out. */
export interface Runner {
  run(input: Uint8Array): Uint8Array | Float32Array;
}

/** Loads .tflite bytes into the TFLite interpreter (2 threads). */
export function openRunner(bytes: Uint8Array): Runner {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const r = new tflite.TFLiteNodeModelRunner(ab, { threads: 2 });
  return {
    run(input: Uint8Array) {
      const inBuf = r.getInputs()[0].data();
      if (inBuf.length !== input.length) throw new Error(`input has ${input.length} values, model expects ${inBuf.length}`);
      inBuf.set(input);
      r.infer();
      return r.getOutputs()[0].data().slice();
    },
  };
}

/** Runs bytes on every input and returns the outputs. */
export function runAll(bytes: Uint8Array, inputs: Uint8Array[]): (Uint8Array | Float32Array)[] {
  const r = openRunner(bytes);
  return inputs.map((x) => r.run(x));
}

/** True when two typed arrays have the same length and the same elements. */
export function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** Equality of byte arrays. */
export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return Buffer.from(a).equals(Buffer.from(b));
}

// ---- TFLite reference integer arithmetic (tensorflow/lite/kernels/internal/common.h) ----

/** QuantizeMultiplier: m ≈ q·2^(shift−31), q in [2^30, 2^31). */
export function quantizeMultiplier(m: number): { q: number; shift: number } {
  if (m === 0) return { q: 0, shift: 0 };
  let shift = Math.floor(Math.log2(m)) + 1;
  let frac = m / 2 ** shift;
  if (frac >= 1) { frac /= 2; shift++; }
  if (frac < 0.5) { frac *= 2; shift--; }
  let q = Math.round(frac * 2 ** 31);
  if (q === 2 ** 31) { q /= 2; shift++; }
  if (shift < -31) return { q: 0, shift: 0 };
  return { q, shift };
}

function srdhm(a: bigint, b: bigint): bigint {
  if (a === b && a === -2147483648n) return 2147483647n;
  const ab = a * b;
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return (ab + nudge) / (1n << 31n);
}

function roundingDivideByPOT(x: bigint, e: number): bigint {
  const mask = (1n << BigInt(e)) - 1n;
  const rem = x & mask;
  const threshold = (mask >> 1n) + (x < 0n ? 1n : 0n);
  return (x >> BigInt(e)) + (rem > threshold ? 1n : 0n);
}

/**
 * MultiplyByQuantizedMultiplier(x, q, shift) as in TFLite's reference kernels (ties of the final
 * rounding shift go away from zero). `tieUp` is the result when that tie goes toward +∞ instead,
 * as ruy's x86 SIMD kernels do; the two differ only on exact ties.
 */
export function multiplyByQuantizedMultiplier(x: number, q: number, shift: number): { value: number; tieUp: number } {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  const high = srdhm(BigInt(x) * (1n << BigInt(left)), BigInt(q));
  const value = Number(roundingDivideByPOT(high, right));
  const tieUp = right === 0 ? value : Number((high + (1n << BigInt(right - 1))) >> BigInt(right));
  return { value, tieUp };
}

/**
 * uint8 FULLY_CONNECTED reference: out[u] = clamp(zpOut + M·(bias[u] + Σ (w−zpW)(x−zpX))), with
 * M = (double)sIn·(double)sW / (double)sOut quantized by QuantizeMultiplier. `alt` holds the
 * result with ties rounded toward +∞ (equal to `out` except on exact ties).
 */
export function referenceFcUint8(
  x: Uint8Array, xq: { scale: number; zeroPoint: number },
  w: Uint8Array, wq: { scale: number; zeroPoint: number },
  bias: Int32Array, oq: { scale: number; zeroPoint: number },
  units: number, relu: boolean,
): { out: Uint8Array; alt: Uint8Array } {
  const inDim = x.length;
  const { q, shift } = quantizeMultiplier((xq.scale * wq.scale) / oq.scale);
  const lo = relu ? Math.max(0, oq.zeroPoint) : 0;
  const out = new Uint8Array(units);
  const alt = new Uint8Array(units);
  for (let u = 0; u < units; u++) {
    let acc = bias[u];
    for (let i = 0; i < inDim; i++) acc += (w[u * inDim + i] - wq.zeroPoint) * (x[i] - xq.zeroPoint);
    const m = multiplyByQuantizedMultiplier(acc, q, shift);
    out[u] = Math.min(255, Math.max(lo, m.value + oq.zeroPoint));
    alt[u] = Math.min(255, Math.max(lo, m.tieUp + oq.zeroPoint));
  }
  return { out, alt };
}
