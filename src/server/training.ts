/**
 * One training job at a time, in a child process (training-worker.ts says why not a worker
 * thread), with its structured events kept for late subscribers. A job trains `versions/<id>`
 * straight through `train`, which writes the model folder atomically: a crash or a cancel leaves
 * no partial version.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fail, type ErrorCode } from '../errors';
import { scanDataset, showLabel } from '../dataset';
import { resolveBase } from '../models';
import { resolveTrainOptions } from '../options';
import { listClasses, type DataPaths } from './store';
import type { TrainOptionsInput } from '../options';
import type { ProgressEvent } from '../pipeline/report';
import type { FromTrainingWorker, ToTrainingWorker, TrainingWorkerData } from './training-worker';
import { nextVersionId } from './versions';

/** What a job sends to subscribers (SSE event name = `type`). */
export type TrainEvent =
  | ({ type: 'progress'; jobId: string } & ProgressEvent)
  | { type: 'log'; jobId: string; level: 'info' | 'warn'; message: string }
  | { type: 'done'; jobId: string; modelId: string; estimate: number | null }
  | { type: 'failed'; jobId: string; error: string; code: ErrorCode }
  | { type: 'cancelled'; jobId: string };

/** A training job, as `GET /api/train` shows it. */
export interface TrainJob {
  id: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  /** The version it writes (`v4`); exists only when state is 'done'. */
  modelId: string;
  /** ISO 8601. */
  startedAt: string;
  finishedAt?: string;
  error?: string;
  code?: ErrorCode;
  /** The latest progress event. */
  last?: ProgressEvent;
  /** TensorFlow.js tensors still allocated in the worker when the run ended (a leak check). */
  tensors?: number;
}

/** Options of `createTrainer`. */
export interface TrainerOptions {
  paths: DataPaths;
  modelsDir: string;
  /** Interpreter threads for embedding (the training share of the cores). */
  threads: number;
  /** Every event of every job, as it happens. */
  onEvent(e: TrainEvent): void;
  /** After a job wrote its version (before its 'done' event goes out). */
  onVersion(modelId: string): Promise<void>;
}

/** The trainer. */
export interface Trainer {
  /**
   * Starts a job on the dataset as it is now.
   * @throws EdgeTuneError CONFLICT (409) while a job runs (message names its id); BAD_DATASET when
   *   the dataset cannot be trained (fewer than 2 classes with photos); BAD_OPTION from the options.
   */
  start(options: TrainOptionsInput): TrainJob;
  /** The running job's id, or null. */
  running(): string | null;
  /** Asks the running job to stop. @throws EdgeTuneError NOT_FOUND when none runs. */
  cancel(): TrainJob;
  /** The running job, else the last one, else null. */
  job(): TrainJob | null;
  /** The events of the current/last job so far (at most the last 5000). */
  history(): TrainEvent[];
  /** Cancels a running job and waits for its process to end (killed after CLOSE_GRACE_MS). */
  close(): Promise<void>;
}

const MAX_HISTORY = 5000;
/** How long `close` waits for a cancelled run to end before killing it, ms (a cancel is checked between photos and epochs). */
export const CLOSE_GRACE_MS = 5000;
/** How long a child may take to exit after its last message before it is killed, ms. */
const EXIT_GRACE_MS = 10000;

/** Photos a class needs before the server trains on it (the dataset scan's own minimum). */
export const MIN_PHOTOS = 2;

/** Creates the trainer of a server. */
export function createTrainer(opts: TrainerOptions): Trainer {
  let job: TrainJob | null = null;
  /** The child of the current job until it has exited (also after its last message). */
  let child: ChildProcess | null = null;
  let events: TrainEvent[] = [];

  const emit = (e: TrainEvent) => {
    events.push(e);
    if (events.length > MAX_HISTORY) events = events.slice(-MAX_HISTORY);
    opts.onEvent(e);
  };
  // With a callback, a send to a child that is just exiting fails quietly; its exit is handled.
  const tell = (c: ChildProcess, m: ToTrainingWorker) => {
    if (c.connected) c.send(m, () => undefined);
  };

  return {
    start(options) {
      if (job?.state === 'running') {
        throw Object.assign(fail('CONFLICT', `training ${job.id} is running: wait for it or cancel it (DELETE /api/train)`), { jobId: job.id });
      }
      // Refuse what cannot train now (one line, 4xx) rather than from inside the worker: an
      // unknown or missing base, fewer than 2 classes, a class with too few photos.
      const small = listClasses(opts.paths).filter((c) => c.count < MIN_PHOTOS);
      if (small.length > 0) {
        throw fail('BAD_DATASET', `class${small.length > 1 ? 'es' : ''} ${small.map((c) => `'${showLabel(c.label)}' (${c.count} photo${c.count === 1 ? '' : 's'})`).join(', ')} need${small.length > 1 ? '' : 's'} at least ${MIN_PHOTOS} photos: capture or upload more (10 or more train better), or delete the class`);
      }
      scanDataset(opts.paths.dataset);
      const resolved = resolveTrainOptions(options);
      // A CNN trained from scratch uses no base.
      if (resolved.arch !== 'cnn') resolveBase(resolved.base, opts.modelsDir);
      const id = `t${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
      const modelId = nextVersionId(opts.paths);
      const j: TrainJob = { id, state: 'running', modelId, startedAt: new Date().toISOString() };
      job = j;
      events = [];
      const data: TrainingWorkerData = {
        dataset: opts.paths.dataset,
        out: path.join(opts.paths.versions, modelId),
        options,
        modelsDir: opts.modelsDir,
        cacheDir: path.join(opts.paths.root, 'cache'),
        threads: opts.threads,
      };
      // stdout is not ours to share (tests and pipes read it); the child's stderr joins the server's log.
      const c = fork(path.join(__dirname, 'training-worker.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      child = c;
      tell(c, { type: 'start', data });
      let ended = false;
      /** The child's last message (done or failed) arrived. */
      let final = false;
      let exitTimer: NodeJS.Timeout | undefined;
      const finish = (state: TrainJob['state'], extra: Partial<TrainJob> = {}) => {
        if (ended) return;
        ended = true;
        Object.assign(j, { state, finishedAt: new Date().toISOString() }, extra);
        // The child exits by itself after its last message; one that lingers is killed.
        exitTimer = setTimeout(() => c.kill('SIGKILL'), EXIT_GRACE_MS);
        exitTimer.unref();
      };
      c.on('message', (m: FromTrainingWorker) => {
        if (m.type === 'progress') {
          j.last = m.event;
          emit({ type: 'progress', jobId: id, ...m.event });
        } else if (m.type === 'log') {
          emit({ type: 'log', jobId: id, level: m.level, message: m.message });
        } else if (m.type === 'done') {
          final = true;
          j.tensors = m.tensors;
          opts.onVersion(modelId).then(
            () => {
              finish('done');
              emit({ type: 'done', jobId: id, modelId, estimate: m.estimate });
            },
            (e: Error) => {
              finish('failed', { error: `trained ${modelId} but could not activate it: ${e.message}`, code: 'IO' });
              emit({ type: 'failed', jobId: id, error: j.error!, code: 'IO' });
            });
        } else if (m.code === 'CANCELLED') {
          final = true;
          finish('cancelled');
          emit({ type: 'cancelled', jobId: id });
        } else {
          final = true;
          finish('failed', { error: m.error, code: m.code });
          emit({ type: 'failed', jobId: id, error: m.error, code: m.code });
        }
      });
      const died = (why: string) => {
        // After the last message (a 'done' may still be activating the version) that path finishes the job.
        if (j.state !== 'running' || ended || final) return;
        finish('failed', { error: `training stopped unexpectedly (${why})`, code: 'IO' });
        emit({ type: 'failed', jobId: id, error: j.error!, code: 'IO' });
      };
      c.on('error', (e) => died(e.message));
      c.on('exit', (code, signal) => {
        clearTimeout(exitTimer);
        if (child === c) child = null;
        // IPC messages and the exit arrive on separate channels: give a last message time to land.
        if (!ended) setTimeout(() => died(signal ? `killed by ${signal}` : `exit code ${code}`), 2000).unref();
      });
      return j;
    },
    cancel() {
      if (!job || job.state !== 'running' || !child) throw fail('NOT_FOUND', 'no training is running: start one with POST /api/train');
      tell(child, { type: 'cancel' });
      return job;
    },
    job: () => job,
    running: () => (job?.state === 'running' ? job.id : null),
    history: () => events.slice(),
    async close() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      tell(c, { type: 'cancel' });
      const t = setTimeout(() => c.kill('SIGKILL'), CLOSE_GRACE_MS);
      await exited;
      clearTimeout(t);
    },
  };
}
