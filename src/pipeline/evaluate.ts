import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanDataset } from '../dataset';
import { classificationReport, listSome, type ClassificationReport } from '../eval';
import { fail } from '../errors';
import type { DeviceChoice } from '../runtime';
import { openPredictor } from './predict';
import { silentReporter, type Reporter } from './report';

/** `edgetune eval` output: the classification report plus every dataset file that was not used. */
export interface EvalResult extends ClassificationReport {
  /** Files left out, each with why: non-images named like photos, and photos that could not be read. */
  skipped: { path: string; reason: string }[];
}

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Where the pretrained bases are installed; default `defaultModelsDir()`. */
  modelsDir?: string;
  /** Interpreter threads; default cores − 1 (`defaultThreads`). */
  threads?: number;
  device?: DeviceChoice;
  /** Labels file overriding the model's (one label per line); needed for a bare .tflite. */
  labels?: string;
  /** Where warnings (one per skipped file) and notes go; default silent. */
  reporter?: Reporter;
}

/**
 * Runs a trained model over every image of a folder-per-class dataset and scores it: accuracy,
 * per-class precision/recall/F1, confusion matrix (rows = true class, columns = predicted).
 * Dataset classes are matched to the model's labels by name (outputs sharing a name count as one
 * class, so `labels` are the model's distinct names, in output order). The dataset may hold any non-empty
 * subset of the model's classes, even one: classes without photos are left out of the macro
 * average (`ClassificationReport.macro`) and reported with `reporter.info`.
 * Every file not used is warned about with its reason (`reporter.warn`) and listed in `skipped`,
 * as `train` does.
 * @param model model folder from `edgetune train`, or a .tflite file (labels: see `resolveModel`)
 * @param datasetDir folder-per-class dataset `DIR/<label>/<image>` (≥ 1 class, ≥ 1 image each)
 * @throws EdgeTuneError BAD_DATASET when a dataset class is not one of the model's labels or no
 *   photo could be read; the errors of `scanDataset` and `openPredictor`.
 */
export async function evaluate(model: string, datasetDir: string, opts: EvaluateOptions = {}): Promise<EvalResult> {
  const r = opts.reporter ?? silentReporter;
  const ds = scanDataset(datasetDir, { minClasses: 1, minImagesPerClass: 1 });
  const p = openPredictor({ model, modelsDir: opts.modelsDir, threads: opts.threads, device: opts.device, labels: opts.labels, reporter: r });
  try {
    // Classes are matched by name, so outputs sharing a name (ImageNet's two 'crane's, the bird
    // and the machine) are one class here: scored in the place of the first.
    const names = [...new Set(p.labels)];
    const index = new Map(names.map((l, i) => [l, i]));
    const shared = names.filter((l) => p.labels.indexOf(l) !== p.labels.lastIndexOf(l));
    if (shared.length) r.info(`${listSome(shared)} name${shared.length === 1 ? 's' : ''} more than one model output: scored as one class`);
    const unknown = ds.labels.filter((l) => !index.has(l));
    if (unknown.length) {
      throw fail('BAD_DATASET', `dataset ${datasetDir} has classes the model does not know: ${listSome(unknown)} (model labels: ${listSome(names)}); remove or rename those folders`);
    }
    const metaPath = p.files.metadataPath;
    if (metaPath && trainedOn(metaPath) === ds.root) {
      r.warn(`${datasetDir} is the dataset the model was trained on: the accuracy includes training images and is optimistic; evaluate on photos it has not seen`);
    }
    const skipped: { path: string; reason: string }[] = [];
    for (const s of ds.ignored) {
      skipped.push(s);
      r.warn(`skipped ${s.path}: ${s.reason}`);
    }
    const present = new Set(ds.labels);
    const absent = names.filter((l) => !present.has(l));
    if (absent.length) {
      r.info(`no photos of ${absent.length} of the model's ${names.length} classes (${listSome(absent)}): they are left out of the macro average`);
    }
    const yTrue: number[] = [];
    const yPred: number[] = [];
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
    if (yTrue.length === 0) {
      throw fail('BAD_DATASET', `dataset ${datasetDir}: none of its ${ds.samples.length} photos could be read (see the warnings); add readable JPEG, PNG, WebP, GIF, TIFF or BMP photos`);
    }
    return { ...classificationReport(yTrue, yPred, names), skipped };
  } finally {
    await p.close();
  }
}

/** `dataset.root` of a model's metadata.json, or undefined when it has none or cannot be read. */
function trainedOn(metaPath: string): string | undefined {
  try {
    const root = JSON.parse(fs.readFileSync(metaPath, 'utf8'))?.dataset?.root;
    return typeof root === 'string' ? root : undefined;
  } catch {
    return undefined; // only a hint: resolveModel already reported a broken metadata.json
  }
}

/**
 * Where `edgetune eval` writes the confusion-matrix plot, without extension (writePlot adds
 * .svg / .png). Never a path inside a file.
 * @param model the model argument: a model folder → `<folder>/confusion`; a .tflite file →
 *   beside it, `<dir>/<name without .tflite>.confusion` (model.tflite → model.confusion.svg)
 * @param plot the --plot value, if given: used as is, a trailing .svg/.png dropped
 */
export function confusionPlotPath(model: string, plot?: string): string {
  if (plot !== undefined) return plot.replace(/\.(svg|png)$/i, '');
  let isFolder = false;
  try {
    isFolder = fs.statSync(model).isDirectory();
  } catch {
    // a missing model fails later in evaluate with its own message
  }
  if (isFolder) return path.join(model, 'confusion');
  return path.join(path.dirname(model), `${path.basename(model).replace(/\.tflite$/i, '')}.confusion`);
}
