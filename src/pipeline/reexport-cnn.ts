import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireCompiler } from '../export/compile';
import { makeRng, shuffled } from '../augment';
import { preprocessTo, type InputShape } from '../image';
import { initBackend } from '../head';
import { loadCnn, predictCnn } from '../cnn';
import { writeModelFolder, readFolderFiles, type FileContents, type ModelMetadata, type Verification } from '../artifact';
import { fail } from '../errors';
import type { Reporter } from './report';
import { compileStep } from './compile-step';
import { convertCnn, checkCnnExport } from './cnn-export';
import { REPRESENTATIVE_PHOTOS } from './cnn-constants';
import { setMetrics } from './split-rules';

/** The options of `reexport` this path reads (see reexport.ts ReexportOptions). */
export interface CnnReexportOptions {
  float?: boolean;
  edgetpu?: boolean | 'auto';
  threads?: number;
  compile?: boolean;
  searchPath?: string;
}

/**
 * `edgetune export` of a CNN folder: cnn/model.json converted again (full-integer, or float32 with
 * `float`), calibrated on the recorded training photos (the same seeded sample as at training
 * time), checked on the recorded validation + test photos (top-1 agreement ≥ 99% with the tfjs
 * CNN), the estimate measured again on the new file; the folder is replaced as a whole (or written
 * to `target`).
 * @throws EdgeTuneError EDGETPU_UNAVAILABLE for --edgetpu (a CNN has no precompiled Edge TPU
 *   part; --compile runs Coral's compiler instead), BAD_MODEL when a full-integer export cannot be
 *   calibrated because the training photos are gone, EXPORT_CHECK_FAILED, BAD_OPTION.
 */
export async function reexportCnn(
  dir: string, meta: ModelMetadata, target: string, opts: CnnReexportOptions, r: Reporter,
): Promise<{ dir: string; files: string[]; verification?: Verification; compiled?: { version: string; edgetpuOps: number; cpuOps: number } }> {
  const float = !!opts.float;
  if (opts.edgetpu === true) {
    throw fail('EDGETPU_UNAVAILABLE', `${dir} is a CNN trained from scratch: it has no precompiled Edge TPU part to graft onto; use --compile (Coral's edgetpu_compiler, x86-64) instead of --edgetpu`);
  }
  if (opts.compile) {
    if (float) throw fail('BAD_OPTION', '--compile needs the full-integer model: drop --float (the Edge TPU Compiler refuses float operations)');
    requireCompiler(opts.searchPath);
  }
  const shape: InputShape | undefined = meta.input;
  if (!shape || !meta.files.cnn) throw fail('BAD_MODEL', `${dir}/metadata.json of a CNN lacks its input or cnn files: retrain the model with 'edgetune train --arch cnn'`);
  const at = (rel: string[]) => rel.map((f) => path.join(meta.dataset.root, f)).filter((f) => fs.existsSync(f));
  const trainPhotos = at(meta.dataset.split.train);
  if (!float && trainPhotos.length === 0) {
    throw fail('BAD_MODEL', `the training photos under ${meta.dataset.root} are gone: a full-integer export is calibrated on them; restore them, or export with --float`);
  }
  await initBackend('auto');
  const { model } = await loadCnn(path.join(dir, path.dirname(meta.files.cnn)));
  try {
    const fit = meta.fit;
    const pixels = async (files: string[]) => Promise.all(files.map(async (f) => (await preprocessTo(f, { ...shape, fit })).pixels));
    const seed = meta.options.seed;
    const rep = float ? [] : await pixels(shuffled(trainPhotos, makeRng(seed)).slice(0, REPRESENTATIVE_PHOTOS));
    const bytes = convertCnn(model, rep, { labels: meta.labels, name: path.basename(meta.dataset.root), version: meta.edgetune }, { float });
    const replaced: Record<string, FileContents> = { 'model.tflite': bytes };
    const newMeta: ModelMetadata = JSON.parse(JSON.stringify(meta));

    const rel = [...meta.dataset.split.val, ...meta.dataset.split.test];
    const present = at(rel);
    let verification: Verification | undefined;
    if (present.length > 0) {
      const truth = present.map((p) => meta.labels.indexOf(path.relative(meta.dataset.root, p).split(path.sep)[0]));
      const px = shape.height * shape.width * shape.channels;
      const imgs = await pixels(present);
      const x = new Uint8Array(imgs.length * px);
      imgs.forEach((p, i) => x.set(p, i * px));
      const probs = predictCnn(model, { x, n: imgs.length, shape: [shape.height, shape.width, shape.channels] });
      const v = await checkCnnExport(bytes, present, probs, truth, { fit, threads: opts.threads, hint: 'the model folder is unchanged' });
      r.info(`export check on ${v.n} photos: top-1 agreement with the CNN ${(v.agreement * 100).toFixed(1)}%`);
      const { predictions, ...rest } = v;
      verification = rest;
      newMeta.metrics.export = rest;
      const testSet = new Set(meta.dataset.split.test.map((f) => path.join(meta.dataset.root, f)));
      const testRows = present.map((p, i) => (testSet.has(p) ? i : -1)).filter((i) => i >= 0);
      if (meta.metrics.estimate?.method === 'test-split' && testRows.length > 0) {
        newMeta.metrics.estimate = { method: 'test-split', ...setMetrics(testRows.map((i) => truth[i]), testRows.map((i) => predictions[i]), meta.labels) };
      }
      if (present.length < rel.length) r.warn(`${rel.length - present.length} of the recorded validation/test photos are gone: verified on the ${v.n} left`);
    } else {
      r.warn(`the training photos under ${meta.dataset.root} are gone: the export is not verified`);
    }
    let compiled: ModelMetadata['compiled'];
    if (opts.compile) {
      const c = await compileStep(bytes, opts.searchPath, r);
      Object.assign(replaced, c.files);
      compiled = c.compiled;
      newMeta.files.compiled = 'model_edgetpu_compiled.tflite';
      newMeta.compiled = compiled;
    }
    newMeta.quantized = !float;
    newMeta.options = { ...newMeta.options, float, edgetpu: false };
    replaced['metadata.json'] = JSON.stringify(newMeta, null, 2) + '\n';
    writeModelFolder(target, { ...readFolderFiles(dir), ...replaced });
    return { dir: target, files: Object.keys(replaced).map((f) => path.join(target, f)), verification, ...(compiled ? { compiled } : {}) };
  } finally {
    model.dispose();
  }
}
