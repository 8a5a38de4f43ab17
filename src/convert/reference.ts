/**
 * The float reference executor: runs a layer list in TensorFlow.js (whatever backend is active)
 * with Keras semantics. It is both the ground truth the exported .tflite is checked against and
 * the calibration engine of post-training quantization (min/max of every layer output on the
 * representative dataset).
 */
import * as tf from '@tensorflow/tfjs';
import { fail } from '../errors';
import { layerLabel, layerShapes, type Shape } from './prepare';
import type { Activation, Layer } from './types';

/** Inputs per tfjs batch: bounds memory for large representative sets. */
const BATCH = 16;

function activate(x: tf.Tensor, a: Activation): tf.Tensor {
  if (a === 'relu') return tf.relu(x);
  if (a === 'relu6') return tf.relu6(x);
  return x;
}

function withBias(x: tf.Tensor, bias: Float32Array | null): tf.Tensor {
  return bias ? tf.add(x, tf.tensor1d(bias)) : x;
}

/** One layer in tfjs on a batch [B, …shape]. */
function applyLayer(l: Layer, x: tf.Tensor): tf.Tensor {
  switch (l.kind) {
    case 'input':
      return tf.add(tf.mul(x, l.scale), l.offset);
    case 'conv2d': {
      const k = tf.tensor4d(l.kernel, l.kernelShape);
      return activate(withBias(tf.conv2d(x as tf.Tensor4D, k, l.strides, l.padding), l.bias), l.activation);
    }
    case 'depthwise': {
      const k = tf.tensor4d(l.kernel, l.kernelShape);
      return activate(withBias(tf.depthwiseConv2d(x as tf.Tensor4D, k, l.strides, l.padding), l.bias), l.activation);
    }
    case 'batchnorm':
      return tf.batchNorm(x, tf.tensor1d(l.mean), tf.tensor1d(l.variance), tf.tensor1d(l.beta), tf.tensor1d(l.gamma), l.epsilon);
    case 'activation':
      return activate(x, l.activation);
    case 'maxpool':
      return tf.maxPool(x as tf.Tensor4D, l.pool, l.strides, l.padding);
    case 'avgpool':
      return tf.avgPool(x as tf.Tensor4D, l.pool, l.strides, l.padding);
    case 'gap':
      return tf.mean(x, [1, 2], l.keepDims === true);
    case 'flatten':
      return tf.reshape(x, [x.shape[0], -1]);
    case 'dense':
      return activate(withBias(tf.matMul(x as tf.Tensor2D, tf.tensor2d(l.kernel, l.kernelShape)), l.bias), l.activation);
    case 'dropout':
      return x;
    case 'softmax':
      return tf.softmax(x);
  }
}

/** Options of runFloat / traceRanges. */
export interface RunOptions {
  /** Shape entering layers[0] (batch excluded) when the list has no input layer. */
  inputShape?: Shape;
}

function startShape(layers: readonly Layer[], opts: RunOptions): Shape {
  const first = layers[0];
  const shape = first?.kind === 'input' ? [...first.shape] : opts.inputShape;
  if (!shape) throw fail('BAD_MODEL', 'layer list has no input layer and no inputShape was given; start it with { kind: \'input\' } or pass inputShape');
  return shape;
}

function checkInputs(inputs: readonly Float32Array[], shape: Shape): number {
  const size = shape.reduce((a, b) => a * b, 1);
  inputs.forEach((x, i) => {
    if (x.length !== size) throw fail('BAD_OPTION', `input ${i} has ${x.length} values but the network takes [${shape.join(', ')}] = ${size}; pass row-major HWC values`);
  });
  return size;
}

/**
 * Runs `layers` on each input and calls `visit(layerIndex, batchOutput)` after every layer.
 * Tensors are disposed per batch.
 */
function forEachBatch(layers: readonly Layer[], inputs: readonly Float32Array[], opts: RunOptions,
  visit: (layer: number, y: tf.Tensor, start: number) => void): void {
  const shape = startShape(layers, opts);
  const size = checkInputs(inputs, shape);
  layerShapes(layers, shape);
  for (let s = 0; s < inputs.length; s += BATCH) {
    const chunk = inputs.slice(s, s + BATCH);
    tf.tidy(() => {
      const flat = new Float32Array(chunk.length * size);
      chunk.forEach((x, i) => flat.set(x, i * size));
      let x: tf.Tensor = tf.tensor(flat, [chunk.length, ...shape]);
      layers.forEach((l, i) => {
        try {
          x = applyLayer(l, x);
        } catch (e) {
          throw fail('BAD_MODEL', `${layerLabel(l, i)} failed in the float reference: ${String((e as Error).message).split('\n')[0]}`, e);
        }
        visit(i, x, s);
      });
    });
  }
}

/**
 * Float32 outputs of the network for each input (Keras inference semantics: batch normalization
 * with moving statistics, Dropout as identity; an input layer applies raw · scale + offset).
 *
 * @param layers the layer list (folded or not).
 * @param inputs one Float32Array per example, row-major [H, W, C] (or [N]) raw values.
 * @returns one Float32Array per input: the last layer's output, flattened.
 * @throws EdgeTuneError BAD_OPTION for a wrong input length, BAD_MODEL for a bad layer list.
 */
export function runFloat(layers: readonly Layer[], inputs: readonly Float32Array[], opts: RunOptions = {}): Float32Array[] {
  const out: Float32Array[] = new Array(inputs.length);
  const last = layers.length - 1;
  if (last < 0) return inputs.map((x) => Float32Array.from(x));
  forEachBatch(layers, inputs, opts, (i, y, start) => {
    if (i !== last) return;
    const data = y.dataSync() as Float32Array;
    const n = data.length / y.shape[0];
    for (let b = 0; b < y.shape[0]; b++) out[start + b] = data.slice(b * n, (b + 1) * n);
  });
  return out;
}

/**
 * Calibration: [min, max] of every layer's output over all inputs (the representative dataset),
 * plus the range of the network input (after an input layer's rescaling, or the values given).
 *
 * @returns `input` range and `layers[i]` = range of layer i's output.
 */
export function traceRanges(layers: readonly Layer[], inputs: readonly Float32Array[], opts: RunOptions = {}): { input: [number, number]; layers: [number, number][] } {
  if (inputs.length === 0) throw fail('BAD_OPTION', 'the representative dataset is empty; pass at least one input (a few hundred training images is typical)');
  const ranges: [number, number][] = layers.map(() => [Infinity, -Infinity]);
  let input: [number, number] = [Infinity, -Infinity];
  for (const x of inputs) for (let k = 0; k < x.length; k++) {
    if (!Number.isFinite(x[k])) throw fail('BAD_OPTION', 'the representative dataset holds a non-finite value; pass finite inputs');
  }
  forEachBatch(layers, inputs, opts, (i, y) => {
    const lo = tf.min(y).dataSync()[0];
    const hi = tf.max(y).dataSync()[0];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw fail('BAD_MODEL', `${layerLabel(layers[i], i)} produced non-finite values on the representative dataset; check its weights`);
    ranges[i] = [Math.min(ranges[i][0], lo), Math.max(ranges[i][1], hi)];
  });
  if (layers[0]?.kind === 'input') input = ranges[0];
  else for (const x of inputs) for (let k = 0; k < x.length; k++) input = [Math.min(input[0], x[k]), Math.max(input[1], x[k])];
  return { input, layers: ranges };
}
