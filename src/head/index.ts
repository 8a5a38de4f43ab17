export { initBackend, type BackendName, type BackendChoice } from './backend';
export { registerWasmTrainingKernels, WASM_BRIDGED_KERNELS } from './wasm-kernels';
export {
  DEFAULT_HEAD, buildHead, trainHead, predictHead, argmaxRows, balancedWeights,
  type HeadSpec, type EmbeddingSet, type EpochRecord, type TrainedHead, type TrainHooks,
} from './train';
export { trainHeads, mergeHeads, type Fold, type EnsembleHooks } from './ensemble';
export { headWeights, headWeightsWithRanges, headForward, headLogits, headModel, calibrate as calibrateHead } from './weights';
export { serializeHead, loadHead, type HeadMeta } from './io';
export { registerWasmDepthwiseGrad, depthwiseFilterGrad, depthwiseInputGrad } from './wasm-depthwise-grad';
