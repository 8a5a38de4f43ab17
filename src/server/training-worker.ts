/**
 * Worker thread that runs one `train` (tfjs trains on the thread that calls it, and the base's
 * interpreter runs synchronously in native code, so neither may run on the server's event loop).
 * Progress goes to the parent as structured messages; {type:'cancel'} aborts the run through its
 * AbortSignal. The worker exits when the run ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { train } from '../pipeline/train';
import { errorCode } from '../errors';
import type { TrainOptionsInput } from '../options';
import type { Reporter } from '../pipeline/report';

/** What the worker is started with (workerData). */
export interface TrainingWorkerData {
  dataset: string;
  out: string;
  options: TrainOptionsInput;
  modelsDir: string;
  cacheDir: string;
  /** Interpreter threads for embedding (the training share of the cores). */
  threads: number;
}

const port = parentPort!;
const data = workerData as TrainingWorkerData;
const controller = new AbortController();
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') controller.abort();
});

const reporter: Reporter = {
  info: (message) => port.postMessage({ type: 'log', level: 'info', message }),
  warn: (message) => port.postMessage({ type: 'log', level: 'warn', message }),
  progress: () => ({ update: () => undefined, stop: () => undefined }),
  event: (e) => port.postMessage({ type: 'progress', event: e }),
};

train(data.dataset, data.out, {
  ...data.options, modelsDir: data.modelsDir, cacheDir: data.cacheDir, threads: data.threads, reporter, signal: controller.signal,
}).then(
  // tensors: what the run left allocated in TensorFlow.js (0 when nothing leaks), for the bench.
  (r) => port.postMessage({ type: 'done', estimate: r.metadata.metrics.estimate?.accuracy ?? null, tensors: tf.memory().numTensors }),
  (e: Error) => port.postMessage({ type: 'failed', error: e.message, code: errorCode(e) ?? 'IO' }),
).finally(() => port.close());
