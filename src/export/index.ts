import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readModel, writeModel, graftHead, embeddingInfo, isEdgeTpuCompiled, type HeadWeights, type Model, type Pooling } from '../tflite';
import { openModel } from '../runtime';
import { preprocess, type Fit } from '../image';

/**
 * Grafts a trained head onto a base graph and serialises the result.
 *
 * Quantized (default, when the base embedding is uint8): uint8 FULLY_CONNECTED layers with
 * per-tensor weights, int32 bias (scale = input scale × weight scale), uint8 activations over the
 * calibrated ranges, SOFTMAX output uint8 with scale 1/256 — Coral's rules (TFLITE-FACTS.md).
 * Float (`float: true`): DEQUANTIZE after the embedding, then float32 layers.
 *
 * @param base the base graph ending at its embedding (a cut classifier, an extractor, or a compiled
 *   `_edgetpu` extractor whose custom op is kept byte-for-byte).
 * @returns the `.tflite` bytes (trailing data dropped: it described the removed top).
 */
export function exportTflite(base: Model, head: HeadWeights, opts: { float?: boolean } = {}): Uint8Array {
  return writeModel(graftHead(base, head, { float: !!opts.float }), { keepTrailing: false });
}

/**
 * Why an Edge TPU export of a model is impossible, or undefined when it is possible: known from the
 * options alone, so callers check it before any long work.
 * @param graftable whether the base has a compiled embedding extractor (BaseSpec.edgetpuGraftable).
 */
export function edgeTpuBlocker(baseName: string, graftable: boolean, pooling: Pooling, float: boolean): string | undefined {
  if (float) return '--edgetpu needs the quantized head: drop --float';
  if (!graftable) {
    return `base ${baseName} has no Edge TPU-compiled embedding extractor (Coral compiles only the full classifier, which cannot be cut): train with --base mobilenet_v1_1.0_224 for --edgetpu`;
  }
  if (pooling !== 'avg') {
    return `--edgetpu needs --pooling avg: Coral's compiled extractor ends at the global average pool inside its custom op, so a ${pooling} embedding cannot come from it`;
  }
  return undefined;
}

/**
 * The Edge TPU variant without the Edge TPU compiler: the head grafted after Coral's compiled
 * embedding extractor (`*_embedding_extractor_edgetpu.tflite`).
 * @param edgetpuPath the compiled extractor, or undefined when the base has none.
 * @throws Error naming the base when Coral publishes no compiled extractor for it, or the file is
 *   not an Edge TPU-compiled graph.
 */
export function exportEdgeTpu(baseName: string, edgetpuPath: string | undefined, head: HeadWeights, pooling: Pooling = 'avg'): Uint8Array {
  const blocker = edgeTpuBlocker(baseName, edgetpuPath !== undefined, pooling, false);
  if (blocker || !edgetpuPath) throw new Error(blocker);
  const model = readModel(fs.readFileSync(edgetpuPath));
  if (!isEdgeTpuCompiled(model)) throw new Error(`${edgetpuPath} is not compiled for the Edge TPU (no edgetpu-custom-op)`);
  embeddingInfo(model);
  return exportTflite(model, head);
}

/** Result of checking an exported model against the trained head. */
export interface Verification {
  /** Images the exported model ran on. */
  n: number;
  /** Fraction (0..1) of images where the exported top-1 equals the trained head's top-1. */
  agreement: number;
  /** Fraction (0..1) of images where the exported top-1 equals the true label. */
  accuracy: number;
  /** Mean inference time of the exported model, ms per image. */
  msPerImage: number;
}

/**
 * Runs an exported `.tflite` on images through the same preprocessing as training and compares
 * its top-1 with the trained head's predictions for the same images.
 * @param headTop1 the head's top-1 class per image; `labels` the true class per image.
 * @param fit the fit the model was trained with (metadata.json options.fit).
 * @throws Error when an image cannot be read (these images already decoded during training).
 */
export async function verifyExport(
  modelBytes: Uint8Array, images: string[], headTop1: number[], labels: number[], threads?: number, fit: Fit = 'crop',
): Promise<Verification> {
  const s = openModel(modelBytes, { threads, device: 'cpu' });
  try {
    const size = s.input.shape[1];
    let agree = 0, correct = 0, ms = 0;
    for (let i = 0; i < images.length; i++) {
      const px = await preprocess(images[i], size, fit);
      s.inputBuffer.set(px);
      const t0 = performance.now();
      const p = s.run();
      ms += performance.now() - t0;
      let top = 0;
      for (let j = 1; j < p.length; j++) if (p[j] > p[top]) top = j;
      if (top === headTop1[i]) agree++;
      if (top === labels[i]) correct++;
    }
    const n = images.length;
    return { n, agreement: n ? agree / n : 1, accuracy: n ? correct / n : 0, msPerImage: n ? Math.round((ms / n) * 100) / 100 : 0 };
  } finally {
    s.close();
  }
}

/**
 * Checks that `dir` may receive a model folder: absent, empty, or an earlier EdgeTune model (has
 * metadata.json). Called before training so that a wrong --out fails in milliseconds, not after it.
 * @throws Error naming the folder otherwise.
 */
export function checkModelFolder(dir: string): void {
  if (dir.trim() === '') throw new Error('the output folder is empty: name the model folder to write, e.g. --out runs/my-model');
  const abs = path.resolve(dir);
  const cwd = process.cwd();
  if (abs === path.parse(abs).root || cwd === abs || cwd.startsWith(abs + path.sep)) {
    throw new Error(`output folder ${dir} is the working directory or one of its parents: choose a new folder for --out`);
  }
  if (!fs.existsSync(abs)) {
    // The nearest existing ancestor must take the new folder: fail now, not after training.
    let anc = path.dirname(abs);
    while (!fs.existsSync(anc)) anc = path.dirname(anc);
    try {
      if (!fs.statSync(anc).isDirectory()) throw new Error('not a folder');
      fs.accessSync(anc, fs.constants.W_OK);
    } catch {
      throw new Error(`cannot create output folder ${dir}: ${anc} is not a writable folder`);
    }
    return;
  }
  if (!fs.statSync(abs).isDirectory()) throw new Error(`output ${dir} is a file, not a folder: choose another --out`);
  const entries = fs.readdirSync(abs);
  if (entries.length && !entries.includes('metadata.json')) {
    throw new Error(`output folder ${dir} exists and is not an EdgeTune model folder (no metadata.json): choose another --out`);
  }
}

/** True when `inner` is `outer` or lies inside it (both resolved). */
export function isInside(inner: string, outer: string): boolean {
  const a = path.resolve(inner);
  const b = path.resolve(outer);
  return a === b || a.startsWith(b.endsWith(path.sep) ? b : b + path.sep);
}

/** Contents of one file of a model folder. */
export type FileContents = string | Uint8Array;

/**
 * Creates a new empty folder `prefix` + 6 random characters, like `fs.mkdtempSync`, but with the
 * permissions of any other new folder (mode 0o777 less the umask, e.g. 0755 under umask 022; the
 * parent's default ACL applies too). mkdtemp creates 0700, which would survive the rename and keep
 * the model from another user, e.g. the service account that serves it on the Pi. `mkdir` without
 * `recursive` fails when the path exists, so the name is still exclusive; the process umask is
 * never read (reading it through `process.umask()` sets it, a race with worker threads).
 * @returns the folder's path.
 */
function makeTempFolder(prefix: string): string {
  for (let attempt = 0; ; attempt++) {
    const dir = prefix + crypto.randomBytes(6).toString('base64url').slice(0, 6);
    try {
      fs.mkdirSync(dir, 0o777);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 9) throw e;
    }
  }
}

/**
 * Writes a model folder so that it is complete or absent: everything goes to a temporary sibling
 * folder first, which then replaces `dir` by rename. An existing `dir` (the last good model) stays
 * intact until the new folder is complete, then is removed. Folders and files get the usual
 * permissions under the process umask (0755 and 0644 under umask 022).
 * @param files relative file name → contents (sub-folders allowed, e.g. 'head/model.json').
 * @throws Error when `dir` exists but is neither empty nor an EdgeTune model folder (no
 *   metadata.json): it is never replaced, so no user data is lost.
 */
export function writeModelFolder(dir: string, files: Record<string, FileContents>): void {
  const abs = path.resolve(dir);
  checkModelFolder(dir);
  const parent = path.dirname(abs);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = makeTempFolder(path.join(parent, `.${path.basename(abs)}.tmp-`));
  try {
    for (const [name, data] of Object.entries(files)) {
      const p = path.join(tmp, name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data);
    }
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (fs.existsSync(abs)) {
    const old = `${tmp}.old`;
    fs.renameSync(abs, old);
    fs.renameSync(tmp, abs);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, abs);
  }
}
