export { initBackend, type BackendName, type BackendChoice } from './backend';
export {
  DEFAULT_HEAD, buildHead, trainHead, predictHead, argmaxRows, balancedWeights,
  type HeadSpec, type EmbeddingSet, type EpochRecord, type TrainedHead,
} from './train';
export { headWeights, headWeightsWithRanges, headForward } from './weights';
export { serializeHead, loadHead, type HeadMeta } from './io';
