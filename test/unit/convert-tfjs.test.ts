import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { convertLayers, layersFromTfjs, runFloat, verifyConversion } from '../../src/convert';
import { randomPixels, randomValues } from './convert-util';

/** Replaces every weight with seeded values (BatchNormalization variances kept positive). */
function seedWeights(model: tf.LayersModel, seed: number): void {
  for (const l of model.layers) {
    const ws = l.getWeights();
    if (!ws.length) continue;
    l.setWeights(ws.map((w, j) => {
      const v = randomValues(seed++, w.size, 0.5);
      const positive = l.getClassName() === 'BatchNormalization' && j === ws.length - 1;
      return tf.tensor(positive ? v.map((x) => Math.abs(x) + 0.5) : v, w.shape);
    }));
  }
}

function sequential(): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.rescaling({ scale: 1 / 255, inputShape: [10, 8, 3] }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
      tf.layers.batchNormalization({ name: 'bn1' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 1, padding: 'valid', useBias: false }),
      tf.layers.batchNormalization({ center: false }),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 12, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 4, activation: 'softmax', name: 'out' }),
    ],
  });
  seedWeights(m, 200);
  return m;
}

describe('convert: layersFromTfjs', function () {
  this.timeout(20000);
  const xs = randomPixels(90, 10, 10 * 8 * 3);

  it('reads a Sequential model layer by layer, computing what tfjs computes', async () => {
    const m = sequential();
    const layers = layersFromTfjs(m);
    assert.deepEqual(layers.map((l) => l.kind), ['input', 'conv2d', 'batchnorm', 'maxpool', 'conv2d', 'batchnorm', 'activation', 'depthwise', 'avgpool', 'gap', 'dense', 'dropout', 'dense', 'softmax']);
    assert.deepEqual(layers[0], { kind: 'input', shape: [10, 8, 3], scale: 1 / 255, offset: 0 });
    const c1 = layers[1] as Extract<typeof layers[number], { kind: 'conv2d' }>;
    assert.deepEqual([c1.name, c1.kernelShape, c1.activation, c1.padding, c1.strides], ['c1', [3, 3, 3, 6], 'relu', 'same', [1, 1]]);
    assert.deepEqual([...c1.kernel], [...m.getLayer('c1').getWeights()[0].dataSync()]);
    const bn2 = layers[5] as Extract<typeof layers[number], { kind: 'batchnorm' }>;
    assert.deepEqual([...bn2.beta], new Array(8).fill(0), 'center: false → beta 0');
    assert.equal((layers[4] as { bias: unknown }).bias, null);
    assert.deepEqual([(layers[6] as { activation: string }).activation, (layers[12] as { activation: string }).activation], ['relu6', 'linear']);

    const expected = (m.predict(tf.tensor(Float32Array.from(xs.flatMap((x) => [...x])), [xs.length, 10, 8, 3])) as tf.Tensor).dataSync();
    const ref = runFloat(layers, xs);
    ref.forEach((y, i) => y.forEach((v, k) => assert.ok(Math.abs(v - expected[i * 4 + k]) <= 1e-6, `example ${i} class ${k}: ${v} vs ${expected[i * 4 + k]}`)));

    const v = await verifyConversion(layers, convertLayers(layers), xs);
    assert.ok(v.maxAbsDiff <= 1e-4, `float export max diff ${v.maxAbsDiff}`);
  });

  it('reads a functional chain with the input rescaling given as options', () => {
    const input = tf.input({ shape: [4, 4, 2] });
    const y = tf.layers.flatten().apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'linear' }).apply(input)) as tf.SymbolicTensor;
    const out = tf.layers.activation({ activation: 'softmax' }).apply(tf.layers.dense({ units: 3 }).apply(y)) as tf.SymbolicTensor;
    const layers = layersFromTfjs(tf.model({ inputs: input, outputs: out }), { inputScale: 2 / 255, inputOffset: -1 });
    assert.deepEqual(layers.map((l) => l.kind), ['input', 'conv2d', 'flatten', 'dense', 'softmax']);
    assert.deepEqual(layers[0], { kind: 'input', shape: [4, 4, 2], scale: 2 / 255, offset: -1 });
  });

  it('names the layer and its class for anything it cannot convert', () => {
    const leaky = tf.sequential({ layers: [tf.layers.conv2d({ filters: 2, kernelSize: 1, inputShape: [4, 4, 1] }), tf.layers.leakyReLU({ name: 'leaky' })] });
    assert.throws(() => layersFromTfjs(leaky), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /layer 'leaky' \(LeakyReLU\) is not supported/.test(e.message));
    const tanh = tf.sequential({ layers: [tf.layers.conv2d({ filters: 2, kernelSize: 1, inputShape: [4, 4, 1], activation: 'tanh', name: 'ct' })] });
    assert.throws(() => layersFromTfjs(tanh), /layer 'ct' \(Conv2D\) has activation 'tanh'/);
    const both = tf.sequential({ layers: [tf.layers.rescaling({ scale: 0.5, inputShape: [2, 2, 1] }), tf.layers.flatten()] });
    assert.throws(() => layersFromTfjs(both, { inputScale: 1 }), (e: Error & { code?: string }) => e.code === 'BAD_OPTION');
    const input = tf.input({ shape: [4, 4, 1] });
    const a = tf.layers.conv2d({ filters: 1, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'skip' }).apply([a, input]) as tf.SymbolicTensor;
    assert.throws(() => layersFromTfjs(tf.model({ inputs: input, outputs: sum })), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /'skip'/.test(e.message));
  });
});
