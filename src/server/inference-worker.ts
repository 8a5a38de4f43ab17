/**
 * Worker thread that owns one open classifier (`openPredictor`): TFLite inference runs
 * synchronously in native code, so it must not run on the server's event loop. One worker holds one
 * model; a model swap starts a new worker and terminates the old one, which releases its interpreter
 * deterministically (worker teardown), not whenever the garbage collector runs.
 *
 * Started with the model to open (workerData); messages in: {type:'classify', id, pixels, top}
 * (an input preprocessed by the caller), {type:'predict', id, bytes, top} (an encoded image), {type:'close'}. Messages out: {type:'opened', …} | {type:'result', id, …} | {type:'error', id?, …}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openPredictor, type Predictor } from '../pipeline/predict';
import { errorCode } from '../errors';
import type { DeviceChoice } from '../runtime';

/** What the worker is started with (workerData). */
export interface InferenceWorkerData {
  /** A model folder, or undefined for the stock ImageNet classifier. */
  model?: string;
  modelsDir: string;
  threads: number;
  device: DeviceChoice;
}

const port = parentPort!;
const data = workerData as InferenceWorkerData;
let predictor: Predictor | null = null;

try {
  predictor = openPredictor({ model: data.model, modelsDir: data.modelsDir, threads: data.threads, device: data.device });
  port.postMessage({
    type: 'opened', labels: predictor.labels, device: predictor.device, deviceName: predictor.deviceName, fit: predictor.fit,
    inputSize: predictor.inputSize, modelPath: predictor.files.modelPath, warnings: predictor.files.warnings,
  });
} catch (e) {
  port.postMessage({ type: 'error', error: (e as Error).message, code: errorCode(e) ?? 'BAD_MODEL' });
}

port.on('message', (m: { type: 'predict'; id: number; bytes: Uint8Array; top: number } | { type: 'classify'; id: number; pixels: Uint8Array; top: number } | { type: 'close' }) => {
  if (m.type === 'close') {
    const p = predictor;
    predictor = null;
    void p?.close().then(() => port.close());
    return;
  }
  if (!predictor) {
    port.postMessage({ type: 'error', id: m.id, error: 'no model is open', code: 'UNAVAILABLE' });
    return;
  }
  if (m.type === 'classify') {
    try {
      const r = predictor.classify(m.pixels, m.top);
      port.postMessage({ type: 'result', id: m.id, predictions: r.predictions, ms: r.ms });
    } catch (e) {
      port.postMessage({ type: 'error', id: m.id, error: (e as Error).message, code: errorCode(e) ?? 'IO' });
    }
    return;
  }
  predictor.predict(m.bytes, m.top).then(
    (r) => port.postMessage(r.error
      ? { type: 'error', id: m.id, error: r.error, code: 'BAD_IMAGE' }
      : { type: 'result', id: m.id, predictions: r.predictions, ms: r.ms, warning: r.warning }),
    (e: Error) => port.postMessage({ type: 'error', id: m.id, error: e.message, code: errorCode(e) ?? 'IO' }),
  );
});
