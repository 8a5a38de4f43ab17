/**
 * TFLite Metadata and min_runtime_version on the real bases in ../shared/models: Coral's own
 * metadata read back, the declared runtime versions recomputed, and a head grafted on a real base
 * exported with metadata: the interpreter gives the same outputs, yauzl finds the labels.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as yauzl from 'yauzl';
import {
  AssociatedFileType, attachClassifierMetadata, cutAtEmbedding, declaredMinRuntimeVersion, embeddingInfo,
  EDGETPU_CUSTOM_OP, flatbufferEnd, graftHead, HeadWeights, labelsOf, Model, modelMetadataOf, minRuntimeVersion,
  opName, opVersionProblems, parseLabelsFile, readModel, setMinRuntimeVersion, writeModel,
} from '../../src/tflite';
import { shared } from '../helpers';
import { loadModel, modelBytes, rng, runAll, testInputs } from '../tflite-util';

const BASES = [
  'mobilenet_v1_0.25_128_quant', 'mobilenet_v1_0.25_128_quant_edgetpu', 'mobilenet_v1_0.5_160_quant',
  'mobilenet_v1_0.5_160_quant_edgetpu', 'mobilenet_v1_1.0_224_quant_embedding_extractor',
  'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu', 'mobilenet_v2_1.0_224_quant',
];

const LABELS = ['mug', 'café', '数字', 'ñandú 🦙'];

/** A seeded random head for a real embedding: Dense(16, relu) → Dense(4). */
function randomHead(dim: number, seed: number): HeadWeights {
  const r = rng(seed);
  const dense = (inDim: number, units: number, activation: 'relu' | 'linear', range: [number, number]) => ({
    weights: Float32Array.from({ length: units * inDim }, () => (r() * 2 - 1) * 0.05),
    bias: Float32Array.from({ length: units }, () => (r() * 2 - 1) * 0.1),
    units, inDim, activation, outputRange: range,
  });
  return { layers: [dense(dim, 16, 'relu', [0, 6]), dense(16, LABELS.length, 'linear', [-6, 6])] };
}

function exportWithMetadata(base: Model, float: boolean): { plain: Uint8Array; withMeta: Uint8Array } {
  const grafted = setMinRuntimeVersion(graftHead(base, randomHead(embeddingInfo(base).dim, 7), { float }));
  const info = { name: 'EdgeTune test classifier', description: 'four test classes', version: 'v1', labels: LABELS };
  return { plain: writeModel(grafted), withMeta: writeModel(attachClassifierMetadata(grafted, info)) };
}

async function yauzlFiles(bytes: Uint8Array): Promise<Record<string, { offset: number; method: number; text: string }>> {
  const zip = await yauzl.fromBufferPromise(Buffer.from(bytes), { lazyEntries: true });
  const out: Record<string, { offset: number; method: number; text: string }> = {};
  for await (const entry of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
    out[entry.fileName] = { offset: entry.relativeOffsetOfLocalHeader, method: entry.compressionMethod, text: Buffer.concat(chunks).toString('utf8') };
  }
  return out;
}

describe('TFLite Metadata and runtime versions on the shared bases', () => {
  it('recomputes the min_runtime_version Coral declares; custom-op-only files need none', () => {
    const got = BASES.map((name) => {
      const m = loadModel(name);
      return [name, minRuntimeVersion(m), declaredMinRuntimeVersion(m), opVersionProblems(m).length];
    });
    assert.deepEqual(got, [
      ['mobilenet_v1_0.25_128_quant', '1.5.0', '1.5.0', 0],
      ['mobilenet_v1_0.25_128_quant_edgetpu', '', null, 0],
      ['mobilenet_v1_0.5_160_quant', '1.5.0', '1.5.0', 0],
      ['mobilenet_v1_0.5_160_quant_edgetpu', '', null, 0],
      ['mobilenet_v1_1.0_224_quant_embedding_extractor', '1.5.0', '1.5.0', 0],
      ['mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu', '', null, 0],
      ['mobilenet_v2_1.0_224_quant', '1.5.0', '1.5.0', 0],
    ]);
  });

  it("reads Coral's own metadata and names the 1001 ImageNet classes", () => {
    const bytes = modelBytes('mobilenet_v2_1.0_224_quant');
    const meta = modelMetadataOf(bytes)!;
    assert.equal(meta.name, 'ImageClassifier');
    assert.equal(meta.minParserVersion, '1.0.0');
    const [sg] = meta.subgraphs;
    assert.deepEqual(sg.inputs[0].processUnits, [{ kind: 'normalization', mean: [127.5], std: [127.5] }]);
    assert.deepEqual(sg.inputs[0].content, { kind: 'image', colorSpace: 1, defaultSize: null });
    assert.deepEqual(sg.outputs[0].associatedFiles.map((f) => [f.name, f.type]), [['imagenet_labels.txt', AssociatedFileType.TENSOR_AXIS_LABELS]]);
    const expected = parseLabelsFile(fs.readFileSync(shared('models', 'imagenet_labels.txt')));
    assert.equal(expected.length, 1001);
    assert.deepEqual(labelsOf(bytes), expected);
    // Rewritten by EdgeTune (a different flatbuffer length), the labels are still a valid whole-file zip.
    assert.deepEqual(labelsOf(writeModel(readModel(bytes))), expected);
  });

  for (const float of [false, true]) {
    it(`a ${float ? 'float' : 'quantized'} head on a real base: same interpreter outputs with metadata, labels readable by yauzl`, async () => {
      const base = cutAtEmbedding(loadModel('mobilenet_v1_0.25_128_quant')).model;
      const { plain, withMeta } = exportWithMetadata(base, float);
      assert.equal(declaredMinRuntimeVersion(readModel(withMeta)), float ? '1.13.1' : '1.5.0');
      assert.deepEqual(opVersionProblems(readModel(withMeta)), []);
      const inputs = await testInputs(128);
      const a = runAll(plain, inputs);
      const b = runAll(withMeta, inputs);
      a.forEach((x, i) => assert.deepEqual(Array.from(b[i]), Array.from(x), `input ${i}`));
      assert.notDeepEqual(Array.from(a[0]), Array.from(a[1]), 'the outputs depend on the image');
      const files = await yauzlFiles(withMeta);
      assert.deepEqual(Object.keys(files), ['labels.txt']);
      assert.equal(files['labels.txt'].method, 0);
      assert.equal(files['labels.txt'].offset, flatbufferEnd(withMeta));
      assert.deepEqual(files['labels.txt'].text, 'mug\ncafé\n数字\nñandú 🦙\n');
      assert.deepEqual(labelsOf(withMeta), LABELS);
    });
  }

  it('the Edge TPU export keeps its custom op byte for byte and carries the labels', () => {
    const base = loadModel('mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu');
    const { withMeta } = exportWithMetadata(base, false);
    const m = readModel(withMeta);
    const custom = m.subgraphs[0].operators[0];
    assert.equal(opName(m, custom), EDGETPU_CUSTOM_OP);
    assert.deepEqual(Buffer.compare(Buffer.from(custom.customOptions!), Buffer.from(base.subgraphs[0].operators[0].customOptions!)), 0);
    // Only the head's builtin ops count: RESHAPE, FULLY_CONNECTED ×2, SOFTMAX, all v1.
    assert.equal(declaredMinRuntimeVersion(m), '1.5.0');
    assert.deepEqual(labelsOf(withMeta), LABELS);
  });
});
