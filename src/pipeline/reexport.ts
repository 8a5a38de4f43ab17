import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanDataset, stratifiedSplit } from '../dataset';
import { openBase, embedSamples } from '../base';
import { presetParams } from '../augment';
import { defaultModelsDir, resolveBase } from '../models';
import { initBackend, loadHead, headWeightsWithRanges, predictHead, argmaxRows } from '../head';
import { exportTflite, exportEdgeTpu, edgeTpuBlocker, verifyExport, writeModelFolder, type Verification, type FileContents } from '../export';
import { MIN_AGREEMENT, type ModelMetadata } from './train';
import { silentReporter, type Reporter } from './report';

/** What `reexport` wrote. */
export interface ReexportResult {
  files: string[];
  /** Absent when the training dataset is no longer where it was (the export is then unverified). */
  verification?: Verification;
}

/** Options of `reexport`. */
export interface ReexportOptions {
  /** Where the pretrained bases are installed; default `defaultModelsDir()`. */
  modelsDir?: string;
  /** Float head behind a DEQUANTIZE instead of the quantized one (default false). */
  float?: boolean;
  /** Also write model_edgetpu.tflite (the head after the base's compiled extractor); default false. */
  edgetpu?: boolean;
  /** Interpreter CPU threads (integer ≥ 1); default cores − 1, at least 1. */
  threads?: number;
  /** Progress and warnings; default silent. */
  reporter?: Reporter;
}

/**
 * Re-exports a trained model folder without retraining: the saved tfjs head and its stored
 * calibration ranges are grafted onto the base again (quantized, or float with `float`), and with
 * `edgetpu` onto the base's Edge TPU-compiled extractor. When the training dataset is still in
 * place, the export is verified on the same validation split as at training time.
 * All requests are checked before any work; the folder is then replaced as a whole (complete or
 * unchanged), like a training run's.
 * @throws Error when the folder is not an EdgeTune model, the request is impossible (--edgetpu with
 *   --float, a grid embedding, or a base without a compiled extractor), the base changed (SHA-256),
 *   or the export agrees with the head on < 98% of images.
 */
export async function reexport(
  dir: string, opts: ReexportOptions = {},
): Promise<ReexportResult> {
  const r = opts.reporter ?? silentReporter;
  const modelsDir = opts.modelsDir ?? defaultModelsDir();
  const metaPath = path.join(dir, 'metadata.json');
  if (!fs.existsSync(metaPath)) throw new Error(`${dir} is not an EdgeTune model folder (no metadata.json): pass the --out folder of 'edgetune train'`);
  const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as ModelMetadata;
  const pooling = meta.base.pooling ?? 'avg';
  const float = !!opts.float;
  if (opts.edgetpu) {
    const blocker = edgeTpuBlocker(meta.base.name, resolveBase(meta.base.name, modelsDir).spec.edgetpuGraftable, pooling, float);
    if (blocker) throw new Error(blocker);
  }
  await initBackend(meta.options.backend);
  const { model, meta: headMeta } = await loadHead(path.join(dir, 'head'));
  const base = openBase(meta.base.name, modelsDir, opts.threads, pooling);
  try {
    if (base.spec.sha256 !== meta.base.sha256) {
      throw new Error(`base ${meta.base.name} changed since training (SHA-256 ${base.spec.sha256} ≠ ${meta.base.sha256}): retrain the model`);
    }
    const weights = headWeightsWithRanges(model, headMeta.outputRanges);
    const replaced: Record<string, FileContents> = { 'model.tflite': exportTflite(base.model, weights, { float }) };
    if (opts.edgetpu) replaced['model_edgetpu.tflite'] = exportEdgeTpu(base.spec.name, base.edgetpuPath, weights, pooling);
    let verification: Verification | undefined;
    if (fs.existsSync(meta.dataset.root)) {
      const fit = meta.options.fit ?? 'crop';
      const ds = scanDataset(meta.dataset.root);
      const val = stratifiedSplit(ds.samples, meta.options.valSplit, meta.options.seed).val;
      const e = await embedSamples(base, val, { views: 0, augment: presetParams('none'), seed: 0, fit });
      const top1 = argmaxRows(predictHead(model, e.clean, e.kept.length, e.dim), headMeta.labels.length);
      const truth = e.kept.map((s) => headMeta.labels.indexOf(s.label));
      verification = await verifyExport(replaced['model.tflite'] as Uint8Array, e.kept.map((s) => s.path), top1, truth, opts.threads, fit);
      r.info(`export check on ${verification.n} validation images: agreement ${(verification.agreement * 100).toFixed(1)}%, accuracy ${(verification.accuracy * 100).toFixed(1)}%`);
      if (verification.agreement < MIN_AGREEMENT) {
        throw new Error(`export check failed: agreement ${(verification.agreement * 100).toFixed(1)}% < ${MIN_AGREEMENT * 100}%; the model folder is unchanged`);
      }
    } else {
      r.warn(`dataset ${meta.dataset.root} not found: the export is not verified`);
    }
    if (opts.edgetpu) meta.files.edgetpu = 'model_edgetpu.tflite';
    meta.quantized = !float;
    meta.options.float = float;
    if (verification) meta.metrics.export = verification;
    replaced['metadata.json'] = JSON.stringify(meta, null, 2) + '\n';
    writeModelFolder(dir, { ...readFolder(dir), ...replaced });
    return { files: Object.keys(replaced).map((f) => path.join(dir, f)), verification };
  } finally {
    base.session.close();
    model.dispose();
  }
}

/** Every file of a model folder (a few MB), by relative path, to rewrite the folder as a whole. */
function readFolder(dir: string): Record<string, FileContents> {
  const out: Record<string, FileContents> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[path.relative(dir, abs)] = fs.readFileSync(abs);
  }
  return out;
}
