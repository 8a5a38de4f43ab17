import * as assert from 'node:assert/strict';
import { convertLayers, layersToFragment, runFloat, verifyConversion, type Layer } from '../../src/convert';
import {
  appendOps, embeddingInfo, mainGraph, opName, opVersionProblems, readModel, TensorType, writeModel, type Model,
} from '../../src/tflite';
import { coarsestStep, randomBatchNorm, randomPixels, randomValues } from './convert-util';

/**
 * The fine-tuning path: re-trained top blocks emitted as a quantized fragment and appended to a
 * quantized base at its output, like MobileNet v1's last blocks (depthwise 3×3 + BN + ReLU6,
 * 1×1 conv + BN + ReLU6, global average pool keeping [1, 1, 1, C]).
 */
describe('convert: quantized fragment appended to a uint8 graph', function () {
  this.timeout(20000);
  const base: Layer[] = [
    { kind: 'input', shape: [9, 9, 3], scale: 1 / 255, offset: 0 },
    { kind: 'conv2d', kernel: randomValues(81, 3 * 8, 0.8), kernelShape: [1, 1, 3, 8], bias: randomValues(82, 8, 0.1), strides: [1, 1], padding: 'same', activation: 'relu6' },
  ];
  const top: Layer[] = [
    { kind: 'depthwise', kernel: randomValues(83, 9 * 8, 0.5), kernelShape: [3, 3, 8, 1], bias: null, strides: [2, 2], padding: 'same', activation: 'linear' },
    randomBatchNorm(84, 8),
    { kind: 'activation', activation: 'relu6' },
    { kind: 'conv2d', kernel: randomValues(85, 8 * 16, 0.4), kernelShape: [1, 1, 8, 16], bias: null, strides: [1, 1], padding: 'same', activation: 'linear' },
    randomBatchNorm(86, 16),
    { kind: 'activation', activation: 'relu6' },
    { kind: 'depthwise', kernel: randomValues(87, 9 * 16, 0.5), kernelShape: [3, 3, 16, 1], bias: randomValues(88, 16, 0.1), strides: [1, 1], padding: 'same', activation: 'relu6' },
    { kind: 'gap', keepDims: true },
  ];
  const inputs = randomPixels(89, 40, 9 * 9 * 3);
  const baseModel: Model = readModel(convertLayers(base, { quantize: { representative: inputs, scheme: 'uint8' } }));
  const emb = embeddingInfo(baseModel);
  // Fragment calibration data: the float activations where the fragment attaches.
  const rep = runFloat(base, inputs);
  const graft = (scheme: 'uint8' | 'int8'): { model: Model; output: { shape: number[]; scale: number; zeroPoint: number }; first: number } => {
    const { fragment, output } = layersToFragment(top, { input: { shape: emb.shape, type: 'uint8', scale: emb.scale!, zeroPoint: emb.zeroPoint! }, representative: rep, scheme });
    const r = appendOps(baseModel, fragment, [emb.tensorIndex]);
    return { model: r.model, output, first: r.opIndices[0] };
  };

  it('uint8 scheme: DEPTHWISE s2 + RELU6, CONV 1×1 + RELU6, DEPTHWISE s1, AVERAGE_POOL_2D, all uint8 per-tensor', () => {
    const { model, output, first } = graft('uint8');
    const sg = mainGraph(model);
    const ops = sg.operators.slice(first);
    assert.deepEqual(ops.map((op) => opName(model, op)), ['DEPTHWISE_CONV_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'AVERAGE_POOL_2D']);
    assert.equal(ops[0].inputs[0], emb.tensorIndex, 'bound to the base output');
    assert.deepEqual([ops[0].builtinOptions!.fields.stride_h, ops[0].builtinOptions!.fields.padding, ops[0].builtinOptions!.fields.fused_activation_function], [2, 0, 3]);
    assert.deepEqual([ops[1].builtinOptions!.fields.fused_activation_function, ops[2].builtinOptions!.fields.stride_h], [3, 1]);
    for (const op of ops) {
      for (const t of [...op.inputs, ...op.outputs].map((i) => sg.tensors[i])) {
        assert.ok(t.type === TensorType.UINT8 || t.type === TensorType.INT32, `${t.name} is ${TensorType[t.type]}`);
        assert.equal(t.quantization!.scale!.length, 1, `${t.name} per-tensor`);
      }
    }
    assert.deepEqual(opVersionProblems(model), []);
    const out = sg.tensors[sg.outputs[0]];
    assert.deepEqual(output, { shape: [1, 1, 1, 16], scale: out.quantization!.scale![0], zeroPoint: out.quantization!.zeroPoint![0] });
    assert.deepEqual(out.shape, [1, 1, 1, 16]);
    // AVERAGE_POOL_2D keeps its input's params.
    assert.deepEqual(out.quantization, sg.tensors[ops[3].inputs[0]].quantization);
  });

  for (const scheme of ['uint8', 'int8'] as const) {
    it(`${scheme} scheme: the grafted model computes base + top within 3 coarsest activation steps`, async () => {
      const { model } = graft(scheme);
      const bytes = writeModel(model);
      const v = await verifyConversion([...base, ...top], bytes, inputs);
      const steps = v.maxAbsDiff / coarsestStep(bytes);
      // Three quantized ops in the fragment after the base's own rounding.
      assert.ok(steps <= 3, `max diff ${v.maxAbsDiff} = ${steps.toFixed(2)} steps`);
      if (scheme === 'int8') {
        const sg = mainGraph(model);
        const q = sg.operators.find((op) => opName(model, op) === 'QUANTIZE')!;
        const [from, to] = [sg.tensors[q.inputs[0]], sg.tensors[q.outputs[0]]];
        assert.deepEqual([from.type, to.type, to.quantization!.scale, to.quantization!.zeroPoint], [TensorType.UINT8, TensorType.INT8, from.quantization!.scale, [from.quantization!.zeroPoint![0] - 128]]);
      }
    });
  }

  it('rejects an input layer and a zero point outside the input type', () => {
    const input = { shape: emb.shape, type: 'uint8' as const, scale: 0.1, zeroPoint: 0 };
    assert.throws(() => layersToFragment([base[0], ...top], { input, representative: rep, scheme: 'uint8' }), (e: Error & { code?: string }) => e.code === 'BAD_MODEL');
    assert.throws(() => layersToFragment(top, { input: { ...input, type: 'int8', zeroPoint: 200 }, representative: rep, scheme: 'uint8' }),
      (e: Error & { code?: string }) => e.code === 'BAD_OPTION' && /zero point 200/.test(e.message));
  });
});
