/**
 * EdgeTune's library surface (`require('edgetune')` / `import … from 'edgetune'`): the CLI's
 * tasks as typed functions, each taking one documented options record whose every field has a
 * default, and returning a plain result or a small interface (`Predictor`).
 *
 * - `fetchBases`, `listBases`, `defaultModelsDir`: install and list the pinned pretrained bases.
 * - `importImages`: copy photos into a folder-per-class dataset.
 * - `train`: dataset → augmented embeddings → head with early stopping → verified quantized TFLite;
 *   with `arch: 'cnn'`, a small CNN trained from scratch → verified full-integer TFLite.
 * - `predict`, `openPredictor`: classify images with a trained model or the stock classifier.
 * - `evaluate`: accuracy, per-class precision/recall/F1 and confusion matrix on a dataset.
 * - `reexport`: re-export a model folder (float, Edge TPU) without retraining (`edgetune export`).
 * - `sweep`: rank head hyperparameters on one set of cached embeddings.
 * - `runDoctor`: what this machine offers EdgeTune, one ok/warn/fail check each (`edgetune doctor`).
 *
 * Every error thrown on purpose is an `EdgeTuneError` with a stable `code` (`HTTP_STATUS` maps it
 * for a web API). The library never prints (pass a `Reporter` to see progress) and leaves the
 * host process alone: no exit codes, no process-wide handlers.
 *
 * The TFLite graph tools (flatbuffer reader/writer, include_top cut, head graft, quantization
 * arithmetic, grid pooling) are a separate entry: `edgetune/tflite`.
 */
export { EdgeTuneError, HTTP_STATUS, errorCode, type ErrorCode } from './errors';
export type { Reporter, Progress, ProgressEvent, Phase } from './pipeline/report';

export {
  fetchBases, listBases, defaultModelsDir,
  type FetchOptions, type FetchResult, type FetchProgress, type FetchImpl, type BaseRecord, type BaseSpec,
} from './models';
export { importImages, type ImportOptions, type ImportResult, type ImportedFile, type SkippedFile } from './dataset';

export { train, type RunOptions, type TrainResult } from './pipeline/train';
export { OPTION_SPECS, DEFAULTS, resolveTrainOptions, type TrainOptions, type TrainOptionsInput, type HeadOptions, type CnnOptions, type Arch, type OptionSpec } from './options';
export { readModelFolder, type ModelMetadata, type ModelFolder, type SetMetrics, type Verification } from './artifact';
export { predict, openPredictor, type PredictOptions, type PredictorOptions, type Predictor, type ImagePrediction } from './pipeline/predict';
export { evaluate, type EvaluateOptions, type EvalResult } from './pipeline/evaluate';
export { reexport, type ReexportOptions, type ReexportResult } from './pipeline/reexport';
export { sweep, type SweepGrid, type SweepRow } from './pipeline/sweep';
export { runDoctor, type DoctorReport, type Check as DoctorCheck, type CheckStatus, type DoctorEnv } from './doctor';

// Types that appear inside the options and results above, so callers can name them.
export type { HeadSpec, EpochRecord, BackendChoice, BackendName } from './head';
export type { Preset } from './augment';
export type { Fit } from './image';
export type { Pooling } from './tflite';
export type { Device, DeviceChoice } from './runtime';
export type { ClassificationReport, ClassMetrics } from './eval';
