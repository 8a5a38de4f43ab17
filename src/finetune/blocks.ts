/**
 * Reading the top blocks of a quantized MobileNet v1 base as float layers, for fine-tuning.
 *
 * MobileNet v1 is a stem convolution and 13 blocks, block K = a 3×3 depthwise convolution
 * (`MobilenetV1/Conv2d_K_depthwise`) then a 1×1 pointwise convolution (`…/Conv2d_K_pointwise`),
 * each with BatchNorm folded into the weights and a fused RELU6, then a global AVERAGE_POOL_2D
 * (Howard et al. 2017, Table 1; the names are those of TensorFlow's slim model that Coral's
 * files were converted from). In the TFLite graph each op's weight tensor is named after its block
 * (`MobilenetV1/MobilenetV1/Conv2d_13_depthwise/depthwise_Fold;…`), while activation tensors carry
 * several fused names, so blocks are found by their weights.
 */
import {
  ActivationFunctionType, BuiltinOperator, builtinCodeOf, embeddingInfo, mainGraph, opName,
  type Model, type Operator, type Tensor, TensorType,
} from '../tflite';
import type { Activation, Conv2DLayer, DepthwiseConv2DLayer, Padding } from '../convert/types';
import { fail } from '../errors';

/** Blocks of MobileNet v1 (Conv2d_1 … Conv2d_13). */
export const MOBILENET_V1_BLOCKS = 13;

/** A uint8 tensor of the base: where it is and how its codes map to reals. */
export interface QuantTensorRef {
  /** Tensor index in subgraph 0. */
  index: number;
  name: string;
  /** NHWC, batch 1, e.g. [1, 7, 7, 1024]. */
  shape: number[];
  /** real = scale · (q − zeroPoint). */
  scale: number;
  zeroPoint: number;
}

/** The last N blocks of a MobileNet v1 base, as float layers. */
export interface TopBlocks {
  /** N, 1 … 13. */
  blocks: number;
  /** The first unfrozen block, 14 − N. */
  first: number;
  /** The cut tensor: input of Conv2d_{first}_depthwise (what the frozen part of the base computes). */
  cut: QuantTensorRef;
  /** Output of the last block (the input of the global average pool). */
  top: QuantTensorRef;
  /** The base's embedding (the average pool's output). */
  embedding: QuantTensorRef;
  /** Per block: depthwise then pointwise (1×1 conv2d), dequantized, RELU6 fused. */
  layers: (DepthwiseConv2DLayer | Conv2DLayer)[];
  /**
   * The base's weight quantization of each layer (per tensor: one scale and zero point; per axis:
   * one per channel): the grid `regridFragment` puts the fine-tuned weights back on.
   */
  weightQuant: { scale: number[]; zeroPoint: number[] }[];
  /** Indices of the ops of these blocks and of the average pool, in execution order. */
  opIndices: number[];
}

/**
 * Reads blocks 14 − N … 13 of a MobileNet v1 base (a classifier cut at its embedding, or an
 * embedding extractor) into float layers: weights dequantized as scale · (q − zero point) (per
 * tensor, or per output channel when the file is per-axis), biases int32 · bias scale (the file
 * stores bias scale = input scale × weight scale; schema.fbs QuantizationParameters).
 *
 * Layouts: the TFLite DEPTHWISE_CONV_2D filter [1, kh, kw, C·M] becomes the Keras kernel
 * [kh, kw, C, M]; the CONV_2D filter [Cout, 1, 1, Cin] becomes [1, 1, Cin, Cout]. Padding SAME/VALID
 * and strides come from the op options; every op must fuse RELU6.
 *
 * The graph must run cut → block ops in order → AVERAGE_POOL_2D → graph output, with uint8
 * per-tensor activations.
 *
 * @param model base graph ending at its embedding (Base.model).
 * @param n blocks to read, 1 … 13.
 * @throws EdgeTuneError('BAD_OPTION') when n is out of range; ('UNSUPPORTED') naming what is
 *   missing when the base is not a quantized MobileNet v1 of this shape (e.g. MobileNet v2).
 */
export function readTopBlocks(model: Model, n: number): TopBlocks {
  if (!(Number.isInteger(n) && n >= 1 && n <= MOBILENET_V1_BLOCKS)) {
    throw fail('BAD_OPTION', `--fine-tune ${n}: MobileNet v1 has ${MOBILENET_V1_BLOCKS} blocks; choose 1 … ${MOBILENET_V1_BLOCKS} (0 = frozen base)`);
  }
  const sg = mainGraph(model);
  const first = MOBILENET_V1_BLOCKS + 1 - n;
  const find = (k: number, kind: 'depthwise' | 'pointwise'): number => {
    const re = new RegExp(`(^|/)Conv2d_${k}_${kind}/`);
    const i = sg.operators.findIndex((op) => op.inputs.length >= 2 && op.inputs[1] >= 0 && re.test(sg.tensors[op.inputs[1]].name.split(';')[0]));
    if (i < 0) throw unsupported(`no op with weights named Conv2d_${k}_${kind}`);
    return i;
  };
  const opIndices: number[] = [];
  const layers: (DepthwiseConv2DLayer | Conv2DLayer)[] = [];
  const weightQuant: { scale: number[]; zeroPoint: number[] }[] = [];
  let prevOut = -1;
  for (let k = first; k <= MOBILENET_V1_BLOCKS; k++) {
    for (const kind of ['depthwise', 'pointwise'] as const) {
      const i = find(k, kind);
      const op = sg.operators[i];
      if (prevOut >= 0 && op.inputs[0] !== prevOut) throw unsupported(`Conv2d_${k}_${kind} does not read the previous block's output`);
      layers.push(kind === 'depthwise' ? depthwiseLayer(model, op, `Conv2d_${k}_depthwise`) : pointwiseLayer(model, op, `Conv2d_${k}_pointwise`));
      const wq = sg.tensors[op.inputs[1]].quantization;
      weightQuant.push({ scale: [...(wq?.scale ?? [])], zeroPoint: [...(wq?.zeroPoint ?? [])] });
      opIndices.push(i);
      prevOut = op.outputs[0];
    }
  }
  const poolIdx = sg.operators.findIndex((op) => op.inputs[0] === prevOut);
  const pool = sg.operators[poolIdx];
  if (!pool || builtinCodeOf(model.operatorCodes[pool.opcodeIndex]) !== BuiltinOperator.AVERAGE_POOL_2D) {
    throw unsupported(`Conv2d_13_pointwise is followed by ${pool ? opName(model, pool) : 'nothing'}, not the global AVERAGE_POOL_2D`);
  }
  const emb = embeddingInfo(model);
  if (pool.outputs[0] !== emb.tensorIndex) throw unsupported('the average pool is not the graph output (the embedding)');
  opIndices.push(poolIdx);
  const cutIndex = sg.operators[opIndices[0]].inputs[0];
  return {
    blocks: n, first,
    cut: quantRef(model, cutIndex), top: quantRef(model, prevOut), embedding: quantRef(model, emb.tensorIndex),
    layers, weightQuant, opIndices,
  };
}

function unsupported(what: string): Error {
  return fail('UNSUPPORTED', `--fine-tune needs a quantized MobileNet v1 base (mobilenet_v1_*): ${what}; choose a MobileNet v1 base with --base or train without --fine-tune`);
}

function quantRef(model: Model, index: number): QuantTensorRef {
  const t = mainGraph(model).tensors[index];
  const q = t.quantization;
  if (t.type !== TensorType.UINT8 || q?.scale?.length !== 1) throw unsupported(`tensor '${t.name}' is not uint8 with one scale`);
  return { index, name: t.name, shape: [...t.shape], scale: q.scale[0], zeroPoint: q.zeroPoint?.[0] ?? 0 };
}

function fields(op: Operator, name: string): Record<string, unknown> {
  if (!op.builtinOptions) throw unsupported(`${name} has no options`);
  return op.builtinOptions.fields as Record<string, unknown>;
}

function common(op: Operator, name: string): { strides: [number, number]; padding: Padding; activation: Activation } {
  const f = fields(op, name);
  if (f.fused_activation_function !== ActivationFunctionType.RELU6) throw unsupported(`${name} does not fuse RELU6`);
  if ((f.dilation_h_factor ?? 1) !== 1 || (f.dilation_w_factor ?? 1) !== 1) throw unsupported(`${name} is dilated`);
  // schema.fbs enum Padding: SAME = 0, VALID = 1.
  return { strides: [Number(f.stride_h), Number(f.stride_w)], padding: f.padding === 0 ? 'same' : 'valid', activation: 'relu6' };
}

/** Dequantized constant data of a uint8 weight tensor, per tensor or per `quantizedDimension`. */
export function dequantizeWeights(model: Model, t: Tensor): Float32Array {
  const q = t.quantization;
  const data = model.buffers[t.buffer]?.data;
  if (t.type !== TensorType.UINT8 || !q?.scale?.length || !data) throw unsupported(`weights '${t.name}' are not uint8 constants with a scale`);
  const out = new Float32Array(data.length);
  const axis = q.quantizedDimension;
  const perAxis = q.scale.length > 1;
  // Elements per step along `axis` (row-major): the channel of element i is floor(i / inner) % dim.
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < data.length; i++) {
    const c = perAxis ? Math.floor(i / inner) % t.shape[axis] : 0;
    out[i] = q.scale[c] * (data[i] - (q.zeroPoint?.[c] ?? 0));
  }
  return out;
}

/** int32 bias · its scale (per tensor or per channel). */
function dequantizeBias(model: Model, t: Tensor): Float32Array {
  const q = t.quantization;
  const data = model.buffers[t.buffer]?.data;
  if (t.type !== TensorType.INT32 || !q?.scale?.length || !data) throw unsupported(`bias '${t.name}' is not an int32 constant with a scale`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = data.length / 4;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (q.scale.length > 1 ? q.scale[i] : q.scale[0]) * dv.getInt32(4 * i, true);
  return out;
}

function depthwiseLayer(model: Model, op: Operator, name: string): DepthwiseConv2DLayer {
  const sg = mainGraph(model);
  const wt = sg.tensors[op.inputs[1]];
  const [one, kh, kw, cm] = wt.shape;
  const mult = Number(fields(op, name).depth_multiplier ?? 1) || 1;
  if (one !== 1 || wt.shape.length !== 4) throw unsupported(`${name} filter has shape [${wt.shape.join(',')}]`);
  // [1, kh, kw, C·M] and [kh, kw, C, M] hold the same row-major order.
  return {
    kind: 'depthwise', name, kernel: dequantizeWeights(model, wt), kernelShape: [kh, kw, cm / mult, mult],
    bias: op.inputs[2] >= 0 ? dequantizeBias(model, sg.tensors[op.inputs[2]]) : null, ...common(op, name),
  };
}

function pointwiseLayer(model: Model, op: Operator, name: string): Conv2DLayer {
  const sg = mainGraph(model);
  const wt = sg.tensors[op.inputs[1]];
  const [cout, kh, kw, cin] = wt.shape;
  if (kh !== 1 || kw !== 1) throw unsupported(`${name} is not a 1×1 convolution`);
  const w = dequantizeWeights(model, wt); // [cout, cin]
  const kernel = new Float32Array(cin * cout); // [1, 1, cin, cout]
  for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) kernel[i * cout + o] = w[o * cin + i];
  return {
    kind: 'conv2d', name, kernel, kernelShape: [1, 1, cin, cout],
    bias: op.inputs[2] >= 0 ? dequantizeBias(model, sg.tensors[op.inputs[2]]) : null, ...common(op, name),
  };
}
