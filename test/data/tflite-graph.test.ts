import * as assert from 'node:assert/strict';
import {
  appendOps, cutAtEmbedding, embeddingInfo, findTensor, isEdgeTpuCompiled, Model, opName, readModel,
  reachableOps, TensorType, writeModel,
} from '../../src/tflite';
import { loadModel, modelBytes, runAll, sameValues, testInputs } from '../tflite-util';

/** Every index in the model points at something that exists, and nothing is left unreferenced. */
function assertConsistent(m: Model): void {
  const sg = m.subgraphs[0];
  const usedT = new Set<number>([...sg.inputs, ...sg.outputs]);
  const usedC = new Set<number>();
  for (const op of sg.operators) {
    assert.ok(op.opcodeIndex < m.operatorCodes.length);
    usedC.add(op.opcodeIndex);
    for (const t of [...op.inputs, ...op.outputs]) {
      assert.ok(t >= -1 && t < sg.tensors.length, `tensor index ${t}`);
      usedT.add(t);
    }
  }
  assert.equal(usedC.size, m.operatorCodes.length, 'unused operator codes left');
  usedT.delete(-1);
  assert.equal(usedT.size, sg.tensors.length, 'unused tensors left');
  const usedB = new Set<number>([0, ...sg.tensors.map((t) => t.buffer), ...m.metadata.map((x) => x.buffer)]);
  for (const b of usedB) assert.ok(b < m.buffers.length, `buffer ${b}`);
  assert.equal(usedB.size, m.buffers.length, 'unused buffers left');
}

describe('tflite graph: cut at the embedding (include_top=False)', () => {
  const cases: [string, number, number, string[]][] = [
    ['mobilenet_v2_1.0_224_quant', 224, 1280, ['CONV_2D', 'RESHAPE', 'SOFTMAX']],
    ['mobilenet_v1_0.25_128_quant', 128, 256, ['CONV_2D', 'RESHAPE', 'SOFTMAX']],
    ['mobilenet_v1_0.5_160_quant', 160, 512, ['CONV_2D', 'RESHAPE', 'SOFTMAX']],
    ['mobilenet_v1_1.0_224_quant_embedding_extractor', 224, 1024, []],
  ];
  for (const [name, , dim, removedOps] of cases) {
    it(`cuts ${name} at the last AVERAGE_POOL_2D: embedding [1,1,1,${dim}] uint8`, () => {
      const m = loadModel(name);
      const cut = cutAtEmbedding(m);
      const info = embeddingInfo(cut.model);
      assert.deepEqual(info.shape, [1, 1, 1, dim]);
      assert.equal(info.dim, dim);
      assert.equal(info.type, TensorType.UINT8);
      assert.equal(info.scale, 0.023528477177023888);
      assert.equal(info.zeroPoint, 0);
      assert.equal(info.name, name.startsWith('mobilenet_v2') ? 'MobilenetV2/Logits/AvgPool' : 'MobilenetV1/Logits/AvgPool_1a/AvgPool');
      assert.equal(cut.embedding.index, info.tensorIndex);
      assert.deepEqual(cut.removed.opNames, removedOps);
      const ops = cut.model.subgraphs[0].operators;
      assert.equal(opName(cut.model, ops[ops.length - 1]), 'AVERAGE_POOL_2D');
      assert.equal(ops.length, m.subgraphs[0].operators.length - removedOps.length);
      assert.equal(cut.model.trailing, undefined);
      assert.ok(!cut.model.metadata.some((x) => x.name === 'TFLITE_METADATA'));
      assert.ok(cut.model.metadata.some((x) => x.name === 'min_runtime_version'));
      assertConsistent(cut.model);
      // Cutting at the tensor by name is the same cut.
      assert.deepStrictEqual(cutAtEmbedding(m, info.name).model, cut.model);
      // The written cut model re-reads identically.
      assert.deepStrictEqual(readModel(writeModel(cut.model)), cut.model);
    });
  }

  for (const [name, size] of cases.slice(0, 2)) {
    it(`cut ${name} + its removed classifier layers appended back = the original outputs, exactly`, async () => {
      const m = loadModel(name);
      const cut = cutAtEmbedding(m);
      const back = appendOps(cut.model, cut.removed.fragment, cut.removed.bind);
      assert.deepEqual(back.model.subgraphs[0].operators.map((o) => opName(back.model, o)), m.subgraphs[0].operators.map((o) => opName(m, o)));
      assert.equal(back.model.subgraphs[0].tensors[back.model.subgraphs[0].outputs[0]].name, m.subgraphs[0].tensors[m.subgraphs[0].outputs[0]].name);
      const inputs = await testInputs(size);
      const orig = runAll(modelBytes(name), inputs);
      const rebuilt = runAll(writeModel(back.model), inputs);
      orig.forEach((o, i) => assert.ok(sameValues(o, rebuilt[i]), `input ${i}: outputs differ`));
      assert.equal(orig[0].length, 1001);
      // The cut model alone yields the uint8 embedding, which differs between images.
      const emb = runAll(writeModel(cut.model), inputs);
      assert.ok(emb.every((e) => e instanceof Uint8Array && e.length === embeddingInfo(cut.model).dim));
      assert.ok(!sameValues(emb[0], emb[1]));
    });
  }

  it('the cut v2 model outputs exactly the intermediate AvgPool tensor of the original', async () => {
    const m = loadModel('mobilenet_v2_1.0_224_quant');
    const cut = cutAtEmbedding(m);
    const poolT = findTensor(m, 'MobilenetV2/Logits/AvgPool');
    assert.deepEqual(reachableOps(m, [poolT]), [...Array(m.subgraphs[0].operators.length - 3).keys()]);
    // The uncut original, with the pool tensor exposed as its output (all 66 ops still run).
    const exposed: Model = { ...m, subgraphs: [{ ...m.subgraphs[0], outputs: [poolT] }] };
    const inputs = await testInputs(224);
    const want = runAll(writeModel(exposed), inputs);
    const got = runAll(writeModel(cut.model), inputs);
    want.forEach((w, i) => assert.ok(sameValues(w, got[i]), `input ${i}: embedding differs`));
    assert.equal(got[0].length, 1280);
    assert.equal(cut.removed.fragment.tensors[cut.removed.fragment.inputs[0]].name, 'MobilenetV2/Logits/AvgPool');
    assert.deepEqual(cut.removed.bind, [cut.embedding.index]);
  });

  it('refuses to cut an Edge TPU-compiled classifier', () => {
    for (const name of ['mobilenet_v1_0.25_128_quant_edgetpu', 'mobilenet_v1_0.5_160_quant_edgetpu']) {
      const m = loadModel(name);
      assert.ok(isEdgeTpuCompiled(m));
      assert.throws(() => cutAtEmbedding(m), /cannot cut an Edge TPU-compiled classifier: its single edgetpu-custom-op runs from the input straight to the softmax.*embedding extractor/);
    }
  });

  it('reports the embedding of the compiled extractor (custom op output)', () => {
    const tpu = embeddingInfo(loadModel('mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu'));
    const cpu = embeddingInfo(loadModel('mobilenet_v1_1.0_224_quant_embedding_extractor'));
    assert.deepEqual({ ...tpu, tensorIndex: 0 }, { ...cpu, tensorIndex: 0 });
    assert.equal(tpu.tensorIndex, 1);
    assert.equal(tpu.dim, 1024);
    assert.ok(!isEdgeTpuCompiled(loadModel('mobilenet_v1_1.0_224_quant_embedding_extractor')));
  });

  it('names a missing cut tensor', () => {
    const m = loadModel('mobilenet_v1_0.25_128_quant');
    assert.throws(() => cutAtEmbedding(m, 'no/such/tensor'), { message: "tensor 'no/such/tensor' not found in the model's main subgraph" });
    assert.throws(() => cutAtEmbedding(m, 'input'), /cannot cut at tensor 'input': no operator produces it/);
  });

  it('embeddingInfo refuses a graph with two outputs, naming them', () => {
    const m = loadModel('mobilenet_v1_0.25_128_quant');
    const sg = m.subgraphs[0];
    const two: Model = { ...m, subgraphs: [{ ...sg, outputs: [sg.outputs[0], 0] }] };
    assert.throws(() => embeddingInfo(two), /expected a base with one output \(the embedding\), found 2: 'MobilenetV1\/Predictions\/Reshape_1', 'input'/);
  });
});
