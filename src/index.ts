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
export { train, type RunOptions, type TrainResult } from './pipeline/train';
export { resolveTrainOptions, OPTION_SPECS, DEFAULTS, type TrainOptions, type TrainOptionsInput, type HeadOptions } from './options';
export { readModelFolder, MIN_AGREEMENT, type ModelMetadata, type ModelFolder } from './artifact';
export { EdgeTuneError, HTTP_STATUS, type ErrorCode } from './errors';
export { reexport, type ReexportResult } from './pipeline/reexport';
export { predict, openPredictor, resolveModel, type ImagePrediction, type Predictor, type ModelFiles } from './pipeline/predict';
export { evaluate, type EvalResult } from './pipeline/evaluate';
export { sweep, type SweepGrid, type SweepRow } from './pipeline/sweep';
