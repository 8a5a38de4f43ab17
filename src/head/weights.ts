import * as tf from '@tensorflow/tfjs';
import type { DenseLayer, HeadWeights } from '../tflite';
import { fail } from '../errors';
import type { EmbeddingSet } from './train';

/**
 * Extracts the head's Dense layers in TFLite layout and calibrates each layer's output range on
 * the representative dataset (the training embeddings), as TFLite post-training quantization does.
 *
 * Dropout layers are identity at inference and are skipped. The final softmax is not a layer here:
 * the last entry is the linear logits layer, and `graftHead` appends SOFTMAX after it.
 *
 * @param model trained tfjs head (`buildHead` layout).
 * @param representative embeddings float32 `[n, dim]` the ranges are measured on (n ≥ 1).
 * @returns layers with weights float32 `[units, inDim]` row-major (TFLite FULLY_CONNECTED weight
 *   layout, schema.fbs FullyConnectedOptions, weights_format DEFAULT), bias `[units]`, and the
 *   float range `[min, max]` of each layer's output (after ReLU for hidden layers, logits for the last).
 * @throws EdgeTuneError 'BAD_MODEL' when the model holds a layer other than Dense or Dropout
 *   (Dropout: heads saved before dropout moved into the training step).
 */
export function headWeights(model: tf.LayersModel, representative: EmbeddingSet): HeadWeights {
  const layers = denseLayers(model);
  calibrate(layers, representative);
  return { layers };
}

/**
 * Like `headWeights`, with output ranges measured earlier (stored with the saved head), so a
 * model can be re-exported without the representative dataset.
 * @throws EdgeTuneError 'BAD_MODEL' when the number of ranges differs from the number of Dense layers.
 */
export function headWeightsWithRanges(model: tf.LayersModel, ranges: [number, number][]): HeadWeights {
  const layers = denseLayers(model);
  if (ranges.length !== layers.length) throw fail('BAD_MODEL', `saved head has ${ranges.length} calibration ranges for ${layers.length} Dense layers: retrain it`);
  layers.forEach((l, i) => { l.outputRange = [ranges[i][0], ranges[i][1]]; });
  return { layers };
}

function denseLayers(model: tf.LayersModel): DenseLayer[] {
  const dense = model.layers.filter((l) => l.getClassName() !== 'Dropout');
  return dense.map((l, i) => {
    if (l.getClassName() !== 'Dense') throw fail('BAD_MODEL', `head layer ${l.name} (${l.getClassName()}) cannot be exported; only Dense and Dropout`);
    const [kernel, bias] = l.getWeights();
    const [inDim, units] = kernel.shape;
    const weights = tf.tidy(() => kernel.transpose().dataSync() as Float32Array);
    return {
      weights: Float32Array.from(weights),
      bias: Float32Array.from(bias.dataSync() as Float32Array),
      units,
      inDim,
      activation: i < dense.length - 1 ? 'relu' : 'linear',
      outputRange: [0, 0],
    };
  });
}

/** Fills each layer's `outputRange` with the min/max of its outputs over the embeddings. */
export function calibrate(layers: DenseLayer[], rep: EmbeddingSet): void {
  tf.tidy(() => {
    let act: tf.Tensor2D = tf.tensor2d(rep.x, [rep.n, rep.dim]);
    for (const layer of layers) {
      const w = tf.tensor2d(layer.weights, [layer.units, layer.inDim]);
      let out = tf.add(tf.matMul(act, w, false, true), tf.tensor1d(layer.bias)) as tf.Tensor2D;
      if (layer.activation === 'relu') out = tf.relu(out);
      layer.outputRange = [out.min().dataSync()[0], out.max().dataSync()[0]];
      act = out;
    }
  });
}

/**
 * The head's logits in float32 from its exported weights, without tfjs: each layer computes
 * W·a + b (W `[units, inDim]` row-major) and its activation.
 * @param x float32 `[dim]` embedding. @returns float32 `[classes]` logits (before the softmax).
 */
export function headLogits(head: HeadWeights, x: Float32Array): Float32Array {
  let act = x;
  for (const l of head.layers) {
    const out = new Float32Array(l.units);
    for (let u = 0; u < l.units; u++) {
      let s = l.bias[u];
      const row = u * l.inDim;
      for (let k = 0; k < l.inDim; k++) s += l.weights[row + k] * act[k];
      out[u] = l.activation === 'relu' ? Math.max(0, s) : s;
    }
    act = out;
  }
  return act;
}

/**
 * The head's forward pass in float32 from its exported weights, without tfjs: the reference the
 * TFLite export is checked against in tests.
 * @param x float32 `[dim]` embedding. @returns float32 `[classes]` softmax probabilities.
 */
export function headForward(head: HeadWeights, x: Float32Array): Float32Array {
  const act = headLogits(head, x);
  const m = Math.max(...act);
  const e = act.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/**
 * The tfjs head for a HeadWeights (e.g. a merged ensemble), so it can be run with `predictHead`
 * and saved with `serializeHead` like a trained one: Dense layers with each layer's activation,
 * the last one with softmax (the softmax `graftHead` appends).
 * @returns an uncompiled model, input float32 `[batch, layers[0].inDim]`, output `[batch, classes]`.
 * @throws EdgeTuneError 'BAD_MODEL' when the last layer is not linear or the shapes do not chain.
 */
export function headModel(head: HeadWeights): tf.Sequential {
  const n = head.layers.length;
  if (n === 0 || head.layers[n - 1].activation !== 'linear') throw fail('BAD_MODEL', `head has ${n ? `a '${head.layers[n - 1].activation}' last layer` : 'no layers'}; the last layer must be the linear logits layer`);
  const model = tf.sequential();
  head.layers.forEach((l, i) => {
    if (i > 0 && l.inDim !== head.layers[i - 1].units) throw fail('BAD_MODEL', `head layer ${i} takes ${l.inDim} inputs but layer ${i - 1} has ${head.layers[i - 1].units} units`);
    model.add(tf.layers.dense({ units: l.units, activation: i === n - 1 ? 'softmax' : l.activation, inputShape: i === 0 ? [l.inDim] : undefined }));
  });
  const weights = head.layers.flatMap((l) => [
    tf.tidy(() => tf.tensor2d(l.weights, [l.units, l.inDim]).transpose()),
    tf.tensor1d(l.bias),
  ]);
  model.setWeights(weights);
  weights.forEach((w) => w.dispose());
  return model;
}
