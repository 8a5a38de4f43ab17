/**
 * EdgeTune's TFLite module: read/write .tflite flatbuffers (TFLite schema.fbs, identifier 'TFL3'),
 * cut a classifier at its embedding (include_top=False), graft a trained head quantized by Coral's
 * rules, and the quantization arithmetic behind it. Each export documents its shapes, dtypes,
 * errors and schema sources.
 *
 * This file is also the package's `edgetune/tflite` entry (package.json "exports"): the graph
 * tools stay out of the root entry, which holds only the tasks (train, predict, …).
 */
export * from './schema';
export { readModel, flatbufferEnd } from './reader';
export { writeModel, BUFFER_ALIGNMENT } from './writer';
export type { WriteOptions } from './writer';
export {
  appendOps, builtinCodeOf, builtinName, cutAtEmbedding, embeddingInfo, findTensor, isEdgeTpuCompiled,
  mainGraph, opName, producerOf, reachableOps,
} from './graph';
export type { AppendResult, CutResult, EmbeddingInfo, OpFragment, TensorRef } from './graph';
export {
  biasScale, chooseQuantParams, DEGENERATE_SCALE, dequantize, minMax, QMAX, QMIN, quantizeBias,
  quantizeUint8, roundHalfAway,
} from './quant';
export type { QuantParams } from './quant';
export { graftHead, PROBABILITIES_TENSOR, SOFTMAX_OUTPUT_SCALE } from './graft';
export type { DenseLayer, GraftOptions, HeadWeights } from './graft';
export { gridPool } from './pool';
export type { Pooling } from './pool';
export {
  attachClassifierMetadata, attachMetadata, AssociatedFileType, buildModelMetadata, ColorSpaceType,
  imageClassifierMetadata, labelsFileContents, labelsOf, METADATA_LABELS_FILE, METADATA_FILE_IDENTIFIER,
  METADATA_NAME, minParserVersion, modelMetadataOf, parseLabelsFile, readAssociatedFiles,
  readModelMetadata, recordedFiles,
} from './metadata';
export type {
  AssociatedFile, ClassifierInfo, ContentProperties, TfliteMetadata, ProcessUnit, SubGraphMetadata,
  TensorMetadata,
} from './metadata';
export {
  compareRuntimeVersions, declaredMinRuntimeVersion, MIN_RUNTIME_VERSION, MIN_RUNTIME_VERSION_BYTES,
  minRuntimeForOp, minRuntimeVersion, opVersionProblems, requiredOpVersion, setMinRuntimeVersion,
} from './runtime-version';
export type { OpVersionProblem } from './runtime-version';
export { locateZip, placeZip, unzipAll, zipStored } from './zip';
export type { ZipLocation } from './zip';
