import * as fs from 'node:fs';
import * as path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { scanDataset, stratifiedSplit } from '../dataset';
import { openBase, embedSamples } from '../base';
import { presetParams } from '../augment';
import { initBackend, loadHead, headWeightsWithRanges, predictHead, argmaxRows } from '../head';
import { exportTflite, exportEdgeTpu, verifyExport, type Verification } from '../export';
import { MIN_AGREEMENT, type ModelMetadata } from './train';
import { silentReporter, type Reporter } from './report';

/** What `reexport` wrote. */
export interface ReexportResult {
  files: string[];
  /** Absent when the training dataset is no longer where it was (the export is then unverified). */
  verification?: Verification;
}

/**
 * Re-exports a trained model folder without retraining: the saved tfjs head and its stored
 * calibration ranges are grafted onto the base again (quantized, or float with `float`), and with
 * `edgetpu` onto the base's Edge TPU-compiled extractor. When the training dataset is still in
 * place, the export is verified on the same validation split as at training time.
 * Each file is replaced atomically; metadata.json is updated last.
 * @throws Error when the folder is not an EdgeTune model, the base changed (SHA-256), the base has
 *   no compiled extractor for `edgetpu`, or the export agrees with the head on < 98% of images.
 */
export async function reexport(
  dir: string, opts: { modelsDir: string; float?: boolean; edgetpu?: boolean; threads?: number; reporter?: Reporter },
): Promise<ReexportResult> {
  const r = opts.reporter ?? silentReporter;
  const metaPath = path.join(dir, 'metadata.json');
  if (!fs.existsSync(metaPath)) throw new Error(`${dir} is not an EdgeTune model folder (no metadata.json): pass the --out folder of 'edgetune train'`);
  const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as ModelMetadata;
  await initBackend(meta.options.backend);
  const { model, meta: headMeta } = await loadHead(path.join(dir, 'head'));
  const pooling = meta.base.pooling ?? 'avg';
  const base = openBase(meta.base.name, opts.modelsDir, opts.threads, pooling);
  try {
    if (base.spec.sha256 !== meta.base.sha256) {
      throw new Error(`base ${meta.base.name} changed since training (SHA-256 ${base.spec.sha256} ≠ ${meta.base.sha256}): retrain the model`);
    }
    const weights = headWeightsWithRanges(model, headMeta.outputRanges);
    const float = !!opts.float;
    const bytes = exportTflite(base.model, weights, { float });
    let verification: Verification | undefined;
    if (fs.existsSync(meta.dataset.root)) {
      const ds = scanDataset(meta.dataset.root);
      const val = stratifiedSplit(ds.samples, meta.options.valSplit, meta.options.seed).val;
      const fit = meta.options.fit ?? 'crop';
      const e = await embedSamples(base, val, { views: 0, augment: presetParams('none'), seed: 0, fit });
      const top1 = argmaxRows(predictHead(model, e.clean, e.kept.length, e.dim), headMeta.labels.length);
      const truth = e.kept.map((s) => headMeta.labels.indexOf(s.label));
      verification = await verifyExport(bytes, e.kept.map((s) => s.path), top1, truth, opts.threads, fit);
      r.info(`export check on ${verification.n} validation images: agreement ${(verification.agreement * 100).toFixed(1)}%, accuracy ${(verification.accuracy * 100).toFixed(1)}%`);
      if (verification.agreement < MIN_AGREEMENT) {
        throw new Error(`export check failed: agreement ${(verification.agreement * 100).toFixed(1)}% < ${MIN_AGREEMENT * 100}%; the previous model files are untouched`);
      }
    } else {
      r.warn(`dataset ${meta.dataset.root} not found: the export is not verified`);
    }
    const written: string[] = [];
    const put = (name: string, data: Uint8Array | string) => {
      writeFileAtomic.sync(path.join(dir, name), typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      written.push(path.join(dir, name));
    };
    put('model.tflite', bytes);
    if (opts.edgetpu) {
      if (float) throw new Error('--edgetpu needs the quantized head: drop --float');
      put('model_edgetpu.tflite', exportEdgeTpu(base.spec.name, base.edgetpuPath, weights, pooling));
      meta.files.edgetpu = 'model_edgetpu.tflite';
    }
    meta.quantized = !float;
    meta.options.float = float;
    if (verification) meta.metrics.export = verification;
    put('metadata.json', JSON.stringify(meta, null, 2) + '\n');
    return { files: written, verification };
  } finally {
    base.session.close();
    model.dispose();
  }
}
