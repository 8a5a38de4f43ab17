import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanDataset } from '../dataset';
import { classificationReport, type ClassificationReport } from '../eval';
import type { DeviceChoice } from '../runtime';
import { openPredictor } from './predict';
import { silentReporter, type Reporter } from './report';

/** `edgetune eval` output: the classification report plus the images that could not be read. */
export interface EvalResult extends ClassificationReport {
  skipped: { path: string; reason: string }[];
}

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Where the pretrained bases are installed; default `defaultModelsDir()`. */
  modelsDir?: string;
  /** Interpreter CPU threads (integer ≥ 1); default cores − 1, at least 1. */
  threads?: number;
  /** 'cpu', 'edgetpu' or 'auto' (default). */
  device?: DeviceChoice;
  /** Progress and warnings (e.g. evaluating on the training set); default silent. */
  reporter?: Reporter;
}

/**
 * Runs a trained model over every image of a folder-per-class dataset and scores it: accuracy,
 * per-class precision/recall/F1, confusion matrix (rows = true class, columns = predicted).
 * Dataset classes are matched to the model's labels by name.
 * @throws Error when a dataset class is not one of the model's labels, or the dataset is invalid.
 */
export async function evaluate(
  model: string, datasetDir: string, opts: EvaluateOptions = {},
): Promise<EvalResult> {
  const r = opts.reporter ?? silentReporter;
  const ds = scanDataset(datasetDir);
  const metaPath = path.join(model, 'metadata.json');
  if (fs.existsSync(metaPath) && JSON.parse(fs.readFileSync(metaPath, 'utf8')).dataset?.root === ds.root) {
    r.warn(`${datasetDir} is the dataset the model was trained on: the accuracy includes training images and is optimistic; evaluate on photos it has not seen`);
  }
  const p = openPredictor({ model, modelsDir: opts.modelsDir, threads: opts.threads, device: opts.device });
  try {
    const index = new Map(p.labels.map((l, i) => [l, i]));
    const unknown = ds.labels.filter((l) => !index.has(l));
    if (unknown.length) {
      throw new Error(`dataset ${datasetDir} has classes the model does not know: ${unknown.join(', ')} (model labels: ${p.labels.join(', ')})`);
    }
    const yTrue: number[] = [];
    const yPred: number[] = [];
    const skipped: { path: string; reason: string }[] = [];
    const bar = r.progress('evaluating', ds.samples.length);
    for (const [i, s] of ds.samples.entries()) {
      const res = await p.predict(s.path, 1);
      if (res.error) {
        skipped.push({ path: s.path, reason: res.error });
        r.warn(`skipped ${s.path}: ${res.error}`);
      } else {
        yTrue.push(index.get(s.label)!);
        yPred.push(index.get(res.predictions[0].label)!);
      }
      bar.update(i + 1);
    }
    bar.stop();
    return { ...classificationReport(yTrue, yPred, p.labels), skipped };
  } finally {
    p.close();
  }
}
