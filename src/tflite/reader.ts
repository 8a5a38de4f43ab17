/**
 * TFLite flatbuffer reader: bytes → typed records (schema.ts). Built on the `flatbuffers` runtime's
 * ByteBuffer; every table, vtable, vector and string visited widens a running "extent" so that the
 * end of the flatbuffer is known exactly and any bytes after it (Coral's labels zip) are exposed as
 * Model.trailing.
 */
import { ByteBuffer } from 'flatbuffers';
import {
  BuiltinOptions, Buffer, FILE_IDENTIFIER, Metadata, Model, Operator, OperatorCode, OptionValue,
  OPTIONS_TABLES, QuantizationParameters, SignatureDef, SubGraph, Tensor, TensorMap,
} from './schema';

/** Reading state: the buffer and the furthest byte any reachable object occupies. */
interface Ctx {
  bb: ByteBuffer;
  size: number;
  extent: number;
  where: string;
}

/** A table located in the buffer: its position and its vtable. */
interface Table {
  pos: number;
  vt: number;
  vtLen: number;
}

function fail(ctx: Ctx, what: string): never {
  throw new Error(`corrupt TFLite file: ${what} (while reading ${ctx.where})`);
}

function check(ctx: Ctx, start: number, len: number, what: string): void {
  if (start < 0 || len < 0 || start + len > ctx.size) fail(ctx, `${what} at byte ${start} (+${len}) is outside the ${ctx.size}-byte file`);
  if (start + len > ctx.extent) ctx.extent = start + len;
}

function table(ctx: Ctx, pos: number): Table {
  check(ctx, pos, 4, 'table');
  const vt = pos - ctx.bb.readInt32(pos);
  check(ctx, vt, 4, 'vtable');
  const vtLen = ctx.bb.readUint16(vt);
  const tLen = ctx.bb.readUint16(vt + 2);
  check(ctx, vt, vtLen, 'vtable');
  check(ctx, pos, tLen, 'table body');
  return { pos, vt, vtLen };
}

/** Byte offset of field `id` inside table `t`, 0 when absent (vtable slot 4 + 2·id). */
function field(ctx: Ctx, t: Table, id: number): number {
  const slot = 4 + 2 * id;
  return slot < t.vtLen ? ctx.bb.readUint16(t.vt + slot) : 0;
}

function has(ctx: Ctx, t: Table, id: number): boolean {
  return field(ctx, t, id) !== 0;
}

function u8(ctx: Ctx, t: Table, id: number, def = 0): number {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readUint8(t.pos + o) : def;
}
function i8(ctx: Ctx, t: Table, id: number, def = 0): number {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readInt8(t.pos + o) : def;
}
function i16(ctx: Ctx, t: Table, id: number, def = 0): number {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readInt16(t.pos + o) : def;
}
function i32(ctx: Ctx, t: Table, id: number, def = 0): number {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readInt32(t.pos + o) : def;
}
function u32(ctx: Ctx, t: Table, id: number, def = 0): number {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readUint32(t.pos + o) : def;
}
function f32(ctx: Ctx, t: Table, id: number, def = 0): number {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readFloat32(t.pos + o) : def;
}
function i64(ctx: Ctx, t: Table, id: number, def = 0n): bigint {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readInt64(t.pos + o) : def;
}
function bool(ctx: Ctx, t: Table, id: number, def = false): boolean {
  const o = field(ctx, t, id);
  return o ? ctx.bb.readUint8(t.pos + o) !== 0 : def;
}

/** Follows the uoffset stored at `at` to the referenced object. */
function deref(ctx: Ctx, at: number): number {
  check(ctx, at, 4, 'offset');
  return at + ctx.bb.readUint32(at);
}

/** Vector field: returns [first element position, length] or null when absent. */
function vec(ctx: Ctx, t: Table, id: number, elemSize: number): [number, number] | null {
  const o = field(ctx, t, id);
  if (!o) return null;
  const v = deref(ctx, t.pos + o);
  check(ctx, v, 4, 'vector length');
  const n = ctx.bb.readUint32(v);
  check(ctx, v + 4, n * elemSize, 'vector data');
  return [v + 4, n];
}

function strAt(ctx: Ctx, s: number): string {
  check(ctx, s, 4, 'string length');
  const n = ctx.bb.readUint32(s);
  // The null terminator is part of the serialized string (flatbuffers spec).
  check(ctx, s + 4, n + 1, 'string data');
  return Buffer_.from(ctx.bb.bytes().subarray(s + 4, s + 4 + n)).toString('utf8');
}
// Node's Buffer, renamed because the schema has its own Buffer record.
const Buffer_ = globalThis.Buffer;

function str(ctx: Ctx, t: Table, id: number): string | null {
  const o = field(ctx, t, id);
  return o ? strAt(ctx, deref(ctx, t.pos + o)) : null;
}

function intVec(ctx: Ctx, t: Table, id: number): number[] | null {
  const v = vec(ctx, t, id, 4);
  if (!v) return null;
  const out: number[] = new Array(v[1]);
  for (let i = 0; i < v[1]; i++) out[i] = ctx.bb.readInt32(v[0] + 4 * i);
  return out;
}
function floatVec(ctx: Ctx, t: Table, id: number): number[] | null {
  const v = vec(ctx, t, id, 4);
  if (!v) return null;
  const out: number[] = new Array(v[1]);
  for (let i = 0; i < v[1]; i++) out[i] = ctx.bb.readFloat32(v[0] + 4 * i);
  return out;
}
function longVec(ctx: Ctx, t: Table, id: number): number[] | null {
  const v = vec(ctx, t, id, 8);
  if (!v) return null;
  const out: number[] = new Array(v[1]);
  for (let i = 0; i < v[1]; i++) out[i] = Number(ctx.bb.readInt64(v[0] + 8 * i));
  return out;
}
/** Byte vector copied out of the file (so edits never alias the input). */
function byteVec(ctx: Ctx, t: Table, id: number): Uint8Array | null {
  const v = vec(ctx, t, id, 1);
  return v ? ctx.bb.bytes().slice(v[0], v[0] + v[1]) : null;
}
function tables<T>(ctx: Ctx, t: Table, id: number, read: (t: Table, i: number) => T): T[] | null {
  const v = vec(ctx, t, id, 4);
  if (!v) return null;
  const out: T[] = [];
  for (let i = 0; i < v[1]; i++) out.push(read(table(ctx, deref(ctx, v[0] + 4 * i)), i));
  return out;
}

function readOperatorCode(ctx: Ctx, t: Table): OperatorCode {
  return {
    deprecatedBuiltinCode: i8(ctx, t, 0),
    customCode: str(ctx, t, 1),
    version: i32(ctx, t, 2, 1),
    builtinCode: i32(ctx, t, 3),
  };
}

function readQuantization(ctx: Ctx, t: Table): QuantizationParameters {
  const detailsType = u8(ctx, t, 4);
  let details: QuantizationParameters['details'] = null;
  if (detailsType === 1) {
    const o = field(ctx, t, 5);
    if (!o) fail(ctx, 'QuantizationParameters.details type set without a value');
    details = { custom: byteVec(ctx, table(ctx, deref(ctx, t.pos + o)), 0) ?? new Uint8Array(0) };
  } else if (detailsType !== 0) {
    throw new Error(`unsupported TFLite quantization details type ${detailsType} in ${ctx.where} (schema.fbs knows only CustomQuantization = 1)`);
  }
  return {
    min: floatVec(ctx, t, 0),
    max: floatVec(ctx, t, 1),
    scale: floatVec(ctx, t, 2),
    zeroPoint: longVec(ctx, t, 3),
    details,
    quantizedDimension: i32(ctx, t, 6),
  };
}

function readTensor(ctx: Ctx, t: Table, index: number): Tensor {
  const name = str(ctx, t, 3) ?? '';
  if (has(ctx, t, 6)) throw new Error(`sparse tensor ${index} '${name}' is not supported (Tensor.sparsity, schema.fbs field 6): densify the model first`);
  if (has(ctx, t, 9)) throw new Error(`variant tensor ${index} '${name}' is not supported (Tensor.variant_tensors, schema.fbs field 9)`);
  const q = field(ctx, t, 4);
  return {
    shape: intVec(ctx, t, 0) ?? [],
    type: i8(ctx, t, 1),
    buffer: u32(ctx, t, 2),
    name,
    quantization: q ? readQuantization(ctx, table(ctx, deref(ctx, t.pos + q))) : null,
    isVariable: bool(ctx, t, 5),
    shapeSignature: intVec(ctx, t, 7),
    hasRank: bool(ctx, t, 8),
  };
}

function readOptions(ctx: Ctx, type: number, t: Table): BuiltinOptions {
  const def = OPTIONS_TABLES[type];
  if (!def) throw new Error(`unknown builtin options type ${type} in ${ctx.where}: EdgeTune decodes union BuiltinOptions types 1..${OPTIONS_TABLES.length - 1} (schema.fbs); refusing to drop it silently`);
  const fields: Record<string, OptionValue> = {};
  def.fields.forEach((f, id) => {
    switch (f.kind) {
      case 'i8': fields[f.name] = i8(ctx, t, id, f.def as number); break;
      case 'u8': fields[f.name] = u8(ctx, t, id, f.def as number); break;
      case 'bool': fields[f.name] = bool(ctx, t, id, f.def as boolean); break;
      case 'i16': fields[f.name] = i16(ctx, t, id, f.def as number); break;
      case 'i32': fields[f.name] = i32(ctx, t, id, f.def as number); break;
      case 'u32': fields[f.name] = u32(ctx, t, id, f.def as number); break;
      case 'f32': fields[f.name] = f32(ctx, t, id, f.def as number); break;
      case 'i64': fields[f.name] = i64(ctx, t, id, f.def as bigint); break;
      case 'vi32': fields[f.name] = intVec(ctx, t, id); break;
      case 'vf32': fields[f.name] = floatVec(ctx, t, id); break;
      case 'str': fields[f.name] = str(ctx, t, id); break;
    }
  });
  // Fields past the schema we know would be lost on rewrite: refuse instead.
  const known = 4 + 2 * def.fields.length;
  for (let slot = known; slot < t.vtLen; slot += 2) {
    if (ctx.bb.readUint16(t.vt + slot) !== 0) {
      throw new Error(`${def.name} in ${ctx.where} has field id ${(slot - 4) / 2} unknown to EdgeTune's schema; refusing to drop it silently`);
    }
  }
  return { type, name: def.name, fields };
}

function readOperator(ctx: Ctx, t: Table, index: number): Operator {
  const where = ctx.where;
  ctx.where = `${where} operator ${index}`;
  if (u8(ctx, t, 11) !== 0) throw new Error(`${ctx.where}: builtin_options_2 (schema.fbs Operator field 11, StableHLO options) is not supported`);
  const largeOffset = field(ctx, t, 9) ? ctx.bb.readUint64(t.pos + field(ctx, t, 9)) : 0n;
  if (largeOffset > 1n) throw new Error(`${ctx.where}: large_custom_options_offset (schema.fbs Operator field 9, models > 2 GB) is not supported`);
  const optType = u8(ctx, t, 3);
  let builtinOptions: BuiltinOptions | null = null;
  if (optType !== 0) {
    const o = field(ctx, t, 4);
    if (!o) fail(ctx, 'builtin_options type set without a value');
    builtinOptions = readOptions(ctx, optType, table(ctx, deref(ctx, t.pos + o)));
  }
  const mv = vec(ctx, t, 7, 1);
  let mutating: boolean[] | null = null;
  if (mv) {
    mutating = [];
    for (let i = 0; i < mv[1]; i++) mutating.push(ctx.bb.readUint8(mv[0] + i) !== 0);
  }
  const op: Operator = {
    opcodeIndex: u32(ctx, t, 0),
    inputs: intVec(ctx, t, 1) ?? [],
    outputs: intVec(ctx, t, 2) ?? [],
    builtinOptions,
    customOptions: byteVec(ctx, t, 5),
    customOptionsFormat: i8(ctx, t, 6),
    mutatingVariableInputs: mutating,
    intermediates: intVec(ctx, t, 8),
  };
  ctx.where = where;
  return op;
}

function readSubGraph(ctx: Ctx, t: Table, index: number): SubGraph {
  ctx.where = `subgraph ${index}`;
  const sg: SubGraph = {
    tensors: tables(ctx, t, 0, (tt, i) => readTensor(ctx, tt, i)) ?? [],
    inputs: intVec(ctx, t, 1) ?? [],
    outputs: intVec(ctx, t, 2) ?? [],
    operators: tables(ctx, t, 3, (tt, i) => readOperator(ctx, tt, i)) ?? [],
    name: str(ctx, t, 4),
  };
  ctx.where = 'model';
  return sg;
}

function readBuffer(ctx: Ctx, t: Table, index: number): Buffer {
  const offField = field(ctx, t, 1);
  const offset = offField ? ctx.bb.readUint64(t.pos + offField) : 0n;
  if (offset > 1n) {
    throw new Error(`buffer ${index} stores its data outside the flatbuffer (Buffer.offset/size, schema.fbs fields 1/2, models > 2 GB): not supported by EdgeTune`);
  }
  return { data: byteVec(ctx, t, 0) ?? new Uint8Array(0) };
}

function readTensorMap(ctx: Ctx, t: Table): TensorMap {
  return { name: str(ctx, t, 0) ?? '', tensorIndex: u32(ctx, t, 1) };
}

function readSignatureDef(ctx: Ctx, t: Table): SignatureDef {
  return {
    inputs: tables(ctx, t, 0, (tt) => readTensorMap(ctx, tt)) ?? [],
    outputs: tables(ctx, t, 1, (tt) => readTensorMap(ctx, tt)) ?? [],
    signatureKey: str(ctx, t, 2),
    subgraphIndex: u32(ctx, t, 4),
  };
}

function readMetadata(ctx: Ctx, t: Table): Metadata {
  return { name: str(ctx, t, 0) ?? '', buffer: u32(ctx, t, 1) };
}

/**
 * The flatbuffer builder pads its first-written object to the buffer's alignment, so up to 15 zero
 * bytes can follow the last object (seen: 2 bytes in Coral's `_edgetpu` classifiers before their
 * zip). Zero bytes up to the next 16-byte boundary are counted as part of the flatbuffer.
 */
function paddedEnd(bytes: Uint8Array, extent: number): number {
  let end = extent;
  while (end < bytes.length && end % 16 !== 0 && bytes[end] === 0) end++;
  return end % 16 === 0 || end === bytes.length ? end : extent;
}

/**
 * Parses a .tflite file into typed records.
 *
 * @param bytes the whole file (any extra bytes after the flatbuffer are allowed).
 * @returns the Model; `trailing` holds the bytes after the flatbuffer's last reachable object
 *   (e.g. Coral's zip of labels, starting 'PK\x03\x04'), absent when there are none. Byte vectors
 *   (buffer data, custom options) are copies, never views of `bytes`.
 * @throws Error "not a TFLite file (identifier 'XXXX', expected 'TFL3')" when bytes 4..7 are not the
 *   schema's file_identifier; Error on truncated/corrupt offsets; Error on features EdgeTune cannot
 *   round-trip (sparse or variant tensors, Buffer.offset/size large-model form, builtin_options_2,
 *   unknown options fields) instead of silently dropping them.
 */
export function readModel(input: Uint8Array): Model {
  // A Node Buffer's slice() would return Buffers; normalise so records hold plain Uint8Arrays.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < 8) throw new Error(`not a TFLite file (${bytes.length} bytes, expected at least 8)`);
  const ident = Buffer_.from(bytes.subarray(4, 8)).toString('latin1');
  if (ident !== FILE_IDENTIFIER) {
    throw new Error(`not a TFLite file (identifier '${ident.replace(/[^\x20-\x7e]/g, '?')}', expected '${FILE_IDENTIFIER}')`);
  }
  const bb = new ByteBuffer(bytes);
  const ctx: Ctx = { bb, size: bytes.length, extent: 8, where: 'model' };
  const root = table(ctx, deref(ctx, 0));
  const model: Model = {
    version: u32(ctx, root, 0),
    operatorCodes: tables(ctx, root, 1, (t) => readOperatorCode(ctx, t)) ?? [],
    subgraphs: tables(ctx, root, 2, (t, i) => readSubGraph(ctx, t, i)) ?? [],
    description: str(ctx, root, 3),
    buffers: tables(ctx, root, 4, (t, i) => readBuffer(ctx, t, i)) ?? [],
    metadataBuffer: intVec(ctx, root, 5),
    metadata: tables(ctx, root, 6, (t) => readMetadata(ctx, t)) ?? [],
    signatureDefs: tables(ctx, root, 7, (t) => readSignatureDef(ctx, t)) ?? [],
  };
  const end = paddedEnd(bytes, ctx.extent);
  if (end < bytes.length) model.trailing = bytes.slice(end);
  return model;
}

/**
 * End of the flatbuffer inside `bytes` (bytes): the furthest byte of any table, vtable, vector or
 * string reachable from the root, plus the builder's zero padding up to the next 16-byte boundary.
 * Equals bytes.length when nothing is appended.
 * @throws like readModel.
 */
export function flatbufferEnd(bytes: Uint8Array): number {
  const m = readModel(bytes);
  return bytes.length - (m.trailing?.length ?? 0);
}
