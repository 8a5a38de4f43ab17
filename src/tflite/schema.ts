/**
 * Typed records mirroring TFLite's flatbuffer schema (tensorflow/lite/schema/schema.fbs, schema
 * version 3, file identifier "TFL3"). Field ids quoted in comments are the schema's field order:
 * flatbuffer field i sits in vtable slot 4 + 2·i, a union takes two ids (type, then value).
 *
 * The records are plain data: the reader fills them, graph/graft code edits copies of them, the
 * writer serializes them. Absent optional fields are `null`; absent vectors that TFLite always
 * needs (shape, inputs, outputs) read as empty arrays.
 */

/** TFLite file identifier, bytes 4..7 of every model (schema.fbs `file_identifier`). */
export const FILE_IDENTIFIER = 'TFL3';

/** Schema version written into Model.version (schema.fbs revision history: version 3). */
export const SCHEMA_VERSION = 3;

/** Tensor element types (schema.fbs `enum TensorType : byte`). */
export enum TensorType {
  FLOAT32 = 0,
  FLOAT16 = 1,
  INT32 = 2,
  UINT8 = 3,
  INT64 = 4,
  STRING = 5,
  BOOL = 6,
  INT16 = 7,
  COMPLEX64 = 8,
  INT8 = 9,
  FLOAT64 = 10,
  COMPLEX128 = 11,
  UINT64 = 12,
  RESOURCE = 13,
  VARIANT = 14,
  UINT32 = 15,
  UINT16 = 16,
  INT4 = 17,
}

/** Builtin operator codes used by EdgeTune (schema.fbs `enum BuiltinOperator : int32`). */
export enum BuiltinOperator {
  ADD = 0,
  AVERAGE_POOL_2D = 1,
  CONCATENATION = 2,
  CONV_2D = 3,
  DEPTHWISE_CONV_2D = 4,
  DEQUANTIZE = 6,
  FULLY_CONNECTED = 9,
  LOGISTIC = 14,
  MAX_POOL_2D = 17,
  MUL = 18,
  RELU = 19,
  RELU6 = 21,
  RESHAPE = 22,
  SOFTMAX = 25,
  CUSTOM = 32,
  PAD = 34,
  MEAN = 40,
  SQUEEZE = 43,
  QUANTIZE = 114,
  HARD_SWISH = 117,
  /** Codes at or above this live only in OperatorCode.builtin_code (field 3), not the int8 field 0. */
  PLACEHOLDER_FOR_GREATER_OP_CODES = 127,
}

/**
 * Names of all BuiltinOperator codes 0..161 in enum order (schema.fbs), for messages and opName().
 * Codes beyond the list print as `BUILTIN_<n>`.
 */
export const BUILTIN_OPERATOR_NAMES: readonly string[] = (
  'ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE ' +
  'EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D ' +
  'LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 ' +
  'RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM ' +
  'CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND ' +
  'SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE ' +
  'BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM ' +
  'CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT ' +
  'SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT ' +
  'SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND ' +
  'LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE ' +
  'RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL ' +
  'REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE ' +
  'MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 ' +
  'SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM ' +
  'CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND ' +
  'HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ' +
  'ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU ' +
  'DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ' +
  'ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT'
).split(' ');

/** Fused activation (schema.fbs `enum ActivationFunctionType : byte`). */
export enum ActivationFunctionType {
  NONE = 0,
  RELU = 1,
  RELU_N1_TO_1 = 2,
  RELU6 = 3,
  TANH = 4,
  SIGN_BIT = 5,
}

/** Custom op name of Coral's compiled Edge TPU subgraph (OperatorCode.custom_code). */
export const EDGETPU_CUSTOM_OP = 'edgetpu-custom-op';

/** OperatorCode table (schema.fbs): which kernel an Operator runs. */
export interface OperatorCode {
  /** Field 0 `deprecated_builtin_code: byte` (kept as read; the writer clamps nothing). */
  deprecatedBuiltinCode: number;
  /** Field 1 `custom_code: string`, e.g. 'edgetpu-custom-op'; null for builtins. */
  customCode: string | null;
  /** Field 2 `version: int = 1`. */
  version: number;
  /** Field 3 `builtin_code: BuiltinOperator` (int32). Effective code = max(field 0, field 3). */
  builtinCode: number;
}

/** CustomQuantization table carried in QuantizationParameters.details (union type 1). */
export interface CustomQuantization {
  /** Field 0 `custom: [ubyte]`, opaque bytes. */
  custom: Uint8Array;
}

/** QuantizationParameters table (schema.fbs): real = scale × (q − zero_point). */
export interface QuantizationParameters {
  /** Field 0 `min: [float]` (import-back hint) or null. */
  min: number[] | null;
  /** Field 1 `max: [float]` or null. */
  max: number[] | null;
  /** Field 2 `scale: [float]` (float32 values) or null. One entry = per-tensor. */
  scale: number[] | null;
  /** Field 3 `zero_point: [long]` (int64 stored as JS numbers; exact below 2^53) or null. */
  zeroPoint: number[] | null;
  /** Fields 4/5 `details: QuantizationDetails` union (only CustomQuantization exists) or null. */
  details: CustomQuantization | null;
  /** Field 6 `quantized_dimension: int` (per-axis quantization axis; 0 default). */
  quantizedDimension: number;
}

/** Tensor table (schema.fbs). */
export interface Tensor {
  /** Field 0 `shape: [int]` (NHWC for images); [] for scalars. */
  shape: number[];
  /** Field 1 `type: TensorType`. */
  type: TensorType;
  /** Field 2 `buffer: uint`: index into Model.buffers; 0 = the empty sentinel (no constant data). */
  buffer: number;
  /** Field 3 `name: string` ('' when absent). */
  name: string;
  /** Field 4 `quantization` or null. */
  quantization: QuantizationParameters | null;
  /** Field 5 `is_variable: bool = false`. */
  isVariable: boolean;
  /** Field 7 `shape_signature: [int]` (−1 = unknown dim) or null. Field 6 (sparsity) is rejected. */
  shapeSignature: number[] | null;
  /** Field 8 `has_rank: bool = false`. Field 9 (variant_tensors) is rejected by the reader. */
  hasRank: boolean;
}

/** Value of one builtin-options field (int64 fields as bigint, vectors as arrays). */
export type OptionValue = number | boolean | bigint | string | number[] | null;

/**
 * Operator.builtin_options union member (schema.fbs `union BuiltinOptions`), decoded field by
 * field from the schema's table definition (see OPTIONS_TABLES). `fields` holds every field of the
 * table with defaults filled in, so two decodings compare equal iff the options mean the same.
 */
export interface BuiltinOptions {
  /** Union type index (1-based position in `union BuiltinOptions`), e.g. 1 = Conv2DOptions. */
  type: number;
  /** Table name, e.g. 'Conv2DOptions'. */
  name: string;
  /** Field name (schema spelling) → value. */
  fields: Record<string, OptionValue>;
}

/** Operator table (schema.fbs). */
export interface Operator {
  /** Field 0 `opcode_index: uint` into Model.operatorCodes. */
  opcodeIndex: number;
  /** Field 1 `inputs: [int]` tensor indices; −1 marks an omitted optional input. */
  inputs: number[];
  /** Field 2 `outputs: [int]`. */
  outputs: number[];
  /** Fields 3/4 `builtin_options` union, or null. */
  builtinOptions: BuiltinOptions | null;
  /** Field 5 `custom_options: [ubyte]` (kept byte-for-byte), or null. */
  customOptions: Uint8Array | null;
  /** Field 6 `custom_options_format` (0 = FLEXBUFFERS). */
  customOptionsFormat: number;
  /** Field 7 `mutating_variable_inputs: [bool]` or null. */
  mutatingVariableInputs: boolean[] | null;
  /** Field 8 `intermediates: [int]` or null. Fields 9/10 (large custom options) and 11/12
   * (builtin_options_2) are rejected by the reader. */
  intermediates: number[] | null;
}

/** SubGraph table (schema.fbs). */
export interface SubGraph {
  /** Field 0 `tensors`. */
  tensors: Tensor[];
  /** Field 1 `inputs: [int]` tensor indices fed at inference. */
  inputs: number[];
  /** Field 2 `outputs: [int]` tensor indices produced at inference. */
  outputs: number[];
  /** Field 3 `operators`, in execution order. */
  operators: Operator[];
  /** Field 4 `name` or null. */
  name: string | null;
}

/** Buffer table (schema.fbs). Fields 1/2 (offset/size, >2 GB models) are rejected by the reader. */
export interface Buffer {
  /** Field 0 `data: [ubyte] (force_align: 16)`: constant tensor bytes, little-endian; empty = none. */
  data: Uint8Array;
}

/** Metadata table (schema.fbs): a named pointer into Model.buffers. */
export interface Metadata {
  /** Field 0 `name`, e.g. 'TFLITE_METADATA', 'min_runtime_version'. */
  name: string;
  /** Field 1 `buffer: uint`. */
  buffer: number;
}

/** TensorMap table (schema.fbs): signature alias → tensor index. */
export interface TensorMap {
  /** Field 0 `name`. */
  name: string;
  /** Field 1 `tensor_index: uint` into the signature's subgraph. */
  tensorIndex: number;
}

/** SignatureDef table (schema.fbs). Field 3 (deprecated_tag) is not kept. */
export interface SignatureDef {
  /** Field 0 `inputs`. */
  inputs: TensorMap[];
  /** Field 1 `outputs`. */
  outputs: TensorMap[];
  /** Field 2 `signature_key` or null. */
  signatureKey: string | null;
  /** Field 4 `subgraph_index: uint`. */
  subgraphIndex: number;
}

/** Model table (schema.fbs root type) plus the bytes found after the flatbuffer. */
export interface Model {
  /** Field 0 `version: uint` (3). */
  version: number;
  /** Field 1 `operator_codes`. */
  operatorCodes: OperatorCode[];
  /** Field 2 `subgraphs`; subgraph 0 is the main graph. */
  subgraphs: SubGraph[];
  /** Field 3 `description` or null (e.g. 'TOCO Converted.'). */
  description: string | null;
  /** Field 4 `buffers`; buffers[0] is the empty sentinel. */
  buffers: Buffer[];
  /** Field 5 `metadata_buffer: [int]` (deprecated) or null. */
  metadataBuffer: number[] | null;
  /** Field 6 `metadata`. */
  metadata: Metadata[];
  /** Field 7 `signature_defs`. */
  signatureDefs: SignatureDef[];
  /**
   * Bytes appended after the end of the flatbuffer (Coral's classifiers carry a zip with
   * `imagenet_labels.txt` here); absent when the file ends with the flatbuffer.
   */
  trailing?: Uint8Array;
}

/**
 * Scalar/vector kinds of builtin-options fields. Widths: i8/u8/bool 1 byte, i16 2, i32/u32/f32 4,
 * i64 8; 'vi32'/'vf32' vectors of int/float; 'str' string.
 */
export type OptionFieldKind = 'i8' | 'u8' | 'bool' | 'i16' | 'i32' | 'u32' | 'f32' | 'i64' | 'vi32' | 'vf32' | 'str';

/** One field of a builtin-options table: name, kind, default (schema.fbs). */
export interface OptionFieldDef {
  name: string;
  kind: OptionFieldKind;
  def: number | boolean | bigint | null;
}

/** One member of `union BuiltinOptions`: table name and fields in id order. */
export interface OptionsTableDef {
  name: string;
  fields: OptionFieldDef[];
}

// Each entry: "TableName: field:kind[=default] ..." in schema.fbs order; the union type index
// is the entry's position + 1 (schema.fbs `union BuiltinOptions`). Deprecated fields keep their
// ids, so they stay listed (e.g. ResizeBilinearOptions new_height/new_width).
const OPTIONS_SPEC = [
  'Conv2DOptions: padding:i8 stride_w:i32 stride_h:i32 fused_activation_function:i8 dilation_w_factor:i32=1 dilation_h_factor:i32=1 quantized_bias_type:i8',
  'DepthwiseConv2DOptions: padding:i8 stride_w:i32 stride_h:i32 depth_multiplier:i32 fused_activation_function:i8 dilation_w_factor:i32=1 dilation_h_factor:i32=1',
  'ConcatEmbeddingsOptions: num_channels:i32 num_columns_per_channel:vi32 embedding_dim_per_channel:vi32',
  'LSHProjectionOptions: type:i8',
  'Pool2DOptions: padding:i8 stride_w:i32 stride_h:i32 filter_width:i32 filter_height:i32 fused_activation_function:i8',
  'SVDFOptions: rank:i32 fused_activation_function:i8 asymmetric_quantize_inputs:bool',
  'RNNOptions: fused_activation_function:i8 asymmetric_quantize_inputs:bool',
  'FullyConnectedOptions: fused_activation_function:i8 weights_format:i8 keep_num_dims:bool asymmetric_quantize_inputs:bool quantized_bias_type:i8',
  'SoftmaxOptions: beta:f32',
  'ConcatenationOptions: axis:i32 fused_activation_function:i8',
  'AddOptions: fused_activation_function:i8 pot_scale_int16:bool=true',
  'L2NormOptions: fused_activation_function:i8',
  'LocalResponseNormalizationOptions: radius:i32 bias:f32 alpha:f32 beta:f32',
  'LSTMOptions: fused_activation_function:i8 cell_clip:f32 proj_clip:f32 kernel_type:i8 asymmetric_quantize_inputs:bool',
  'ResizeBilinearOptions: new_height:i32 new_width:i32 align_corners:bool half_pixel_centers:bool',
  'CallOptions: subgraph:u32',
  'ReshapeOptions: new_shape:vi32',
  'SkipGramOptions: ngram_size:i32 max_skip_size:i32 include_all_ngrams:bool',
  'SpaceToDepthOptions: block_size:i32',
  'EmbeddingLookupSparseOptions: combiner:i8',
  'MulOptions: fused_activation_function:i8',
  'PadOptions:',
  'GatherOptions: axis:i32 batch_dims:i32',
  'BatchToSpaceNDOptions:',
  'SpaceToBatchNDOptions:',
  'TransposeOptions:',
  'ReducerOptions: keep_dims:bool',
  'SubOptions: fused_activation_function:i8 pot_scale_int16:bool=true',
  'DivOptions: fused_activation_function:i8',
  'SqueezeOptions: squeeze_dims:vi32',
  'SequenceRNNOptions: time_major:bool fused_activation_function:i8 asymmetric_quantize_inputs:bool',
  'StridedSliceOptions: begin_mask:i32 end_mask:i32 ellipsis_mask:i32 new_axis_mask:i32 shrink_axis_mask:i32 offset:bool',
  'ExpOptions:',
  'TopKV2Options:',
  'SplitOptions: num_splits:i32',
  'LogSoftmaxOptions:',
  'CastOptions: in_data_type:i8 out_data_type:i8',
  'DequantizeOptions:',
  'MaximumMinimumOptions:',
  'ArgMaxOptions: output_type:i8',
  'LessOptions:',
  'NegOptions:',
  'PadV2Options:',
  'GreaterOptions:',
  'GreaterEqualOptions:',
  'LessEqualOptions:',
  'SelectOptions:',
  'SliceOptions:',
  'TransposeConvOptions: padding:i8 stride_w:i32 stride_h:i32 fused_activation_function:i8 quantized_bias_type:i8',
  'SparseToDenseOptions: validate_indices:bool',
  'TileOptions:',
  'ExpandDimsOptions:',
  'EqualOptions:',
  'NotEqualOptions:',
  'ShapeOptions: out_type:i8',
  'PowOptions:',
  'ArgMinOptions: output_type:i8',
  'FakeQuantOptions: min:f32 max:f32 num_bits:i32 narrow_range:bool',
  'PackOptions: values_count:i32 axis:i32',
  'LogicalOrOptions:',
  'OneHotOptions: axis:i32',
  'LogicalAndOptions:',
  'LogicalNotOptions:',
  'UnpackOptions: num:i32 axis:i32',
  'FloorDivOptions:',
  'SquareOptions:',
  'ZerosLikeOptions:',
  'FillOptions:',
  'BidirectionalSequenceLSTMOptions: fused_activation_function:i8 cell_clip:f32 proj_clip:f32 merge_outputs:bool time_major:bool=true asymmetric_quantize_inputs:bool',
  'BidirectionalSequenceRNNOptions: time_major:bool fused_activation_function:i8 merge_outputs:bool asymmetric_quantize_inputs:bool',
  'UnidirectionalSequenceLSTMOptions: fused_activation_function:i8 cell_clip:f32 proj_clip:f32 time_major:bool asymmetric_quantize_inputs:bool diagonal_recurrent_tensors:bool',
  'FloorModOptions:',
  'RangeOptions:',
  'ResizeNearestNeighborOptions: align_corners:bool half_pixel_centers:bool',
  'LeakyReluOptions: alpha:f32',
  'SquaredDifferenceOptions:',
  'MirrorPadOptions: mode:i8',
  'AbsOptions:',
  'SplitVOptions: num_splits:i32',
  'UniqueOptions: idx_out_type:i8=2',
  'ReverseV2Options:',
  'AddNOptions:',
  'GatherNdOptions:',
  'CosOptions:',
  'WhereOptions:',
  'RankOptions:',
  'ReverseSequenceOptions: seq_dim:i32 batch_dim:i32',
  'MatrixDiagOptions:',
  'QuantizeOptions:',
  'MatrixSetDiagOptions:',
  'HardSwishOptions:',
  'IfOptions: then_subgraph_index:i32 else_subgraph_index:i32',
  'WhileOptions: cond_subgraph_index:i32 body_subgraph_index:i32',
  'DepthToSpaceOptions: block_size:i32',
  'NonMaxSuppressionV4Options:',
  'NonMaxSuppressionV5Options:',
  'ScatterNdOptions:',
  'SelectV2Options:',
  'DensifyOptions:',
  'SegmentSumOptions:',
  'BatchMatMulOptions: adj_x:bool adj_y:bool asymmetric_quantize_inputs:bool',
  'CumsumOptions: exclusive:bool reverse:bool',
  'CallOnceOptions: init_subgraph_index:i32',
  'BroadcastToOptions:',
  'Rfft2dOptions:',
  'Conv3DOptions: padding:i8 stride_d:i32 stride_w:i32 stride_h:i32 fused_activation_function:i8 dilation_d_factor:i32=1 dilation_w_factor:i32=1 dilation_h_factor:i32=1',
  'HashtableOptions: table_id:i32 key_dtype:i8 value_dtype:i8',
  'HashtableFindOptions:',
  'HashtableImportOptions:',
  'HashtableSizeOptions:',
  'VarHandleOptions: container:str shared_name:str',
  'ReadVariableOptions:',
  'AssignVariableOptions:',
  'RandomOptions: seed:i64 seed2:i64',
  'BucketizeOptions: boundaries:vf32',
  'GeluOptions: approximate:bool',
  'DynamicUpdateSliceOptions:',
  'UnsortedSegmentProdOptions:',
  'UnsortedSegmentMaxOptions:',
  'UnsortedSegmentMinOptions:',
  'UnsortedSegmentSumOptions:',
  'ATan2Options:',
  'SignOptions:',
  'BitcastOptions:',
  'BitwiseXorOptions:',
  'RightShiftOptions:',
];

function parseOptionsSpec(line: string): OptionsTableDef {
  const colon = line.indexOf(':');
  const name = line.slice(0, colon);
  const rest = line.slice(colon + 1);
  const fields = rest.trim() === '' ? [] : rest.trim().split(/\s+/).map((f): OptionFieldDef => {
    const [fname, kindDef] = f.split(':');
    const [kind, defText] = kindDef.split('=') as [OptionFieldKind, string | undefined];
    let def: number | boolean | bigint | null;
    if (kind === 'vi32' || kind === 'vf32' || kind === 'str') def = null;
    else if (kind === 'bool') def = defText === 'true';
    else if (kind === 'i64') def = BigInt(defText ?? 0);
    else def = Number(defText ?? 0);
    return { name: fname, kind, def };
  });
  return { name, fields };
}

/**
 * Table definitions of `union BuiltinOptions` (schema.fbs), indexed by union type: OPTIONS_TABLES[t]
 * for t = 1..126 (index 0 = NONE is undefined).
 */
export const OPTIONS_TABLES: readonly (OptionsTableDef | undefined)[] = [undefined, ...OPTIONS_SPEC.map(parseOptionsSpec)];

/** Union type index of a builtin-options table by name, e.g. 'FullyConnectedOptions' → 8. */
export function optionsTypeOf(name: string): number {
  const t = OPTIONS_TABLES.findIndex((d) => d?.name === name);
  if (t < 1) throw new Error(`unknown TFLite builtin options table '${name}' (see schema.fbs union BuiltinOptions)`);
  return t;
}

/**
 * Builds a BuiltinOptions record from a table name and a partial field map; unspecified fields
 * take their schema defaults. Throws on a field the table does not have.
 */
export function makeOptions(name: string, values: Record<string, OptionValue> = {}): BuiltinOptions {
  const type = optionsTypeOf(name);
  const def = OPTIONS_TABLES[type]!;
  const fields: Record<string, OptionValue> = {};
  for (const f of def.fields) fields[f.name] = f.def;
  for (const [k, v] of Object.entries(values)) {
    if (!(k in fields)) throw new Error(`${name} has no field '${k}' (schema.fbs)`);
    fields[k] = v;
  }
  return { type, name, fields };
}
