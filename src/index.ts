/**
 * EdgeTune's library surface: everything the CLI does is one of these typed functions.
 * Data flows one way: images → tensors → embeddings → head → exported model → runtime.
 */
export * from './tflite';
export * from './models';
export * from './runtime';
export * from './image';
export * from './augment';
export * from './dataset';
export * from './base';
export * from './head';
export * from './export';
export * from './eval';
export { silentReporter, type Reporter, type Progress } from './pipeline/report';
export { train, prepareEmbeddings, trainingSet, defaultTrainOptions, resolveOptions, defaultPooling, MIN_AGREEMENT, type TrainOptions, type TrainResult, type ModelMetadata, type Prepared } from './pipeline/train';
export { reexport, type ReexportResult } from './pipeline/reexport';
export {
  predict, openPredictor, resolveModel, type ImagePrediction, type Predictor, type ModelFiles, type LabelsSource, type PredictOptions, type ResolveOptions,
} from './pipeline/predict';
export { evaluate, confusionPlotPath, type EvalResult, type EvalOptions } from './pipeline/evaluate';
export { sweep, type SweepGrid, type SweepRow } from './pipeline/sweep';
