import * as assert from 'node:assert/strict';
import { convertLayers, type Layer } from '../../src/convert';
import { check, randomBatchNorm, randomPixels, randomValues } from './convert-util';

/**
 * Each op the converter writes, alone after the input, run in the TFLite interpreter and compared
 * with the tfjs reference on seeded random pixels: float32 within 1e-4, integer schemes within a
 * few steps of the coarsest activation quantizer.
 */
const H = 9;
const W = 7;
const C = 3;
const input: Layer = { kind: 'input', shape: [H, W, C], scale: 1 / 255, offset: 0 };
const conv = (seed: number, kh: number, kw: number, cin: number, cout: number, extra: Partial<Extract<Layer, { kind: 'conv2d' }>>): Layer => ({
  kind: 'conv2d', kernel: randomValues(seed, kh * kw * cin * cout, 0.5), kernelShape: [kh, kw, cin, cout],
  bias: randomValues(seed + 1, cout, 0.2), strides: [1, 1], padding: 'same', activation: 'linear', ...extra,
});
const depthwise = (seed: number, k: number, cin: number, m: number, extra: Partial<Extract<Layer, { kind: 'depthwise' }>>): Layer => ({
  kind: 'depthwise', kernel: randomValues(seed, k * k * cin * m, 0.5), kernelShape: [k, k, cin, m],
  bias: randomValues(seed + 1, cin * m, 0.2), strides: [1, 1], padding: 'same', activation: 'linear', ...extra,
});
const dense = (seed: number, nin: number, nout: number, activation: 'linear' | 'relu' | 'relu6'): Layer => ({
  kind: 'dense', kernel: randomValues(seed, nin * nout, 0.3), kernelShape: [nin, nout], bias: randomValues(seed + 1, nout, 0.2), activation,
});

/**
 * [title, layers after the input, bound in coarsest activation steps]. Default bound 2: weight
 * rounding plus output rounding. MAX_POOL_2D only copies codes (0); AVERAGE_POOL_2D rounds once
 * (0.5). A batch normalization after a ReLU has per-channel factors; the uint8 scheme stores them
 * with one scale for all channels, which costs up to one more step than int8's per-channel scales.
 */
type Case = [string, Layer[], { int8?: number; uint8?: number }?];
const CASES: Case[] = [
  ['CONV_2D 3×3 same stride 1 + ReLU', [conv(1, 3, 3, C, 8, { activation: 'relu' })]],
  ['CONV_2D 3×3 valid stride 2, linear', [conv(3, 3, 3, C, 5, { padding: 'valid', strides: [2, 2] })]],
  ['CONV_2D 5×3 same stride 2 + ReLU6', [conv(5, 5, 3, C, 4, { strides: [2, 2], activation: 'relu6' })]],
  ['CONV_2D 1×1 without bias', [conv(7, 1, 1, C, 6, { bias: null })]],
  ['DEPTHWISE_CONV_2D 3×3 same stride 1 + ReLU6', [depthwise(11, 3, C, 1, { activation: 'relu6' })]],
  ['DEPTHWISE_CONV_2D 3×3 same stride 2, multiplier 2', [depthwise(13, 3, C, 2, { strides: [2, 2] })]],
  ['DEPTHWISE_CONV_2D 3×3 valid stride 2 + ReLU', [depthwise(15, 3, C, 1, { strides: [2, 2], padding: 'valid', activation: 'relu' })]],
  ['MAX_POOL_2D 2×2 valid', [{ kind: 'maxpool', pool: [2, 2], strides: [2, 2], padding: 'valid' }], { int8: 0, uint8: 0 }],
  ['MAX_POOL_2D 3×3 same stride 2', [{ kind: 'maxpool', pool: [3, 3], strides: [2, 2], padding: 'same' }], { int8: 0, uint8: 0 }],
  ['AVERAGE_POOL_2D 2×2 valid', [{ kind: 'avgpool', pool: [2, 2], strides: [2, 2], padding: 'valid' }], { int8: 0.5, uint8: 0.5 }],
  ['AVERAGE_POOL_2D 3×3 same stride 2 (edge windows average in-image values)', [{ kind: 'avgpool', pool: [3, 3], strides: [2, 2], padding: 'same' }], { int8: 0.5, uint8: 0.5 }],
  ['global AVERAGE_POOL_2D + RESHAPE', [conv(17, 3, 3, C, 4, {}), { kind: 'gap' }]],
  ['global AVERAGE_POOL_2D keepDims', [conv(19, 3, 3, C, 4, {}), { kind: 'gap', keepDims: true }]],
  ['RESHAPE (Flatten) + FULLY_CONNECTED + ReLU', [{ kind: 'flatten' }, dense(21, H * W * C, 10, 'relu')]],
  ['FULLY_CONNECTED + SOFTMAX', [{ kind: 'flatten' }, dense(23, H * W * C, 6, 'linear'), { kind: 'softmax' }]],
  ['standalone RELU after a pool', [conv(25, 3, 3, C, 4, {}), { kind: 'maxpool', pool: [2, 2], strides: [2, 2], padding: 'valid' }, { kind: 'activation', activation: 'relu' }]],
  ['standalone RELU6 after a pool', [conv(27, 3, 3, C, 4, { bias: randomValues(28, 4, 3) }), { kind: 'avgpool', pool: [2, 2], strides: [1, 1], padding: 'valid' }, { kind: 'activation', activation: 'relu6' }]],
  ['batch normalization after a ReLU (a 1×1 DEPTHWISE_CONV_2D)', [conv(29, 3, 3, C, 4, { activation: 'relu' }), randomBatchNorm(31, 4)], { uint8: 3 }],
];

describe('convert: each op against the tfjs reference', function () {
  this.timeout(20000);
  const inputs = randomPixels(100, 12, H * W * C);
  for (const [title, body, bounds] of CASES) {
    const layers = [input, ...body];
    it(`${title}: float32 within 1e-4`, async () => {
      const v = await check(layers, convertLayers(layers), inputs);
      assert.equal(v.float, true);
      assert.ok(v.maxAbsDiff <= 1e-4, `max |tflite − tfjs| = ${v.maxAbsDiff}`);
    });
    for (const scheme of ['int8', 'uint8'] as const) {
      const bound = bounds?.[scheme] ?? 2;
      it(`${title}: ${scheme} within ${bound} activation steps`, async () => {
        const v = await check(layers, convertLayers(layers, { quantize: { representative: inputs, scheme } }), inputs);
        assert.equal(v.float, false);
        // + 1e-3 step: the tfjs reference itself computes in float32.
        assert.ok(v.steps <= bound + 1e-3, `max |tflite − tfjs| = ${v.maxAbsDiff} = ${v.steps.toFixed(2)} activation steps`);
      });
    }
  }
});
