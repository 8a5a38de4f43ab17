/**
 * Layer list → TFLite: float32 export, full-integer post-training quantization (int8 per TFLite's
 * quantization spec, or Coral's per-tensor uint8), and op fragments for grafting re-trained
 * blocks into a quantized base (fine-tuning).
 */
import { fail } from '../errors';
import type { OpFragment } from '../tflite/graph';
import { roundHalfAway } from '../tflite/quant';
import { BuiltinOperator, TensorType } from '../tflite/schema';
import { writeModel } from '../tflite/writer';
import {
  emitAvgPool, emitBinary, emitConv2d, emitDepthwise, emitFullyConnected, emitGlobalAvgPool, emitMaxPool,
  emitQuantize, emitRelu, emitReshape, emitSoftmax, float32Bytes, GraphBuilder, int32Bytes, int8Bytes,
  type OutSpec, type TensorQuant,
} from './emit';
import { layerLabel, prepareLayers, type PreparedLayer } from './prepare';
import { activationQuant, quantizeBiasPerChannel, quantizeWeights, schemeType, type Scheme } from './quantize';
import { traceRanges } from './reference';
import type { Conv2DLayer, DenseLayerSpec, DepthwiseConv2DLayer, InputLayer, Layer } from './types';

/** Softmax output scale TFLite's quantized SOFTMAX requires (quantization spec). */
export const SOFTMAX_SCALE = 1 / 256;

/** Options of full-integer quantization. */
export interface QuantizeOptions {
  /**
   * Calibration inputs: raw values as the model's input takes them (e.g. pixels 0..255), one
   * Float32Array of H·W·C values (row-major HWC) per example; typically a few hundred training images.
   */
  representative: Float32Array[];
  /** 'int8' (TFLite's quantization spec) or 'uint8' (per-tensor asymmetric uint8, Coral's older scheme). */
  scheme: Scheme;
  /**
   * Model input/output type for scheme 'int8': 'uint8' (default; QUANTIZE ops at both ends, as
   * Coral's tools and older runtimes expect) or 'int8'. Scheme 'uint8' always has uint8 I/O.
   */
  io?: 'uint8' | 'int8';
}

/** Options of convertLayers. */
export interface ConvertOptions {
  /** Subgraph name. Default 'main'. */
  name?: string;
  /** Model.description. Default 'EdgeTune converter'. */
  description?: string;
  /** Full-integer quantization; omitted = float32 model. */
  quantize?: QuantizeOptions;
}

/** Per-layer float ranges for quantized emission (null = float graph). */
type Ranges = [number, number][] | null;

interface Walk {
  g: GraphBuilder;
  scheme: Scheme | null;
  ranges: Ranges;
  prefix: string;
}

function tensorName(w: Walk, l: Layer, i: number): string {
  return `${w.prefix}${l.name ?? `${l.kind}_${i}`}`;
}

/** TFLite CONV_2D filter [cout, kh, kw, cin] from Keras' [kh, kw, cin, cout]. */
function convFilter(l: Conv2DLayer): { data: Float32Array; shape: number[] } {
  const [kh, kw, cin, cout] = l.kernelShape;
  const data = new Float32Array(l.kernel.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) {
    data[((o * kh + y) * kw + x) * cin + c] = l.kernel[((y * kw + x) * cin + c) * cout + o];
  }
  return { data, shape: [cout, kh, kw, cin] };
}

/** TFLite DEPTHWISE filter [1, kh, kw, cin·m]: Keras' [kh, kw, cin, m] has the same row-major order. */
function depthwiseFilter(l: DepthwiseConv2DLayer): { data: Float32Array; shape: number[] } {
  const [kh, kw, cin, m] = l.kernelShape;
  return { data: l.kernel, shape: [1, kh, kw, cin * m] };
}

/** TFLite FULLY_CONNECTED weights [out, in] from Keras' [in, out]. */
function denseWeights(l: DenseLayerSpec): { data: Float32Array; shape: number[] } {
  const [nin, nout] = l.kernelShape;
  const data = new Float32Array(l.kernel.length);
  for (let i = 0; i < nin; i++) for (let o = 0; o < nout; o++) data[o * nin + i] = l.kernel[i * nout + o];
  return { data, shape: [nout, nin] };
}

function outQuant(w: Walk, i: number): TensorQuant | null {
  if (!w.scheme || !w.ranges) return null;
  const [lo, hi] = w.ranges[i];
  return activationQuant(lo, hi, w.scheme);
}

function outSpec(w: Walk, name: string, quant: TensorQuant | null): OutSpec {
  return { name, type: w.scheme ? schemeType(w.scheme) : TensorType.FLOAT32, quant };
}

/** Weights + bias constants of a conv/depthwise/dense op, float or quantized for the input's scale. */
function weightTensors(w: Walk, name: string, filter: { data: Float32Array; shape: number[] }, bias: Float32Array,
  axis: number | null, xQuant: TensorQuant | null): [number, number] {
  if (!w.scheme) {
    return [
      w.g.addTensor(`${name}/weights`, filter.shape, TensorType.FLOAT32, null, float32Bytes(filter.data)),
      w.g.addTensor(`${name}/bias`, [bias.length], TensorType.FLOAT32, null, float32Bytes(bias)),
    ];
  }
  const q = quantizeWeights(filter.data, filter.shape, axis, w.scheme);
  const b = quantizeBiasPerChannel(bias, xQuant!.scale[0], q.quant.scale);
  return [
    w.g.addTensor(`${name}/weights`, filter.shape, q.type, q.quant, int8Bytes(q.data)),
    w.g.addTensor(`${name}/bias`, [bias.length], TensorType.INT32, b.quant, int32Bytes(b.data)),
  ];
}

/**
 * Emits the prepared layers after tensor `x` (quantized with `xQuant` in integer mode).
 * @returns the last output tensor and its quantization.
 */
function emitLayers(w: Walk, x: number, xQuant: TensorQuant | null, layers: readonly PreparedLayer[]): { y: number; quant: TensorQuant | null } {
  let q = xQuant;
  layers.forEach((l, i) => {
    const name = tensorName(w, l, i);
    switch (l.kind) {
      case 'conv2d':
      case 'depthwise': {
        const f = l.kind === 'conv2d' ? convFilter(l) : depthwiseFilter(l);
        const n = f.shape[l.kind === 'conv2d' ? 0 : 3];
        const [wt, bt] = weightTensors(w, name, f, l.bias ?? new Float32Array(n), l.kind === 'conv2d' ? 0 : 3, q);
        const oq = outQuant(w, i);
        const emit = l.kind === 'conv2d' ? emitConv2d : emitDepthwise;
        x = emit(w.g, x, wt, bt, { strides: l.strides, padding: l.padding, activation: l.activation }, outSpec(w, name, oq));
        q = oq;
        break;
      }
      case 'dense': {
        const f = denseWeights(l);
        const [wt, bt] = weightTensors(w, name, f, l.bias ?? new Float32Array(f.shape[0]), null, q);
        const oq = outQuant(w, i);
        x = emitFullyConnected(w.g, x, wt, bt, l.activation, outSpec(w, name, oq));
        q = oq;
        break;
      }
      case 'maxpool':
        x = emitMaxPool(w.g, x, l, outSpec(w, name, q));
        break;
      case 'avgpool':
        x = emitAvgPool(w.g, x, l, outSpec(w, name, q));
        break;
      case 'gap':
        x = emitGlobalAvgPool(w.g, x, l.keepDims === true, outSpec(w, name, q));
        break;
      case 'flatten': {
        const n = w.g.shape(x).reduce((a, b) => a * b, 1);
        x = emitReshape(w.g, x, [1, n], outSpec(w, name, q));
        break;
      }
      case 'activation': {
        const oq = outQuant(w, i);
        x = emitRelu(w.g, x, l.activation, outSpec(w, name, oq));
        q = oq;
        break;
      }
      case 'softmax': {
        const sq: TensorQuant | null = w.scheme ? { scale: [SOFTMAX_SCALE], zeroPoint: [w.scheme === 'int8' ? -128 : 0] } : null;
        x = emitSoftmax(w.g, x, outSpec(w, name, sq));
        q = sq;
        break;
      }
    }
  });
  return { y: x, quant: q };
}

/**
 * Folds the input layer's rescaling (x = raw · scale + offset) into the first layer of a float
 * graph when that layer is a conv/depthwise/dense: the kernel is multiplied by `scale` (exact);
 * the offset goes into the bias as offset · Σ kernel over the window when no zero padding can
 * touch the window (Dense, 'valid' padding, or a 1×1 kernel); else it is kept as an ADD of
 * offset/scale on the raw input before the op (zero padding must stay x = 0).
 * @returns the layers to emit and the constant to ADD first (null = none), or null when the first
 *   layer cannot take the scale (then the caller emits MUL and ADD).
 */
function foldInputScale(input: InputLayer, layers: readonly PreparedLayer[]): { layers: PreparedLayer[]; add: number | null } | null {
  const { scale: s, offset: o } = input;
  if (s === 1 && o === 0) return { layers: [...layers], add: null };
  const first = layers[0];
  if (!first || (first.kind !== 'conv2d' && first.kind !== 'depthwise' && first.kind !== 'dense')) return null;
  const kernel = Float32Array.from(first.kernel, (v) => v * s);
  const outs = first.kind === 'dense' ? first.kernelShape[1] : first.kind === 'conv2d' ? first.kernelShape[3] : first.kernelShape[2] * first.kernelShape[3];
  const window = first.kind === 'dense' ? 1 : first.kernelShape[0] * first.kernelShape[1];
  const padFree = first.kind === 'dense' || first.padding === 'valid' || window === 1;
  if (o !== 0 && !padFree) return { layers: [{ ...first, kernel } as PreparedLayer, ...layers.slice(1)], add: o / s };
  const bias = first.bias ? Float32Array.from(first.bias) : new Float32Array(outs);
  if (o !== 0) {
    // Σ over every kernel entry feeding output o: in row-major order the output index is the
    // fastest axis for conv [kh,kw,cin,cout] and dense [in,out]; for depthwise [kh,kw,cin,m] the
    // output c·m + mm is also the index modulo cin·m.
    for (let k = 0; k < first.kernel.length; k++) bias[k % outs] += first.kernel[k] * o;
  }
  return { layers: [{ ...first, kernel, bias } as PreparedLayer, ...layers.slice(1)], add: null };
}

/** uint8 input params for raw codes 0..255 that represent x = raw · scale + offset. */
function inputQuant(input: InputLayer): { scale: number; zeroPoint: number } {
  const { scale: s, offset: o } = input;
  if (!(s > 0) || !Number.isFinite(o)) throw fail('UNSUPPORTED', `input layer scale ${s} / offset ${o} cannot describe uint8 pixels; a quantized model needs scale > 0`);
  const zp = roundHalfAway(-o / s);
  if (zp < 0 || zp > 255) throw fail('UNSUPPORTED', `input layer offset ${o} with scale ${s} puts real 0 at raw value ${-o / s}, outside uint8 0..255; rescale so that real 0 lies within the pixel range`);
  return { scale: Math.fround(s), zeroPoint: zp };
}

/**
 * Converts a layer list that starts with an input layer to a .tflite model.
 *
 * Float32 (no `quantize`): input float32 [1, H, W, C] taking RAW values; the input layer's rescaling
 * is folded into the first conv/depthwise/dense (foldInputScale) or kept as MUL/ADD ops; batch
 * normalization, Dropout and activations are folded/fused (prepareLayers). Output float32.
 *
 * Full-integer (`quantize`): calibrated with traceRanges on the representative inputs. The input
 * takes raw uint8 codes 0..255 with scale = the input layer's scale and zero point
 * round(−offset/scale) (exact when offset/scale is an integer, e.g. 1/255 and 0); no float tensor
 * remains. Scheme 'int8': uint8 input → QUANTIZE → int8 graph → QUANTIZE → uint8 output (io
 * 'uint8'), or int8 I/O with codes = uint8 codes − 128 (io 'int8'). Scheme 'uint8': uint8 throughout.
 * Quantized softmax outputs are 1/256 with zero point 0 (uint8) or −128 (int8).
 *
 * @param layers layer list; layers[0] must be { kind: 'input' }.
 * @returns .tflite bytes (schema.fbs, identifier TFL3) with a min_runtime_version entry.
 * @throws EdgeTuneError BAD_MODEL (no input layer, shape errors), BAD_OPTION (representative set
 *   empty or of the wrong size, io 'int8' with scheme 'uint8'), UNSUPPORTED (input rescaling that
 *   uint8 codes cannot carry, unfoldable batch normalization on a flat input).
 */
export function convertLayers(layers: readonly Layer[], opts: ConvertOptions = {}): Uint8Array {
  const first = layers[0];
  if (first?.kind !== 'input') throw fail('BAD_MODEL', 'layer list must start with an input layer ({ kind: \'input\', shape: [H, W, C], scale, offset }); for a part of a network use layersToFragment');
  const prepared = prepareLayers(layers);
  const input = first;
  const g = new GraphBuilder();
  const shape = [1, ...input.shape];
  const qo = opts.quantize;
  let inT: number;
  let y: number;
  if (!qo) {
    const w: Walk = { g, scheme: null, ranges: null, prefix: '' };
    inT = g.addTensor(input.name ?? 'input', shape, TensorType.FLOAT32);
    let x = inT;
    let body = prepared.layers;
    const folded = foldInputScale(input, body);
    if (folded) {
      body = folded.layers;
      if (folded.add !== null) {
        const c = g.addTensor('input/offset', [1], TensorType.FLOAT32, null, float32Bytes([folded.add]));
        x = emitBinary(g, BuiltinOperator.ADD, x, c, { name: 'input/shifted', type: TensorType.FLOAT32, quant: null });
      }
    } else {
      const cs = g.addTensor('input/scale', [1], TensorType.FLOAT32, null, float32Bytes([input.scale]));
      x = emitBinary(g, BuiltinOperator.MUL, x, cs, { name: 'input/scaled', type: TensorType.FLOAT32, quant: null });
      const co = g.addTensor('input/offset', [1], TensorType.FLOAT32, null, float32Bytes([input.offset]));
      x = emitBinary(g, BuiltinOperator.ADD, x, co, { name: 'input/rescaled', type: TensorType.FLOAT32, quant: null });
    }
    y = emitLayers(w, x, null, body).y;
  } else {
    const scheme = qo.scheme;
    if (scheme !== 'int8' && scheme !== 'uint8') throw fail('BAD_OPTION', `quantize.scheme '${String(scheme)}' is not 'int8' or 'uint8'`);
    const io = qo.io ?? 'uint8';
    if (io !== 'uint8' && io !== 'int8') throw fail('BAD_OPTION', `quantize.io '${String(io)}' is not 'uint8' or 'int8'`);
    if (scheme === 'uint8' && io === 'int8') throw fail('BAD_OPTION', 'quantize.io \'int8\' needs scheme \'int8\'; the uint8 scheme has uint8 input and output');
    const ranges = traceRanges([input, ...prepared.layers], qo.representative).layers.slice(1);
    const iq = inputQuant(input);
    const w: Walk = { g, scheme, ranges, prefix: '' };
    const inName = input.name ?? 'input';
    let x: number;
    let xq: TensorQuant;
    if (scheme === 'uint8') {
      xq = { scale: [iq.scale], zeroPoint: [iq.zeroPoint] };
      inT = x = g.addTensor(inName, shape, TensorType.UINT8, xq);
    } else {
      xq = { scale: [iq.scale], zeroPoint: [iq.zeroPoint - 128] };
      if (io === 'uint8') {
        inT = g.addTensor(inName, shape, TensorType.UINT8, { scale: [iq.scale], zeroPoint: [iq.zeroPoint] });
        x = emitQuantize(g, inT, { name: `${inName}/int8`, type: TensorType.INT8, quant: xq });
      } else {
        inT = x = g.addTensor(inName, shape, TensorType.INT8, xq);
      }
    }
    const r = emitLayers(w, x, xq, prepared.layers);
    y = r.y;
    if (scheme === 'int8' && io === 'uint8') {
      const oq = r.quant!;
      y = emitQuantize(g, y, { name: `${g.tensors[y].name}/uint8`, type: TensorType.UINT8, quant: { scale: oq.scale, zeroPoint: [oq.zeroPoint[0] + 128] } });
    }
  }
  const model = g.toModel([inT], [y], opts.description ?? 'EdgeTune converter');
  model.subgraphs[0].name = opts.name ?? 'main';
  return writeModel(model);
}

/** The tensor a fragment's input 0 is bound to. */
export interface FragmentInput {
  /** Its shape with the batch dimension, e.g. [1, 14, 14, 512]. */
  shape: number[];
  type: 'uint8' | 'int8';
  scale: number;
  zeroPoint: number;
}

/** Options of layersToFragment. */
export interface FragmentOptions {
  input: FragmentInput;
  /** Float values at the fragment input (dequantized activations), one per example, row-major, H·W·C each. */
  representative: Float32Array[];
  scheme: Scheme;
}

/** Result of layersToFragment. */
export interface FragmentResult {
  /** Input 0 stands for the bound tensor: appendOps(model, fragment, [tensorIndex]). */
  fragment: OpFragment;
  /** The fragment's output tensor (in the scheme's type): shape with batch, params. */
  output: { shape: number[]; scale: number; zeroPoint: number };
}

/**
 * Quantized op fragment of a layer list without an input layer, for grafting re-trained layers
 * into a quantized base (e.g. MobileNet v1's top blocks: depthwise 3×3 stride 1/2 SAME + RELU6,
 * 1×1 conv + RELU6, global AVERAGE_POOL_2D with keepDims). Calibrated with traceRanges on
 * `representative`. When the input type differs from the scheme's (uint8 input, int8 scheme or
 * the reverse) a QUANTIZE op requantizes it first (same scale, zero point ± 128).
 *
 * @throws EdgeTuneError BAD_MODEL for an input layer in the list or shape errors, BAD_OPTION for a
 *   bad input description or representative set.
 */
export function layersToFragment(layers: readonly Layer[], opts: FragmentOptions): FragmentResult {
  const inp = opts.input;
  const bad = layers.findIndex((l) => l.kind === 'input');
  if (bad >= 0) throw fail('BAD_MODEL', `${layerLabel(layers[bad], bad)}: a fragment has no input layer; describe the bound tensor in opts.input`);
  if (inp.shape.length < 2 || inp.shape[0] !== 1) throw fail('BAD_OPTION', `fragment input shape [${inp.shape.join(', ')}] must start with batch 1, e.g. [1, 14, 14, 512]`);
  if (inp.type !== 'uint8' && inp.type !== 'int8') throw fail('BAD_OPTION', `fragment input type '${String(inp.type)}' is not 'uint8' or 'int8'`);
  if (!(inp.scale > 0)) throw fail('BAD_OPTION', `fragment input scale ${inp.scale} must be > 0`);
  const [lo, hi] = inp.type === 'uint8' ? [0, 255] : [-128, 127];
  if (!Number.isInteger(inp.zeroPoint) || inp.zeroPoint < lo || inp.zeroPoint > hi) throw fail('BAD_OPTION', `fragment input zero point ${inp.zeroPoint} is not an integer in ${lo}..${hi} for ${inp.type}`);
  if (opts.scheme !== 'int8' && opts.scheme !== 'uint8') throw fail('BAD_OPTION', `scheme '${String(opts.scheme)}' is not 'int8' or 'uint8'`);
  const inputShape = inp.shape.slice(1);
  const prepared = prepareLayers(layers, inputShape);
  const ranges = traceRanges(prepared.layers, opts.representative, { inputShape }).layers;
  const g = new GraphBuilder();
  const w: Walk = { g, scheme: opts.scheme, ranges, prefix: 'edgetune/' };
  const inType = inp.type === 'uint8' ? TensorType.UINT8 : TensorType.INT8;
  const inT = g.addTensor('edgetune/fragment_input', inp.shape, inType, { scale: [inp.scale], zeroPoint: [inp.zeroPoint] });
  let x = inT;
  let xq: TensorQuant = { scale: [inp.scale], zeroPoint: [inp.zeroPoint] };
  const want = schemeType(opts.scheme);
  if (want !== inType) {
    xq = { scale: [inp.scale], zeroPoint: [inp.zeroPoint + (want === TensorType.INT8 ? -128 : 128)] };
    x = emitQuantize(g, x, { name: `edgetune/fragment_input/${opts.scheme}`, type: want, quant: xq });
  }
  const r = emitLayers(w, x, xq, prepared.layers);
  const q = r.quant!;
  return {
    fragment: g.toFragment([inT], [r.y]),
    output: { shape: [...g.shape(r.y)], scale: Math.fround(q.scale[0]), zeroPoint: q.zeroPoint[0] },
  };
}
