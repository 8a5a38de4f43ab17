/**
 * Grafting a trained classification head onto a base (a MobileNet without its top, possibly an
 * Edge TPU-compiled extractor), quantized like the base by Coral's rules (quant.ts) or in float.
 */
import { appendOps, embeddingInfo, mainGraph, OpFragment, opName, producerOf } from './graph';
import { biasScale, chooseQuantParams, minMax, quantizeBias, quantizeUint8 } from './quant';
import {
  ActivationFunctionType, BuiltinOperator, Buffer, makeOptions, Model, Operator, OperatorCode,
  QuantizationParameters, Tensor, TensorType,
} from './schema';

/** One Dense layer of the trained head. */
export interface DenseLayer {
  /** float32 [units, inDim], row-major (TFLite FULLY_CONNECTED weights layout). */
  weights: Float32Array;
  /** float32 [units]. */
  bias: Float32Array;
  units: number;
  inDim: number;
  /** 'relu' for hidden layers; the last layer is 'linear' (softmax is appended separately). */
  activation: 'relu' | 'linear';
  /** Calibrated float range of this layer's OUTPUT (after relu) on the representative dataset. */
  outputRange: [number, number];
}

/** The trained head: Dense layers in order, embedding → logits. */
export interface HeadWeights {
  layers: DenseLayer[];
}

/** Options of graftHead. */
export interface GraftOptions {
  /** Float head (DEQUANTIZE the uint8 embedding first) instead of a uint8 head. Default false. */
  float?: boolean;
}

/** Name of the grafted model's output tensor (class probabilities). */
export const PROBABILITIES_TENSOR = 'edgetune/probabilities';

/** uint8 SOFTMAX output scale TFLite's kernel requires: 1/256, zero point 0. */
export const SOFTMAX_OUTPUT_SCALE = 1 / 256;

function perTensor(scale: number, zeroPoint: number): QuantizationParameters {
  return { min: null, max: null, scale: [scale], zeroPoint: [zeroPoint], details: null, quantizedDimension: 0 };
}

function int32Bytes(v: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setInt32(4 * i, v[i], true);
  return out;
}

function float32Bytes(v: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(4 * i, v[i], true);
  return out;
}

function code(builtin: BuiltinOperator): OperatorCode {
  return { deprecatedBuiltinCode: builtin, customCode: null, version: 1, builtinCode: builtin };
}

function checkHead(head: HeadWeights, dim: number): void {
  if (head.layers.length === 0) throw new Error('head has no layers');
  let inDim = dim;
  head.layers.forEach((l, i) => {
    const name = `head layer ${i}`;
    if (l.inDim !== inDim) throw new Error(`${name} expects inDim ${l.inDim} but receives ${inDim} values`);
    if (!(l.units >= 1)) throw new Error(`${name} has ${l.units} units`);
    if (l.weights.length !== l.units * l.inDim) throw new Error(`${name} weights have ${l.weights.length} values, expected units×inDim = ${l.units * l.inDim}`);
    if (l.bias.length !== l.units) throw new Error(`${name} bias has ${l.bias.length} values, expected ${l.units}`);
    if (l.activation !== 'relu' && l.activation !== 'linear') throw new Error(`${name} activation '${String(l.activation)}' is not 'relu' or 'linear'`);
    const [lo, hi] = l.outputRange;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) throw new Error(`${name} outputRange [${lo}, ${hi}] is not a finite range`);
    inDim = l.units;
  });
}

/**
 * Builds the head as an op fragment whose tensor 0 stands for the base's embedding.
 * Quantized: [RESHAPE] → FULLY_CONNECTED×n (uint8, per-tensor) → SOFTMAX (uint8, 1/256, zp 0).
 * Float: [DEQUANTIZE] → [RESHAPE] → FULLY_CONNECTED×n (float32) → SOFTMAX (float32).
 */
function headFragment(emb: Tensor, head: HeadWeights, float: boolean): OpFragment {
  const tensors: Tensor[] = [emb];
  const buffers: Buffer[] = [{ data: new Uint8Array(0) }];
  const operatorCodes: OperatorCode[] = [];
  const operators: Operator[] = [];
  const codeIndex = (b: BuiltinOperator): number => {
    const i = operatorCodes.findIndex((c) => c.builtinCode === b);
    if (i >= 0) return i;
    operatorCodes.push(code(b));
    return operatorCodes.length - 1;
  };
  const addTensor = (t: Omit<Tensor, 'buffer' | 'isVariable' | 'shapeSignature' | 'hasRank'>, data?: Uint8Array): number => {
    let buffer = 0;
    if (data) {
      buffer = buffers.length;
      buffers.push({ data });
    }
    tensors.push({ ...t, buffer, isVariable: false, shapeSignature: null, hasRank: false });
    return tensors.length - 1;
  };
  const dim = emb.shape.slice(1).reduce((a, b) => a * b, 1);
  const quantized = !float;
  let x = 0;
  let xScale = emb.quantization?.scale?.[0] ?? 0;
  let xZp = emb.quantization?.zeroPoint?.[0] ?? 0;

  if (float && emb.type === TensorType.UINT8) {
    const y = addTensor({ shape: [...emb.shape], type: TensorType.FLOAT32, name: 'edgetune/embedding_float', quantization: null });
    operators.push(op(codeIndex(BuiltinOperator.DEQUANTIZE), [x], [y], makeOptions('DequantizeOptions')));
    x = y;
  }
  if (emb.shape.length !== 2) {
    // Both a new_shape option and a shape input tensor: old runtimes read the option, new ones
    // prefer the tensor (TFLite RESHAPE kernel).
    const shapeT = addTensor({ shape: [2], type: TensorType.INT32, name: 'edgetune/reshape/shape', quantization: null }, int32Bytes([1, dim]));
    const y = addTensor({
      shape: [1, dim],
      type: quantized ? TensorType.UINT8 : TensorType.FLOAT32,
      name: 'edgetune/reshape',
      quantization: quantized ? perTensor(xScale, xZp) : null,
    });
    operators.push(op(codeIndex(BuiltinOperator.RESHAPE), [x, shapeT], [y], makeOptions('ReshapeOptions', { new_shape: [1, dim] })));
    x = y;
  }
  head.layers.forEach((l, i) => {
    const fused = l.activation === 'relu' ? ActivationFunctionType.RELU : ActivationFunctionType.NONE;
    const options = makeOptions('FullyConnectedOptions', { fused_activation_function: fused, weights_format: 0, keep_num_dims: false });
    const prefix = `edgetune/dense_${i}`;
    let w: number;
    let b: number;
    let y: number;
    if (quantized) {
      const [wLo, wHi] = minMax(l.weights);
      const wq = chooseQuantParams(wLo, wHi);
      w = addTensor({ shape: [l.units, l.inDim], type: TensorType.UINT8, name: `${prefix}/weights`, quantization: perTensor(wq.scale, wq.zeroPoint) }, quantizeUint8(l.weights, wq));
      b = addTensor({ shape: [l.units], type: TensorType.INT32, name: `${prefix}/bias`, quantization: perTensor(biasScale(xScale, wq.scale), 0) },
        int32Bytes(quantizeBias(l.bias, xScale, wq.scale)));
      const oq = chooseQuantParams(l.outputRange[0], l.outputRange[1]);
      y = addTensor({ shape: [1, l.units], type: TensorType.UINT8, name: prefix, quantization: perTensor(oq.scale, oq.zeroPoint) });
      xScale = oq.scale;
      xZp = oq.zeroPoint;
    } else {
      w = addTensor({ shape: [l.units, l.inDim], type: TensorType.FLOAT32, name: `${prefix}/weights`, quantization: null }, float32Bytes(l.weights));
      b = addTensor({ shape: [l.units], type: TensorType.FLOAT32, name: `${prefix}/bias`, quantization: null }, float32Bytes(l.bias));
      y = addTensor({ shape: [1, l.units], type: TensorType.FLOAT32, name: prefix, quantization: null });
    }
    operators.push(op(codeIndex(BuiltinOperator.FULLY_CONNECTED), [x, w, b], [y], options));
    x = y;
  });
  const classes = head.layers[head.layers.length - 1].units;
  const probs = addTensor({
    shape: [1, classes],
    type: quantized ? TensorType.UINT8 : TensorType.FLOAT32,
    name: PROBABILITIES_TENSOR,
    quantization: quantized ? perTensor(SOFTMAX_OUTPUT_SCALE, 0) : null,
  });
  // beta must be non-zero, or the uint8 kernel's multiplier check fails (TFLITE-FACTS.md).
  operators.push(op(codeIndex(BuiltinOperator.SOFTMAX), [x], [probs], makeOptions('SoftmaxOptions', { beta: 1.0 })));
  return { tensors, buffers, operatorCodes, operators, inputs: [0], outputs: [probs] };
}

function op(opcodeIndex: number, inputs: number[], outputs: number[], builtinOptions: Operator['builtinOptions']): Operator {
  return { opcodeIndex, inputs, outputs, builtinOptions, customOptions: null, customOptionsFormat: 0, mutatingVariableInputs: null, intermediates: null };
}

/**
 * Appends a trained head to a base whose single output is the embedding.
 *
 * Quantized mode (default; base embedding uint8, e.g. [1,1,1,1024] scale ≈ 0.0235 zp 0):
 * RESHAPE [1,1,1,D]→[1,D] (same scale/zero point; new_shape option and int32 [2] shape tensor),
 * then per layer FULLY_CONNECTED (uint8 weights [units, inDim] per-tensor, int32 bias with scale =
 * in_scale × w_scale and zp 0, uint8 output over outputRange widened to 0; fused RELU for 'relu'
 * layers, NONE otherwise; weights_format DEFAULT, keep_num_dims false), then SOFTMAX beta 1 with a
 * uint8 output, scale 1/256, zp 0. Float mode: DEQUANTIZE (uint8 bases) → RESHAPE → float32 FCs →
 * float32 SOFTMAX. The output tensor is named 'edgetune/probabilities' [1, classes] and becomes the
 * only graph output. Every base op (including an `edgetpu-custom-op` and its custom_options) is
 * kept unchanged; the head ops come after it and run on the CPU. Trailing bytes are dropped.
 *
 * @param base model with one input and one output (the embedding); not modified.
 * @param head Dense layers; layers[0].inDim must equal the embedding length.
 * @param opts float: build a float32 head.
 * @returns the grafted model.
 * @throws Error naming the tensor when the base does not have exactly one input/output, when the
 *   embedding is neither uint8 nor float32 (or float32 in quantized mode, or uint8 without a
 *   per-tensor scale), when the embedding shape is not [1,…,1,D]; naming the op when the base
 *   output comes from SOFTMAX (an uncut classifier); and on inconsistent head layer sizes.
 */
export function graftHead(base: Model, head: HeadWeights, opts: GraftOptions = {}): Model {
  const sg = mainGraph(base);
  if (sg.inputs.length !== 1) {
    throw new Error(`base must have exactly one input tensor, found ${sg.inputs.length}: ${sg.inputs.map((i) => `'${sg.tensors[i]?.name}'`).join(', ')}`);
  }
  const info = embeddingInfo(base);
  const emb = sg.tensors[info.tensorIndex];
  const producer = producerOf(base, info.tensorIndex);
  if (producer >= 0) {
    const name = opName(base, sg.operators[producer]);
    if (name === 'SOFTMAX') throw new Error(`base output '${emb.name}' is produced by SOFTMAX (op ${producer}): this is a classifier, cut it at the embedding first (cutAtEmbedding)`);
  }
  if (emb.type !== TensorType.UINT8 && emb.type !== TensorType.FLOAT32) {
    throw new Error(`embedding tensor '${emb.name}' has type ${TensorType[emb.type] ?? emb.type}: EdgeTune grafts heads onto uint8 or float32 embeddings only`);
  }
  const float = opts.float === true;
  if (!float && emb.type === TensorType.FLOAT32) {
    throw new Error(`embedding tensor '${emb.name}' is float32: a quantized head needs a uint8 embedding; graft with { float: true }`);
  }
  if (emb.type === TensorType.UINT8 && (emb.quantization?.scale?.length !== 1 || !(emb.quantization.scale[0] > 0))) {
    throw new Error(`embedding tensor '${emb.name}' is uint8 without a single per-tensor scale: cannot quantize a head after it`);
  }
  const size = emb.shape.reduce((a, b) => a * b, 1);
  if (emb.shape.length < 1 || emb.shape[0] !== 1 || size !== info.dim) {
    throw new Error(`embedding tensor '${emb.name}' has shape [${emb.shape.join(',')}]: expected batch 1, e.g. [1, 1, 1, D] or a [1, 2, 2, C] grid`);
  }
  checkHead(head, info.dim);
  const frag = headFragment(emb, head, float);
  const grafted = appendOps(base, frag, [info.tensorIndex]).model;
  delete grafted.trailing;
  return grafted;
}
