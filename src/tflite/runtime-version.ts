/**
 * Operator versions and the model's "min_runtime_version".
 *
 * A TFLite OperatorCode carries a `version` that selects the kernel variant (e.g. FULLY_CONNECTED
 * v4 = int8), and the converter records the oldest TFLite runtime that has every used variant as a
 * Model.metadata entry "min_runtime_version": a 16-byte buffer holding the version string, zero
 * padded (as in Coral's bases: "1.5.0"). Sources, tensorflow/lite/tools/versioning/:
 * - runtime_version.cc `FindMinimumRuntimeVersionForOp` (the (op, version) → runtime table below,
 *   as of tensorflow commit 00b1ec2) and `UpdateMinimumRuntimeVersionForModel` (the maximum over
 *   all ops of all subgraphs; custom ops and pairs missing from the table are skipped);
 * - op_version.cc `GetBuiltinOperatorVersion` (the version an op needs for its tensor types and
 *   options; requiredOpVersion implements it for the ops EdgeTune writes or its bases contain).
 */
import { fail } from '../errors';
import { builtinCodeOf } from './graph';
import { BUILTIN_OPERATOR_NAMES, BuiltinOperator, Model, Operator, SubGraph, TensorType } from './schema';

/** Model.metadata entry naming the runtime-version buffer (schema.fbs; converter convention). */
export const MIN_RUNTIME_VERSION = 'min_runtime_version';

/** Size of the zero-padded runtime-version buffer the converter writes (runtime_version.cc). */
export const MIN_RUNTIME_VERSION_BYTES = 16;

// "OP: runtime-of-v1 runtime-of-v2 …" ('-' = version absent from TFLite's table).
const RUNTIME_SPEC = [
  'AVERAGE_POOL_2D: 1.5.0 1.14.0 2.3.0',
  'BATCH_MATMUL: 2.3.0 2.3.0 2.4.0 2.5.0',
  'BROADCAST_TO: - 2.5.0 2.5.0',
  'CONV_2D: 1.5.0 1.14.0 1.14.0 2.3.0 2.4.0 2.9.0',
  'DEPTHWISE_CONV_2D: 1.5.0 1.12.0 1.14.0 2.2.0 2.3.0 2.3.0',
  'ADD: 1.5.0 1.14.0 2.4.0 2.6.0',
  'ADD_N: 1.14.0',
  'SPACE_TO_BATCH_ND: 1.6.0 1.14.0 2.3.0',
  'SUB: 1.6.0 1.14.0 2.3.0 2.4.0 2.4.0',
  'DENSIFY: 2.2.0',
  'DIV: 1.6.0 2.3.0',
  'BATCH_TO_SPACE_ND: 1.6.0 1.14.0 2.3.0',
  'CAST: 1.5.0 2.7.0 2.8.0 2.9.0',
  'CONCATENATION: 1.5.0 1.14.0 2.3.0',
  'DEPTH_TO_SPACE: 2.1.0 2.5.0',
  'EMBEDDING_LOOKUP: 1.13.0 1.14.0 1.14.0',
  'EMBEDDING_LOOKUP_SPARSE: 1.5.0',
  'FAKE_QUANT: 1.5.0 1.10.0',
  'FULLY_CONNECTED: 1.5.0 1.10.0 1.14.0 1.14.0 2.0.0 2.1.0 2.3.0 2.3.0 2.3.0',
  'GATHER: 1.6.0 1.14.0 1.15.0 2.4.0 2.5.0',
  'GATHER_ND: 1.14.0 2.3.0 2.5.0',
  'HASHTABLE_LOOKUP: 1.5.0',
  'SVDF: 1.5.0 1.14.0 2.2.0 2.3.0',
  'L2_NORMALIZATION: 1.5.0 1.14.0',
  'L2_POOL_2D: 1.5.0',
  'LOCAL_RESPONSE_NORMALIZATION: 1.5.0',
  'MAX_POOL_2D: 1.5.0 1.14.0 2.3.0',
  'MAXIMUM: 1.14.0 1.14.0 2.3.0 2.3.0',
  'MINIMUM: 1.14.0 1.14.0 2.3.0 2.3.0',
  'MUL: 1.5.0 1.14.0 1.15.0 2.3.0 2.6.0',
  'NON_MAX_SUPPRESSION_V4: 2.1.0',
  'NON_MAX_SUPPRESSION_V5: 2.1.0',
  'PAD: 1.5.0 1.14.0 2.4.0 2.6.0',
  'TILE: 1.10.1 2.2.0 2.8.0',
  'PADV2: 1.9.0 1.14.0 2.4.0 2.6.0',
  'RESHAPE: 1.5.0',
  'SOFTMAX: 1.5.0 1.14.0 2.3.0',
  'SPACE_TO_DEPTH: 1.5.0 1.14.0',
  'TRANSPOSE: 1.6.0 1.14.0 1.15.0 2.3.0 2.4.0',
  'LSTM: 1.7.0 1.10.0 1.14.0 2.3.0',
  'UNIDIRECTIONAL_SEQUENCE_LSTM: 1.13.1 1.14.0 2.3.0',
  'BIDIRECTIONAL_SEQUENCE_LSTM: 1.14.0 1.14.0 1.14.0',
  'BIDIRECTIONAL_SEQUENCE_RNN: 1.14.0 1.14.0 2.3.0',
  'MEAN: 1.6.0 1.14.0 2.4.0',
  'SUM: 1.10.0 1.15.0',
  'REDUCE_MAX: 1.11.0 1.14.0 2.5.0',
  'REDUCE_MIN: 1.11.0 1.14.0 2.5.0',
  'REDUCE_PROD: 1.11.0 2.6.0',
  'REDUCE_ANY: 1.11.0',
  'RELU6: 1.5.0 1.14.0 2.5.0',
  'RESIZE_BILINEAR: 1.7.0 1.14.0 2.2.0 2.5.0',
  'RESIZE_NEAREST_NEIGHBOR: 1.13.1 1.14.0 2.3.0 2.4.0',
  'RNN: 1.5.0 1.14.0 2.3.0',
  'SKIP_GRAM: 1.5.0',
  'SQUEEZE: 1.6.0 2.5.0',
  'SPLIT: 1.5.0 1.14.0 1.14.0 2.3.0',
  'SPLIT_V: 1.13.1 2.3.0',
  'STRIDED_SLICE: 1.6.0 1.14.0 2.1.0 2.2.0 2.5.0 2.6.0',
  'TOPK_V2: 1.7.0 1.14.0',
  'ARG_MAX: 1.9.0 1.14.0 2.9.0',
  'ARG_MIN: 1.9.0 1.14.0 2.9.0',
  'TRANSPOSE_CONV: 1.9.0 2.2.0 2.3.0',
  'SPARSE_TO_DENSE: 1.9.0 1.14.0 1.15.0',
  'EXPAND_DIMS: 1.10.0',
  'PACK: 1.11.0 1.14.0 2.3.0',
  'SHAPE: 1.10.0',
  'SLICE: 1.14.0 1.14.0 1.14.0 2.4.0 2.5.0',
  'TANH: 1.14.0 1.14.0 2.3.0',
  'ONE_HOT: 1.11.0',
  'UNPACK: 1.11.0 1.14.0 2.2.0 2.3.0',
  'LEAKY_RELU: 1.13.1 2.3.0',
  'LOGISTIC: 1.14.0 1.14.0 2.3.0',
  'LOG_SOFTMAX: 1.14.0 1.14.0',
  'LSH_PROJECTION: 1.5.0',
  'SQUARED_DIFFERENCE: 1.13.1 2.5.0',
  'MIRROR_PAD: 1.13.1 2.3.0',
  'UNIQUE: 1.14.0',
  'UNIDIRECTIONAL_SEQUENCE_RNN: 1.14.0 1.14.0 2.3.0',
  'WHERE: 1.14.0 2.8.0',
  'DEQUANTIZE: 1.13.1 1.14.0 1.15.0 2.2.0 2.7.0',
  'REVERSE_SEQUENCE: 1.14.0',
  'EQUAL: 1.14.0 1.14.0 2.3.0',
  'NOT_EQUAL: 1.14.0 1.14.0 2.3.0',
  'GREATER: 1.14.0 1.14.0',
  'GREATER_EQUAL: 1.14.0 1.14.0',
  'LESS: 1.14.0 1.14.0',
  'LESS_EQUAL: 1.14.0 1.14.0',
  'SCATTER_ND: 2.1.0',
  'SEGMENT_SUM: 2.2.0',
  'SELECT: 1.14.0 1.14.0',
  'SELECT_V2: 2.2.0',
  'IF: 1.15.0',
  'FLOOR_DIV: 1.14.0 1.14.0',
  'FLOOR: 1.9.0',
  'CEIL: 1.14.0',
  'MATRIX_DIAG: 1.14.0',
  'MATRIX_SET_DIAG: 1.14.0',
  'ELU: 1.14.0',
  'QUANTIZE: 1.14.0 1.15.0 2.7.0',
  'ROUND: 1.14.0',
  'RELU: 1.5.0 2.1.0 2.5.0',
  'RELU_N1_TO_1: 1.5.0',
  'RELU_0_TO_1: 2.10.0',
  'PRELU: 1.8.0',
  'EXP: 1.7.0',
  'COS: 1.14.0',
  'NEG: 1.9.0',
  'POW: 1.10.0',
  'LOGICAL_OR: 1.11.0',
  'LOGICAL_AND: 1.11.0',
  'LOGICAL_NOT: 1.11.0',
  'FLOOR_MOD: 1.13.0',
  'RANGE: 1.13.0',
  'SIN: 1.9.0',
  'LOG: 1.14.0',
  'SQRT: 1.10.0',
  'RSQRT: 1.10.0 2.5.0',
  'SQUARE: 1.12.0',
  'ZEROS_LIKE: 1.12.0',
  'ABS: 1.13.0 2.4.0 2.5.0 2.6.0',
  'HARD_SWISH: 1.15.0',
  'FILL: 1.13.0 2.3.0 2.5.0',
  'REVERSE_V2: 1.14.0 2.2.0 2.5.0',
  'RANK: 1.14.0',
  'WHILE: 1.15.0',
  'CUMSUM: 2.4.0',
  'CALL_ONCE: 2.5.0',
  'RFFT2D: 2.5.0',
  'CONV_3D: 2.5.0',
  'IMAG: 2.5.0',
  'REAL: 2.5.0',
  'COMPLEX_ABS: 2.5.0',
  'HASHTABLE: 2.5.0',
  'HASHTABLE_FIND: 2.5.0',
  'HASHTABLE_IMPORT: 2.5.0',
  'HASHTABLE_SIZE: 2.5.0',
  'REDUCE_ALL: 2.6.0',
  'CONV_3D_TRANSPOSE: 2.6.0',
  'VAR_HANDLE: 2.6.0',
  'READ_VARIABLE: 2.6.0',
  'ASSIGN_VARIABLE: 2.6.0',
  'BROADCAST_ARGS: 2.6.0',
  'RANDOM_STANDARD_NORMAL: 2.8.0',
  'BUCKETIZE: 2.8.0',
  'RANDOM_UNIFORM: 2.8.0',
  'MULTINOMIAL: 2.8.0',
  'GELU: 2.9.0 2.9.0',
  'DYNAMIC_UPDATE_SLICE: 2.9.0',
  'UNSORTED_SEGMENT_PROD: 2.10.0',
  'UNSORTED_SEGMENT_MAX: 2.10.0',
  'UNSORTED_SEGMENT_MIN: 2.11.0',
  'UNSORTED_SEGMENT_SUM: 2.10.0',
  'ATAN2: 2.10.0',
];

/** builtin code → runtime per version (index version − 1; null = not in TFLite's table). */
const RUNTIME_TABLE: ReadonlyMap<number, readonly (string | null)[]> = new Map(RUNTIME_SPEC.map((line) => {
  const [name, rest] = line.split(':');
  const code = BUILTIN_OPERATOR_NAMES.indexOf(name);
  if (code < 0) throw new Error(`runtime-version table names unknown op ${name}`);
  return [code, rest.trim().split(/\s+/).map((v) => (v === '-' ? null : v))];
}));

/**
 * Compares dotted runtime versions numerically, part by part ("1.9.0" < "1.14.0"); with equal
 * leading parts the shorter one comes first, as runtime_version.cc `CompareRuntimeVersion` orders.
 * @returns negative when a < b, 0 when equal, positive when a > b.
 */
export function compareRuntimeVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0 && Number.isFinite(d)) return d;
  }
  return pa.length - pb.length;
}

/**
 * Oldest TFLite runtime with this builtin op version (runtime_version.cc table), or null when the
 * pair is not in the table (TFLite then ignores the op).
 * @param builtinCode BuiltinOperator value, e.g. BuiltinOperator.FULLY_CONNECTED.
 * @param version OperatorCode.version (1-based).
 */
export function minRuntimeForOp(builtinCode: number, version: number): string | null {
  return RUNTIME_TABLE.get(builtinCode)?.[version - 1] ?? null;
}

/**
 * The oldest TFLite runtime that runs every builtin op of every subgraph at its declared version:
 * the maximum of minRuntimeForOp over all ops, as the converter computes it. Custom ops (e.g.
 * `edgetpu-custom-op`) and (op, version) pairs missing from the table are skipped.
 * @returns e.g. "1.5.0"; "" when no op is in the table (TFLite then writes nothing).
 */
export function minRuntimeVersion(model: Model): string {
  let best = '';
  for (const sg of model.subgraphs) {
    for (const op of sg.operators) {
      const c = model.operatorCodes[op.opcodeIndex];
      if (!c || c.customCode !== null) continue;
      const v = minRuntimeForOp(builtinCodeOf(c), c.version);
      if (v !== null && (best === '' || compareRuntimeVersions(best, v) < 0)) best = v;
    }
  }
  return best;
}

/**
 * Returns a copy of `model` whose "min_runtime_version" metadata entry holds minRuntimeVersion,
 * zero-padded to 16 bytes: the existing entry's buffer gets the new bytes (a fresh buffer when that
 * one is also used by a tensor or another entry); a model without the entry gets a new buffer and
 * entry. When no op is in the table the model is returned unchanged, as TFLite writes nothing then.
 * @throws EdgeTuneError UNSUPPORTED when the version string would not fit in 15 bytes.
 */
export function setMinRuntimeVersion(model: Model): Model {
  const v = minRuntimeVersion(model);
  if (v === '') return model;
  const text = Buffer.from(v, 'latin1');
  if (text.length >= MIN_RUNTIME_VERSION_BYTES) throw fail('UNSUPPORTED', `runtime version '${v}' does not fit the 16-byte min_runtime_version buffer`);
  const data = new Uint8Array(MIN_RUNTIME_VERSION_BYTES);
  data.set(text);
  const buffers = [...model.buffers];
  const metadata = [...model.metadata];
  const at = metadata.findIndex((m) => m.name === MIN_RUNTIME_VERSION);
  const old = at >= 0 ? metadata[at].buffer : -1;
  const shared = old >= 0 && (old === 0
    || model.subgraphs.some((sg) => sg.tensors.some((t) => t.buffer === old))
    || metadata.some((m, i) => i !== at && m.buffer === old));
  if (at >= 0 && !shared && old < buffers.length) {
    buffers[old] = { data };
  } else {
    buffers.push({ data });
    if (at >= 0) metadata[at] = { ...metadata[at], buffer: buffers.length - 1 };
    else metadata.push({ name: MIN_RUNTIME_VERSION, buffer: buffers.length - 1 });
  }
  return { ...model, buffers, metadata };
}

/**
 * The "min_runtime_version" a model declares (the buffer's text up to its first zero byte), or
 * null when it has no such entry.
 */
export function declaredMinRuntimeVersion(model: Model): string | null {
  const m = model.metadata.find((e) => e.name === MIN_RUNTIME_VERSION);
  if (!m) return null;
  const data = model.buffers[m.buffer]?.data ?? new Uint8Array(0);
  const end = data.indexOf(0);
  return Buffer.from(data.subarray(0, end < 0 ? data.length : end)).toString('latin1');
}

function typeOf(sg: SubGraph, op: Operator, side: 'in' | 'out', i: number): TensorType | undefined {
  const t = (side === 'in' ? op.inputs : op.outputs)[i];
  return t === undefined || t < 0 ? undefined : sg.tensors[t]?.type;
}

/** Per-channel: more than one scale, as many as the quantized dimension (op_version.cc). */
function perChannel(sg: SubGraph, tensor: number | undefined): boolean {
  const t = tensor === undefined || tensor < 0 ? undefined : sg.tensors[tensor];
  const q = t?.quantization;
  return !!t && !!q?.scale && q.scale.length > 1 && q.scale.length === t.shape[q.quantizedDimension];
}

/**
 * The operator version TFLite's converter gives this op for its tensor types and options
 * (op_version.cc `GetBuiltinOperatorVersion`), for the ops EdgeTune writes or its bases contain:
 * CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX, MEAN, RELU6, RELU, AVERAGE_POOL_2D,
 * MAX_POOL_2D, RESHAPE, SQUEEZE, DEQUANTIZE, QUANTIZE, ADD, CONCATENATION, PAD, LOGISTIC,
 * HARD_SWISH. E.g. FULLY_CONNECTED uint8 → 1, int8 → 4; SOFTMAX uint8 → 1, int8 → 2;
 * DEQUANTIZE from uint8 → 1, from int8 → 2.
 * @param model the model; `opIndex` indexes subgraph `subgraph`'s operators.
 * @returns the version, or null for a custom op or an op outside that list.
 */
export function requiredOpVersion(model: Model, opIndex: number, subgraph = 0): number | null {
  const sg = model.subgraphs[subgraph];
  const op = sg?.operators[opIndex];
  const code = op && model.operatorCodes[op.opcodeIndex];
  if (!op || !code || code.customCode !== null) return null;
  const in0 = typeOf(sg, op, 'in', 0);
  const in1 = typeOf(sg, op, 'in', 1);
  const out0 = typeOf(sg, op, 'out', 0);
  const f = op.builtinOptions?.fields ?? {};
  const { INT16, INT8, INT4, FLOAT32, UINT8, FLOAT16, INT64, UINT32, STRING } = TensorType;
  switch (builtinCodeOf(code)) {
    case BuiltinOperator.CONV_2D: {
      if (in0 === INT16 && in1 === INT8 && out0 === INT16 && f.quantized_bias_type) return 8;
      const filter = op.inputs[1] >= 0 ? sg.tensors[op.inputs[1]] : undefined;
      const input = sg.tensors[op.inputs[0]];
      if (filter && input?.shape.length === 4 && filter.shape.length === 4 && input.shape[3] !== filter.shape[3]) return 6;
      if (in0 === INT16 && in1 === INT16 && out0 === INT16) return 4;
      if (in0 === INT8 && in1 === INT8 && out0 === INT8) return 3;
      if (in0 === INT8 && in1 === INT4 && out0 === INT8) return 7;
      if (in0 === FLOAT32 && in1 === INT8 && out0 === FLOAT32) return perChannel(sg, op.inputs[1]) ? 5 : 2;
      return 1;
    }
    case BuiltinOperator.DEPTHWISE_CONV_2D:
      if (in0 === INT16 && in1 === INT16 && out0 === INT16) return 5;
      if (in0 === FLOAT32 && in1 === INT8 && out0 === FLOAT32) return perChannel(sg, op.inputs[1]) ? 6 : 4;
      if (in0 === INT8 && in1 === INT8 && out0 === INT8) return 3;
      if (in0 === INT8 && in1 === INT4 && out0 === INT8) return 7;
      if ((f.dilation_w_factor ?? 1) !== 1 || (f.dilation_h_factor ?? 1) !== 1) return 2;
      return 1;
    case BuiltinOperator.FULLY_CONNECTED:
      if (in0 === INT16 && in1 === INT4 && out0 === INT16) return 13;
      if (in0 === FLOAT32 && in1 === INT8 && out0 === FLOAT32 && perChannel(sg, op.inputs[1])) return 12;
      if (in0 === INT16 && in1 === INT8 && out0 === INT16 && f.quantized_bias_type) return 11;
      if (in0 === INT16 && in1 === INT16 && out0 === INT16) return 7;
      if (op.inputs.length === 2) return 6;
      if (f.keep_num_dims) return 5;
      if (in0 === INT8 && in1 === INT8 && out0 === INT8) return 4;
      if (in0 === INT8 && in1 === INT4 && out0 === INT8) return 10;
      if (in0 === FLOAT32 && in1 === INT8 && out0 === FLOAT32) return f.asymmetric_quantize_inputs ? 9 : 3;
      if (f.weights_format === 1 /* SHUFFLED4x16INT8 */) return 2;
      return 1;
    case BuiltinOperator.SOFTMAX:
    case BuiltinOperator.MEAN:
    case BuiltinOperator.RELU6:
      if (in0 === INT16) return 3;
      if (in0 === INT8) return 2;
      return 1;
    case BuiltinOperator.RELU:
      if (in0 === INT16) return 3;
      if (in0 === INT8 || in0 === UINT8) return 2;
      return 1;
    case BuiltinOperator.AVERAGE_POOL_2D:
    case BuiltinOperator.MAX_POOL_2D:
      if (in0 === INT16 && out0 === INT16) return 3;
      if (in0 === INT8) return 2;
      return 1;
    case BuiltinOperator.LOGISTIC:
      if (in0 === INT16 && out0 === INT16) return 3;
      if (in0 === INT8) return 2;
      return 1;
    case BuiltinOperator.DEQUANTIZE:
      if (in0 === INT4) return 6;
      if (in0 === INT16 || in0 === FLOAT16) return 3;
      if (in0 === INT8) return perChannel(sg, op.inputs[0]) ? 5 : 2;
      return 1;
    case BuiltinOperator.QUANTIZE:
      if (in0 === INT4 || out0 === INT4) return 4;
      if (perChannel(sg, op.outputs[0])) return 3;
      if (out0 === INT16) return 2;
      return 1;
    case BuiltinOperator.ADD:
      if (in0 === INT16 && !sg.tensors[op.inputs[0]]?.quantization) return 5;
      if (in0 === INT64) return 4;
      if (in0 === INT16 && out0 === INT16 && f.pot_scale_int16 === false) return 3;
      if (in0 === INT8) return 2;
      return 1;
    case BuiltinOperator.CONCATENATION:
      if (in0 === UINT32) return 4;
      if (in0 === INT16) return 3;
      if (in0 === INT8) return 2;
      return 1;
    case BuiltinOperator.PAD:
      if ((sg.tensors[op.inputs[0]]?.shape.length ?? 0) > 4) return 4;
      if (in0 === INT16) return 3;
      if (in0 === INT8) return 2;
      return 1;
    case BuiltinOperator.SQUEEZE:
      return in0 === STRING ? 2 : 1;
    case BuiltinOperator.RESHAPE:
    case BuiltinOperator.HARD_SWISH:
      return 1;
    default:
      return null;
  }
}

/** An operator code whose declared version is below what one of its ops needs. */
export interface OpVersionProblem {
  /** Index into Model.operatorCodes. */
  codeIndex: number;
  /** Op name, e.g. 'FULLY_CONNECTED'. */
  op: string;
  declared: number;
  required: number;
}

/**
 * Operator codes declaring a lower version than requiredOpVersion gives for some op using them
 * (a runtime would pick the wrong kernel variant or refuse the op). Ops requiredOpVersion does not
 * know are not checked.
 * @returns one entry per such code (with the highest version any of its ops needs); [] when all
 *   declared versions suffice.
 */
export function opVersionProblems(model: Model): OpVersionProblem[] {
  const need = new Map<number, number>();
  model.subgraphs.forEach((sg, s) => sg.operators.forEach((op, i) => {
    const r = requiredOpVersion(model, i, s);
    if (r !== null) need.set(op.opcodeIndex, Math.max(need.get(op.opcodeIndex) ?? 0, r));
  }));
  return [...need].filter(([c, r]) => model.operatorCodes[c].version < r).sort((a, b) => a[0] - b[0]).map(([c, r]) => ({
    codeIndex: c,
    op: BUILTIN_OPERATOR_NAMES[builtinCodeOf(model.operatorCodes[c])] ?? `BUILTIN_${builtinCodeOf(model.operatorCodes[c])}`,
    declared: model.operatorCodes[c].version,
    required: r,
  }));
}
