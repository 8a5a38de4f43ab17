import * as assert from 'node:assert/strict';
import { BASES, DEFAULT_BASE, LABELS_FILE, PINNED_SHA256, filesFor } from '../../src/models';
import { PINNED_FILES } from '../helpers';

const ALL_FILES = PINNED_FILES;

describe('models registry', () => {
  it('describes the four bases with sizes, dims, kinds and Edge TPU twins', () => {
    const byName = Object.fromEntries(BASES.map((b) => [b.name, b]));
    assert.equal(DEFAULT_BASE, 'mobilenet_v1_1.0_224');
    assert.deepEqual(Object.keys(byName).sort(),
      ['mobilenet_v1_0.25_128', 'mobilenet_v1_0.5_160', 'mobilenet_v1_1.0_224', 'mobilenet_v2_1.0_224']);
    const v1 = byName['mobilenet_v1_1.0_224'];
    assert.equal(v1.kind, 'extractor');
    assert.equal(v1.embeddingDim, 1024);
    assert.equal(v1.inputSize, 224);
    assert.equal(v1.edgetpuFile, 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite');
    assert.equal(v1.edgetpuGraftable, true);
    const v2 = byName['mobilenet_v2_1.0_224'];
    assert.deepEqual([v2.kind, v2.embeddingDim, v2.inputSize, v2.edgetpuFile, v2.edgetpuGraftable, v2.labelsFile],
      ['classifier', 1280, 224, undefined, false, LABELS_FILE]);
    const small = byName['mobilenet_v1_0.25_128'];
    assert.deepEqual([small.kind, small.embeddingDim, small.inputSize, small.edgetpuFile, small.edgetpuGraftable],
      ['classifier', 256, 128, 'mobilenet_v1_0.25_128_quant_edgetpu.tflite', false]);
    const mid = byName['mobilenet_v1_0.5_160'];
    assert.deepEqual([mid.kind, mid.embeddingDim, mid.inputSize, mid.edgetpuFile, mid.edgetpuGraftable],
      ['classifier', 512, 160, 'mobilenet_v1_0.5_160_quant_edgetpu.tflite', false]);
    for (const b of BASES) {
      assert.equal(b.inputDtype, 'uint8');
      assert.equal(b.sha256, PINNED_SHA256[b.file]);
      if (b.edgetpuFile) assert.equal(b.edgetpuSha256, PINNED_SHA256[b.edgetpuFile]);
    }
  });

  it('filesFor: each base file, its twin, and the labels', () => {
    assert.deepEqual([...filesFor()].sort(), ALL_FILES);
    assert.deepEqual(filesFor(['mobilenet_v2_1.0_224']), ['mobilenet_v2_1.0_224_quant.tflite', LABELS_FILE]);
    assert.deepEqual(filesFor(['mobilenet_v1_1.0_224']), [
      'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite',
      'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite', LABELS_FILE]);
  });
});
