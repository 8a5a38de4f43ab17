/**
 * TFLite Metadata, its labels zip and min_runtime_version on a small synthetic model (no ../shared,
 * no training). The metadata is read back by a reader written here from metadata_schema.fbs field
 * ids with the flatbuffers ByteBuffer (not EdgeTune's reader), the zip by yauzl (not fflate).
 */
import * as assert from 'node:assert/strict';
import { ByteBuffer } from 'flatbuffers';
import * as yauzl from 'yauzl';
import {
  attachClassifierMetadata, attachMetadata, AssociatedFileType, BuiltinOperator, buildModelMetadata,
  compareRuntimeVersions, declaredMinRuntimeVersion, flatbufferEnd, graftHead, HeadWeights,
  imageClassifierMetadata, labelsFileContents, labelsOf, locateZip, makeOptions, METADATA_NAME,
  minParserVersion, minRuntimeForOp, minRuntimeVersion, Model, modelMetadataOf, opVersionProblems,
  placeZip, readAssociatedFiles, readModel, readModelMetadata, requiredOpVersion, setMinRuntimeVersion,
  TensorType, unzipAll, writeModel, zipStored,
} from '../../src/tflite';
import { EdgeTuneError } from '../../src/errors';

const tflite = require('tfjs-tflite-node') as {
  TFLiteNodeModelRunner: new (model: ArrayBuffer, opts: { threads: number }) => {
    getInputs(): { data(): Uint8Array | Float32Array }[];
    getOutputs(): { data(): Uint8Array | Float32Array }[];
    infer(): void;
  };
};

const LABELS = ['café', '数字', 'ñandú 🦙'];

/** A 4×4 RGB uint8 image → AVERAGE_POOL_2D → [1,1,1,3] embedding, quantized like Coral's MobileNets. */
function tinyBase(): Model {
  const q = (scale: number, zp: number) => ({ min: null, max: null, scale: [scale], zeroPoint: [zp], details: null, quantizedDimension: 0 });
  const tensor = (name: string, shape: number[]) => ({
    shape, type: TensorType.UINT8, buffer: 0, name, quantization: q(1 / 128, 128), isVariable: false, shapeSignature: null, hasRank: false,
  });
  return {
    version: 3,
    operatorCodes: [{ deprecatedBuiltinCode: BuiltinOperator.AVERAGE_POOL_2D, customCode: null, version: 1, builtinCode: BuiltinOperator.AVERAGE_POOL_2D }],
    subgraphs: [{
      tensors: [tensor('input', [1, 4, 4, 3]), tensor('pool', [1, 1, 1, 3])],
      inputs: [0],
      outputs: [1],
      operators: [{
        opcodeIndex: 0, inputs: [0], outputs: [1],
        builtinOptions: makeOptions('Pool2DOptions', { padding: 1, stride_w: 1, stride_h: 1, filter_width: 4, filter_height: 4 }),
        customOptions: null, customOptionsFormat: 0, mutatingVariableInputs: null, intermediates: null,
      }],
      name: 'main',
    }],
    description: 'tiny test base',
    buffers: [{ data: new Uint8Array(0) }],
    metadataBuffer: null,
    metadata: [],
    signatureDefs: [],
  };
}

/** A fixed 3 → 3 head (softmax regression) with a calibrated logit range. */
const HEAD: HeadWeights = {
  layers: [{
    weights: Float32Array.from([1.5, -0.5, 0.25, -1, 2, 0.5, 0.3, 0.2, -1.2]),
    bias: Float32Array.from([0.1, -0.2, 0.05]),
    units: 3, inDim: 3, activation: 'linear', outputRange: [-4, 4],
  }],
};

function classifier(float = false): Model {
  return graftHead(tinyBase(), HEAD, { float });
}

const INFO = { name: 'tiny classifier', description: 'three classes', version: 'v1', author: 'EdgeTune tests', license: 'MIT', labels: LABELS };

function run(bytes: Uint8Array, input: Uint8Array): number[] {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const r = new tflite.TFLiteNodeModelRunner(ab, { threads: 1 });
  r.getInputs()[0].data().set(input);
  r.infer();
  return Array.from(r.getOutputs()[0].data());
}

async function unzipWithYauzl(bytes: Uint8Array): Promise<{ name: string; offset: number; method: number; data: Buffer }[]> {
  const zip = await yauzl.fromBufferPromise(Buffer.from(bytes), { lazyEntries: true });
  const out: { name: string; offset: number; method: number; data: Buffer }[] = [];
  for await (const entry of zip.eachEntry()) {
    const stream = await zip.openReadStreamPromise(entry);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    out.push({ name: entry.fileName, offset: entry.relativeOffsetOfLocalHeader, method: entry.compressionMethod, data: Buffer.concat(chunks) });
  }
  return out;
}

// --- An independent reader: metadata_schema.fbs / schema.fbs field ids over flatbuffers' ByteBuffer.

/** Position of table field `id` (vtable slot 4 + 2·id), 0 when absent. */
function fieldPos(bb: ByteBuffer, table: number, id: number): number {
  const o = bb.__offset(table, 4 + 2 * id);
  return o ? table + o : 0;
}
function subTable(bb: ByteBuffer, table: number, id: number): number {
  const p = fieldPos(bb, table, id);
  return p ? bb.__indirect(p) : 0;
}
function stringField(bb: ByteBuffer, table: number, id: number): string | null {
  const p = fieldPos(bb, table, id);
  return p ? (bb.__string(p) as string) : null;
}
function tableVector(bb: ByteBuffer, table: number, id: number): number[] {
  const p = fieldPos(bb, table, id);
  if (!p) return [];
  const start = bb.__vector(p);
  return Array.from({ length: bb.__vector_len(p) }, (_, i) => bb.__indirect(start + 4 * i));
}
function floatVector(bb: ByteBuffer, table: number, id: number): number[] {
  const p = fieldPos(bb, table, id);
  if (!p) return [];
  const start = bb.__vector(p);
  return Array.from({ length: bb.__vector_len(p) }, (_, i) => bb.readFloat32(start + 4 * i));
}
function byteField(bb: ByteBuffer, table: number, id: number): number {
  const p = fieldPos(bb, table, id);
  return p ? bb.readUint8(p) : 0;
}

/** The TFLITE_METADATA buffer of a .tflite: Model 6 metadata → Metadata 0 name / 1 buffer → Model 4 buffers → Buffer 0 data. */
function metadataBuffer(file: Uint8Array): Uint8Array {
  const bb = new ByteBuffer(file);
  const model = bb.readInt32(0);
  for (const m of tableVector(bb, model, 6)) {
    if (stringField(bb, m, 0) !== 'TFLITE_METADATA') continue;
    const index = bb.readUint32(fieldPos(bb, m, 1));
    const buffer = tableVector(bb, model, 4)[index];
    const data = fieldPos(bb, buffer, 0);
    const start = bb.__vector(data);
    return file.subarray(start, start + bb.__vector_len(data));
  }
  throw new Error('no TFLITE_METADATA entry');
}

describe('TFLite Metadata (synthetic model)', () => {
  it('writes metadata that an independent schema reader decodes field by field', () => {
    const bytes = writeModel(attachClassifierMetadata(classifier(), INFO));
    const meta = metadataBuffer(bytes);
    assert.equal(Buffer.from(meta.subarray(4, 8)).toString('latin1'), 'M001');
    const bb = new ByteBuffer(meta);
    const root = bb.readInt32(0);
    assert.equal(stringField(bb, root, 0), 'tiny classifier');
    assert.equal(stringField(bb, root, 1), 'three classes');
    assert.equal(stringField(bb, root, 2), 'v1');
    assert.equal(stringField(bb, root, 4), 'EdgeTune tests');
    assert.equal(stringField(bb, root, 5), 'MIT');
    assert.equal(stringField(bb, root, 7), '1.0.0');
    const subgraphs = tableVector(bb, root, 3);
    assert.equal(subgraphs.length, 1);
    const [input] = tableVector(bb, subgraphs[0], 2);
    assert.equal(stringField(bb, input, 0), 'image');
    const content = subTable(bb, input, 3);
    assert.equal(byteField(bb, content, 0), 2, 'content_properties_type ImageProperties');
    assert.equal(byteField(bb, subTable(bb, content, 1), 0), 1, 'color_space RGB');
    const [unit] = tableVector(bb, input, 4);
    assert.equal(byteField(bb, unit, 0), 1, 'options_type NormalizationOptions');
    const norm = subTable(bb, unit, 1);
    assert.deepEqual(floatVector(bb, norm, 0), [127.5]);
    assert.deepEqual(floatVector(bb, norm, 1), [127.5]);
    const inStats = subTable(bb, input, 5);
    assert.deepEqual([floatVector(bb, inStats, 1), floatVector(bb, inStats, 0)], [[0], [255]]);
    const outputs = tableVector(bb, subgraphs[0], 3);
    assert.equal(outputs.length, 1);
    assert.equal(stringField(bb, outputs[0], 0), 'probability');
    const outContent = subTable(bb, outputs[0], 3);
    assert.equal(byteField(bb, outContent, 0), 1, 'content_properties_type FeatureProperties');
    const outStats = subTable(bb, outputs[0], 5);
    assert.deepEqual([floatVector(bb, outStats, 1), floatVector(bb, outStats, 0)], [[0], [255]], 'uint8 output: raw range, as the writer sets it');
    const files = tableVector(bb, outputs[0], 6);
    assert.equal(files.length, 1);
    assert.equal(stringField(bb, files[0], 0), 'labels.txt');
    assert.equal(byteField(bb, files[0], 2), 2, 'TENSOR_AXIS_LABELS');
  });

  it('appends the labels as a stored zip whose offsets count from the file start (yauzl reads the whole file)', async () => {
    const bytes = writeModel(attachClassifierMetadata(classifier(), INFO));
    const entries = await unzipWithYauzl(bytes);
    assert.deepEqual(entries.map((e) => [e.name, e.method]), [['labels.txt', 0]]);
    assert.equal(entries[0].offset, flatbufferEnd(bytes), 'the zip starts where the flatbuffer ends');
    assert.deepEqual(entries[0].data.toString('utf8').split('\n'), [...LABELS, '']);
    assert.deepEqual(labelsOf(bytes), LABELS);
  });

  it('the interpreter runs the file with metadata and zip exactly as without', () => {
    const plain = writeModel(classifier());
    const withMeta = writeModel(attachClassifierMetadata(classifier(), INFO));
    assert.ok(withMeta.length > plain.length + 100);
    const inputs = [0, 1, 2].map((s) => Uint8Array.from({ length: 48 }, (_, i) => (i * 37 + s * 101) % 256));
    for (const x of inputs) assert.deepEqual(run(withMeta, x), run(plain, x));
    const floatPlain = writeModel(classifier(true));
    const floatMeta = writeModel(attachClassifierMetadata(classifier(true), INFO));
    for (const x of inputs) assert.deepEqual(run(floatMeta, x), run(floatPlain, x));
  });

  it('reads back the same record it wrote; read → write keeps every byte', () => {
    const { metadata, files } = imageClassifierMetadata(classifier(), INFO);
    const bytes = writeModel(attachMetadata(classifier(), metadata, files));
    assert.deepEqual(modelMetadataOf(bytes), { ...metadata, minParserVersion: '1.0.0' });
    assert.deepEqual(readModelMetadata(buildModelMetadata(metadata)), { ...metadata, minParserVersion: '1.0.0' });
    assert.deepEqual(Buffer.compare(Buffer.from(writeModel(readModel(bytes))), Buffer.from(bytes)), 0);
    assert.deepEqual(Object.keys(readAssociatedFiles(bytes)), ['labels.txt']);
    assert.deepEqual(Buffer.from(readAssociatedFiles(bytes)['labels.txt']).toString('utf8'), 'café\n数字\nñandú 🦙\n');
  });

  it('re-counts the zip offsets when the flatbuffer grows', async () => {
    const bytes = writeModel(attachClassifierMetadata(classifier(), INFO));
    const m = readModel(bytes);
    const longer = writeModel({ ...m, description: 'a much longer description '.repeat(20) });
    assert.ok(flatbufferEnd(longer) > flatbufferEnd(bytes));
    const entries = await unzipWithYauzl(longer);
    assert.equal(entries[0].offset, flatbufferEnd(longer));
    assert.deepEqual(labelsOf(longer), LABELS);
  });

  it('replaces earlier metadata and files instead of adding a second entry', async () => {
    const once = attachClassifierMetadata(classifier(), INFO);
    const twice = attachClassifierMetadata(once, { ...INFO, labels: ['a', 'b', 'c'], labelsFile: 'names.txt' });
    assert.equal(twice.metadata.filter((e) => e.name === METADATA_NAME).length, 1);
    assert.equal(twice.buffers.length, once.buffers.length);
    const bytes = writeModel(twice);
    assert.deepEqual((await unzipWithYauzl(bytes)).map((e) => e.name), ['names.txt']);
    assert.deepEqual(labelsOf(bytes), ['a', 'b', 'c']);
  });

  it('a model without metadata has no labels', () => {
    const bytes = writeModel(classifier());
    assert.equal(modelMetadataOf(bytes), null);
    assert.equal(labelsOf(bytes), null);
    assert.deepEqual(readAssociatedFiles(bytes), {});
  });

  it('refuses what a client could not use, with stable codes', () => {
    const code = (f: () => unknown) => {
      try { f(); } catch (e) { assert.ok(e instanceof EdgeTuneError); assert.ok(!e.message.includes('\n')); return e.code; }
      return 'no error';
    };
    assert.equal(code(() => imageClassifierMetadata(classifier(), { ...INFO, labels: ['only', 'two'] })), 'BAD_OPTION');
    assert.equal(code(() => imageClassifierMetadata(classifier(), { ...INFO, labels: ['a', 'b\nc', 'd'] })), 'BAD_LABEL');
    const { metadata } = imageClassifierMetadata(classifier(), INFO);
    assert.equal(code(() => attachMetadata(classifier(), metadata, {})), 'BAD_OPTION');
    assert.equal(code(() => attachMetadata(classifier(), metadata, { 'labels.txt': new Uint8Array(1), 'a/b.txt': new Uint8Array(1) })), 'BAD_OPTION');
    assert.equal(code(() => attachMetadata(classifier(), { ...metadata, subgraphs: [] }, {})), 'BAD_OPTION');
    assert.equal(code(() => readModelMetadata(Uint8Array.from([8, 0, 0, 0, 77, 48, 48, 50]))), 'BAD_MODEL');
    const good = buildModelMetadata(metadata);
    assert.equal(code(() => readModelMetadata(good.subarray(0, 40))), 'BAD_MODEL');
  });

  it('corrupt metadata bytes end in BAD_MODEL or a record, never another error (2000 seeded flips)', () => {
    const good = buildModelMetadata(imageClassifierMetadata(classifier(), INFO).metadata);
    const outcomes = { record: 0, BAD_MODEL: 0 };
    for (let s = 0; s < 2000; s++) {
      const b = good.slice();
      b[(s * 7919) % b.length] ^= 1 + (s % 255);
      try {
        readModelMetadata(b);
        outcomes.record++;
      } catch (e) {
        assert.ok(e instanceof EdgeTuneError && e.code === 'BAD_MODEL', String(e));
        outcomes.BAD_MODEL++;
      }
    }
    // Both outcomes occur: flips inside strings or floats still parse, flips in offsets do not.
    assert.ok(outcomes.record > 100 && outcomes.BAD_MODEL > 100, JSON.stringify(outcomes));
  });

  it('computes min_parser_version as metadata_version.cc does', () => {
    const { metadata } = imageClassifierMetadata(classifier(), INFO);
    assert.equal(minParserVersion(metadata), '1.0.0');
    const vocab = { ...metadata, associatedFiles: [{ name: 'vocab.txt', description: null, type: AssociatedFileType.VOCABULARY, locale: null }] };
    assert.equal(minParserVersion(vocab), '1.0.1');
    assert.equal(readModelMetadata(buildModelMetadata(vocab)).minParserVersion, '1.0.1');
  });

  it('labels files: one label per line, final newline, CRLF tolerated on reading', () => {
    assert.deepEqual(Buffer.from(labelsFileContents(['x', 'é'])).toString('utf8'), 'x\né\n');
    const m = attachMetadata(classifier(), imageClassifierMetadata(classifier(), INFO).metadata, { 'labels.txt': Buffer.from('café\r\n数字\r\nñandú 🦙') });
    assert.deepEqual(labelsOf(writeModel(m)), LABELS);
  });
});

describe('zip placement', () => {
  const files = { 'a.txt': Buffer.from('alpha'), 'b.bin': Uint8Array.from([0, 1, 2, 255]) };

  it('places a self-relative zip at any offset; unzipAll and yauzl read it there', async () => {
    const zip = zipStored(files);
    assert.equal(locateZip(zip)?.origin, 0);
    const prefix = new Uint8Array(1000).fill(7);
    const placed = placeZip(zip, prefix.length)!;
    const file = Buffer.concat([prefix, placed]);
    assert.equal(locateZip(file)?.origin, 0, 'offsets now count from the file start');
    assert.deepEqual(Object.keys(unzipAll(file)), ['a.txt', 'b.bin']);
    const entries = await unzipWithYauzl(file);
    assert.deepEqual(entries.map((e) => [e.name, e.offset, e.method, [...e.data]]), [
      ['a.txt', 1000, 0, [...files['a.txt']]],
      ['b.bin', 1000 + 30 + 5 + 5, 0, [0, 1, 2, 255]],
    ]);
    // A self-relative zip after a prefix is found too (origin = its start), as minizip finds it.
    assert.equal(locateZip(Buffer.concat([prefix, zip]))?.origin, 1000);
    assert.deepEqual(Buffer.from(unzipAll(Buffer.concat([prefix, zip]))['a.txt']).toString(), 'alpha');
  });

  it('moves a zip whose offsets count from an earlier file start (a trailing zip read from a model)', async () => {
    const first = Buffer.concat([new Uint8Array(1000), placeZip(zipStored(files), 1000)!]);
    const trailing = first.subarray(1000);
    assert.equal(locateZip(trailing)?.origin, -1000);
    for (const at of [0, 24, 5000]) {
      const moved = Buffer.concat([new Uint8Array(at).fill(9), placeZip(trailing, at)!]);
      assert.equal(locateZip(moved)?.origin, 0);
      const entries = await unzipWithYauzl(moved);
      assert.deepEqual(entries.map((e) => [e.name, e.offset, e.data.toString('hex')]), [
        ['a.txt', at, files['a.txt'].toString('hex')],
        ['b.bin', at + 40, '000102ff'],
      ]);
    }
  });

  it('is deterministic and leaves non-zip bytes alone', () => {
    assert.deepEqual(zipStored(files), zipStored(files));
    assert.equal(placeZip(Uint8Array.from([1, 2, 3]), 10), null);
    assert.deepEqual(unzipAll(Uint8Array.from([1, 2, 3])), {});
  });
});

describe('min_runtime_version and operator versions', () => {
  it('quantized head: every op v1, runtime 1.5.0; float head: DEQUANTIZE v1 needs 1.13.1', () => {
    const q = classifier();
    assert.deepEqual(opVersionProblems(q), []);
    assert.deepEqual(q.operatorCodes.map((c) => c.version), [1, 1, 1, 1]);
    assert.equal(minRuntimeVersion(q), '1.5.0');
    const f = classifier(true);
    assert.deepEqual(opVersionProblems(f), []);
    assert.equal(minRuntimeVersion(f), '1.13.1');
  });

  it('setMinRuntimeVersion stores the string zero-padded to 16 bytes and survives the file', () => {
    const f = setMinRuntimeVersion(classifier(true));
    const m = readModel(writeModel(f));
    assert.equal(declaredMinRuntimeVersion(m), '1.13.1');
    const entry = m.metadata.find((e) => e.name === 'min_runtime_version')!;
    assert.deepEqual([...m.buffers[entry.buffer].data], [...Buffer.from('1.13.1'), ...new Array(10).fill(0)]);
    // Setting again rewrites the same buffer instead of adding one.
    const again = setMinRuntimeVersion(f);
    assert.equal(again.buffers.length, f.buffers.length);
    assert.equal(again.metadata.length, f.metadata.length);
  });

  it('requiredOpVersion follows op_version.cc for uint8, int8 and float tensors', () => {
    const m = classifier();
    const ops = m.subgraphs[0].operators;
    const versionOf = (types: TensorType[]): (number | null)[] => {
      const tensors = m.subgraphs[0].tensors.map((t, i) => ({ ...t, type: types[i] ?? t.type }));
      const mm = { ...m, subgraphs: [{ ...m.subgraphs[0], tensors }] };
      return ops.map((_, i) => requiredOpVersion(mm, i));
    };
    // ops: AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX; all tensors uint8 except the int32 bias.
    assert.deepEqual(ops.map((_, i) => requiredOpVersion(m, i)), [1, 1, 1, 1]);
    const int8 = m.subgraphs[0].tensors.map((t) => (t.type === TensorType.UINT8 ? TensorType.INT8 : t.type));
    assert.deepEqual(versionOf(int8), [2, 1, 4, 2]);
    // An int8 model declaring v1 everywhere is caught.
    const bad = { ...m, subgraphs: [{ ...m.subgraphs[0], tensors: m.subgraphs[0].tensors.map((t, i) => ({ ...t, type: int8[i] })) }] };
    assert.deepEqual(opVersionProblems(bad).map((p) => [p.op, p.declared, p.required]), [['AVERAGE_POOL_2D', 1, 2], ['FULLY_CONNECTED', 1, 4], ['SOFTMAX', 1, 2]]);
  });

  it('the runtime table and version order match runtime_version.cc', () => {
    assert.equal(minRuntimeForOp(BuiltinOperator.FULLY_CONNECTED, 1), '1.5.0');
    assert.equal(minRuntimeForOp(BuiltinOperator.FULLY_CONNECTED, 4), '1.14.0');
    assert.equal(minRuntimeForOp(BuiltinOperator.SOFTMAX, 2), '1.14.0');
    assert.equal(minRuntimeForOp(BuiltinOperator.DEQUANTIZE, 2), '1.14.0');
    assert.equal(minRuntimeForOp(BuiltinOperator.HARD_SWISH, 1), '1.15.0');
    assert.equal(minRuntimeForOp(BuiltinOperator.FULLY_CONNECTED, 99), null);
    assert.ok(compareRuntimeVersions('1.9.0', '1.14.0') < 0);
    assert.ok(compareRuntimeVersions('1.14', '1.14.0') < 0);
    assert.equal(compareRuntimeVersions('2.3.0', '2.3.0'), 0);
  });

  it('custom ops are skipped: a model of only an Edge TPU op declares nothing', () => {
    const m = tinyBase();
    const custom: Model = { ...m, operatorCodes: [{ deprecatedBuiltinCode: BuiltinOperator.CUSTOM, customCode: 'edgetpu-custom-op', version: 1, builtinCode: BuiltinOperator.CUSTOM }] };
    assert.equal(minRuntimeVersion(custom), '');
    assert.equal(setMinRuntimeVersion(custom), custom);
  });
});
