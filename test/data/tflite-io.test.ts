import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ByteBuffer } from 'flatbuffers';
import { MODELS_DIR } from '../helpers';
import {
  BuiltinOperator, flatbufferEnd, isEdgeTpuCompiled, makeOptions, Model, opName, readModel, writeModel,
  OPTIONS_TABLES, EDGETPU_CUSTOM_OP, locateZip, unzipAll,
} from '../../src/tflite';
import { modelBytes, runAll, sameBytes, sameValues, testInputs } from '../tflite-util';

const ALL = fs.readdirSync(MODELS_DIR).filter((f) => f.endsWith('.tflite')).map((f) => f.replace(/\.tflite$/, '')).sort();
/** Input side in pixels, from the file name (e.g. mobilenet_v1_0.25_128_quant → 128). */
function inputSize(name: string): number {
  const m = /_(\d+)_quant/.exec(name);
  if (!m) throw new Error(`no input size in ${name}`);
  return Number(m[1]);
}

/** File positions of every Buffer.data vector's first byte, found independently of the reader. */
function bufferDataPositions(bytes: Uint8Array): number[] {
  const bb = new ByteBuffer(bytes);
  const root = bb.readInt32(0);
  const buffersField = bb.__offset(root, 4 + 2 * 4);
  const vec = bb.__vector(root + buffersField);
  const n = bb.__vector_len(root + buffersField);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = bb.__indirect(vec + 4 * i);
    const data = bb.__offset(t, 4);
    if (data && bb.__vector_len(t + data) > 0) out.push(bb.__vector(t + data));
  }
  return out;
}

describe('tflite reader/writer', () => {
  it('finds all seven shared bases', () => {
    assert.deepEqual(ALL, [
      'mobilenet_v1_0.25_128_quant', 'mobilenet_v1_0.25_128_quant_edgetpu', 'mobilenet_v1_0.5_160_quant',
      'mobilenet_v1_0.5_160_quant_edgetpu', 'mobilenet_v1_1.0_224_quant_embedding_extractor',
      'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu', 'mobilenet_v2_1.0_224_quant',
    ]);
  });

  it('rejects a file with the wrong identifier and a truncated file', () => {
    const bytes = modelBytes('mobilenet_v1_0.25_128_quant').slice();
    bytes.set([0x41, 0x42, 0x43, 0x44], 4);
    assert.throws(() => readModel(bytes), { message: "not a TFLite file (identifier 'ABCD', expected 'TFL3')" });
    assert.throws(() => readModel(new Uint8Array(3)), /not a TFLite file \(3 bytes/);
    const truncated = modelBytes('mobilenet_v1_0.25_128_quant').slice(0, 4096);
    assert.throws(() => readModel(truncated), /corrupt TFLite file: .* outside the 4096-byte file/);
  });

  it('decodes the 126 members of union BuiltinOptions', () => {
    assert.equal(OPTIONS_TABLES.length, 127);
    assert.equal(OPTIONS_TABLES[1]?.name, 'Conv2DOptions');
    assert.equal(OPTIONS_TABLES[8]?.name, 'FullyConnectedOptions');
    assert.equal(OPTIONS_TABLES[9]?.name, 'SoftmaxOptions');
    assert.equal(OPTIONS_TABLES[17]?.name, 'ReshapeOptions');
    assert.equal(OPTIONS_TABLES[38]?.name, 'DequantizeOptions');
    assert.equal(OPTIONS_TABLES[89]?.name, 'QuantizeOptions');
    assert.equal(OPTIONS_TABLES[126]?.name, 'RightShiftOptions');
    assert.throws(() => makeOptions('SoftmaxOptions', { alpha: 1 }), /SoftmaxOptions has no field 'alpha'/);
  });

  for (const name of ALL) {
    it(`round-trips ${name} losslessly (records, trailing zip, 16-byte aligned data)`, () => {
      const bytes = modelBytes(name);
      const model = readModel(bytes);
      const written = writeModel(model);
      const again = readModel(written);
      assert.deepStrictEqual({ ...again, trailing: undefined }, { ...model, trailing: undefined });
      if (model.trailing) {
        // The labels zip is carried whole at the file's end: same length and entries, its offsets
        // re-counted from the new file's start (where the flatbuffer now ends), as in the original.
        assert.equal(again.trailing!.length, model.trailing.length);
        assert.equal(locateZip(bytes)!.origin, 0);
        assert.equal(locateZip(written)!.origin, 0);
        assert.deepStrictEqual(unzipAll(written), unzipAll(bytes));
      } else {
        assert.equal(again.trailing, undefined);
      }
      for (const p of bufferDataPositions(written)) assert.equal(p % 16, 0, `buffer data at ${p} not 16-byte aligned`);
      // A second write is byte-identical: the writer is deterministic.
      assert.ok(sameBytes(writeModel(again), written));
    });
  }

  for (const name of ALL.filter((n) => !n.endsWith('_edgetpu'))) {
    it(`rewritten ${name} gives bit-identical interpreter outputs`, async () => {
      const inputs = await testInputs(inputSize(name));
      const orig = runAll(modelBytes(name), inputs);
      const rewritten = runAll(writeModel(readModel(modelBytes(name))), inputs);
      orig.forEach((o, i) => assert.ok(sameValues(o, rewritten[i]), `input ${i} differs`));
      // The inputs are not degenerate: the outputs differ between images.
      assert.ok(!sameValues(orig[0], orig[1]));
    });
  }

  for (const name of ALL.filter((n) => n.endsWith('_edgetpu'))) {
    it(`rewritten ${name} keeps the edgetpu-custom-op and its options byte-for-byte`, () => {
      const model = readModel(modelBytes(name));
      assert.ok(isEdgeTpuCompiled(model));
      const again = readModel(writeModel(model));
      const sg = model.subgraphs[0];
      assert.equal(sg.operators.length, 1);
      assert.equal(opName(model, sg.operators[0]), EDGETPU_CUSTOM_OP);
      assert.equal(model.operatorCodes[0].builtinCode, BuiltinOperator.CUSTOM);
      assert.ok(sg.operators[0].customOptions!.length > 100000);
      assert.ok(sameBytes(again.subgraphs[0].operators[0].customOptions, sg.operators[0].customOptions));
      assert.deepStrictEqual(again.subgraphs[0].tensors, sg.tensors);
    });
  }

  it('exposes the labels zip appended to mobilenet_v2_1.0_224_quant.tflite as Model.trailing', () => {
    const bytes = modelBytes('mobilenet_v2_1.0_224_quant');
    const model = readModel(bytes);
    const t = model.trailing!;
    assert.equal(t.length, 21822);
    assert.deepEqual([...t.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04]);
    // Local file header: name length at 26, name at 30.
    const nameLen = t[26] | (t[27] << 8);
    assert.equal(Buffer.from(t.subarray(30, 30 + nameLen)).toString(), 'imagenet_labels.txt');
    assert.equal(flatbufferEnd(bytes), bytes.length - 21822);
    assert.deepEqual(model.metadata.map((m) => m.name), ['min_runtime_version', 'TFLITE_METADATA']);
    // keepTrailing: false drops the zip on purpose; the file then ends with the flatbuffer.
    const bare = writeModel(model, { keepTrailing: false });
    assert.equal(readModel(bare).trailing, undefined);
    assert.equal(flatbufferEnd(bare), bare.length);
  });

  it('skips the builder padding before the zip of the _edgetpu classifiers', () => {
    const bytes = modelBytes('mobilenet_v1_0.25_128_quant_edgetpu');
    const t = readModel(bytes).trailing!;
    assert.equal(t.length, 21822);
    assert.deepEqual([...t.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04]);
  });

  it('decodes operator codes, options, names and quantization of mobilenet_v1_0.25_128_quant', () => {
    const m = readModel(modelBytes('mobilenet_v1_0.25_128_quant'));
    assert.equal(m.version, 3);
    assert.equal(m.description, 'MLIR Converted.');
    assert.deepStrictEqual(m.operatorCodes.map((c) => [c.deprecatedBuiltinCode, c.builtinCode, c.version, c.customCode]), [
      [3, 3, 1, null], [4, 4, 1, null], [1, 1, 1, null], [22, 22, 1, null], [25, 25, 1, null],
    ]);
    const sg = m.subgraphs[0];
    assert.equal(sg.name, 'main');
    assert.equal(sg.operators.length, 31);
    const conv0 = sg.operators[0];
    assert.equal(opName(m, conv0), 'CONV_2D');
    assert.equal(conv0.builtinOptions!.name, 'Conv2DOptions');
    assert.equal(conv0.builtinOptions!.fields.stride_w, 2);
    assert.equal(conv0.builtinOptions!.fields.stride_h, 2);
    assert.equal(conv0.builtinOptions!.fields.fused_activation_function, 3); // RELU6
    const pool = sg.operators.find((o) => opName(m, o) === 'AVERAGE_POOL_2D')!;
    assert.equal(pool.builtinOptions!.name, 'Pool2DOptions');
    assert.equal(pool.builtinOptions!.fields.filter_width, 4);
    const softmax = sg.operators[sg.operators.length - 1];
    assert.equal(opName(m, softmax), 'SOFTMAX');
    assert.equal(softmax.builtinOptions!.fields.beta, 1);
    const input = sg.tensors[sg.inputs[0]];
    assert.equal(input.name, 'input');
    assert.deepEqual(input.shape, [1, 128, 128, 3]);
    assert.deepEqual(input.quantization!.scale, [0.0078125]);
    assert.deepEqual(input.quantization!.zeroPoint, [128]);
  });

  it('refuses to write options that do not match the schema', () => {
    const m: Model = readModel(modelBytes('mobilenet_v1_0.25_128_quant'));
    const op = m.subgraphs[0].operators[0];
    op.builtinOptions = { ...op.builtinOptions!, type: 9 };
    assert.throws(() => writeModel(m), /builtin options type 9 'Conv2DOptions' does not match/);
  });
});
