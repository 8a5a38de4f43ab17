/**
 * Live inference for the server, off the event loop: one child process per open model
 * (inference-worker.ts says why not a worker thread). `load` swaps models without a restart: on
 * the CPU the new child opens first and takes over, then the old one answers what it was given and
 * exits; on an Edge TPU (which one interpreter claims at a time) the old one exits first.
 */
import * as path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fail, type ErrorCode } from '../errors';
import type { Device, DeviceChoice } from '../runtime';
import { preprocessTo, tooSmallReason, type Fit, type InputShape } from '../image';
import type { InferenceWorkerData, ToInferenceWorker } from './inference-worker';

/** Sends to a child; a send to one that is just exiting fails quietly (its exit is handled). */
function tell(c: ChildProcess, m: ToInferenceWorker): void {
  if (c.connected) c.send(m, () => undefined);
}

/** The model being served. */
export interface LoadedModel {
  /** Version id ('v3'), or 'stock'. */
  id: string;
  /** One label per output. */
  labels: string[];
  device: Device;
  /** 'cpu', or the Edge TPU as `--device` names it ('usb:0'). */
  deviceName: string;
  fit: Fit;
  /** Input height, pixels (the side of a square base input). */
  inputSize: number;
  /** The model's input: height × width pixels and channels (a CNN's may be non-square and grey). */
  inputShape: InputShape;
  modelPath: string;
  warnings: string[];
}

/** One classification. */
export interface LivePrediction {
  /** Top-k, best first; score 0..1. */
  predictions: { label: string; score: number }[];
  /** Interpreter time, ms. */
  ms: number;
  /** The model that answered. */
  modelId: string;
  warning?: string;
}

/** Options of `startInference`. */
export interface InferenceOptions {
  modelsDir: string;
  /** Interpreter CPU threads (the server's share of the cores). */
  threads: number;
  device: DeviceChoice;
}

/** The server's inference service. */
export interface Inference {
  /**
   * Opens `model` (a model folder, or undefined for the stock classifier) in a new process and makes
   * it the one `predict` uses. Loads are serialised.
   * @throws EdgeTuneError when it cannot be opened (the previous model then stays in service).
   */
  load(id: string, model: string | undefined): Promise<LoadedModel>;
  /**
   * Classifies one image (any format EdgeTune reads), decoded with the same preprocessing as
   * training (`preprocessImage`, the model's input size and fit) on the calling thread's pool.
   * @param top classes to return (top-k).
   * @throws EdgeTuneError UNAVAILABLE when no model is open, BAD_IMAGE when the image cannot be read.
   */
  predict(bytes: Uint8Array, top: number): Promise<LivePrediction>;
  /** The model in service, or null. */
  current(): LoadedModel | null;
  /** Ends every model process (killed after 10 s if one does not exit). */
  close(): Promise<void>;
}

interface Slot {
  worker: ChildProcess;
  model: LoadedModel;
  waiting: Map<number, { resolve: (p: LivePrediction) => void; reject: (e: Error) => void }>;
  /** Set when replaced: terminate once `waiting` is empty. */
  retiring: boolean;
}

type WorkerMessage =
  | { type: 'opened'; labels: string[]; device: Device; deviceName: string; fit: Fit; inputSize: number; inputShape: InputShape; modelPath: string; warnings: string[] }
  | { type: 'result'; id: number; predictions: { label: string; score: number }[]; ms: number; warning?: string }
  | { type: 'error'; id?: number; error: string; code: ErrorCode };

/** Starts the inference service (no model yet: call `load`). */
export function startInference(opts: InferenceOptions): Inference {
  let slot: Slot | null = null;
  let nextId = 1;
  let loading: Promise<unknown> = Promise.resolve();
  const all = new Set<Slot>();

  /**
   * Ends a child that has no request left: it disconnects and exits, and the OS frees its
   * interpreter (and Edge TPU). Killed after 10 s if it does not. Resolves when it is gone.
   */
  const retire = (s: Slot): Promise<void> => {
    s.retiring = true;
    if (s.waiting.size > 0) return Promise.resolve(); // retired when the last answer arrives
    if (!all.has(s)) return Promise.resolve();
    all.delete(s);
    return new Promise<void>((resolve) => {
      if (s.worker.exitCode !== null || s.worker.signalCode !== null) return resolve();
      const t = setTimeout(() => s.worker.kill('SIGKILL'), 10000);
      s.worker.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      tell(s.worker, { type: 'close' });
    });
  };

  const open = (id: string, model: string | undefined): Promise<Slot> => new Promise((resolve, reject) => {
    const data: InferenceWorkerData = { model, modelsDir: opts.modelsDir, threads: opts.threads, device: opts.device };
    // Advanced serialization carries the Uint8Array inputs as they are; the child's stderr joins the log.
    const worker = fork(path.join(__dirname, 'inference-worker.js'), [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    tell(worker, { type: 'open', data });
    let s: Slot | null = null;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'opened') {
        s = { worker, model: { id, labels: m.labels, device: m.device, deviceName: m.deviceName, fit: m.fit, inputSize: m.inputSize, inputShape: m.inputShape, modelPath: m.modelPath, warnings: m.warnings }, waiting: new Map(), retiring: false };
        all.add(s);
        resolve(s);
        return;
      }
      if (!s) {
        worker.kill('SIGKILL');
        reject(fail(m.type === 'error' ? m.code : 'BAD_MODEL', m.type === 'error' ? m.error : 'model failed to open'));
        return;
      }
      if (m.id === undefined) return;
      const w = s.waiting.get(m.id);
      if (!w) return;
      s.waiting.delete(m.id);
      if (m.type === 'result') w.resolve({ predictions: m.predictions, ms: m.ms, modelId: s.model.id, ...(m.warning ? { warning: m.warning } : {}) });
      else w.reject(fail(m.code, m.error));
      if (s.retiring && s.waiting.size === 0) void retire(s);
    });
    const died = (why: string) => {
      if (!s) {
        reject(fail('BAD_MODEL', `cannot open model ${model ?? 'stock classifier'}: ${why}`));
        return;
      }
      for (const w of s.waiting.values()) w.reject(fail('UNAVAILABLE', `the inference worker stopped (${why}): try again`));
      s.waiting.clear();
      all.delete(s);
      if (slot === s) slot = null;
    };
    worker.on('error', (e) => died(e.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
  });

  return {
    load(id, model) {
      const run = loading.then(async () => {
        const old = slot;
        // One Edge TPU takes one interpreter: release it before opening the next.
        if (old && old.model.device === 'edgetpu') {
          slot = null;
          old.retiring = true;
          for (const w of old.waiting.values()) w.reject(fail('UNAVAILABLE', 'the model was being replaced: try again'));
          old.waiting.clear();
          await retire(old);
        }
        const s = await open(id, model);
        slot = s;
        if (old && old !== s && !old.retiring) await retire(old);
        return s.model;
      });
      loading = run.catch(() => undefined);
      return run;
    },
    async predict(bytes, top) {
      for (let attempt = 0; ; attempt++) {
        const s = slot;
        if (!s) throw fail('UNAVAILABLE', 'no model is loaded yet: install the bases with `edgetune models fetch`, or wait for the model to open');
        // Decode and resize here (sharp works on libuv's pool, not on this thread), so the worker
        // only infers and the next frame's decode overlaps the current inference.
        const img = await preprocessTo(bytes, { ...s.model.inputShape, fit: s.model.fit });
        // A model swap during the decode: decode again for the new model's input.
        if (slot !== s && attempt === 0) continue;
        const target = slot ?? s;
        const small = tooSmallReason(img.width, img.height);
        const r = await new Promise<LivePrediction>((resolve, reject) => {
          const id = nextId++;
          target.waiting.set(id, { resolve, reject });
          // Copied, not transferred: sharp's output can be an external buffer, which cannot move.
          tell(target.worker, { type: 'classify', id, pixels: img.pixels, top });
        });
        return small ? { ...r, warning: `the image is ${small}: the prediction is unreliable` } : r;
      }
    },
    current: () => slot?.model ?? null,
    async close() {
      slot = null;
      await Promise.all([...all].map((s) => {
        for (const w of s.waiting.values()) w.reject(fail('UNAVAILABLE', 'the server is stopping'));
        s.waiting.clear();
        return retire(s);
      }));
    },
  };
}
