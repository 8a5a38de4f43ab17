/**
 * EdgeTune's converter: a tfjs Layers model or EdgeTune's own layer list (types.ts) → TFLite,
 * float32 or full-integer quantized, plus quantized op fragments for grafting re-trained layers
 * into a base, and the checks that an export computes what tfjs computes.
 */
export * from './types';
export { foldBatchNorm, layerOutputShape, layerShapes, outLength, prepareLayers } from './prepare';
export type { Prepared, PreparedLayer, Shape } from './prepare';
export { runFloat, traceRanges } from './reference';
export type { RunOptions } from './reference';
export {
  emitAvgPool, emitBinary, emitConv2d, emitDepthwise, emitDequantize, emitFullyConnected, emitGlobalAvgPool,
  emitMaxPool, emitQuantize, emitRelu, emitReshape, emitSoftmax, float32Bytes, GraphBuilder, int32Bytes, int8Bytes,
} from './emit';
export type { ConvOptions, OutSpec, PoolOptions, TensorQuant } from './emit';
export {
  activationQuant, quantizeAsymmetricUint8, quantizeBiasPerChannel, quantizeSymmetric, quantizeWeights, schemeType,
} from './quantize';
export type { QuantizedConst, Scheme } from './quantize';
export { convertLayers, layersToFragment, SOFTMAX_SCALE } from './convert';
export type { ConvertOptions, FragmentInput, FragmentOptions, FragmentResult, QuantizeOptions } from './convert';
export { layersFromTfjs } from './from-tfjs';
export type { FromTfjsOptions } from './from-tfjs';
export { FLOAT_TOLERANCE, INTEGER_AGREEMENT, verifyConversion } from './verify';
export type { Verification } from './verify';
