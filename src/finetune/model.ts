/**
 * The fine-tuning network in TensorFlow.js: the base's top blocks (float, trainable) → global
 * average → the head's Dense layers. Written as plain ops on variables rather than tfjs layers so
 * that every op trains on the WASM backend: 1×1 pointwise convolutions are a reshape + matMul
 * (with explicit transposes in the gradient, see `matMulTrain`), and the depthwise convolutions'
 * gradients come from `registerWasmDepthwiseGrad`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv2DLayer, DepthwiseConv2DLayer, Padding } from '../convert/types';
import type { HeadWeights } from '../tflite';
// Plain matMuls with explicit transposes: tfjs-backend-wasm 4.22's matMul with transposeA/B (what
// tfjs' own gradient uses) measured 10–30× slower.
import { matMulTrain } from '../head/train';

/** One trainable block op. Depthwise kernel `[kh, kw, C, M]`; pointwise kernel `[Cin, Cout]`. */
export interface BlockVars {
  kind: 'depthwise' | 'pointwise';
  name: string;
  /**
   * The base's uint8 grid of this layer's weights (per tensor), when training is quantization-aware:
   * the forward pass then uses the weights rounded onto it, as the export will.
   */
  grid?: { scale: number; zeroPoint: number };
  kernel: tf.Variable;
  bias: tf.Variable;
  strides: [number, number];
  padding: Padding;
}

/** A head Dense layer: kernel `[inDim, units]`, bias `[units]`. */
export interface DenseVars { kernel: tf.Variable; bias: tf.Variable }

/** The whole trainable network. */
export interface FineTuneNet {
  blocks: BlockVars[];
  head: DenseVars[];
  /** Scale of the blocks' uint8 outputs (RELU6: 6/255) when training is quantization-aware. */
  actScale?: number;
}

/** The base's quantization, for quantization-aware fine-tuning. */
export interface QuantGrid {
  /** Per layer: the weight tensor's scale and zero point (per tensor; per-axis entries are ignored). */
  weights: { scale: number[]; zeroPoint: number[] }[];
  /** Scale of every block output (uint8, zero point 0). */
  activations: number;
}

/**
 * Variables initialised from the base's dequantized blocks and the trained head.
 * @param layers depthwise and 1×1 conv2d layers with RELU6 (from `readTopBlocks`).
 * @param head the trained head in TFLite layout (weights `[units, inDim]`).
 */
export function buildNet(layers: (DepthwiseConv2DLayer | Conv2DLayer)[], head: HeadWeights, quant?: QuantGrid): FineTuneNet {
  const blocks = layers.map((l, i): BlockVars => {
    const g = quant?.weights[i];
    const grid = g && g.scale.length === 1 ? { scale: Math.fround(g.scale[0]), zeroPoint: g.zeroPoint[0] ?? 0 } : undefined;
    const name = l.name ?? `block_${i}`;
    const bias = tf.variable(tf.tensor1d(l.bias ?? new Float32Array(l.kind === 'depthwise' ? l.kernelShape[2] * l.kernelShape[3] : l.kernelShape[3])));
    if (l.kind === 'depthwise') {
      return { kind: 'depthwise', name, grid, kernel: tf.variable(tf.tensor4d(l.kernel, l.kernelShape)), bias, strides: l.strides, padding: l.padding };
    }
    const [kh, kw, cin, cout] = l.kernelShape;
    if (kh !== 1 || kw !== 1 || l.strides[0] !== 1 || l.strides[1] !== 1) throw new Error(`layer ${name}: only 1×1 stride-1 convolutions are supported here`);
    return { kind: 'pointwise', name, grid, kernel: tf.variable(tf.tensor2d(l.kernel, [cin, cout])), bias, strides: [1, 1], padding: 'same' };
  });
  const dense = head.layers.map((l, i): DenseVars => ({
    kernel: tf.variable(tf.tidy(() => tf.transpose(tf.tensor2d(l.weights, [l.units, l.inDim])))),
    bias: tf.variable(tf.tensor1d(l.bias)),
  }));
  return { blocks, head: dense, actScale: quant?.activations };
}

/**
 * Rounds onto a uint8 grid in the forward pass, gradient passed straight through (the
 * straight-through estimator of quantization-aware training, Jacob et al. 2018): q(x) =
 * (clamp(round(x / s) + z, 0, 255) − z) · s.
 */
function fakeQuant(x: tf.Tensor, scale: number, zeroPoint: number): tf.Tensor {
  const f = (a: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    const q = tf.mul(tf.sub(tf.clipByValue(tf.add(tf.round(tf.div(a, scale)), zeroPoint), 0, 255), zeroPoint), scale);
    return { value: q, gradFunc: (dy: tf.Tensor) => [dy] };
  };
  const op = tf.customGrad(f as unknown as Parameters<typeof tf.customGrad<tf.Tensor>>[0]);
  return op(x);
}

/** Every variable of the network (blocks, then head). */
export function netVariables(net: FineTuneNet): tf.Variable[] {
  return [...net.blocks.flatMap((b) => [b.kernel, b.bias]), ...net.head.flatMap((d) => [d.kernel, d.bias])];
}

export function disposeNet(net: FineTuneNet): void {
  netVariables(net).forEach((v) => v.dispose());
}

/**
 * The blocks and the global average: x float32 `[batch, H, W, C]` (dequantized cut activations) →
 * embedding `[batch, D]`. `train` routes matMuls through `matMulTrain`'s gradient.
 */
export function embedForward(x: tf.Tensor4D, net: FineTuneNet, train: boolean): tf.Tensor2D {
  let a: tf.Tensor4D = x;
  net.blocks.forEach((b) => {
    const k = b.grid ? fakeQuant(b.kernel, b.grid.scale, b.grid.zeroPoint) : b.kernel;
    if (b.kind === 'depthwise') {
      a = tf.relu6(tf.add(tf.depthwiseConv2d(a, k as tf.Tensor4D, b.strides, b.padding), b.bias)) as tf.Tensor4D;
    } else {
      const [n, h, w, c] = a.shape;
      const flat = tf.reshape(a, [n * h * w, c]) as tf.Tensor2D;
      const cout = b.kernel.shape[1] as number;
      const y = train ? matMulTrain(flat, k as tf.Tensor2D, b.bias as tf.Tensor1D, true) : tf.add(tf.matMul(flat, k as tf.Tensor2D), b.bias) as tf.Tensor2D;
      a = tf.reshape(tf.relu6(y), [n, h, w, cout]) as tf.Tensor4D;
    }
    // The exported block's uint8 output (RELU6 over [0, 6]).
    if (net.actScale) a = fakeQuant(a, net.actScale, 0) as tf.Tensor4D;
  });
  return tf.mean(a, [1, 2]) as tf.Tensor2D;
}

/**
 * The head on embeddings → logits: Dense ReLU (hidden) … → Dense linear; `masks` (training only)
 * multiply the embedding when there is one layer, else each hidden layer's output (as the head's
 * own training step, src/head/train.ts).
 */
export function headForward(e: tf.Tensor2D, net: FineTuneNet, masks: tf.Tensor2D[], train: boolean): tf.Tensor2D {
  let a = e;
  if (net.head.length === 1 && masks.length) a = tf.mul(a, masks[0]);
  net.head.forEach((d, i) => {
    a = train ? matMulTrain(a, d.kernel as tf.Tensor2D, d.bias as tf.Tensor1D, true) : tf.add(tf.matMul(a, d.kernel as tf.Tensor2D), d.bias) as tf.Tensor2D;
    if (i < net.head.length - 1) {
      a = tf.relu(a);
      if (masks.length) a = tf.mul(a, masks[i]);
    }
  });
  return a;
}

/** The trained blocks as converter layers (float, RELU6), in the `readTopBlocks` layouts. */
export function netLayers(net: FineTuneNet): (DepthwiseConv2DLayer | Conv2DLayer)[] {
  return net.blocks.map((b): DepthwiseConv2DLayer | Conv2DLayer => {
    const kernel = Float32Array.from(b.kernel.dataSync() as Float32Array);
    const bias = Float32Array.from(b.bias.dataSync() as Float32Array);
    if (b.kind === 'depthwise') {
      return { kind: 'depthwise', name: b.name, kernel, kernelShape: b.kernel.shape as [number, number, number, number], bias, strides: b.strides, padding: b.padding, activation: 'relu6' };
    }
    const [cin, cout] = b.kernel.shape;
    return { kind: 'conv2d', name: b.name, kernel, kernelShape: [1, 1, cin, cout], bias, strides: [1, 1], padding: 'same', activation: 'relu6' };
  });
}

/**
 * The trained head in TFLite layout (weights `[units, inDim]`), output ranges unset ([0, 0]):
 * calibrate them with `calibrate` (src/head/weights) on fine-tuned embeddings.
 */
export function netHead(net: FineTuneNet): HeadWeights {
  return {
    layers: net.head.map((d, i) => {
      const [inDim, units] = d.kernel.shape;
      return {
        weights: Float32Array.from(tf.tidy(() => tf.transpose(d.kernel).dataSync() as Float32Array)),
        bias: Float32Array.from(d.bias.dataSync() as Float32Array),
        units, inDim,
        activation: i < net.head.length - 1 ? 'relu' as const : 'linear' as const,
        outputRange: [0, 0] as [number, number],
      };
    }),
  };
}
