import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireCompiler } from '../export/compile';
import { openBase, embedSamples } from '../base';
import { presetParams } from '../augment';
import { resolveBase, defaultModelsDir } from '../models';
import { initBackend, loadHead, headWeightsWithRanges, predictHead } from '../head';
import { exportTflite, exportEdgeTpu, verifyExport } from '../export';
import {
  readModelFolder, writeModelFolder, readFolderFiles, checkModelFolder, checkVerification, edgeTpuPlan,
  type Verification, type FileContents, type ModelMetadata,
} from '../artifact';
import { fail } from '../errors';
import type { Sample } from '../dataset';
import { setMetrics } from './split-rules';
import { silentReporter, type Reporter } from './report';
import { reexportCnn } from './reexport-cnn';
import { compileStep } from './compile-step';

/** Options of `reexport`. */
export interface ReexportOptions {
  /** Float head behind a DEQUANTIZE instead of the quantized one (no Edge TPU file then). */
  float?: boolean;
  /** true: require model_edgetpu.tflite; false: none; default 'auto' (when eligible and not float). */
  edgetpu?: boolean | 'auto';
  /** Write a new model folder here instead of replacing `dir`. */
  out?: string;
  modelsDir?: string;
  threads?: number;
  reporter?: Reporter;
  /**
   * Also run Coral's `edgetpu_compiler` on the new model.tflite (x86-64 hosts): writes
   * `model_edgetpu_compiled.tflite` and `edgetpu_compiler.log`, and records how many operations it
   * mapped to the Edge TPU in metadata.json (`compiled`). Checked before any work.
   */
  compile?: boolean;
  /** PATH to look for the compiler in (default process.env.PATH). */
  searchPath?: string;
}

/** What `reexport` wrote. */
export interface ReexportResult {
  dir: string;
  files: string[];
  /** Absent when the training photos are no longer where they were (the export is then unverified). */
  verification?: Verification;
  /** With `compile`: the compiler's version and how many operations run on the Edge TPU / the CPU. */
  compiled?: { version: string; edgetpuOps: number; cpuOps: number };
}

/**
 * Re-exports a trained model folder without retraining: the saved tfjs head and its stored
 * calibration ranges are grafted onto the base again (quantized, or float with `float`), and onto
 * the base's Edge TPU-compiled extractor when eligible. When the training photos are still in place,
 * the export is verified on the same validation and test photos as at training time (recorded in
 * metadata.json) and the accuracy estimate is measured again on the new file.
 * A CNN folder (`arch: 'cnn'`) is converted again from its cnn/model.json (`reexportCnn`).
 * The folder written is always consistent: a float export never leaves a quantized
 * model_edgetpu.tflite beside it. All requests are checked before any work; the folder is then
 * replaced as a whole (complete or unchanged), or a new one is written with `out`.
 * @throws EdgeTuneError: BAD_MODEL (not a model folder, unknown format), EDGETPU_UNAVAILABLE
 *   (--edgetpu impossible), BASE_MISSING, BAD_MODEL (the base changed since training: SHA-256),
 *   EXPORT_CHECK_FAILED (< 98% agreement), CONFLICT (--out).
 */
export async function reexport(dir: string, opts: ReexportOptions = {}): Promise<ReexportResult> {
  const r = opts.reporter ?? silentReporter;
  const modelsDir = opts.modelsDir ?? defaultModelsDir();
  const folder = readModelFolder(dir);
  const meta: ModelMetadata = JSON.parse(JSON.stringify(folder.metadata));
  const target = opts.out ?? dir;
  if (opts.out !== undefined) checkModelFolder(opts.out);
  const float = !!opts.float;
  // A CNN has no base: it is converted again from cnn/model.json (reexport-cnn.ts).
  if (meta.arch === 'cnn') return reexportCnn(dir, meta, target, opts, r);
  if (!meta.base) throw fail('BAD_MODEL', `${dir}/metadata.json names no base: retrain the model with 'edgetune train'`);
  const baseMeta = meta.base;
  // A fine-tuned model's blocks exist only in its model.tflite (the base file holds the original
  // ones): it can be compiled as it is, not re-grafted.
  const ft = meta.fineTune;
  if (ft && float) throw fail('UNSUPPORTED', `${dir} was trained with --fine-tune ${ft.blocks}: its fine-tuned blocks exist only in model.tflite, so it cannot be re-exported as float: use its quantized model.tflite (or retrain without --fine-tune for a float head)`);
  if (ft && opts.edgetpu === true) throw fail('UNSUPPORTED', `${dir} was trained with --fine-tune ${ft.blocks}: Coral's compiled extractor holds the original blocks, so there is no model_edgetpu.tflite; use edgetune export --compile instead`);
  const resolved = resolveBase(baseMeta.name, modelsDir);
  const tpu = ft ? { write: false } as { write: boolean; note?: string } : edgeTpuPlan(opts.edgetpu ?? (float ? false : 'auto'), baseMeta.name, resolved.spec.edgetpuGraftable, resolved.edgetpuPath !== undefined, baseMeta.pooling, float);
  if (opts.compile) {
    if (float) throw fail('BAD_OPTION', '--compile needs the full-integer model: drop --float (the Edge TPU Compiler refuses float operations)');
    requireCompiler(opts.searchPath);
  }
  await initBackend('auto');
  const { model, meta: headMeta } = await loadHead(path.join(dir, 'head'));
  const base = openBase(baseMeta.name, modelsDir, opts.threads, baseMeta.pooling);
  try {
    if (base.spec.sha256 !== baseMeta.sha256) {
      throw fail('BAD_MODEL', `base ${baseMeta.name} changed since training (SHA-256 ${base.spec.sha256} ≠ ${baseMeta.sha256}): retrain the model`);
    }
    const labels = meta.labels;
    const describe = { labels, name: path.basename(meta.dataset.root), baseName: baseMeta.name };
    const weights = headWeightsWithRanges(model, headMeta.outputRanges);
    const replaced: Record<string, FileContents> = { 'model.tflite': ft ? fs.readFileSync(path.join(dir, meta.files.model)) : exportTflite(base.model, weights, { float, ...describe }) };
    if (tpu.write) replaced['model_edgetpu.tflite'] = exportEdgeTpu(base.spec.name, base.edgetpuPath, weights, baseMeta.pooling, describe);
    else if (tpu.note) r.info(tpu.note);

    // Verify on the recorded validation + test photos that still exist.
    const rel = [...meta.dataset.split.val, ...meta.dataset.split.test];
    const present = rel.map((f) => path.join(meta.dataset.root, f)).filter((f) => fs.existsSync(f));
    let verification: Verification | undefined;
    if (ft) {
      r.info(`model.tflite holds the fine-tuned blocks and is kept as trained: its export check from training stands`);
    } else if (present.length > 0) {
      const samples: Sample[] = present.map((p) => {
        const label = path.relative(meta.dataset.root, p).split(path.sep)[0];
        return { path: p, label, labelIndex: labels.indexOf(label) };
      }).filter((s) => s.labelIndex >= 0);
      const e = await embedSamples(base, samples, { views: 0, augment: presetParams('none'), seed: 0, fit: meta.fit });
      const probs = predictHead(model, e.clean, e.kept.length, e.dim);
      const truth = e.kept.map((s) => s.labelIndex);
      const v = await verifyExport(replaced['model.tflite'] as Uint8Array, e.kept.map((s) => s.path), probs, truth, { threads: opts.threads, fit: meta.fit });
      r.info(`export check on ${v.n} photos: top-1 agreement with the head ${(v.agreement * 100).toFixed(1)}%`);
      checkVerification(v, 'the model folder is unchanged');
      const { predictions, ...rest } = v;
      verification = rest;
      meta.metrics.export = rest;
      const testSet = new Set(meta.dataset.split.test.map((f) => path.join(meta.dataset.root, f)));
      const testRows = e.kept.map((s, i) => (testSet.has(s.path) ? i : -1)).filter((i) => i >= 0);
      if (meta.metrics.estimate?.method === 'test-split' && testRows.length > 0) {
        meta.metrics.estimate = { method: 'test-split', ...setMetrics(testRows.map((i) => truth[i]), testRows.map((i) => predictions[i]), labels) };
      }
      if (present.length < rel.length) r.warn(`${rel.length - present.length} of the recorded validation/test photos are gone: verified on the ${v.n} left`);
    } else {
      r.warn(`the training photos under ${meta.dataset.root} are gone: the export is not verified`);
    }
    let compiled: ReexportResult['compiled'];
    if (opts.compile) {
      const c = await compileStep(replaced['model.tflite'] as Uint8Array, opts.searchPath, r);
      Object.assign(replaced, c.files);
      compiled = c.compiled;
      meta.files.compiled = 'model_edgetpu_compiled.tflite';
      meta.compiled = compiled;
    }
    meta.quantized = !float;
    meta.options = { ...meta.options, float, edgetpu: opts.edgetpu ?? meta.options.edgetpu };
    if (tpu.write) meta.files.edgetpu = 'model_edgetpu.tflite';
    else delete meta.files.edgetpu;
    replaced['metadata.json'] = JSON.stringify(meta, null, 2) + '\n';
    const files = { ...readFolderFiles(dir), ...replaced };
    if (!tpu.write) delete files['model_edgetpu.tflite'];
    writeModelFolder(target, files);
    return { dir: target, files: Object.keys(replaced).map((f) => path.join(target, f)), verification, ...(compiled ? { compiled } : {}) };
  } finally {
    await base.session.close();
    model.dispose();
  }
}
