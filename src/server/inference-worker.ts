/**
 * Child process that owns one open classifier (`openPredictor`). TFLite inference runs
 * synchronously in native code, so it must not run on the server's event loop; and it runs in a
 * process, not a worker thread, because tfjs-tflite-node 0.0.2 keeps its TensorInfo constructor in
 * a process-wide static that every thread loading the addon overwrites: an interpreter created in
 * one thread after another thread loaded the addon (or ended) used a function of a foreign or dead
 * isolate and aborted the process ("Cannot create a handle without a HandleScope", seen in CI;
 * SIGSEGV/SIGABRT when a thread ended). A process per model also frees the interpreter, and an
 * Edge TPU it holds, deterministically when it exits.
 *
 * Messages in (IPC, advanced serialization): {type:'open', data} first, then {type:'classify', id,
 * pixels, top} (an input preprocessed by the parent) and {type:'close'}. Messages out:
 * {type:'opened', …} | {type:'result', id, …} | {type:'error', id?, …}.
 */
import { openPredictor, type Predictor } from '../pipeline/predict';
import { errorCode } from '../errors';
import type { DeviceChoice } from '../runtime';

/** What the child opens. */
export interface InferenceWorkerData {
  /** A model folder, or undefined for the stock ImageNet classifier. */
  model?: string;
  modelsDir: string;
  threads: number;
  device: DeviceChoice;
}

/** Messages the parent sends. */
export type ToInferenceWorker =
  | { type: 'open'; data: InferenceWorkerData }
  | { type: 'classify'; id: number; pixels: Uint8Array; top: number }
  | { type: 'close' };

let predictor: Predictor | null = null;
const send = (m: unknown) => {
  if (process.connected) process.send!(m, () => undefined);
};

process.on('message', (m: ToInferenceWorker) => {
  if (m.type === 'open') {
    try {
      const d = m.data;
      predictor = openPredictor({ model: d.model, modelsDir: d.modelsDir, threads: d.threads, device: d.device });
      send({
        type: 'opened', labels: predictor.labels, device: predictor.device, deviceName: predictor.deviceName, fit: predictor.fit,
        inputSize: predictor.inputSize, inputShape: predictor.inputShape, modelPath: predictor.files.modelPath, warnings: predictor.files.warnings,
      });
    } catch (e) {
      send({ type: 'error', error: (e as Error).message, code: errorCode(e) ?? 'BAD_MODEL' });
    }
    return;
  }
  if (m.type === 'close') {
    process.disconnect(); // nothing left to do: the process exits and the OS frees the interpreter
    return;
  }
  if (!predictor) {
    send({ type: 'error', id: m.id, error: 'no model is open', code: 'UNAVAILABLE' });
    return;
  }
  try {
    const r = predictor.classify(m.pixels, m.top);
    send({ type: 'result', id: m.id, predictions: r.predictions, ms: r.ms });
  } catch (e) {
    send({ type: 'error', id: m.id, error: (e as Error).message, code: errorCode(e) ?? 'IO' });
  }
});
// The parent went away (crash, kill -9): do not linger holding the model or an Edge TPU.
process.on('disconnect', () => process.exit(0));
