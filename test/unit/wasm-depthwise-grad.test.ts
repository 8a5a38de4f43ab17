import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/head';
import { registerWasmDepthwiseGrad } from '../../src/head/wasm-depthwise-grad';
import { makeRng } from '../../src/augment';

/** Seeded values in [−1, 1). */
function values(n: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
}

interface Case {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
  dilations?: [number, number];
}

/** d/dx and d/dfilter of Σ r·depthwiseConv2d(x, filter) on the current backend. */
function grads(c: Case, seed: number): { dx: Float32Array; df: Float32Array; y: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.x.reduce((a, b) => a * b), seed), c.x);
    const f = tf.tensor4d(values(c.f.reduce((a, b) => a * b), seed + 1), c.f);
    const y = tf.depthwiseConv2d(x, f, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
    const r = tf.tensor(values(y.size, seed + 2), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad, 'NHWC', c.dilations ?? 1), r)));
    const [dx, df] = g([x, f]);
    return { dx: dx.dataSync() as Float32Array, df: df.dataSync() as Float32Array, y: y.dataSync() as Float32Array };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const tol = 1e-5 * Math.max(1, Math.abs(expected[i]));
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs cpu ${expected[i]}`);
  }
}

describe('WASM depthwise gradient bridge (checked against the cpu backend)', () => {
  const cases: Case[] = [
    { name: '3×3 stride 1 same (MobileNet block 13 at 7×7)', x: [2, 7, 7, 8], f: [3, 3, 8, 1], strides: [1, 1], pad: 'same' },
    { name: '3×3 stride 2 same on an even map (asymmetric padding, block 12)', x: [2, 6, 6, 5], f: [3, 3, 5, 1], strides: [2, 2], pad: 'same' },
    { name: '3×3 stride 2 valid on an odd map', x: [1, 7, 9, 3], f: [3, 3, 3, 1], strides: [2, 2], pad: 'valid' },
    { name: 'channel multiplier 2, 2×3 filter', x: [2, 5, 6, 3], f: [2, 3, 3, 2], strides: [1, 1], pad: 'same' },
  ];

  before(async () => {
    assert.equal(await initBackend(), 'wasm');
    registerWasmDepthwiseGrad();
  });
  after(async () => { await tf.setBackend('wasm'); });

  it('registers both kernels for wasm, once', () => {
    // Registered once in before(); a second call adds nothing and the kernels are ours.
    assert.deepEqual(registerWasmDepthwiseGrad(), []);
    assert.ok(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm'));
    assert.ok(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm'));
  });

  for (const [k, c] of cases.entries()) {
    it(`${c.name}: input and filter gradients equal the cpu backend's`, async () => {
      await tf.setBackend('cpu');
      const ref = grads(c, 10 * k + 1);
      await tf.setBackend('wasm');
      const got = grads(c, 10 * k + 1);
      assertClose(got.y, ref.y, 'forward');
      assertClose(got.df, ref.df, 'dfilter');
      assertClose(got.dx, ref.dx, 'dx');
      assert.ok(ref.df.some((v) => Math.abs(v) > 1e-3), 'the reference gradient is not trivially zero');
    });
  }

  it('a depthwise convolution trains on WASM with Adam (loss falls)', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(values(4 * 5 * 5 * 6, 7), [4, 5, 5, 6]);
    const target = tf.tensor(values(4 * 5 * 5 * 6, 8), [4, 5, 5, 6]);
    const f = tf.variable(tf.tensor4d(values(3 * 3 * 6, 9), [3, 3, 6, 1]));
    const opt = tf.train.adam(0.05);
    const loss = () => tf.mean(tf.square(tf.sub(tf.depthwiseConv2d(x, f, 1, 'same'), target))) as tf.Scalar;
    const first = loss().dataSync()[0];
    for (let i = 0; i < 30; i++) opt.minimize(loss);
    const last = loss().dataSync()[0];
    assert.ok(last < first * 0.9, `loss ${first} → ${last}`);
    tf.dispose([x, target, f]);
    opt.dispose();
  });
});
