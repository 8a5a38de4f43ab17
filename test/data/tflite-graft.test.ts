import * as assert from 'node:assert/strict';
import {
  ActivationFunctionType, biasScale, cutAtEmbedding, DenseLayer, embeddingInfo, EDGETPU_CUSTOM_OP, findTensor,
  graftHead, HeadWeights, Model, opName, PROBABILITIES_TENSOR, readModel, Tensor, TensorType, writeModel,
} from '../../src/tflite';
import {
  loadModel, modelBytes, openRunner, referenceFcUint8, rng, runAll, sameBytes, testInputs,
} from '../tflite-util';

const EXTRACTOR = 'mobilenet_v1_1.0_224_quant_embedding_extractor';
const EXTRACTOR_TPU = 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu';

/** Float head forward pass in float64: returns per-layer outputs (after relu) and probabilities. */
function forward(head: HeadWeights, x: ArrayLike<number>): { layers: Float64Array[]; probs: Float64Array } {
  const layers: Float64Array[] = [];
  let cur = Float64Array.from(x);
  for (const l of head.layers) {
    const y = new Float64Array(l.units);
    for (let u = 0; u < l.units; u++) {
      let s = l.bias[u];
      for (let i = 0; i < l.inDim; i++) s += l.weights[u * l.inDim + i] * cur[i];
      y[u] = l.activation === 'relu' ? Math.max(0, s) : s;
    }
    layers.push(y);
    cur = y;
  }
  const mx = Math.max(...cur);
  const e = cur.map((v) => Math.exp(v - mx));
  const sum = e.reduce((a, b) => a + b, 0);
  return { layers, probs: e.map((v) => v / sum) };
}

function randomLayer(r: () => number, inDim: number, units: number, amp: number, activation: 'relu' | 'linear'): DenseLayer {
  return {
    weights: Float32Array.from({ length: units * inDim }, () => (r() * 2 - 1) * amp),
    bias: Float32Array.from({ length: units }, () => (r() * 2 - 1) * amp),
    units, inDim, activation, outputRange: [0, 0],
  };
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/**
 * Interpreter uint8 FC output equals the reference exactly, except that an exact tie in the final
 * rounding shift may go either way (TFLite's reference rounds ties away from zero, ruy's x86
 * kernels toward +∞).
 */
function assertFcMatches(got: Uint8Array, ref: { out: Uint8Array; alt: Uint8Array }, what: string): void {
  assert.equal(got.length, ref.out.length);
  for (let k = 0; k < got.length; k++) {
    assert.ok(got[k] === ref.out[k] || got[k] === ref.alt[k], `${what}[${k}]: interpreter ${got[k]}, reference ${ref.out[k]} (tie-up ${ref.alt[k]})`);
  }
}

function tensorOut(m: Model, name: string): Model {
  const sg = m.subgraphs[0];
  return { ...m, subgraphs: [{ ...sg, outputs: [findTensor(m, name)] }] };
}

describe('tflite graft: head appended to a base', function () {
  let inputs: Uint8Array[];
  let embeddings: Float64Array[]; // dequantized uint8 embeddings from running the base alone
  let embeddingsQ: Uint8Array[];
  let head: HeadWeights;
  let scale: number;

  before(async () => {
    inputs = await testInputs(224);
    const base = loadModel(EXTRACTOR);
    const info = embeddingInfo(base);
    scale = info.scale!;
    embeddingsQ = runAll(modelBytes(EXTRACTOR), inputs) as Uint8Array[];
    embeddings = embeddingsQ.map((q) => Float64Array.from(q, (v) => info.scale! * (v - info.zeroPoint!)));
    const r = rng(42);
    head = { layers: [randomLayer(r, 1024, 16, 0.08, 'relu'), randomLayer(r, 16, 5, 0.6, 'linear')] };
    // Calibrate each layer's output range on these inputs (the representative dataset here).
    head.layers.forEach((l, li) => {
      const vals = embeddings.flatMap((e) => [...forward(head, e).layers[li]]);
      l.outputRange = [Math.min(...vals), Math.max(...vals)];
    });
  });

  it('(a) float graft matches the head computed in JS on the base embedding within 1e-5', () => {
    const g = graftHead(loadModel(EXTRACTOR), head, { float: true });
    const sg = g.subgraphs[0];
    assert.deepEqual(sg.operators.slice(28).map((o) => opName(g, o)), ['DEQUANTIZE', 'RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'SOFTMAX']);
    const out = sg.tensors[sg.outputs[0]];
    assert.equal(out.name, PROBABILITIES_TENSOR);
    assert.equal(out.type, TensorType.FLOAT32);
    assert.deepEqual(out.shape, [1, 5]);
    const got = runAll(writeModel(g), inputs);
    got.forEach((p, i) => {
      assert.ok(p instanceof Float32Array);
      const want = forward(head, embeddings[i]).probs;
      for (let k = 0; k < 5; k++) assert.ok(Math.abs(p[k] - want[k]) < 1e-5, `input ${i} class ${k}: ${p[k]} vs ${want[k]}`);
    });
    // The classes are not degenerate: different inputs give different top-1.
    assert.ok(new Set(got.map((p) => argmax(p))).size > 1);
  });

  it('(b) quantized graft: Coral quant params, exact integer FC outputs, probabilities close to float', () => {
    const g = graftHead(loadModel(EXTRACTOR), head);
    const sg = g.subgraphs[0];
    const names = sg.operators.slice(28).map((o) => opName(g, o));
    assert.deepEqual(names, ['RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'SOFTMAX']);
    const [reshape, fc0, fc1, softmax] = sg.operators.slice(28);
    const t = (i: number): Tensor => sg.tensors[i];
    const q = (x: Tensor) => ({ scale: x.quantization!.scale![0], zeroPoint: x.quantization!.zeroPoint![0] });
    // RESHAPE: option and shape tensor, same quant as the embedding.
    assert.deepEqual(reshape.builtinOptions!.fields.new_shape, [1, 1024]);
    assert.deepEqual([...new Int32Array(g.buffers[t(reshape.inputs[1]).buffer].data.slice().buffer)], [1, 1024]);
    assert.equal(t(reshape.inputs[1]).type, TensorType.INT32);
    assert.deepEqual(q(t(reshape.outputs[0])), { scale, zeroPoint: 0 });
    assert.deepEqual(t(reshape.outputs[0]).shape, [1, 1024]);
    // FC layers: options, uint8 weights, int32 bias with scale = in_scale × w_scale (float32), zp 0.
    for (const [op, relu] of [[fc0, true], [fc1, false]] as const) {
      assert.deepEqual(op.builtinOptions!.fields, {
        fused_activation_function: relu ? ActivationFunctionType.RELU : ActivationFunctionType.NONE,
        weights_format: 0, keep_num_dims: false, asymmetric_quantize_inputs: false, quantized_bias_type: 0,
      });
      const [x, w, b] = op.inputs.map(t);
      assert.equal(w.type, TensorType.UINT8);
      assert.equal(b.type, TensorType.INT32);
      assert.equal(b.quantization!.zeroPoint![0], 0);
      assert.equal(b.quantization!.scale![0], Math.fround(Math.fround(q(x).scale) * Math.fround(q(w).scale)));
      assert.equal(b.quantization!.scale![0], biasScale(q(x).scale, q(w).scale));
      assert.equal(t(op.outputs[0]).type, TensorType.UINT8);
    }
    assert.deepEqual(t(fc0.inputs[1]).shape, [16, 1024]);
    assert.deepEqual(t(fc1.inputs[1]).shape, [5, 16]);
    // Output ranges widened to 0: hidden layer after relu has min 0 → zero point 0.
    assert.equal(q(t(fc0.outputs[0])).zeroPoint, 0);
    // SOFTMAX: beta 1, uint8 output scale 1/256 zp 0.
    assert.equal(softmax.builtinOptions!.fields.beta, 1);
    const probsT = t(softmax.outputs[0]);
    assert.equal(probsT.name, PROBABILITIES_TENSOR);
    assert.equal(probsT.type, TensorType.UINT8);
    assert.deepEqual(q(probsT), { scale: 0.00390625, zeroPoint: 0 });
    assert.deepEqual(sg.outputs, [softmax.outputs[0]]);

    // Exact integer arithmetic of both FC layers against TFLite's reference kernel math.
    const hidden = runAll(writeModel(tensorOut(g, 'edgetune/dense_0')), inputs) as Uint8Array[];
    const logits = runAll(writeModel(tensorOut(g, 'edgetune/dense_1')), inputs) as Uint8Array[];
    const buf = (ti: number) => g.buffers[t(ti).buffer].data;
    const int32 = (ti: number) => new Int32Array(buf(ti).slice().buffer);
    inputs.forEach((_, i) => {
      const h = referenceFcUint8(embeddingsQ[i], q(t(fc0.inputs[0])), buf(fc0.inputs[1]), q(t(fc0.inputs[1])), int32(fc0.inputs[2]), q(t(fc0.outputs[0])), 16, true);
      assertFcMatches(hidden[i], h, `input ${i} hidden layer`);
      const l = referenceFcUint8(hidden[i], q(t(fc1.inputs[0])), buf(fc1.inputs[1]), q(t(fc1.inputs[1])), int32(fc1.inputs[2]), q(t(fc1.outputs[0])), 5, false);
      assertFcMatches(logits[i], l, `input ${i} logits`);
    });

    // Probabilities vs the float reference: same top-1, within 2/256 + slack.
    const probs = runAll(writeModel(g), inputs);
    let maxDiff = 0;
    probs.forEach((p, i) => {
      assert.ok(p instanceof Uint8Array);
      const want = forward(head, embeddings[i]).probs;
      assert.equal(argmax(p), argmax(want), `input ${i}: top-1`);
      for (let k = 0; k < 5; k++) {
        const diff = Math.abs(p[k] / 256 - want[k]);
        assert.ok(diff <= 2 / 256 + 1 / 512, `input ${i} class ${k}: ${p[k] / 256} vs ${want[k]}`);
        maxDiff = Math.max(maxDiff, diff);
      }
    });
    assert.ok(maxDiff > 0, 'quantized probabilities should not equal float ones exactly');
    if (process.env.EDGETUNE_VERBOSE) console.log(`max |p_uint8 - p_float| = ${maxDiff} (${(maxDiff * 256).toFixed(2)}/256)`);
  });

  it('(c) grafting onto the _edgetpu extractor = the custom op unchanged + the same head ops', () => {
    const tpuBase = loadModel(EXTRACTOR_TPU);
    const tpu = graftHead(tpuBase, head);
    const cpu = graftHead(loadModel(EXTRACTOR), head);
    const tsg = tpu.subgraphs[0];
    const csg = cpu.subgraphs[0];
    assert.equal(opName(tpu, tsg.operators[0]), EDGETPU_CUSTOM_OP);
    assert.ok(sameBytes(tsg.operators[0].customOptions, tpuBase.subgraphs[0].operators[0].customOptions));
    assert.deepStrictEqual(tsg.operators[0], tpuBase.subgraphs[0].operators[0]);
    assert.deepStrictEqual(tsg.tensors.slice(0, 2), tpuBase.subgraphs[0].tensors);
    // Same input and embedding quantization as the CPU extractor.
    const cpuEmb = embeddingInfo(loadModel(EXTRACTOR));
    const tpuEmb = embeddingInfo(tpuBase);
    assert.deepEqual([tpuEmb.scale, tpuEmb.zeroPoint, tpuEmb.shape], [cpuEmb.scale, cpuEmb.zeroPoint, cpuEmb.shape]);
    // Head ops: identical names, options, tensors (by content) and weight bytes.
    const th = tsg.operators.slice(1);
    const ch = csg.operators.slice(28);
    assert.equal(tsg.operators.length, 1 + 4);
    assert.equal(ch.length, 4);
    assert.deepEqual(th.map((o) => opName(tpu, o)), ch.map((o) => opName(cpu, o)));
    const describe = (m: Model, o: typeof th[0]) => ({
      options: o.builtinOptions,
      tensors: [...o.inputs, ...o.outputs].map((i) => {
        const x = m.subgraphs[0].tensors[i];
        return { name: x.name, shape: x.shape, type: x.type, quantization: x.quantization, data: Buffer.from(m.buffers[x.buffer].data).toString('base64') };
      }),
    });
    th.forEach((o, i) => assert.deepStrictEqual(describe(tpu, o), describe(cpu, ch[i])));
    // The file stays Edge TPU-ready: written and re-read, the custom op bytes are intact.
    const again = readModel(writeModel(tpu));
    assert.deepStrictEqual(again, tpu);
    assert.equal(again.trailing, undefined);
  });

  it('grafts a quantized head onto the cut mobilenet_v2 classifier and runs it', () => {
    const r = rng(7);
    const h: HeadWeights = { layers: [randomLayer(r, 1280, 3, 0.05, 'linear')] };
    h.layers[0].outputRange = [-4, 4];
    const g = graftHead(cutAtEmbedding(loadModel('mobilenet_v2_1.0_224_quant')).model, h);
    const probs = runAll(writeModel(g), inputs.slice(0, 2));
    for (const p of probs) {
      assert.equal(p.length, 3);
      const sum = [...p].reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 256) <= 3, `uint8 probabilities sum to ${sum}/256`);
    }
    // Grafted files load in the interpreter repeatedly (fresh runner per file).
    openRunner(writeModel(g));
  });

  it('(d) unsupported bases and heads give errors naming the tensor or op', () => {
    const base = loadModel(EXTRACTOR);
    const sg = base.subgraphs[0];
    const embIdx = sg.outputs[0];
    const withEmb = (patch: Partial<Tensor>): Model => ({
      ...base,
      subgraphs: [{ ...sg, tensors: sg.tensors.map((x, i) => (i === embIdx ? { ...x, ...patch } : x)) }],
    });
    assert.throws(() => graftHead(withEmb({ type: TensorType.INT8 }), head),
      { message: "embedding tensor 'MobilenetV1/Logits/AvgPool_1a/AvgPool' has type INT8: EdgeTune grafts heads onto uint8 or float32 embeddings only" });
    assert.throws(() => graftHead(withEmb({ type: TensorType.FLOAT32, quantization: null }), head),
      /embedding tensor 'MobilenetV1\/Logits\/AvgPool_1a\/AvgPool' is float32: a quantized head needs a uint8 embedding; graft with \{ float: true \}/);
    // A float32 embedding takes a float head without DEQUANTIZE.
    const fg = graftHead(withEmb({ type: TensorType.FLOAT32, quantization: null }), head, { float: true });
    assert.deepEqual(fg.subgraphs[0].operators.slice(28).map((o) => opName(fg, o)), ['RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED', 'SOFTMAX']);
    assert.throws(() => graftHead(withEmb({ quantization: null }), head), /'MobilenetV1\/Logits\/AvgPool_1a\/AvgPool' is uint8 without a single per-tensor scale/);
    assert.throws(() => graftHead({ ...base, subgraphs: [{ ...sg, inputs: [0, 1] }] }, head), /base must have exactly one input tensor, found 2: 'input', '/);
    assert.throws(() => graftHead({ ...base, subgraphs: [{ ...sg, outputs: [embIdx, 0] }] }, head), /expected a base with one output \(the embedding\), found 2/);
    assert.throws(() => graftHead(loadModel('mobilenet_v1_0.25_128_quant'), head),
      /base output 'MobilenetV1\/Predictions\/Reshape_1' is produced by SOFTMAX \(op 30\): this is a classifier, cut it at the embedding first/);
    const bad: HeadWeights = { layers: [{ ...head.layers[0], inDim: 512, weights: new Float32Array(16 * 512) }, head.layers[1]] };
    assert.throws(() => graftHead(base, bad), /head layer 0 expects inDim 512 but receives 1024 values/);
    const badBias: HeadWeights = { layers: [head.layers[0], { ...head.layers[1], bias: new Float32Array(4) }] };
    assert.throws(() => graftHead(base, badBias), /head layer 1 bias has 4 values, expected 5/);
    // The base is never modified by a graft.
    assert.deepStrictEqual(base, loadModel(EXTRACTOR));
  });
});
