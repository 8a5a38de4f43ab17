/**
 * Export check: runs a converted .tflite in the TFLite interpreter (tfjs-tflite-node, via
 * src/runtime) and compares it with the float reference (runFloat) on the same raw inputs.
 */
import { fail } from '../errors';
import { nativeInterpreter, openModel } from '../runtime';
import { readModel } from '../tflite/reader';
import { TensorType } from '../tflite/schema';
import { runFloat } from './reference';
import type { Layer } from './types';

/** Largest |float export − tfjs| a float export may show (on probabilities/outputs). */
export const FLOAT_TOLERANCE = 1e-4;
/** Smallest top-1 agreement with tfjs an integer export must reach. */
export const INTEGER_AGREEMENT = 0.99;

/** Result of verifyConversion. */
export interface Verification {
  /** Inputs compared. */
  n: number;
  /** Largest |tflite − tfjs| over all outputs of all inputs (dequantized for integer models). */
  maxAbsDiff: number;
  /** Fraction of inputs whose top-1 class is the same in both (ties: lowest index). */
  agreement: number;
  /** Mean interpreter time per input, ms (CPU, one invoke). */
  msPerImage: number;
  /** True when the model's input and output are float32. */
  float: boolean;
  /** The export gate for this kind of model: float maxAbsDiff ≤ 1e-4, integer agreement ≥ 0.99. */
  passed: boolean;
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** A minimal runner for int8-I/O models, which Session (uint8/float32 only) does not open. */
function int8Runner(bytes: Uint8Array, threads: number): { input: Int8Array; run(): Float32Array; close(): void } {
  const model = readModel(bytes);
  const sg = model.subgraphs[0];
  const oq = sg.tensors[sg.outputs[0]].quantization;
  const scale = oq?.scale?.[0] ?? 1;
  const zp = oq?.zeroPoint?.[0] ?? 0;
  const Interpreter = nativeInterpreter();
  const runner = new Interpreter(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, { threads });
  const input = runner.getInputs()[0].data() as Int8Array;
  const output = runner.getOutputs()[0].data() as Int8Array;
  return {
    input,
    run() {
      runner.infer();
      return Float32Array.from(output, (q) => scale * (q - zp));
    },
    close() { /* freed by the binding's finalizer */ },
  };
}

/**
 * Compares a converted model with the float reference of the layers it came from.
 *
 * Inputs are raw values as the model takes them: float32 models get them as is; uint8-input
 * models get round(clamp(v, 0, 255)); int8-input models get that code − 128 (convertLayers' io
 * 'int8'). Outputs are dequantized (real = scale · (q − zero point)).
 *
 * @param layers the layer list that was converted (with its input layer).
 * @param tfliteBytes the .tflite from convertLayers.
 * @param rawInputs one Float32Array of H·W·C raw values per example (e.g. validation images).
 * @param opts threads: interpreter CPU threads (default 1).
 * @throws EdgeTuneError BAD_OPTION when rawInputs is empty or sizes differ from the model input;
 *   BAD_MODEL when the model's output size differs from the layers'.
 */
export async function verifyConversion(layers: readonly Layer[], tfliteBytes: Uint8Array, rawInputs: readonly Float32Array[], opts: { threads?: number } = {}): Promise<Verification> {
  if (rawInputs.length === 0) throw fail('BAD_OPTION', 'verifyConversion needs at least one input; pass validation images as raw H·W·C values');
  const threads = opts.threads ?? 1;
  const ref = runFloat(layers, rawInputs);
  const model = readModel(tfliteBytes);
  const sg = model.subgraphs[0];
  const inType = sg.tensors[sg.inputs[0]].type;
  const outType = sg.tensors[sg.outputs[0]].type;
  const float = inType === TensorType.FLOAT32 && outType === TensorType.FLOAT32;
  let run: (x: Float32Array) => Float32Array;
  let close: () => Promise<void> | void;
  let inputSize: number;
  if (inType === TensorType.INT8) {
    const r = int8Runner(tfliteBytes, threads);
    inputSize = r.input.length;
    run = (x) => {
      for (let k = 0; k < x.length; k++) r.input[k] = Math.round(Math.min(255, Math.max(0, x[k]))) - 128;
      return r.run();
    };
    close = r.close;
  } else {
    const s = openModel(tfliteBytes, { threads, device: 'cpu' });
    const buf = s.inputBuffer;
    inputSize = buf.length;
    run = (x) => {
      if (buf instanceof Float32Array) buf.set(x);
      else for (let k = 0; k < x.length; k++) buf[k] = Math.round(Math.min(255, Math.max(0, x[k])));
      return s.run();
    };
    close = () => s.close();
  }
  try {
    rawInputs.forEach((x, i) => {
      if (x.length !== inputSize) throw fail('BAD_OPTION', `input ${i} has ${x.length} values but the model input takes ${inputSize}; pass raw H·W·C values`);
    });
    let maxAbsDiff = 0;
    let agree = 0;
    let ms = 0;
    rawInputs.forEach((x, i) => {
      const t0 = process.hrtime.bigint();
      const y = run(x);
      ms += Number(process.hrtime.bigint() - t0) / 1e6;
      if (y.length !== ref[i].length) throw fail('BAD_MODEL', `the model outputs ${y.length} values but the layers give ${ref[i].length}; convert the same layer list you verify`);
      for (let k = 0; k < y.length; k++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(y[k] - ref[i][k]));
      if (argmax(y) === argmax(ref[i])) agree++;
    });
    const agreement = agree / rawInputs.length;
    return {
      n: rawInputs.length, maxAbsDiff, agreement, msPerImage: ms / rawInputs.length, float,
      passed: float ? maxAbsDiff <= FLOAT_TOLERANCE : agreement >= INTEGER_AGREEMENT,
    };
  } finally {
    await close();
  }
}
