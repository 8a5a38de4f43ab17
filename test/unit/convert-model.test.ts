import * as assert from 'node:assert/strict';
import {
  convertLayers, foldBatchNorm, prepareLayers, runFloat, verifyConversion, type Layer,
} from '../../src/convert';
import {
  builtinCodeOf, builtinName, declaredMinRuntimeVersion, minRuntimeVersion, opName, opVersionProblems,
  readModel, TensorType, type Model, type Tensor,
} from '../../src/tflite';
import { makeRng } from '../../src/augment';
import { randomBatchNorm, randomPixels, randomValues } from './convert-util';

const f32 = (v: number[]): Float32Array => Float32Array.from(v);
const opNames = (m: Model): string[] => m.subgraphs[0].operators.map((op) => opName(m, op));

describe('convert: batch normalization folding and layer preparation', () => {
  // a = γ/√(σ²+ε) = [2/√4, 0.5/√1] = [1, 0.5]; b = β − μ·a = [1 − 0.5, 0 − 2·0.5] = [0.5, −1].
  const bn: Layer = { kind: 'batchnorm', gamma: f32([2, 0.5]), beta: f32([1, 0]), mean: f32([0.5, 2]), variance: f32([3, 0]), epsilon: 1 };

  it('folds into a Conv2D: kernel ×a per output channel, bias·a + b', () => {
    const conv: Layer = { kind: 'conv2d', kernel: f32([1, 2, 3, 4]), kernelShape: [1, 1, 2, 2], bias: f32([0.5, -1]), strides: [1, 1], padding: 'same', activation: 'linear' };
    const out = foldBatchNorm([conv, bn]);
    assert.equal(out.length, 1);
    const c = out[0] as Extract<Layer, { kind: 'conv2d' }>;
    // Keras [kh, kw, cin, cout]: entries alternate output channel 0, 1.
    assert.deepEqual([...c.kernel], [1, 1, 3, 2]);
    assert.deepEqual([...c.bias!], [1, -1.5]);
    assert.deepEqual([...(conv as typeof c).kernel], [1, 2, 3, 4], 'input not modified');
  });

  it('folds into a DepthwiseConv2D (output channel c·multiplier + m) and a bias-less Dense', () => {
    const dw: Layer = { kind: 'depthwise', kernel: f32([4, 8]), kernelShape: [1, 1, 1, 2], bias: null, strides: [1, 1], padding: 'same', activation: 'linear' };
    const d = foldBatchNorm([dw, bn])[0] as Extract<Layer, { kind: 'depthwise' }>;
    assert.deepEqual([...d.kernel], [4, 4]);
    assert.deepEqual([...d.bias!], [0.5, -1]);
    const dense: Layer = { kind: 'dense', kernel: f32([1, 2, 3, 4, 5, 6]), kernelShape: [3, 2], bias: null, activation: 'linear' };
    const e = foldBatchNorm([dense, bn])[0] as Extract<Layer, { kind: 'dense' }>;
    assert.deepEqual([...e.kernel], [1, 1, 3, 2, 5, 3]);
    assert.deepEqual([...e.bias!], [0.5, -1]);
  });

  it('turns a batch normalization it cannot fold (after a ReLU) into a 1×1 depthwise a·x + b', () => {
    const conv: Layer = { kind: 'conv2d', kernel: f32([1, 2]), kernelShape: [1, 1, 1, 2], bias: null, strides: [1, 1], padding: 'same', activation: 'relu' };
    const out = foldBatchNorm([{ kind: 'input', shape: [2, 2, 1], scale: 1, offset: 0 }, conv, bn]);
    assert.equal(out[1], conv);
    const d = out[2] as Extract<Layer, { kind: 'depthwise' }>;
    assert.equal(d.kind, 'depthwise');
    assert.deepEqual(d.kernelShape, [1, 1, 2, 1]);
    assert.deepEqual([...d.kernel], [1, 0.5]);
    assert.deepEqual([...d.bias!], [0.5, -1]);
  });

  it('drops Dropout, fuses ReLU/ReLU6 into a linear op before it and keeps the rest', () => {
    const conv: Layer = { kind: 'conv2d', kernel: f32([1, 2]), kernelShape: [1, 1, 1, 2], bias: null, strides: [1, 1], padding: 'same', activation: 'linear' };
    const p = prepareLayers([
      { kind: 'input', shape: [4, 4, 1], scale: 1, offset: 0 },
      conv, { kind: 'activation', activation: 'relu6' }, { kind: 'dropout', rate: 0.5 },
      { kind: 'maxpool', pool: [2, 2], strides: [2, 2], padding: 'valid' }, { kind: 'activation', activation: 'relu' },
      { kind: 'flatten' }, { kind: 'dense', kernel: new Float32Array(16), kernelShape: [8, 2], bias: null, activation: 'relu' },
      { kind: 'activation', activation: 'relu6' }, { kind: 'softmax' },
    ]);
    assert.deepEqual(p.layers.map((l) => `${l.kind}${'activation' in l ? `:${l.activation}` : ''}`),
      ['conv2d:relu6', 'maxpool', 'activation:relu', 'flatten', 'dense:relu', 'activation:relu6', 'softmax']);
    assert.deepEqual(p.shapes, [[4, 4, 2], [2, 2, 2], [2, 2, 2], [8], [2], [2], [2]]);
  });

  it('rejects shape mismatches naming the layer', () => {
    const dense: Layer = { kind: 'dense', kernel: new Float32Array(10), kernelShape: [5, 2], bias: null, activation: 'linear', name: 'fc' };
    assert.throws(() => prepareLayers([{ kind: 'input', shape: [2, 2, 1], scale: 1, offset: 0 }, { kind: 'flatten' }, dense]),
      (e: Error & { code?: string }) => e.code === 'BAD_MODEL' && /layer 2 'fc' \(dense\) kernel expects 5 inputs but receives 4/.test(e.message));
  });
});

describe('convert: float export folds the input rescaling', function () {
  this.timeout(20000);
  const conv = (padding: 'same' | 'valid'): Layer => ({ kind: 'conv2d', kernel: randomValues(41, 27 * 4, 0.5), kernelShape: [3, 3, 3, 4], bias: randomValues(42, 4, 0.2), strides: [1, 1], padding, activation: 'relu' });
  const inputs = randomPixels(43, 6, 6 * 6 * 3);
  const cases: [string, number, Layer, string[]][] = [
    ['scale only: into the first conv\'s kernel', 0, conv('same'), ['CONV_2D']],
    ['offset with VALID padding: into the bias', -1, conv('valid'), ['CONV_2D']],
    ['offset with SAME padding: an ADD of offset/scale before the conv', -1, conv('same'), ['ADD', 'CONV_2D']],
    ['first layer without weights: MUL and ADD', -1, { kind: 'maxpool', pool: [2, 2], strides: [2, 2], padding: 'valid' }, ['MUL', 'ADD', 'MAX_POOL_2D']],
  ];
  for (const [title, offset, first, ops] of cases) {
    it(title, async () => {
      const layers: Layer[] = [{ kind: 'input', shape: [6, 6, 3], scale: 2 / 255, offset }, first];
      const bytes = convertLayers(layers);
      assert.deepEqual(opNames(readModel(bytes)), ops);
      const v = await verifyConversion(layers, bytes, inputs);
      assert.ok(v.maxAbsDiff <= 1e-4, `max diff ${v.maxAbsDiff}`);
    });
  }

  it('quantized input: uint8 codes with scale = input scale and zero point round(−offset/scale)', () => {
    const layers = (offset: number): Layer[] => [{ kind: 'input', shape: [6, 6, 3], scale: 2 / 255, offset }, conv('same')];
    const input = (bytes: Uint8Array): Tensor => { const m = readModel(bytes); return m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]]; };
    const t = input(convertLayers(layers(-1), { quantize: { representative: inputs, scheme: 'uint8' } }));
    assert.equal(t.type, TensorType.UINT8);
    assert.deepEqual(t.quantization!.scale, [Math.fround(2 / 255)]);
    assert.deepEqual(t.quantization!.zeroPoint, [128]); // −(−1)/(2/255) = 127.5, rounded half away from 0
    const t8 = input(convertLayers(layers(0), { quantize: { representative: inputs, scheme: 'int8', io: 'int8' } }));
    assert.equal(t8.type, TensorType.INT8);
    assert.deepEqual(t8.quantization!.zeroPoint, [-128]);
    assert.throws(() => convertLayers(layers(0.5), { quantize: { representative: inputs, scheme: 'int8' } }),
      (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /outside uint8 0\.\.255/.test(e.message));
  });
});

/** The seed's kind of CNN: conv-bn-pool ×2 (both BN placements), flatten, dense, dropout, softmax. */
function smallCnn(): Layer[] {
  return [
    { kind: 'input', shape: [12, 10, 3], scale: 1 / 255, offset: 0, name: 'image' },
    { kind: 'conv2d', kernel: randomValues(51, 27 * 8, 0.6), kernelShape: [3, 3, 3, 8], bias: randomValues(52, 8, 0.1), strides: [1, 1], padding: 'same', activation: 'relu' },
    randomBatchNorm(53, 8),
    { kind: 'maxpool', pool: [2, 2], strides: [2, 2], padding: 'valid' },
    { kind: 'dropout', rate: 0.25 },
    { kind: 'conv2d', kernel: randomValues(54, 72 * 6, 0.4), kernelShape: [3, 3, 8, 6], bias: null, strides: [1, 1], padding: 'same', activation: 'linear' },
    randomBatchNorm(55, 6),
    { kind: 'activation', activation: 'relu' },
    { kind: 'maxpool', pool: [2, 2], strides: [2, 2], padding: 'valid' },
    { kind: 'flatten' },
    { kind: 'dense', kernel: randomValues(56, 3 * 2 * 6 * 16, 0.5), kernelShape: [36, 16], bias: randomValues(57, 16, 0.1), activation: 'relu' },
    { kind: 'dropout', rate: 0.5 },
    { kind: 'dense', kernel: randomValues(58, 16 * 5, 2), kernelShape: [16, 5], bias: randomValues(59, 5, 0.1), activation: 'linear' },
    { kind: 'softmax', name: 'probabilities' },
  ];
}

/**
 * Inputs a random network classifies confidently, as a trained one does its classes: the 5 of 40
 * random images with the largest float top-1 − top-2 probability margin serve as prototypes, and
 * examples are prototypes plus ±16 pixel noise. (On pure noise a random network's top-2 classes
 * often nearly tie, and any quantization flips a few of them.)
 */
function confidentInputs(layers: Layer[], seed: number, n: number): Float32Array[] {
  const cands = randomPixels(70, 40, 12 * 10 * 3);
  const margin = (p: Float32Array): number => { const s = [...p].sort((a, b) => b - a); return s[0] - s[1]; };
  const probs = runFloat(layers, cands);
  const protos = cands.map((x, i) => ({ x, m: margin(probs[i]) })).sort((a, b) => b.m - a.m).slice(0, 5).map((p) => p.x);
  const r = makeRng(seed);
  return Array.from({ length: n }, (_, i) => Float32Array.from(protos[i % 5], (v) => Math.min(255, Math.max(0, v + Math.floor(r() * 33) - 16))));
}

describe('convert: a small CNN end to end', function () {
  this.timeout(20000);
  const layers = smallCnn();
  const rep = confidentInputs(layers, 71, 64);
  const val = confidentInputs(layers, 72, 100);

  it('float32: within 1e-4 of tfjs on every output', async () => {
    const v = await verifyConversion(layers, convertLayers(layers), val);
    assert.equal(v.n, 100);
    assert.ok(v.passed && v.maxAbsDiff <= 1e-4, `max diff ${v.maxAbsDiff}`);
    assert.equal(v.agreement, 1);
  });

  for (const [title, q] of [
    ['int8 with uint8 I/O', { scheme: 'int8', io: 'uint8' }],
    ['int8 with int8 I/O', { scheme: 'int8', io: 'int8' }],
    ['uint8 scheme', { scheme: 'uint8' }],
  ] as const) {
    it(`${title}: top-1 agrees with tfjs on ≥ 99% of held-out inputs`, async () => {
      const v = await verifyConversion(layers, convertLayers(layers, { quantize: { representative: rep, ...q } }), val);
      assert.equal(v.float, false);
      assert.ok(v.passed && v.agreement >= 0.99, `agreement ${v.agreement}, max diff ${v.maxAbsDiff}`);
    });
  }

  it('round trip through readModel: int8 tensors, per-axis params, biases, op codes and versions', () => {
    const m = readModel(convertLayers(layers, { quantize: { representative: rep, scheme: 'int8' } }));
    const sg = m.subgraphs[0];
    const T = (i: number): Tensor => sg.tensors[i];
    assert.deepEqual(opNames(m), ['QUANTIZE', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'MAX_POOL_2D', 'CONV_2D', 'MAX_POOL_2D', 'RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'SOFTMAX', 'QUANTIZE']);
    assert.deepEqual(m.operatorCodes.map((c) => `${builtinName(builtinCodeOf(c))}:${c.version}`).sort(),
      ['CONV_2D:3', 'DEPTHWISE_CONV_2D:3', 'FULLY_CONNECTED:4', 'MAX_POOL_2D:2', 'QUANTIZE:1', 'RESHAPE:1', 'SOFTMAX:2']);
    assert.deepEqual(opVersionProblems(m), []);
    assert.equal(declaredMinRuntimeVersion(m), minRuntimeVersion(m));
    assert.ok(!sg.tensors.some((t) => t.type === TensorType.FLOAT32), 'no float tensors');

    const input = T(sg.inputs[0]);
    assert.equal(input.name, 'image');
    assert.deepEqual([input.type, input.shape, input.quantization!.scale, input.quantization!.zeroPoint], [TensorType.UINT8, [1, 12, 10, 3], [Math.fround(1 / 255)], [0]]);
    const [quantIn, conv1, bnDw, pool1] = sg.operators;
    assert.deepEqual(T(quantIn.outputs[0]).quantization!.zeroPoint, [-128]);

    // CONV_2D weights: int8 [cout, kh, kw, cin], one symmetric scale per output channel.
    const w = T(conv1.inputs[1]);
    const k = (layers[1] as Extract<Layer, { kind: 'conv2d' }>).kernel;
    assert.deepEqual([w.type, w.shape, w.quantization!.quantizedDimension], [TensorType.INT8, [8, 3, 3, 3], 0]);
    const expectScale = Array.from({ length: 8 }, (_, o) => Math.fround(Math.max(...Array.from({ length: 27 }, (_, j) => Math.abs(k[j * 8 + o]))) / 127));
    assert.deepEqual(w.quantization!.scale, expectScale);
    assert.deepEqual(w.quantization!.zeroPoint, new Array(8).fill(0));
    const codes = new Int8Array(m.buffers[w.buffer].data.buffer, m.buffers[w.buffer].data.byteOffset, 216);
    for (let o = 0; o < 8; o++) assert.equal(Math.max(...codes.subarray(o * 27, o * 27 + 27).map(Math.abs)), 127, `channel ${o} uses the full ±127 range`);
    // Bias: int32, zero point 0, scale = input scale × weight scale per channel.
    const b = T(conv1.inputs[2]);
    assert.equal(b.type, TensorType.INT32);
    assert.deepEqual(b.quantization!.scale, expectScale.map((s) => Math.fround(Math.fround(1 / 255) * s)));
    assert.deepEqual(b.quantization!.zeroPoint, new Array(8).fill(0));
    const bias = new Int32Array(m.buffers[b.buffer].data.slice().buffer);
    const b0 = (layers[1] as Extract<Layer, { kind: 'conv2d' }>).bias!;
    assert.deepEqual([...bias], Array.from(b0, (v, o) => Math.round(v / b.quantization!.scale![o])));

    // The unfoldable BN became a 1×1 DEPTHWISE_CONV_2D, per-axis on dimension 3.
    const dw = T(bnDw.inputs[1]);
    assert.deepEqual([dw.shape, dw.quantization!.quantizedDimension, dw.quantization!.scale!.length], [[1, 1, 1, 8], 3, 8]);
    // MAX_POOL_2D keeps its input's params.
    assert.deepEqual(T(pool1.outputs[0]).quantization, T(pool1.inputs[0]).quantization);
    // FULLY_CONNECTED weights: per-tensor symmetric.
    const fc = T(sg.operators[7].inputs[1]);
    assert.deepEqual([fc.type, fc.shape, fc.quantization!.scale!.length, fc.quantization!.zeroPoint], [TensorType.INT8, [16, 36], 1, [0]]);
    // SOFTMAX int8 1/256 zp −128, then QUANTIZE to uint8 zp 0.
    const sm = T(sg.operators[9].outputs[0]);
    assert.deepEqual([sm.type, sm.quantization!.scale, sm.quantization!.zeroPoint], [TensorType.INT8, [1 / 256], [-128]]);
    const out = T(sg.outputs[0]);
    assert.deepEqual([out.type, out.shape, out.quantization!.scale, out.quantization!.zeroPoint], [TensorType.UINT8, [1, 5], [1 / 256], [0]]);
  });

  it('float round trip: float32 tensors (int32 reshape shape only), version-1 ops', () => {
    const m = readModel(convertLayers(layers, { description: 'small cnn', name: 'cnn' }));
    assert.equal(m.description, 'small cnn');
    assert.equal(m.subgraphs[0].name, 'cnn');
    assert.deepEqual([...new Set(m.subgraphs[0].tensors.map((t) => TensorType[t.type]))].sort(), ['FLOAT32', 'INT32']);
    assert.ok(m.operatorCodes.every((c) => c.version === 1));
    assert.deepEqual(opNames(m), ['CONV_2D', 'DEPTHWISE_CONV_2D', 'MAX_POOL_2D', 'CONV_2D', 'MAX_POOL_2D', 'RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'SOFTMAX']);
  });
});

