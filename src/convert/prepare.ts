/**
 * Inference-time simplification of a layer list before it is written as TFLite: batch
 * normalization folded into the preceding convolution/dense layer, Dropout removed, ReLU/ReLU6
 * fused into the layer before it, and the activation shape checked layer by layer.
 *
 * These rewrites are exact in real arithmetic (float32 rounding aside), so the folded list is also
 * what calibration runs on: one folded layer = one TFLite op output = one quantized tensor.
 */
import { fail } from '../errors';
import type {
  Activation, BatchNormLayer, Conv2DLayer, DenseLayerSpec, DepthwiseConv2DLayer, InputLayer, Layer, Padding,
} from './types';

/** Activation shape without the batch dimension: [H, W, C] for images, [N] after Flatten/Dense. */
export type Shape = number[];

/** Layers left after prepareLayers: no input, batchnorm or dropout. */
export type PreparedLayer = Exclude<Layer, InputLayer | BatchNormLayer | { kind: 'dropout' }>;

/** Label for messages: "layer 3 'conv2d_1' (conv2d)". */
export function layerLabel(l: Layer, i: number): string {
  return `layer ${i}${l.name ? ` '${l.name}'` : ''} (${l.kind})`;
}

/**
 * Output length of one spatial axis under Keras padding: 'same' → ceil(in / stride),
 * 'valid' → ceil((in − k + 1) / stride) (Keras conv_utils.conv_output_length, dilation 1).
 */
export function outLength(input: number, k: number, stride: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(input / stride) : Math.ceil((input - k + 1) / stride);
}

/**
 * Output shape of one layer for an input shape (batch excluded).
 * @throws EdgeTuneError BAD_MODEL naming the layer when the input rank or channel count does not fit.
 */
export function layerOutputShape(l: Layer, input: Shape, i: number): Shape {
  const label = layerLabel(l, i);
  const need4 = (): [number, number, number] => {
    if (input.length !== 3) throw fail('BAD_MODEL', `${label} needs an image input [H, W, C] but receives [${input.join(', ')}]; add it before Flatten/Dense`);
    return input as [number, number, number];
  };
  switch (l.kind) {
    case 'input':
      return [...l.shape];
    case 'conv2d':
    case 'depthwise': {
      const [h, w, c] = need4();
      const [kh, kw, cin, n] = l.kernelShape;
      if (cin !== c) throw fail('BAD_MODEL', `${label} kernel expects ${cin} input channels but receives ${c}; check the kernel shape [kh, kw, cin, ${l.kind === 'conv2d' ? 'cout' : 'multiplier'}]`);
      if (l.kernel.length !== kh * kw * cin * n) throw fail('BAD_MODEL', `${label} kernel has ${l.kernel.length} values, expected ${kh}·${kw}·${cin}·${n}`);
      const cout = l.kind === 'conv2d' ? n : cin * n;
      if (l.bias && l.bias.length !== cout) throw fail('BAD_MODEL', `${label} bias has ${l.bias.length} values, expected ${cout}`);
      const oh = outLength(h, kh, l.strides[0], l.padding);
      const ow = outLength(w, kw, l.strides[1], l.padding);
      if (oh < 1 || ow < 1) throw fail('BAD_MODEL', `${label} ${kh}×${kw} kernel does not fit its ${h}×${w} input with 'valid' padding; use 'same' or a smaller kernel`);
      return [oh, ow, cout];
    }
    case 'maxpool':
    case 'avgpool': {
      const [h, w, c] = need4();
      const oh = outLength(h, l.pool[0], l.strides[0], l.padding);
      const ow = outLength(w, l.pool[1], l.strides[1], l.padding);
      if (oh < 1 || ow < 1) throw fail('BAD_MODEL', `${label} ${l.pool[0]}×${l.pool[1]} window does not fit its ${h}×${w} input; use 'same' padding or a smaller pool`);
      return [oh, ow, c];
    }
    case 'gap': {
      const [, , c] = need4();
      return l.keepDims ? [1, 1, c] : [c];
    }
    case 'flatten':
      return [input.reduce((a, b) => a * b, 1)];
    case 'dense': {
      if (input.length !== 1) throw fail('BAD_MODEL', `${label} needs a flat input [N] but receives [${input.join(', ')}]; add Flatten or GlobalAveragePooling2D before it`);
      const [nin, nout] = l.kernelShape;
      if (nin !== input[0]) throw fail('BAD_MODEL', `${label} kernel expects ${nin} inputs but receives ${input[0]}`);
      if (l.kernel.length !== nin * nout) throw fail('BAD_MODEL', `${label} kernel has ${l.kernel.length} values, expected ${nin}·${nout}`);
      if (l.bias && l.bias.length !== nout) throw fail('BAD_MODEL', `${label} bias has ${l.bias.length} values, expected ${nout}`);
      return [nout];
    }
    case 'batchnorm': {
      const c = input[input.length - 1];
      for (const [k, v] of [['gamma', l.gamma], ['beta', l.beta], ['mean', l.mean], ['variance', l.variance]] as const) {
        if (v.length !== c) throw fail('BAD_MODEL', `${label} ${k} has ${v.length} values but its input has ${c} channels`);
      }
      return [...input];
    }
    case 'activation':
    case 'dropout':
    case 'softmax':
      return [...input];
  }
}

/** Shapes after every layer (batch excluded), starting from `input`. */
export function layerShapes(layers: readonly Layer[], input: Shape): Shape[] {
  const out: Shape[] = [];
  let s = input;
  layers.forEach((l, i) => {
    s = layerOutputShape(l, s, i);
    out.push(s);
  });
  return out;
}

/** Number of output channels of a weighted layer (the axis batch normalization scales). */
function outChannels(l: Conv2DLayer | DepthwiseConv2DLayer | DenseLayerSpec): number {
  if (l.kind === 'dense') return l.kernelShape[1];
  if (l.kind === 'conv2d') return l.kernelShape[3];
  return l.kernelShape[2] * l.kernelShape[3];
}

/** Per-channel factor γ/√(σ²+ε) and shift β − μ·factor of an inference-mode batch normalization. */
function bnAffine(bn: BatchNormLayer): { a: Float32Array; b: Float32Array } {
  const c = bn.gamma.length;
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    a[i] = bn.gamma[i] / Math.sqrt(bn.variance[i] + bn.epsilon);
    b[i] = bn.beta[i] - bn.mean[i] * a[i];
  }
  return { a, b };
}

/**
 * Folds each BatchNormalization into the convolution, depthwise convolution or dense layer right
 * before it when that layer has a linear activation: kernel'[…, o] = kernel[…, o] · a[o] and
 * bias'[o] = bias[o] · a[o] + b[o], with a = γ/√(σ²+ε) and b = β − μ·a (the output channel o is
 * the last kernel axis for Conv2D/Dense, c·multiplier + m for DepthwiseConv2D).
 *
 * A batch normalization that cannot fold (after a ReLU, a pooling layer or at the start, as in
 * "Conv(ReLU) → BN → MaxPool") becomes a 1×1 DepthwiseConv2D with kernel a and bias b: the same
 * per-channel affine map as one op with per-channel weights.
 *
 * @param layers any layer list (not modified; unchanged layers are shared).
 * @returns the list without batchnorm layers.
 * @throws EdgeTuneError UNSUPPORTED for an unfoldable batch normalization on a flat [N] input.
 */
export function foldBatchNorm(layers: readonly Layer[]): Layer[] {
  const out: Layer[] = [];
  let shape: Shape | null = layers[0]?.kind === 'input' ? [...layers[0].shape] : null;
  layers.forEach((l, i) => {
    if (l.kind !== 'batchnorm') {
      out.push(l);
      if (shape) shape = layerOutputShape(l, shape, i);
      return;
    }
    const { a, b } = bnAffine(l);
    const prev = out[out.length - 1];
    if (prev && (prev.kind === 'conv2d' || prev.kind === 'depthwise' || prev.kind === 'dense') && prev.activation === 'linear') {
      const n = outChannels(prev);
      if (n !== a.length) throw fail('BAD_MODEL', `${layerLabel(l, i)} has ${a.length} channels but the layer before it outputs ${n}`);
      const kernel = new Float32Array(prev.kernel.length);
      for (let k = 0; k < kernel.length; k++) kernel[k] = prev.kernel[k] * a[k % n];
      const bias = new Float32Array(n);
      for (let o = 0; o < n; o++) bias[o] = (prev.bias ? prev.bias[o] : 0) * a[o] + b[o];
      out[out.length - 1] = { ...prev, kernel, bias } as typeof prev;
      return;
    }
    const rank = shape ? shape.length : prev && (prev.kind === 'dense' || prev.kind === 'flatten' || (prev.kind === 'gap' && !prev.keepDims)) ? 1 : 3;
    if (rank !== 3) {
      throw fail('UNSUPPORTED', `${layerLabel(l, i)} follows a layer it cannot be folded into and its input is flat; put BatchNormalization before the activation of the Dense layer`);
    }
    const c = a.length;
    out.push({ kind: 'depthwise', kernel: a, kernelShape: [1, 1, c, 1], bias: b, strides: [1, 1], padding: 'valid', activation: 'linear', name: l.name });
  });
  return out;
}

/** Activation of fusing `next` after `current` ('relu' then 'relu6' = 'relu6'), or null if not fusable. */
function fuse(current: Activation, next: Exclude<Activation, 'linear'>): Activation | null {
  return current === 'linear' ? next : null;
}

/** Result of prepareLayers. */
export interface Prepared {
  /** The input layer, when the list starts with one. */
  input: InputLayer | null;
  /** Folded layers in order (no input, batchnorm or dropout). */
  layers: PreparedLayer[];
  /** Activation shape after each folded layer (batch excluded). */
  shapes: Shape[];
  /** Shape entering the first folded layer. */
  inputShape: Shape;
}

/**
 * The layer list as TFLite ops see it: batch normalization folded (foldBatchNorm), Dropout removed
 * (identity at inference), a ReLU/ReLU6 layer fused into the conv/depthwise/dense layer right
 * before it when that layer's own activation is linear (TFLite's fused_activation_function), else
 * kept as a standalone RELU/RELU6; shapes checked.
 *
 * @param layers a list starting with an input layer, or without one when `inputShape` is given.
 * @param inputShape shape entering layers[0] when the list has no input layer ([H, W, C] or [N]).
 * @throws EdgeTuneError BAD_MODEL on shape mismatches, a missing input shape or an input layer that
 *   is not first; UNSUPPORTED as foldBatchNorm.
 */
export function prepareLayers(layers: readonly Layer[], inputShape?: Shape): Prepared {
  const input = layers[0]?.kind === 'input' ? layers[0] : null;
  layers.forEach((l, i) => {
    if (l.kind === 'input' && i > 0) throw fail('BAD_MODEL', `${layerLabel(l, i)}: an input layer may only come first`);
  });
  const start = input ? [...input.shape] : inputShape;
  if (!start) throw fail('BAD_MODEL', 'layer list has no input layer and no input shape was given; start it with { kind: \'input\' } or pass the input shape');
  if (input && inputShape && inputShape.join() !== input.shape.join()) {
    throw fail('BAD_MODEL', `input layer shape [${input.shape.join(', ')}] differs from the given input shape [${inputShape.join(', ')}]`);
  }
  // Check shapes on the original list first, so errors name the caller's layer indices.
  layerShapes(layers, input ? [] : start);
  const folded = foldBatchNorm(layers).filter((l) => l.kind !== 'dropout' && l.kind !== 'input');
  const out: PreparedLayer[] = [];
  for (const l of folded as PreparedLayer[]) {
    const prev = out[out.length - 1];
    if (l.kind === 'activation' && prev && (prev.kind === 'conv2d' || prev.kind === 'depthwise' || prev.kind === 'dense')) {
      const f = fuse(prev.activation, l.activation);
      if (f) {
        out[out.length - 1] = { ...prev, activation: f } as typeof prev;
        continue;
      }
    }
    out.push(l);
  }
  return { input, layers: out, shapes: layerShapes(out, start), inputShape: start };
}
