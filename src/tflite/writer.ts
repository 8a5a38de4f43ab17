/**
 * TFLite flatbuffer writer: typed records (schema.ts) → .tflite bytes, using the `flatbuffers`
 * runtime's Builder. Field ids follow tensorflow/lite/schema/schema.fbs (see schema.ts).
 */
import { Builder } from 'flatbuffers';
import {
  BuiltinOptions, Buffer, FILE_IDENTIFIER, Metadata, Model, Operator, OperatorCode, OPTIONS_TABLES,
  QuantizationParameters, SignatureDef, SubGraph, Tensor, TensorMap,
} from './schema';
import { placeZip } from './zip';

/** Alignment of constant data in bytes (schema.fbs: Buffer.data `force_align: 16`). */
export const BUFFER_ALIGNMENT = 16;

type Offset = number;

/** Byte vector whose first byte sits on a 16-byte boundary of the finished file. */
function alignedBytes(b: Builder, data: Uint8Array): Offset {
  // After prep, writing data.length bytes ends on a 16-byte boundary counted from the buffer's
  // end; finish() pads the whole file to a multiple of the largest alignment (16), so the data is
  // aligned from the file's start too. createByteVector's own 4-byte prep then adds nothing.
  b.prep(BUFFER_ALIGNMENT, data.length);
  return b.createByteVector(data);
}

function intVector(b: Builder, v: readonly number[]): Offset {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addInt32(v[i] | 0);
  return b.endVector();
}

function floatVector(b: Builder, v: readonly number[]): Offset {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addFloat32(v[i]);
  return b.endVector();
}

function longVector(b: Builder, v: readonly number[]): Offset {
  b.startVector(8, v.length, 8);
  for (let i = v.length - 1; i >= 0; i--) b.addInt64(BigInt(v[i]));
  return b.endVector();
}

function offsetVector(b: Builder, v: readonly Offset[]): Offset {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addOffset(v[i]);
  return b.endVector();
}

function optString(b: Builder, s: string | null): Offset {
  return s === null ? 0 : b.createString(s);
}

function writeOptions(b: Builder, o: BuiltinOptions): Offset {
  const def = OPTIONS_TABLES[o.type];
  if (!def || def.name !== o.name) throw new Error(`builtin options type ${o.type} '${o.name}' does not match schema.fbs union BuiltinOptions`);
  // Children (vectors, strings) must exist before the table starts.
  const children = def.fields.map((f) => {
    const v = o.fields[f.name];
    if (v === null || v === undefined) return 0;
    if (f.kind === 'vi32') return intVector(b, v as number[]);
    if (f.kind === 'vf32') return floatVector(b, v as number[]);
    if (f.kind === 'str') return b.createString(v as string);
    return 0;
  });
  b.startObject(def.fields.length);
  def.fields.forEach((f, id) => {
    const v = o.fields[f.name];
    if (v === null || v === undefined) return;
    switch (f.kind) {
      case 'i8': case 'u8': b.addFieldInt8(id, Number(v), Number(f.def)); break;
      case 'bool': b.addFieldInt8(id, v ? 1 : 0, f.def ? 1 : 0); break;
      case 'i16': b.addFieldInt16(id, Number(v), Number(f.def)); break;
      case 'i32': case 'u32': b.addFieldInt32(id, Number(v) | 0, Number(f.def) | 0); break;
      case 'f32': b.addFieldFloat32(id, Number(v), Number(f.def)); break;
      case 'i64': b.addFieldInt64(id, BigInt(v as bigint), BigInt(f.def as bigint)); break;
      default: if (children[id]) b.addFieldOffset(id, children[id], 0);
    }
  });
  return b.endObject();
}

function writeQuantization(b: Builder, q: QuantizationParameters): Offset {
  const min = q.min ? floatVector(b, q.min) : 0;
  const max = q.max ? floatVector(b, q.max) : 0;
  const scale = q.scale ? floatVector(b, q.scale) : 0;
  const zp = q.zeroPoint ? longVector(b, q.zeroPoint) : 0;
  let details = 0;
  if (q.details) {
    const custom = alignedBytes(b, q.details.custom);
    b.startObject(1);
    b.addFieldOffset(0, custom, 0);
    details = b.endObject();
  }
  b.startObject(7);
  if (min) b.addFieldOffset(0, min, 0);
  if (max) b.addFieldOffset(1, max, 0);
  if (scale) b.addFieldOffset(2, scale, 0);
  if (zp) b.addFieldOffset(3, zp, 0);
  if (details) {
    b.addFieldInt8(4, 1, 0);
    b.addFieldOffset(5, details, 0);
  }
  b.addFieldInt32(6, q.quantizedDimension, 0);
  return b.endObject();
}

function writeTensor(b: Builder, t: Tensor): Offset {
  const shape = intVector(b, t.shape);
  const name = b.createString(t.name);
  const quant = t.quantization ? writeQuantization(b, t.quantization) : 0;
  const sig = t.shapeSignature ? intVector(b, t.shapeSignature) : 0;
  b.startObject(9);
  b.addFieldOffset(0, shape, 0);
  b.addFieldInt8(1, t.type, 0);
  b.addFieldInt32(2, t.buffer | 0, 0);
  b.addFieldOffset(3, name, 0);
  if (quant) b.addFieldOffset(4, quant, 0);
  b.addFieldInt8(5, t.isVariable ? 1 : 0, 0);
  if (sig) b.addFieldOffset(7, sig, 0);
  b.addFieldInt8(8, t.hasRank ? 1 : 0, 0);
  return b.endObject();
}

function writeOperator(b: Builder, op: Operator): Offset {
  const inputs = intVector(b, op.inputs);
  const outputs = intVector(b, op.outputs);
  const opts = op.builtinOptions ? writeOptions(b, op.builtinOptions) : 0;
  const custom = op.customOptions ? alignedBytes(b, op.customOptions) : 0;
  let mutating = 0;
  if (op.mutatingVariableInputs) mutating = b.createByteVector(Uint8Array.from(op.mutatingVariableInputs, (x) => (x ? 1 : 0)));
  const inter = op.intermediates ? intVector(b, op.intermediates) : 0;
  b.startObject(9);
  b.addFieldInt32(0, op.opcodeIndex | 0, 0);
  b.addFieldOffset(1, inputs, 0);
  b.addFieldOffset(2, outputs, 0);
  if (opts) {
    b.addFieldInt8(3, op.builtinOptions!.type, 0);
    b.addFieldOffset(4, opts, 0);
  }
  if (custom) b.addFieldOffset(5, custom, 0);
  b.addFieldInt8(6, op.customOptionsFormat, 0);
  if (mutating) b.addFieldOffset(7, mutating, 0);
  if (inter) b.addFieldOffset(8, inter, 0);
  return b.endObject();
}

function writeSubGraph(b: Builder, sg: SubGraph): Offset {
  const tensors = offsetVector(b, sg.tensors.map((t) => writeTensor(b, t)));
  const inputs = intVector(b, sg.inputs);
  const outputs = intVector(b, sg.outputs);
  const ops = offsetVector(b, sg.operators.map((o) => writeOperator(b, o)));
  const name = optString(b, sg.name);
  b.startObject(5);
  b.addFieldOffset(0, tensors, 0);
  b.addFieldOffset(1, inputs, 0);
  b.addFieldOffset(2, outputs, 0);
  b.addFieldOffset(3, ops, 0);
  if (name) b.addFieldOffset(4, name, 0);
  return b.endObject();
}

function writeOperatorCode(b: Builder, c: OperatorCode): Offset {
  const custom = optString(b, c.customCode);
  b.startObject(4);
  b.addFieldInt8(0, c.deprecatedBuiltinCode, 0);
  if (custom) b.addFieldOffset(1, custom, 0);
  b.addFieldInt32(2, c.version, 1);
  b.addFieldInt32(3, c.builtinCode, 0);
  return b.endObject();
}

function writeBuffer(b: Builder, buf: Buffer): Offset {
  // Empty buffers carry no data vector, as TFLite's converter writes them.
  const data = buf.data.length > 0 ? alignedBytes(b, buf.data) : 0;
  b.startObject(3);
  if (data) b.addFieldOffset(0, data, 0);
  return b.endObject();
}

function writeMetadata(b: Builder, m: Metadata): Offset {
  const name = b.createString(m.name);
  b.startObject(2);
  b.addFieldOffset(0, name, 0);
  b.addFieldInt32(1, m.buffer | 0, 0);
  return b.endObject();
}

function writeTensorMap(b: Builder, m: TensorMap): Offset {
  const name = b.createString(m.name);
  b.startObject(2);
  b.addFieldOffset(0, name, 0);
  b.addFieldInt32(1, m.tensorIndex | 0, 0);
  return b.endObject();
}

function writeSignatureDef(b: Builder, s: SignatureDef): Offset {
  const inputs = offsetVector(b, s.inputs.map((m) => writeTensorMap(b, m)));
  const outputs = offsetVector(b, s.outputs.map((m) => writeTensorMap(b, m)));
  const key = optString(b, s.signatureKey);
  b.startObject(5);
  b.addFieldOffset(0, inputs, 0);
  b.addFieldOffset(1, outputs, 0);
  if (key) b.addFieldOffset(2, key, 0);
  b.addFieldInt32(4, s.subgraphIndex | 0, 0);
  return b.endObject();
}

/** Options of writeModel. */
export interface WriteOptions {
  /**
   * Append Model.trailing (e.g. Coral's labels zip) after the flatbuffer. Default true, so that
   * read → write is lossless; pass false to drop it on purpose.
   */
  keepTrailing?: boolean;
}

/**
 * Serializes a Model to .tflite bytes (file identifier 'TFL3', schema.fbs).
 *
 * Constant data (Buffer.data, custom_options, CustomQuantization bytes) starts on 16-byte
 * boundaries of the file (schema.fbs `force_align: 16`). Options and scalars equal to their schema
 * default are omitted, as flatbuffers does; builtin options are rebuilt field by field from the
 * decoded record, custom_options bytes are copied unchanged.
 *
 * @param model records as produced by readModel or edited copies (not modified).
 * Model.trailing is appended after the flatbuffer; when it is a zip (TFLite Metadata's associated
 * files) its offsets are rewritten to count from the start of the output file, as tflite-support's
 * MetadataPopulator leaves them, so the whole file stays a valid zip even when the flatbuffer's
 * length changed since the zip was read or built (zip.ts placeZip).
 *
 * @param opts keepTrailing (default true): append model.trailing after the flatbuffer.
 * @returns a fresh Uint8Array holding the file.
 * @throws Error when a builtin options record does not match the schema table it names;
 *   EdgeTuneError BAD_MODEL for a zip64 trailing zip, BAD_OPTION when its offsets pass 4 GiB.
 */
export function writeModel(model: Model, opts: WriteOptions = {}): Uint8Array {
  const dataBytes = model.buffers.reduce((n, x) => n + x.data.length + BUFFER_ALIGNMENT, 0)
    + model.subgraphs.reduce((n, sg) => n + sg.operators.reduce((m, o) => m + (o.customOptions?.length ?? 0) + BUFFER_ALIGNMENT, 0), 0);
  const b = new Builder(dataBytes + (1 << 16));
  // Buffers first: their data lands at the end of the file, after the graph description.
  const buffers = offsetVector(b, model.buffers.map((x) => writeBuffer(b, x)));
  const subgraphs = offsetVector(b, model.subgraphs.map((sg) => writeSubGraph(b, sg)));
  const codes = offsetVector(b, model.operatorCodes.map((c) => writeOperatorCode(b, c)));
  const description = optString(b, model.description);
  const metadataBuffer = model.metadataBuffer ? intVector(b, model.metadataBuffer) : 0;
  const metadata = model.metadata.length ? offsetVector(b, model.metadata.map((m) => writeMetadata(b, m))) : 0;
  const sigs = model.signatureDefs.length ? offsetVector(b, model.signatureDefs.map((s) => writeSignatureDef(b, s))) : 0;
  b.startObject(8);
  b.addFieldInt32(0, model.version | 0, 0);
  b.addFieldOffset(1, codes, 0);
  b.addFieldOffset(2, subgraphs, 0);
  if (description) b.addFieldOffset(3, description, 0);
  b.addFieldOffset(4, buffers, 0);
  if (metadataBuffer) b.addFieldOffset(5, metadataBuffer, 0);
  if (metadata) b.addFieldOffset(6, metadata, 0);
  if (sigs) b.addFieldOffset(7, sigs, 0);
  b.finish(b.endObject(), FILE_IDENTIFIER);
  const fb = b.asUint8Array();
  let trailing = opts.keepTrailing === false ? undefined : model.trailing;
  // A zip's offsets count from the file's start (TFLite Metadata's associated files, written in
  // Python zipfile's append mode): re-count them for where this flatbuffer ends. Other bytes and
  // a zip already in place are kept as they are.
  if (trailing) trailing = placeZip(trailing, fb.length) ?? trailing;
  const out = new Uint8Array(fb.length + (trailing?.length ?? 0));
  out.set(fb, 0);
  if (trailing) out.set(trailing, fb.length);
  return out;
}
