import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend, WASM_BRIDGED_KERNELS } from '../../src/head';
import { makeRng } from '../../src/augment';

/** Seeded uniform values in [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  const r = makeRng(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

/** Runs `f` on a backend and returns its result's values, restoring the previous backend. */
async function on<T>(backend: 'cpu' | 'wasm', f: () => T): Promise<T> {
  const before = tf.getBackend();
  await tf.setBackend(backend);
  try {
    return f();
  } finally {
    await tf.setBackend(before);
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

interface Case { x: [number, number, number, number]; f: [number, number, number, number]; strides: [number, number]; pad: 'same' | 'valid' }

const CASES: Case[] = [
  { x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
  { x: [3, 9, 7, 2], f: [3, 3, 2, 5], strides: [2, 2], pad: 'same' },
  { x: [2, 8, 6, 1], f: [3, 3, 1, 6], strides: [1, 1], pad: 'valid' },
  { x: [2, 9, 8, 4], f: [3, 2, 4, 3], strides: [2, 1], pad: 'valid' },
  { x: [1, 5, 5, 3], f: [1, 1, 3, 2], strides: [1, 1], pad: 'same' },
  { x: [2, 6, 10, 2], f: [5, 3, 2, 3], strides: [1, 2], pad: 'same' },
];

/** d(Σ r·conv2d(x, w))/dw and /dx for a fixed random r: the kernel and input gradients. */
function convGrads(c: Case, seed: number): { dw: Float32Array; dx: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(rand(c.x.reduce((a, b) => a * b), seed), c.x);
    const w = tf.tensor4d(rand(c.f.reduce((a, b) => a * b), seed + 1), c.f);
    const shape = tf.conv2d(x, w, c.strides, c.pad).shape;
    const r = tf.tensor(rand(shape.reduce((a, b) => a * b), seed + 2), shape);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides, c.pad), r)));
    const [dx, dw] = g([x, w]);
    return { dw: dw.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

describe('WASM training kernels', () => {
  before(async () => { await initBackend('wasm'); });

  it('registers the kernels the WASM backend lacks', () => {
    assert.deepEqual(WASM_BRIDGED_KERNELS, ['Conv2DBackpropFilter', 'Conv2DBackpropInput']);
    for (const k of WASM_BRIDGED_KERNELS) assert.ok(tf.getKernel(k, 'wasm'), `${k} is registered for wasm`);
  });

  for (const [i, c] of CASES.entries()) {
    it(`Conv2D gradients equal the CPU backend's: x ${c.x.join('×')}, filter ${c.f.join('×')}, strides ${c.strides.join(',')}, ${c.pad}`, async () => {
      const cpu = await on('cpu', () => convGrads(c, 10 * i + 1));
      const wasm = await on('wasm', () => convGrads(c, 10 * i + 1));
      assert.equal(wasm.dw.length, c.f.reduce((a, b) => a * b));
      assert.ok(maxAbsDiff(wasm.dw, cpu.dw) <= 1e-4, `dW differs by ${maxAbsDiff(wasm.dw, cpu.dw)}`);
      assert.ok(maxAbsDiff(wasm.dx, cpu.dx) <= 1e-4, `dX differs by ${maxAbsDiff(wasm.dx, cpu.dx)}`);
      // Not all zeros: the comparison means something.
      assert.ok(cpu.dw.some((v) => Math.abs(v) > 1e-3));
    });
  }

  it('leaks no tensors or backend data', async () => {
    await on('wasm', () => {
      convGrads(CASES[1], 5);
      const before = tf.memory();
      convGrads(CASES[1], 5);
      const after = tf.memory();
      assert.equal(after.numTensors, before.numTensors);
      assert.equal(after.numDataBuffers, before.numDataBuffers);
    });
  });

  it('refuses explicit padding in one line naming what to use', async () => {
    await on('wasm', () => {
      const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
      const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
      assert.throws(() => tf.grad((ww: tf.Tensor) => tf.sum(tf.conv2d(x, ww as tf.Tensor4D, 1, 1)))(w),
        (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /'same' or 'valid'/.test(e.message) && !e.message.includes('\n'));
      tf.dispose([x, w]);
    });
  });

  it('MaxPool and batch-norm gradients exist on WASM and equal the CPU backend\'s', async () => {
    const grads = () => tf.tidy(() => {
      const x = tf.tensor4d(rand(2 * 6 * 4 * 3, 77), [2, 6, 4, 3]);
      const gamma = tf.tensor1d(rand(3, 78));
      const f = (xx: tf.Tensor, gg: tf.Tensor) => {
        // Batch statistics as tfjs-layers' BatchNormalization computes them in training.
        const { mean, variance } = tf.moments(xx, [0, 1, 2]);
        const y = tf.batchNorm(xx as tf.Tensor4D, mean, variance, tf.zeros([3]), gg as tf.Tensor1D, 1e-3);
        return tf.sum(tf.mul(tf.maxPool(y as tf.Tensor4D, 2, 2, 'valid'), tf.tensor4d(rand(2 * 3 * 2 * 3, 79), [2, 3, 2, 3])));
      };
      return tf.grads(f)([x, gamma]).map((t) => t.dataSync() as Float32Array);
    });
    const cpu = await on('cpu', grads);
    const wasm = await on('wasm', grads);
    for (let k = 0; k < 2; k++) assert.ok(maxAbsDiff(wasm[k], cpu[k]) <= 1e-4, `gradient ${k} differs by ${maxAbsDiff(wasm[k], cpu[k])}`);
  });
});
