import * as tf from '@tensorflow/tfjs';
import type { CnnOptions } from '../options';
import { fail } from '../errors';

/**
 * The seed's small CNN (the classic Keras stack of the NVIDIA DLI sign-language exercise):
 * per filter count, Conv2D 3×3 'same' ReLU → BatchNormalization → MaxPool 2×2 (stride 2, 'same'),
 * Dropout between blocks; then Flatten → Dense ReLU → Dropout → Dense softmax.
 *
 * Rescaling: the network takes pixels already divided by 255 (float32 0..1): the training data and
 * every tfjs prediction divide, and the TFLite export puts the division into its input
 * quantization (the converter's inputScale 1/255), so the .tflite takes raw uint8 pixels. A
 * Rescaling layer would do the same, but tfjs 4.22 has none that its converter input needs.
 */

/** Dropout rate between Conv blocks (the seed network's 0.2). */
export const BLOCK_DROPOUT = 0.2;
/** Dropout rate after the Dense ReLU layer (the seed network's 0.3). */
export const DENSE_DROPOUT = 0.3;
/**
 * BatchNormalization momentum of the moving mean/variance: 0.9 instead of Keras' 0.99, because a
 * small dataset gives few steps per epoch (digits-photo: about 20) and with 0.99 the statistics
 * used at inference would still remember their initial values (mean 0, variance 1) after early
 * stopping.
 */
export const BN_MOMENTUM = 0.9;
/** BatchNormalization epsilon (Keras' 1e-3). */
export const BN_EPSILON = 1e-3;

/** [height, width, channels] of a CNN input from the options. */
export function cnnInputShape(o: CnnOptions): [number, number, number] {
  return [o.input[0], o.input[1], o.channels === 'grey' ? 1 : 3];
}

/**
 * Builds the untrained CNN for `classes` classes: input float32 [batch, H, W, C] (pixels / 255),
 * output softmax float32 [batch, classes]. Kernels are Glorot-uniform (Keras' default) seeded
 * with seed, seed + 1, … per layer; biases zero; BN gamma 1, beta 0, moving mean 0, variance 1.
 * Layer names are stable (conv1, bn1, pool1, drop1, …, flatten, dense, dense_drop, logits).
 * @throws EdgeTuneError BAD_OPTION for no filters, fewer than 2 classes, or an input that the
 *   pooling would shrink below 1 pixel.
 */
export function buildCnn(opts: CnnOptions, classes: number, seed: number): tf.Sequential {
  const [h, w, c] = cnnInputShape(opts);
  if (!opts.filters.length) throw fail('BAD_OPTION', '--filters is empty: give at least one Conv block, e.g. --filters 75,50,25');
  if (!(Number.isInteger(classes) && classes >= 2)) throw fail('BAD_OPTION', `a CNN needs at least 2 classes, got ${classes}`);
  const m = tf.sequential();
  let s = seed;
  opts.filters.forEach((f, i) => {
    const k = i + 1;
    if (i > 0) m.add(tf.layers.dropout({ rate: BLOCK_DROPOUT, name: `drop${i}` }));
    m.add(tf.layers.conv2d({
      filters: f, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu', name: `conv${k}`,
      kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }), ...(i === 0 ? { inputShape: [h, w, c] } : {}),
    }));
    m.add(tf.layers.batchNormalization({ momentum: BN_MOMENTUM, epsilon: BN_EPSILON, name: `bn${k}` }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `pool${k}` }));
  });
  m.add(tf.layers.flatten({ name: 'flatten' }));
  if (opts.dense > 0) {
    m.add(tf.layers.dense({ units: opts.dense, activation: 'relu', name: 'dense', kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }) }));
    m.add(tf.layers.dropout({ rate: DENSE_DROPOUT, name: 'dense_drop' }));
  }
  m.add(tf.layers.dense({ units: classes, activation: 'softmax', name: 'logits', kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }) }));
  return m;
}

/** Spatial size after `blocks` 2×2 'same' poolings: ceil(side / 2) each time. */
export function pooledSize(side: number, blocks: number): number {
  let v = side;
  for (let i = 0; i < blocks; i++) v = Math.ceil(v / 2);
  return v;
}
