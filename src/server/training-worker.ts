/**
 * Child process that runs one `train` for `edgetune serve` (training.ts forks it; tfjs trains on
 * the thread that calls it and the base's interpreter runs synchronously in native code, so neither
 * may run on the server's event loop).
 *
 * A process, not a worker thread, because the TFLite binding is not safe in several threads of one
 * process (runtime/index.ts, facts about tfjs-tflite-node): each thread that loads it re-assigns a
 * process-wide constructor reference, deleting the previous thread's reference from the wrong
 * thread. With training in a worker thread beside the inference worker, train-then-cancel runs of
 * the server died in about 1 in 5 (SIGABRT "corrupted size vs. prev_size", "free(): invalid next
 * size", or a V8 fatal error while a thread ended); with training in a child process, 0 of 32
 * such runs, and 0 of 32 cancels beside an inference worker busy with TFLite. Its own process
 * also keeps @resvg/resvg-js (the plots) on a main thread: in a worker thread that ends, its
 * thread-local destructors on the libuv pool jumped into the unloaded addon at exit (SIGSEGV).
 * And the process gives all of a run's memory back when it ends.
 *
 * Protocol: the parent sends {type:'start', data: TrainingWorkerData}, later maybe
 * {type:'cancel'}; the child sends progress, log, done or failed messages, then exits.
 * Signals: SIGINT is ignored (Ctrl-C in a terminal reaches the whole process group, and the parent
 * decides: it cancels the run); SIGTERM cancels the run like the parent's message; a lost parent
 * (the IPC channel closes, e.g. after kill -9) ends the child at once — what it was writing is a
 * temporary folder the server removes when it starts again.
 */
import * as tf from '@tensorflow/tfjs';
import { train } from '../pipeline/train';
import { errorCode, type ErrorCode } from '../errors';
import type { TrainOptionsInput } from '../options';
import type { ProgressEvent, Reporter } from '../pipeline/report';

/** What the child is started with (the 'start' message). */
export interface TrainingWorkerData {
  dataset: string;
  out: string;
  options: TrainOptionsInput;
  modelsDir: string;
  cacheDir: string;
  /** Interpreter threads for embedding (the training share of the cores). */
  threads: number;
}

/** Messages from the parent. */
export type ToTrainingWorker = { type: 'start'; data: TrainingWorkerData } | { type: 'cancel' };

/** Messages to the parent. */
export type FromTrainingWorker =
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'done'; estimate: number | null; tensors: number }
  | { type: 'failed'; error: string; code: ErrorCode };

function send(m: FromTrainingWorker, cb?: () => void): void {
  if (process.connected) process.send!(m, undefined, {}, cb);
}

function run(data: TrainingWorkerData, signal: AbortSignal): void {
  const reporter: Reporter = {
    info: (message) => send({ type: 'log', level: 'info', message }),
    warn: (message) => send({ type: 'log', level: 'warn', message }),
    progress: () => ({ update: () => undefined, stop: () => undefined }),
    event: (e) => send({ type: 'progress', event: e }),
  };
  train(data.dataset, data.out, {
    ...data.options, modelsDir: data.modelsDir, cacheDir: data.cacheDir, threads: data.threads, reporter, signal,
    // The live model's process holds the Edge TPU (a USB accelerator serves one process at a
    // time), so a retrain on the device embeds on the CPU.
    device: 'cpu',
  }).then(
    // tensors: what the run left allocated in TensorFlow.js (0 when nothing leaks), for the bench.
    (r): FromTrainingWorker => ({ type: 'done', estimate: r.metadata.metrics.estimate?.accuracy ?? null, tensors: tf.memory().numTensors }),
    (e: Error): FromTrainingWorker => ({ type: 'failed', error: e.message, code: errorCode(e) ?? 'IO' }),
  ).then((m) => send(m, () => process.disconnect()));
}

if (require.main === module) {
  if (!process.send) {
    process.stderr.write('training-worker.js is started by `edgetune serve` (it needs an IPC channel); run `edgetune train` to train from a shell\n');
    process.exit(2);
  }
  const controller = new AbortController();
  let started = false;
  process.on('message', (m: ToTrainingWorker) => {
    if (m.type === 'cancel') controller.abort();
    else if (m.type === 'start' && !started) {
      started = true;
      run(m.data, controller.signal);
    }
  });
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => controller.abort());
  // After the last message (the child disconnects itself) or when the parent is gone.
  process.on('disconnect', () => process.exit(0));
}
