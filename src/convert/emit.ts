/**
 * Small TFLite graph emitters, in the style of libcoral's coral/learn/utils.h (AppendLinearLayer,
 * AppendSoftmax): each takes input tensor indices, adds its op and output tensor to a
 * GraphBuilder and returns the output tensor index. They do no quantization arithmetic: the
 * caller passes constant tensors and the output tensor's type and quantization.
 *
 * Format facts from tensorflow/lite/schema/schema.fbs: Padding SAME = 0, VALID = 1; CONV_2D filter
 * [cout, kh, kw, cin]; DEPTHWISE_CONV_2D filter [1, kh, kw, cin·multiplier]; FULLY_CONNECTED
 * weights [out, in]; activations NHWC with batch 1. Op versions come from requiredOpVersion
 * (runtime-version.ts, after TFLite's op_version.cc) once the graph is complete.
 */
import {
  ActivationFunctionType, BuiltinOperator, Buffer, makeOptions, Model, Operator, OperatorCode,
  QuantizationParameters, SCHEMA_VERSION, Tensor, TensorType,
} from '../tflite/schema';
import type { OpFragment } from '../tflite/graph';
import { requiredOpVersion, setMinRuntimeVersion } from '../tflite/runtime-version';
import type { Activation, Padding } from './types';
import { outLength } from './prepare';

/** Quantization of one tensor: one scale/zero point (per-tensor) or one per channel of `dim`. */
export interface TensorQuant {
  scale: number[];
  zeroPoint: number[];
  /** Per-axis quantization axis (schema.fbs quantized_dimension); 0 for per-tensor. */
  dim?: number;
}

/** Type, quantization and name of an op's output tensor. */
export interface OutSpec {
  name: string;
  type: TensorType;
  quant: TensorQuant | null;
}

function quantParams(q: TensorQuant | null): QuantizationParameters | null {
  if (!q) return null;
  return { min: null, max: null, scale: q.scale.map((s) => Math.fround(s)), zeroPoint: [...q.zeroPoint], details: null, quantizedDimension: q.dim ?? 0 };
}

/**
 * A graph under construction: tensors, buffers (entry 0 = the empty sentinel), operators, and
 * one operator code per builtin; versions are settled when the graph is finished (toModel /
 * toFragment), because an op's version depends on its tensors' types.
 */
export class GraphBuilder {
  readonly tensors: Tensor[] = [];
  readonly buffers: Buffer[] = [{ data: new Uint8Array(0) }];
  readonly operators: Operator[] = [];
  private readonly codes: BuiltinOperator[] = [];

  /** Adds a tensor (constant when `data` is given: little-endian bytes) and returns its index. */
  addTensor(name: string, shape: number[], type: TensorType, quant: TensorQuant | null = null, data?: Uint8Array): number {
    let buffer = 0;
    if (data) {
      buffer = this.buffers.length;
      this.buffers.push({ data });
    }
    this.tensors.push({ shape: [...shape], type, buffer, name, quantization: quantParams(quant), isVariable: false, shapeSignature: null, hasRank: false });
    return this.tensors.length - 1;
  }

  /** Shape of tensor `t`. */
  shape(t: number): number[] {
    return this.tensors[t].shape;
  }

  /** Adds an operator; returns its index. */
  addOp(builtin: BuiltinOperator, inputs: number[], outputs: number[], options: Operator['builtinOptions'] = null): number {
    let c = this.codes.indexOf(builtin);
    if (c < 0) {
      this.codes.push(builtin);
      c = this.codes.length - 1;
    }
    this.operators.push({ opcodeIndex: c, inputs, outputs, builtinOptions: options, customOptions: null, customOptionsFormat: 0, mutatingVariableInputs: null, intermediates: null });
    return this.operators.length - 1;
  }

  /**
   * Operator codes and operators with each op at the version it needs (requiredOpVersion; 1 for
   * ops it does not know), one code per (builtin, version) pair.
   */
  private versioned(): { operatorCodes: OperatorCode[]; operators: Operator[] } {
    const draft: Model = {
      version: SCHEMA_VERSION,
      operatorCodes: this.codes.map((b) => ({ deprecatedBuiltinCode: Math.min(b, 127), customCode: null, version: 1, builtinCode: b })),
      subgraphs: [{ tensors: this.tensors, inputs: [], outputs: [], operators: this.operators, name: null }],
      description: null, buffers: this.buffers, metadataBuffer: null, metadata: [], signatureDefs: [],
    };
    const operatorCodes: OperatorCode[] = [];
    const operators = this.operators.map((op, i) => {
      const builtin = this.codes[op.opcodeIndex];
      const version = requiredOpVersion(draft, i) ?? 1;
      let c = operatorCodes.findIndex((x) => x.builtinCode === builtin && x.version === version);
      if (c < 0) {
        operatorCodes.push({ deprecatedBuiltinCode: Math.min(builtin, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES), customCode: null, version, builtinCode: builtin });
        c = operatorCodes.length - 1;
      }
      return { ...op, opcodeIndex: c };
    });
    return { operatorCodes, operators };
  }

  /**
   * The finished single-subgraph model with a "min_runtime_version" metadata entry (as TFLite's
   * converter writes it).
   */
  toModel(inputs: number[], outputs: number[], description = 'EdgeTune converter'): Model {
    const { operatorCodes, operators } = this.versioned();
    return setMinRuntimeVersion({
      version: SCHEMA_VERSION,
      operatorCodes,
      subgraphs: [{ tensors: [...this.tensors], inputs, outputs, operators, name: 'main' }],
      description,
      buffers: [...this.buffers],
      metadataBuffer: null,
      metadata: [],
      signatureDefs: [],
    });
  }

  /** The graph as an OpFragment for appendOps: `inputs` are bound to model tensors. */
  toFragment(inputs: number[], outputs: number[]): OpFragment {
    const { operatorCodes, operators } = this.versioned();
    return { tensors: [...this.tensors], buffers: [...this.buffers], operatorCodes, operators, inputs, outputs };
  }
}

/** Little-endian bytes of float32 values. */
export function float32Bytes(v: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(4 * i, v[i], true);
  return out;
}

/** Little-endian bytes of int32 values. */
export function int32Bytes(v: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setInt32(4 * i, v[i], true);
  return out;
}

/** Bytes of int8 or uint8 codes. */
export function int8Bytes(v: Int8Array | Uint8Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
}

const FUSED: Record<Activation, ActivationFunctionType> = {
  linear: ActivationFunctionType.NONE,
  relu: ActivationFunctionType.RELU,
  relu6: ActivationFunctionType.RELU6,
};

/** schema.fbs enum Padding: SAME = 0, VALID = 1. */
function paddingCode(p: Padding): number {
  return p === 'same' ? 0 : 1;
}

/** Convolution-like options shared by the conv emitters. */
export interface ConvOptions {
  strides: [number, number];
  padding: Padding;
  activation: Activation;
}

/**
 * CONV_2D: input [1, H, W, cin], filter [cout, kh, kw, cin], bias [cout] → output
 * [1, OH, OW, cout] (Keras output size rule), dilation 1.
 */
export function emitConv2d(g: GraphBuilder, x: number, filter: number, bias: number, o: ConvOptions, out: OutSpec): number {
  const [, h, w] = g.shape(x);
  const [cout, kh, kw] = g.shape(filter);
  const y = g.addTensor(out.name, [1, outLength(h, kh, o.strides[0], o.padding), outLength(w, kw, o.strides[1], o.padding), cout], out.type, out.quant);
  g.addOp(BuiltinOperator.CONV_2D, [x, filter, bias], [y], makeOptions('Conv2DOptions', {
    padding: paddingCode(o.padding), stride_w: o.strides[1], stride_h: o.strides[0], fused_activation_function: FUSED[o.activation],
  }));
  return y;
}

/**
 * DEPTHWISE_CONV_2D: input [1, H, W, cin], filter [1, kh, kw, cin·multiplier] (output channel
 * c·multiplier + m), bias [cin·multiplier] → [1, OH, OW, cin·multiplier].
 */
export function emitDepthwise(g: GraphBuilder, x: number, filter: number, bias: number, o: ConvOptions, out: OutSpec): number {
  const [, h, w, cin] = g.shape(x);
  const [, kh, kw, cout] = g.shape(filter);
  const y = g.addTensor(out.name, [1, outLength(h, kh, o.strides[0], o.padding), outLength(w, kw, o.strides[1], o.padding), cout], out.type, out.quant);
  g.addOp(BuiltinOperator.DEPTHWISE_CONV_2D, [x, filter, bias], [y], makeOptions('DepthwiseConv2DOptions', {
    padding: paddingCode(o.padding), stride_w: o.strides[1], stride_h: o.strides[0], depth_multiplier: cout / cin,
    fused_activation_function: FUSED[o.activation],
  }));
  return y;
}

/** Pooling window options. */
export interface PoolOptions {
  pool: [number, number];
  strides: [number, number];
  padding: Padding;
}

function emitPool(g: GraphBuilder, op: BuiltinOperator, x: number, o: PoolOptions, out: OutSpec): number {
  const [, h, w, c] = g.shape(x);
  const y = g.addTensor(out.name, [1, outLength(h, o.pool[0], o.strides[0], o.padding), outLength(w, o.pool[1], o.strides[1], o.padding), c], out.type, out.quant);
  g.addOp(op, [x], [y], makeOptions('Pool2DOptions', {
    padding: paddingCode(o.padding), stride_w: o.strides[1], stride_h: o.strides[0], filter_width: o.pool[1], filter_height: o.pool[0],
  }));
  return y;
}

/** MAX_POOL_2D [1, H, W, C] → [1, OH, OW, C]. Quantized: output params = input params (quantization spec). */
export function emitMaxPool(g: GraphBuilder, x: number, o: PoolOptions, out: OutSpec): number {
  return emitPool(g, BuiltinOperator.MAX_POOL_2D, x, o, out);
}

/**
 * AVERAGE_POOL_2D [1, H, W, C] → [1, OH, OW, C]; with 'same' padding the mean is over the window's
 * in-image values (as Keras). Quantized: output params = input params (quantization spec).
 */
export function emitAvgPool(g: GraphBuilder, x: number, o: PoolOptions, out: OutSpec): number {
  return emitPool(g, BuiltinOperator.AVERAGE_POOL_2D, x, o, out);
}

/**
 * RESHAPE to `shape` (row-major order kept, e.g. Flatten [1, H, W, C] → [1, H·W·C]). Writes both
 * the new_shape option and an int32 shape input: old runtimes read the option, new ones the tensor.
 */
export function emitReshape(g: GraphBuilder, x: number, shape: number[], out: OutSpec): number {
  const s = g.addTensor(`${out.name}/shape`, [shape.length], TensorType.INT32, null, int32Bytes(shape));
  const y = g.addTensor(out.name, shape, out.type, out.quant);
  g.addOp(BuiltinOperator.RESHAPE, [x, s], [y], makeOptions('ReshapeOptions', { new_shape: shape }));
  return y;
}

/**
 * Global average pooling: AVERAGE_POOL_2D with an H×W window (stride 1, VALID) → [1, 1, 1, C],
 * then RESHAPE to [1, C] unless keepDims (MobileNet v1's own pooling, which the Edge TPU maps).
 * Quantized: both outputs take the input's params. `out.name` names the final tensor.
 */
export function emitGlobalAvgPool(g: GraphBuilder, x: number, keepDims: boolean, out: OutSpec): number {
  const [, h, w, c] = g.shape(x);
  const pooled = emitAvgPool(g, x, { pool: [h, w], strides: [1, 1], padding: 'valid' }, keepDims ? out : { ...out, name: `${out.name}/pool` });
  return keepDims ? pooled : emitReshape(g, pooled, [1, c], out);
}

/**
 * FULLY_CONNECTED: input [1, in] (or any shape with in values), weights [out, in], bias [out] →
 * [1, out]; weights_format DEFAULT, keep_num_dims false.
 */
export function emitFullyConnected(g: GraphBuilder, x: number, weights: number, bias: number, activation: Activation, out: OutSpec): number {
  const [units] = g.shape(weights);
  const y = g.addTensor(out.name, [1, units], out.type, out.quant);
  g.addOp(BuiltinOperator.FULLY_CONNECTED, [x, weights, bias], [y], makeOptions('FullyConnectedOptions', {
    fused_activation_function: FUSED[activation], weights_format: 0, keep_num_dims: false,
  }));
  return y;
}

/**
 * SOFTMAX over the last axis, beta 1 (a zero beta breaks the quantized kernels' multiplier).
 * Quantized output must be scale 1/256 with zp −128 (int8) or 0 (uint8) (quantization spec).
 */
export function emitSoftmax(g: GraphBuilder, x: number, out: OutSpec): number {
  const y = g.addTensor(out.name, g.shape(x), out.type, out.quant);
  g.addOp(BuiltinOperator.SOFTMAX, [x], [y], makeOptions('SoftmaxOptions', { beta: 1.0 }));
  return y;
}

/** Standalone RELU or RELU6 (when it cannot be fused into the op before it). */
export function emitRelu(g: GraphBuilder, x: number, kind: 'relu' | 'relu6', out: OutSpec): number {
  const y = g.addTensor(out.name, g.shape(x), out.type, out.quant);
  g.addOp(kind === 'relu' ? BuiltinOperator.RELU : BuiltinOperator.RELU6, [x], [y]);
  return y;
}

/** Elementwise MUL or ADD with a broadcast constant (float path: input rescaling). */
export function emitBinary(g: GraphBuilder, op: BuiltinOperator.MUL | BuiltinOperator.ADD, x: number, c: number, out: OutSpec): number {
  const y = g.addTensor(out.name, g.shape(x), out.type, out.quant);
  g.addOp(op, [x, c], [y], op === BuiltinOperator.MUL ? makeOptions('MulOptions') : makeOptions('AddOptions'));
  return y;
}

/**
 * QUANTIZE: float32 → int8/uint8, or a requantization between int8 and uint8 (same scale,
 * zero point shifted by 128: the uint8 ↔ int8 I/O adapters of full-integer models).
 */
export function emitQuantize(g: GraphBuilder, x: number, out: OutSpec): number {
  const y = g.addTensor(out.name, g.shape(x), out.type, out.quant);
  g.addOp(BuiltinOperator.QUANTIZE, [x], [y], makeOptions('QuantizeOptions'));
  return y;
}

/** DEQUANTIZE: int8/uint8 → float32. */
export function emitDequantize(g: GraphBuilder, x: number, name: string): number {
  const y = g.addTensor(name, g.shape(x), TensorType.FLOAT32, null);
  g.addOp(BuiltinOperator.DEQUANTIZE, [x], [y], makeOptions('DequantizeOptions'));
  return y;
}
