/**
 * TFLite Metadata: the ModelMetadata flatbuffer that lets standard clients (tflite-support's Task
 * Library, MediaPipe's ImageClassifier) describe a model and name its classes, plus the zip of
 * associated files (labels.txt) appended after the model.
 *
 * Format source: tflite-support `tensorflow_lite_support/metadata/metadata_schema.fbs` (file
 * identifier "M001", schema 1.x). Field ids quoted below are that schema's field order; flatbuffer
 * field i sits in vtable slot 4 + 2·i and a union takes two ids (type, then value). Packing
 * follows tflite-support's MetadataPopulator (metadata.py): the metadata flatbuffer goes into a new
 * Model buffer named by a Model.metadata entry "TFLITE_METADATA", the associated files into a zip
 * after the flatbuffer (zip.ts), and ModelMetadata.min_parser_version is computed as
 * `metadata_version.cc` does.
 */
import { Builder } from 'flatbuffers';
import { fail } from '../errors';
import { mainGraph } from './graph';
import { readModel } from './reader';
import { Model, TensorType } from './schema';
import { unzipAll, zipStored } from './zip';

/** Metadata flatbuffer identifier (metadata_schema.fbs `file_identifier "M001"`). */
export const METADATA_FILE_IDENTIFIER = 'M001';

/** Name of the Model.metadata entry holding the metadata (MetadataPopulator.METADATA_FIELD_NAME). */
export const METADATA_NAME = 'TFLITE_METADATA';

/** Default name of the labels file EdgeTune packs (the name tflite-support's examples use). */
export const METADATA_LABELS_FILE = 'labels.txt';

/** metadata_schema.fbs `enum AssociatedFileType : byte`. */
export enum AssociatedFileType {
  UNKNOWN = 0,
  DESCRIPTIONS = 1,
  /** One label per line for each position along the tensor's last axis (classifier outputs). */
  TENSOR_AXIS_LABELS = 2,
  TENSOR_VALUE_LABELS = 3,
  TENSOR_AXIS_SCORE_CALIBRATION = 4,
  /** Added in schema 1.0.1. */
  VOCABULARY = 5,
}

/** metadata_schema.fbs `enum ColorSpaceType : byte`. */
export enum ColorSpaceType {
  UNKNOWN = 0,
  RGB = 1,
  GRAYSCALE = 2,
}

/** Union type ids of metadata_schema.fbs `union ContentProperties` (1-based). */
const CONTENT_FEATURE = 1;
const CONTENT_IMAGE = 2;
/** Union type id of NormalizationOptions in `union ProcessUnitOptions`. */
const PROCESS_NORMALIZATION = 1;

/** AssociatedFile table: 0 name · 1 description · 2 type · 3 locale. */
export interface AssociatedFile {
  /** Field 0: the file's name inside the appended zip, e.g. 'labels.txt'. */
  name: string;
  /** Field 1, or null. */
  description: string | null;
  /** Field 2. */
  type: AssociatedFileType;
  /** Field 3: ISO 639-1 code such as 'en', or null. */
  locale: string | null;
}

/**
 * Content.content_properties (union, fields 0/1 of Content). Members EdgeTune does not build
 * (BoundingBoxProperties, AudioProperties, later ones) are read as 'other' with their union type.
 */
export type ContentProperties =
  | { kind: 'feature' }
  | { kind: 'image'; colorSpace: ColorSpaceType; defaultSize: { width: number; height: number } | null }
  | { kind: 'other'; unionType: number };

/**
 * One ProcessUnit (its `options` union, fields 0/1). NormalizationOptions (0 mean · 1 std, float
 * per channel): a client computes (x − mean) / std. Other members are read as 'other'.
 */
export type ProcessUnit =
  | { kind: 'normalization'; mean: number[]; std: number[] }
  | { kind: 'other'; unionType: number };

/** TensorMetadata table: 0 name · 1 description · 2 dimension_names · 3 content · 4 process_units · 5 stats · 6 associated_files. */
export interface TensorMetadata {
  name: string | null;
  description: string | null;
  /** Field 3 → Content field 0/1; null when absent. Content.range (field 2) is not kept. */
  content: ContentProperties | null;
  /** Field 4. */
  processUnits: ProcessUnit[];
  /** Field 5 → Stats table: 0 max · 1 min (per channel; one value = all channels); null when absent. */
  stats: { min: number[] | null; max: number[] | null } | null;
  /** Field 6. */
  associatedFiles: AssociatedFile[];
}

/** SubGraphMetadata table: 0 name · 1 description · 2 input_tensor_metadata · 3 output_tensor_metadata · 4 associated_files. */
export interface SubGraphMetadata {
  name: string | null;
  description: string | null;
  /** Field 2: one per SubGraph.inputs entry, in the same order. */
  inputs: TensorMetadata[];
  /** Field 3: one per SubGraph.outputs entry, in the same order. */
  outputs: TensorMetadata[];
  /** Field 4. */
  associatedFiles: AssociatedFile[];
}

/**
 * The ModelMetadata table (root; named TfliteMetadata here so it does not clash with the model
 * folder's metadata.json record): 0 name · 1 description · 2 version · 3 subgraph_metadata · 4 author ·
 * 5 license · 6 associated_files · 7 min_parser_version.
 */
export interface TfliteMetadata {
  name: string | null;
  description: string | null;
  /** Field 2: the model's own version, chosen by its author (free text). */
  version: string | null;
  /** Field 3; the 0th describes the main subgraph. */
  subgraphs: SubGraphMetadata[];
  author: string | null;
  license: string | null;
  /** Field 6. */
  associatedFiles: AssociatedFile[];
  /** Field 7: oldest metadata parser that understands every populated field (minParserVersion()). */
  minParserVersion: string | null;
}

// ---------------------------------------------------------------------------------------------
// Writing

type Offset = number;

function optString(b: Builder, s: string | null | undefined): Offset {
  return s === null || s === undefined ? 0 : b.createString(s);
}

function floatVector(b: Builder, v: readonly number[]): Offset {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addFloat32(v[i]);
  return b.endVector();
}

function tableVector(b: Builder, v: readonly Offset[]): Offset {
  b.startVector(4, v.length, 4);
  for (let i = v.length - 1; i >= 0; i--) b.addOffset(v[i]);
  return b.endVector();
}

function writeAssociatedFile(b: Builder, f: AssociatedFile): Offset {
  const name = b.createString(f.name);
  const description = optString(b, f.description);
  const locale = optString(b, f.locale);
  b.startObject(4);
  b.addFieldOffset(0, name, 0);
  if (description) b.addFieldOffset(1, description, 0);
  b.addFieldInt8(2, f.type, AssociatedFileType.UNKNOWN);
  if (locale) b.addFieldOffset(3, locale, 0);
  return b.endObject();
}

function writeFiles(b: Builder, files: readonly AssociatedFile[]): Offset {
  return files.length ? tableVector(b, files.map((f) => writeAssociatedFile(b, f))) : 0;
}

function writeContent(b: Builder, c: ContentProperties): Offset {
  let type: number;
  let props: Offset;
  if (c.kind === 'feature') {
    type = CONTENT_FEATURE;
    b.startObject(0); // FeatureProperties has no fields
    props = b.endObject();
  } else if (c.kind === 'image') {
    type = CONTENT_IMAGE;
    let size = 0;
    if (c.defaultSize) {
      b.startObject(2); // ImageSize: 0 width · 1 height (uint)
      b.addFieldInt32(0, c.defaultSize.width, 0);
      b.addFieldInt32(1, c.defaultSize.height, 0);
      size = b.endObject();
    }
    b.startObject(2); // ImageProperties: 0 color_space · 1 default_size
    b.addFieldInt8(0, c.colorSpace, ColorSpaceType.UNKNOWN);
    if (size) b.addFieldOffset(1, size, 0);
    props = b.endObject();
  } else {
    throw fail('UNSUPPORTED', `cannot write ContentProperties union type ${c.unionType}: EdgeTune writes FeatureProperties and ImageProperties only`);
  }
  b.startObject(3); // Content: 0/1 content_properties · 2 range
  b.addFieldInt8(0, type, 0);
  b.addFieldOffset(1, props, 0);
  return b.endObject();
}

function writeProcessUnit(b: Builder, u: ProcessUnit): Offset {
  if (u.kind !== 'normalization') {
    throw fail('UNSUPPORTED', `cannot write ProcessUnitOptions union type ${u.unionType}: EdgeTune writes NormalizationOptions only`);
  }
  const mean = floatVector(b, u.mean);
  const std = floatVector(b, u.std);
  b.startObject(2); // NormalizationOptions: 0 mean · 1 std
  b.addFieldOffset(0, mean, 0);
  b.addFieldOffset(1, std, 0);
  const options = b.endObject();
  b.startObject(2); // ProcessUnit: 0/1 options
  b.addFieldInt8(0, PROCESS_NORMALIZATION, 0);
  b.addFieldOffset(1, options, 0);
  return b.endObject();
}

function writeTensorMetadata(b: Builder, t: TensorMetadata): Offset {
  const name = optString(b, t.name);
  const description = optString(b, t.description);
  const content = t.content ? writeContent(b, t.content) : 0;
  const units = t.processUnits.length ? tableVector(b, t.processUnits.map((u) => writeProcessUnit(b, u))) : 0;
  let stats = 0;
  if (t.stats) {
    const max = t.stats.max ? floatVector(b, t.stats.max) : 0;
    const min = t.stats.min ? floatVector(b, t.stats.min) : 0;
    b.startObject(2); // Stats: 0 max · 1 min
    if (max) b.addFieldOffset(0, max, 0);
    if (min) b.addFieldOffset(1, min, 0);
    stats = b.endObject();
  }
  const files = writeFiles(b, t.associatedFiles);
  b.startObject(7);
  if (name) b.addFieldOffset(0, name, 0);
  if (description) b.addFieldOffset(1, description, 0);
  if (content) b.addFieldOffset(3, content, 0);
  if (units) b.addFieldOffset(4, units, 0);
  if (stats) b.addFieldOffset(5, stats, 0);
  if (files) b.addFieldOffset(6, files, 0);
  return b.endObject();
}

function writeSubGraphMetadata(b: Builder, s: SubGraphMetadata): Offset {
  const name = optString(b, s.name);
  const description = optString(b, s.description);
  const inputs = tableVector(b, s.inputs.map((t) => writeTensorMetadata(b, t)));
  const outputs = tableVector(b, s.outputs.map((t) => writeTensorMetadata(b, t)));
  const files = writeFiles(b, s.associatedFiles);
  b.startObject(5);
  if (name) b.addFieldOffset(0, name, 0);
  if (description) b.addFieldOffset(1, description, 0);
  b.addFieldOffset(2, inputs, 0);
  b.addFieldOffset(3, outputs, 0);
  if (files) b.addFieldOffset(4, files, 0);
  return b.endObject();
}

/**
 * The oldest metadata parser version that understands every populated field, as tflite-support's
 * `GetMinimumMetadataParserVersion` (metadata_version.cc) computes it: "1.0.0", raised by members
 * added later. Of those, a TfliteMetadata record here can hold only a VOCABULARY associated file
 * (1.0.1); the others (subgraph process units 1.1.0, tensor groups 1.2.0, tokenizer options,
 * AudioProperties 1.3.0) are not representable in it.
 * @returns a version string such as "1.0.0".
 */
export function minParserVersion(meta: TfliteMetadata): string {
  return recordedFiles(meta).some((f) => f.type === AssociatedFileType.VOCABULARY) ? '1.0.1' : '1.0.0';
}

/**
 * Serializes a TfliteMetadata record into a ModelMetadata flatbuffer (identifier "M001"). min_parser_version is
 * always computed (minParserVersion), whatever `meta.minParserVersion` says, as the populator does.
 *
 * @param meta the record; strings are written UTF-8.
 * @returns the flatbuffer bytes (to store in a Model buffer, see attachMetadata).
 * @throws EdgeTuneError UNSUPPORTED for 'other' content properties or process units (read-only).
 */
export function buildModelMetadata(meta: TfliteMetadata): Uint8Array {
  const b = new Builder(1024);
  const name = optString(b, meta.name);
  const description = optString(b, meta.description);
  const version = optString(b, meta.version);
  const subgraphs = tableVector(b, meta.subgraphs.map((s) => writeSubGraphMetadata(b, s)));
  const author = optString(b, meta.author);
  const license = optString(b, meta.license);
  const files = writeFiles(b, meta.associatedFiles);
  const parser = b.createString(minParserVersion(meta));
  b.startObject(8);
  if (name) b.addFieldOffset(0, name, 0);
  if (description) b.addFieldOffset(1, description, 0);
  if (version) b.addFieldOffset(2, version, 0);
  b.addFieldOffset(3, subgraphs, 0);
  if (author) b.addFieldOffset(4, author, 0);
  if (license) b.addFieldOffset(5, license, 0);
  if (files) b.addFieldOffset(6, files, 0);
  b.addFieldOffset(7, parser, 0);
  b.finish(b.endObject(), METADATA_FILE_IDENTIFIER);
  return b.asUint8Array().slice();
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A flatbuffer table found in the metadata bytes. */
interface Table {
  pos: number;
  vt: number;
  vtLen: number;
}

/** Bounds-checked reads over untrusted metadata bytes (any .tflite may be handed to predict). */
class Reader {
  private readonly dv: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private check(pos: number, len: number, what: string): void {
    if (!(pos >= 0 && len >= 0 && pos + len <= this.bytes.length)) {
      throw fail('BAD_MODEL', `the model's TFLite Metadata is corrupt (${what} at byte ${pos} lies outside its ${this.bytes.length} bytes): re-export the model or drop its metadata`);
    }
  }

  /** Follows the uoffset stored at `at`. */
  deref(at: number): number {
    this.check(at, 4, 'offset');
    return at + this.dv.getUint32(at, true);
  }

  table(pos: number): Table {
    this.check(pos, 4, 'table');
    const vt = pos - this.dv.getInt32(pos, true);
    this.check(vt, 4, 'vtable');
    const vtLen = this.dv.getUint16(vt, true);
    this.check(vt, vtLen, 'vtable');
    return { pos, vt, vtLen };
  }

  /** Position of field `id` of `t`, or 0 when absent (vtable slot 4 + 2·id). */
  field(t: Table, id: number, size: number): number {
    const slot = 4 + 2 * id;
    const o = slot + 2 <= t.vtLen ? this.dv.getUint16(t.vt + slot, true) : 0;
    if (!o) return 0;
    this.check(t.pos + o, size, `field ${id}`);
    return t.pos + o;
  }

  u8(t: Table, id: number, def: number): number {
    const at = this.field(t, id, 1);
    return at ? this.dv.getUint8(at) : def;
  }

  u32(t: Table, id: number, def: number): number {
    const at = this.field(t, id, 4);
    return at ? this.dv.getUint32(at, true) : def;
  }

  str(t: Table, id: number): string | null {
    const at = this.field(t, id, 4);
    return at ? this.strAt(this.deref(at)) : null;
  }

  private strAt(s: number): string {
    this.check(s, 4, 'string length');
    const n = this.dv.getUint32(s, true);
    this.check(s + 4, n, 'string');
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + s + 4, n).toString('utf8');
  }

  sub(t: Table, id: number): Table | null {
    const at = this.field(t, id, 4);
    return at ? this.table(this.deref(at)) : null;
  }

  /** Vector field: [first element position, length], null when absent. */
  vec(t: Table, id: number, elem: number): [number, number] | null {
    const at = this.field(t, id, 4);
    if (!at) return null;
    const v = this.deref(at);
    this.check(v, 4, 'vector length');
    const n = this.dv.getUint32(v, true);
    this.check(v + 4, n * elem, 'vector');
    return [v + 4, n];
  }

  floats(t: Table, id: number): number[] | null {
    const v = this.vec(t, id, 4);
    return v ? Array.from({ length: v[1] }, (_, i) => this.dv.getFloat32(v[0] + 4 * i, true)) : null;
  }

  tables(t: Table, id: number): Table[] {
    const v = this.vec(t, id, 4);
    return v ? Array.from({ length: v[1] }, (_, i) => this.table(this.deref(v[0] + 4 * i))) : [];
  }
}

function readFiles(r: Reader, t: Table, id: number): AssociatedFile[] {
  return r.tables(t, id).map((f) => ({
    name: r.str(f, 0) ?? '',
    description: r.str(f, 1),
    type: r.u8(f, 2, AssociatedFileType.UNKNOWN),
    locale: r.str(f, 3),
  }));
}

function readContent(r: Reader, c: Table): ContentProperties | null {
  const type = r.u8(c, 0, 0);
  const props = r.sub(c, 1);
  if (type === 0 || !props) return null;
  if (type === CONTENT_FEATURE) return { kind: 'feature' };
  if (type === CONTENT_IMAGE) {
    const size = r.sub(props, 1);
    return {
      kind: 'image',
      colorSpace: r.u8(props, 0, ColorSpaceType.UNKNOWN),
      defaultSize: size ? { width: r.u32(size, 0, 0), height: r.u32(size, 1, 0) } : null,
    };
  }
  return { kind: 'other', unionType: type };
}

function readProcessUnit(r: Reader, u: Table): ProcessUnit {
  const type = r.u8(u, 0, 0);
  const options = r.sub(u, 1);
  if (type === PROCESS_NORMALIZATION && options) {
    return { kind: 'normalization', mean: r.floats(options, 0) ?? [], std: r.floats(options, 1) ?? [] };
  }
  return { kind: 'other', unionType: type };
}

function readTensorMetadata(r: Reader, t: Table): TensorMetadata {
  const content = r.sub(t, 3);
  const stats = r.sub(t, 5);
  return {
    name: r.str(t, 0),
    description: r.str(t, 1),
    content: content ? readContent(r, content) : null,
    processUnits: r.tables(t, 4).map((u) => readProcessUnit(r, u)),
    stats: stats ? { max: r.floats(stats, 0), min: r.floats(stats, 1) } : null,
    associatedFiles: readFiles(r, t, 6),
  };
}

/**
 * Parses a metadata flatbuffer (the contents of the "TFLITE_METADATA" buffer).
 *
 * @param bytes metadata flatbuffer bytes, identifier "M001" at bytes 4..7.
 * @returns the record; fields this reader does not keep (dimension names, Content.range, tensor
 *   groups, subgraph process units, custom metadata) are skipped.
 * @throws EdgeTuneError BAD_MODEL when the identifier is not "M001" or an offset points outside
 *   the bytes.
 */
export function readModelMetadata(bytes: Uint8Array): TfliteMetadata {
  const ident = bytes.length >= 8 ? Buffer.from(bytes.subarray(4, 8)).toString('latin1') : '';
  if (ident !== METADATA_FILE_IDENTIFIER) {
    throw fail('BAD_MODEL', `the model's ${METADATA_NAME} buffer is not TFLite Metadata (identifier '${ident.replace(/[^\x20-\x7e]/g, '?')}', expected '${METADATA_FILE_IDENTIFIER}'): re-export the model or drop its metadata`);
  }
  const r = new Reader(bytes);
  const root = r.table(r.deref(0));
  return {
    name: r.str(root, 0),
    description: r.str(root, 1),
    version: r.str(root, 2),
    subgraphs: r.tables(root, 3).map((s) => ({
      name: r.str(s, 0),
      description: r.str(s, 1),
      inputs: r.tables(s, 2).map((t) => readTensorMetadata(r, t)),
      outputs: r.tables(s, 3).map((t) => readTensorMetadata(r, t)),
      associatedFiles: readFiles(r, s, 4),
    })),
    author: r.str(root, 4),
    license: r.str(root, 5),
    associatedFiles: readFiles(r, root, 6),
    minParserVersion: r.str(root, 7),
  };
}

// ---------------------------------------------------------------------------------------------
// Attaching to a model and reading back

/** Every AssociatedFile a TfliteMetadata record names (model, subgraph and tensor level). */
export function recordedFiles(meta: TfliteMetadata): AssociatedFile[] {
  return [
    ...meta.associatedFiles,
    ...meta.subgraphs.flatMap((s) => [...s.associatedFiles, ...[...s.inputs, ...s.outputs].flatMap((t) => t.associatedFiles)]),
  ];
}

/**
 * Returns a copy of `model` carrying TFLite Metadata and its associated files, packed as
 * tflite-support's MetadataPopulator packs them: the metadata flatbuffer in a Model buffer named
 * by a Model.metadata entry "TFLITE_METADATA" (an existing entry's buffer is replaced, else a
 * buffer and an entry are appended), and the files as a zip of stored entries in
 * `Model.trailing`, which writeModel places right after the flatbuffer with offsets counted from
 * the file's start. Files already appended to `model` are replaced, not merged.
 *
 * @param model the model to describe (not modified).
 * @param meta the metadata record, or metadata flatbuffer bytes (identifier "M001").
 * @param files associated file name → contents; every file the metadata names must be present.
 * @returns the new Model record.
 * @throws EdgeTuneError BAD_OPTION when the metadata does not have exactly one subgraph, its input
 *   or output count differs from subgraph 0's, a named file is missing from `files`, or a file
 *   name is empty or has a path separator (the populator keeps base names only); BAD_MODEL when
 *   `meta` bytes are not metadata.
 */
export function attachMetadata(model: Model, meta: TfliteMetadata | Uint8Array, files: Readonly<Record<string, Uint8Array>>): Model {
  const record = meta instanceof Uint8Array ? readModelMetadata(meta) : meta;
  const sg = mainGraph(model);
  if (record.subgraphs.length !== 1) {
    throw fail('BAD_OPTION', `TFLite Metadata must describe exactly one subgraph (the populator's rule), this one describes ${record.subgraphs.length}`);
  }
  const [s] = record.subgraphs;
  if (s.inputs.length !== sg.inputs.length || s.outputs.length !== sg.outputs.length) {
    throw fail('BAD_OPTION', `TFLite Metadata describes ${s.inputs.length} input(s) and ${s.outputs.length} output(s) but the model has ${sg.inputs.length} and ${sg.outputs.length}: describe every input and output tensor`);
  }
  for (const name of Object.keys(files)) {
    if (name === '' || /[/\\]/.test(name)) throw fail('BAD_OPTION', `associated file name '${name}' must be a plain file name without folders`);
  }
  for (const f of recordedFiles(record)) {
    if (!(f.name in files)) throw fail('BAD_OPTION', `TFLite Metadata names associated file '${f.name}' but it was not given: pass its contents in files`);
  }
  const bytes = buildModelMetadata(record);
  const buffers = [...model.buffers];
  const metadata = [...model.metadata];
  const at = metadata.findIndex((m) => m.name === METADATA_NAME);
  if (at >= 0) {
    buffers[metadata[at].buffer] = { data: bytes };
  } else {
    buffers.push({ data: bytes });
    metadata.push({ name: METADATA_NAME, buffer: buffers.length - 1 });
  }
  const out: Model = { ...model, buffers, metadata };
  if (Object.keys(files).length) out.trailing = zipStored(files);
  else delete out.trailing;
  return out;
}

/**
 * The TFLite Metadata of a .tflite file, or null when it has none.
 * @param bytes the whole .tflite file.
 * @throws EdgeTuneError BAD_MODEL when the file is not TFLite or its metadata is corrupt.
 */
export function modelMetadataOf(bytes: Uint8Array): TfliteMetadata | null {
  let model: Model;
  try {
    model = readModel(bytes);
  } catch (e) {
    throw fail('BAD_MODEL', `${String((e as Error).message ?? e).split('\n')[0]}`, e);
  }
  const entry = model.metadata.find((m) => m.name === METADATA_NAME);
  const data = entry ? model.buffers[entry.buffer]?.data : undefined;
  return data && data.length ? readModelMetadata(data) : null;
}

/**
 * The associated files appended to a .tflite file (the zip after the flatbuffer).
 * @param bytes the whole .tflite file (or its trailing bytes).
 * @returns name → contents; {} when nothing is appended.
 * @throws EdgeTuneError BAD_MODEL when an appended zip cannot be read.
 */
export function readAssociatedFiles(bytes: Uint8Array): Record<string, Uint8Array> {
  return unzipAll(bytes);
}

/**
 * Contents of a labels file: one label per line, UTF-8, each line ended by '\n' (MediaPipe's
 * BuildLabelMapFromFiles drops the empty piece after the last newline).
 * @throws EdgeTuneError BAD_LABEL when a label is empty or contains a line break.
 */
export function labelsFileContents(labels: readonly string[]): Uint8Array {
  labels.forEach((l, i) => {
    if (l === '' || /[\r\n]/.test(l)) throw fail('BAD_LABEL', `label ${i} ${JSON.stringify(l)} cannot go into a labels file: labels must be non-empty and on one line`);
  });
  return new Uint8Array(Buffer.from(labels.map((l) => `${l}\n`).join(''), 'utf8'));
}

/** Splits a labels file into labels: lines split on '\n', a trailing '\r' removed, a final empty line dropped. */
export function parseLabelsFile(bytes: Uint8Array): string[] {
  const lines = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Class names of a classifier file that carries them: the first TENSOR_AXIS_LABELS file of output
 * 0 (as the Task Library and MediaPipe pick it, preferring `locale` when given), read from the
 * appended zip. Works for EdgeTune's exports and for Coral's or TF Hub's classifiers.
 *
 * @param bytes the whole .tflite file.
 * @param locale prefer the labels file with this locale (e.g. 'en'); falls back to the first.
 * @returns labels in output order, or null when the file has no metadata or no labels file.
 * @throws EdgeTuneError BAD_MODEL when the metadata names a labels file the zip does not hold, or
 *   the metadata or zip is corrupt.
 */
export function labelsOf(bytes: Uint8Array, locale?: string): string[] | null {
  const meta = modelMetadataOf(bytes);
  const out = meta?.subgraphs[0]?.outputs[0];
  const candidates = (out?.associatedFiles ?? []).filter((f) => f.type === AssociatedFileType.TENSOR_AXIS_LABELS);
  const file = candidates.find((f) => locale !== undefined && f.locale === locale) ?? candidates[0];
  if (!file) return null;
  const files = unzipAll(bytes);
  if (!(file.name in files)) {
    throw fail('BAD_MODEL', `the model's metadata names labels file '${file.name}' but no such file is appended to the model: re-export it`);
  }
  return parseLabelsFile(files[file.name]);
}

/** True for the uint8 quantization of an input in [−1, 1): scale 1/128, zero point 128 (Coral's MobileNets). */
function mobileNetInput(scale: number, zeroPoint: number): boolean {
  return zeroPoint === 128 && Math.abs(scale - 1 / 128) < 1e-9;
}

/** What imageClassifierMetadata needs besides the model. */
export interface ClassifierInfo {
  /** ModelMetadata.name, e.g. 'EdgeTune mugs classifier'. */
  name: string;
  /** ModelMetadata.description: what the model recognises. */
  description: string;
  /** ModelMetadata.version: the model's own version, e.g. 'v1' or an export timestamp. */
  version: string;
  author?: string;
  license?: string;
  /** Class names in output order; their count must equal the output length. */
  labels: readonly string[];
  /** Name of the labels file in the zip. Default 'labels.txt'. */
  labelsFile?: string;
  /**
   * Input normalization (x − mean) / std per channel (1 or 3 values, as MediaPipe accepts).
   * Required for a float32 input. For a uint8 input it is informative only (MediaPipe and the Task
   * Library feed raw 0..255 pixels to a uint8 input) and the schema says a quantized model
   * declares its float twin's normalization. Default: MobileNet's mean 127.5 / std 127.5 for the
   * MobileNet input quantization (scale 1/128, zero point 128), as Coral's own classifiers declare
   * it; otherwise mean = zero point and std = 1/scale, the real values the quantized input stands for.
   */
  normalization?: { mean: number[]; std: number[] };
}

/**
 * TFLite Metadata for an image classifier with one [1, H, W, 3] RGB input and one [1, N] output,
 * in the shape tflite-support's ImageClassifier writer produces (metadata_writers
 * image_classifier.py, metadata_info.py): input "image" with ImageProperties (RGB),
 * NormalizationOptions and stats (uint8: 0..255; float32: pixel values 0..255 normalized); output
 * "probability" with FeatureProperties, stats (uint8: 0..255; float32: 0..1) and the labels file
 * as TENSOR_AXIS_LABELS. MediaPipe preprocesses a uint8 input as raw 0..255 pixels and
 * needs NormalizationOptions only for a float32 one (image_tensor_specs.cc).
 *
 * @param model the classifier (its subgraph 0 input and output tensors are inspected).
 * @returns the record and the associated files ({ [labelsFile]: contents }) for attachMetadata.
 * @throws EdgeTuneError BAD_MODEL when the model does not have one [1,H,W,3] uint8/float32 input
 *   and one [1,N] output; BAD_OPTION when labels.length ≠ N, a uint8 input lacks a per-tensor
 *   scale, a float32 input comes without `normalization`, or mean/std do not have 1 or 3 equal-count
 *   values; BAD_LABEL for a label with a line break.
 */
export function imageClassifierMetadata(model: Model, info: ClassifierInfo): { metadata: TfliteMetadata; files: Record<string, Uint8Array> } {
  const sg = mainGraph(model);
  if (sg.inputs.length !== 1 || sg.outputs.length !== 1) {
    throw fail('BAD_MODEL', `an image classifier has one input and one output tensor; this model has ${sg.inputs.length} and ${sg.outputs.length}`);
  }
  const input = sg.tensors[sg.inputs[0]];
  const output = sg.tensors[sg.outputs[0]];
  const [batch, height, width, channels] = input.shape;
  // One channel: a grey image (EdgeTune's CNN with --channels grey), ColorSpaceType GRAYSCALE.
  if (input.shape.length !== 4 || batch !== 1 || (channels !== 3 && channels !== 1) || (input.type !== TensorType.UINT8 && input.type !== TensorType.FLOAT32)) {
    throw fail('BAD_MODEL', `input tensor '${input.name}' is ${TensorType[input.type]} [${input.shape.join(', ')}]: an image classifier input is uint8 or float32 [1, H, W, 3] (or [1, H, W, 1] grey)`);
  }
  const classes = output.shape[output.shape.length - 1];
  if (output.shape.length !== 2 || output.shape[0] !== 1) {
    throw fail('BAD_MODEL', `output tensor '${output.name}' has shape [${output.shape.join(', ')}]: an image classifier output is [1, classes]`);
  }
  if (info.labels.length !== classes) {
    throw fail('BAD_OPTION', `${info.labels.length} labels given for the ${classes} outputs of tensor '${output.name}': give one label per class, in output order`);
  }
  let norm = info.normalization;
  if (!norm) {
    if (input.type === TensorType.FLOAT32) throw fail('BAD_OPTION', `input tensor '${input.name}' is float32: give the normalization (mean, std) its pixels need`);
    const q = input.quantization;
    if (q?.scale?.length !== 1 || !(q.scale[0] > 0)) throw fail('BAD_OPTION', `input tensor '${input.name}' is uint8 without one per-tensor scale: give the normalization (mean, std) explicitly`);
    norm = mobileNetInput(q.scale[0], q.zeroPoint?.[0] ?? 0)
      ? { mean: [127.5], std: [127.5] }
      : { mean: [q.zeroPoint?.[0] ?? 0], std: [1 / q.scale[0]] };
  }
  if (norm.mean.length !== norm.std.length || (norm.mean.length !== 1 && norm.mean.length !== 3) || norm.std.some((s) => !(s !== 0 && Number.isFinite(s)))) {
    throw fail('BAD_OPTION', `normalization needs 1 or 3 mean and std values (same count, std non-zero); got mean [${norm.mean.join(', ')}] std [${norm.std.join(', ')}]`);
  }
  // Stats as tflite-support's writer sets them (metadata_info.py): the raw range 0..255 of a
  // uint8 tensor; for float32, the normalized pixel range (input) or 0..1 (probabilities).
  const inStats = input.type === TensorType.UINT8
    ? { min: [0], max: [255] }
    : { min: norm.mean.map((m, i) => (0 - m) / norm!.std[i]), max: norm.mean.map((m, i) => (255 - m) / norm!.std[i]) };
  const outStats = output.type === TensorType.UINT8 ? { min: [0], max: [255] } : { min: [0], max: [1] };
  const labelsFile = info.labelsFile ?? METADATA_LABELS_FILE;
  const metadata: TfliteMetadata = {
    name: info.name,
    description: info.description,
    version: info.version,
    author: info.author ?? null,
    license: info.license ?? null,
    associatedFiles: [],
    minParserVersion: null,
    subgraphs: [{
      name: null,
      description: null,
      associatedFiles: [],
      inputs: [{
        name: 'image',
        description: `${channels === 1 ? 'Grey (BT.601 luma)' : 'RGB'} photo resized to ${width}×${height} pixels; ${input.type === TensorType.UINT8 ? 'one byte (0..255) per channel' : 'float32 per channel, normalized'}.`,
        content: { kind: 'image', colorSpace: channels === 1 ? ColorSpaceType.GRAYSCALE : ColorSpaceType.RGB, defaultSize: null },
        processUnits: [{ kind: 'normalization', mean: [...norm.mean], std: [...norm.std] }],
        stats: inStats,
        associatedFiles: [],
      }],
      outputs: [{
        name: 'probability',
        description: `Probability of each of the ${classes} classes, in the order of ${labelsFile}.`,
        content: { kind: 'feature' },
        processUnits: [],
        stats: outStats,
        associatedFiles: [{
          name: labelsFile,
          description: 'Class names, one per line, in output order.',
          type: AssociatedFileType.TENSOR_AXIS_LABELS,
          locale: null,
        }],
      }],
    }],
  };
  return { metadata, files: { [labelsFile]: labelsFileContents(info.labels) } };
}

/**
 * imageClassifierMetadata + attachMetadata: the classifier with its metadata and labels file.
 * @throws as both.
 */
export function attachClassifierMetadata(model: Model, info: ClassifierInfo): Model {
  const { metadata, files } = imageClassifierMetadata(model, info);
  return attachMetadata(model, metadata, files);
}
