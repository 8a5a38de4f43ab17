/**
 * The server's data folder (`serve --data DIR`): the dataset in the layout `train` reads
 * (`DIR/dataset/<label>/<file>`), the model versions, the review list and a trash folder. Every
 * write is a temp file renamed into place (a crash leaves the old state or the new, never half a
 * photo), and nothing is unlinked: deleted classes and samples move to `DIR/trash/`.
 *
 * Sample ids are opaque to clients (base64url of "label/relative path") and are checked on the
 * way back in: the label must be valid and the path must stay inside its class folder, so an id is
 * never used as a path unchecked.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import {
  validateLabel, normalisationClashes, listClassFolders, walkImages, compareNames, showLabel,
} from '../dataset';
import { sniffImage, sniffedReason, loadImage, type ImageFormat } from '../image';
import { fail, ioError } from '../errors';
import { isInside } from '../artifact';

/** The folders inside `--data DIR`. */
export interface DataPaths {
  root: string;
  /** Folder per class: what `edgetune train` reads. */
  dataset: string;
  /** One model folder per training, plus the `current` pointer. */
  versions: string;
  /** Low-confidence frames waiting for a label (active learning). */
  review: string;
  /** Deleted classes and samples, moved here (never unlinked). */
  trash: string;
  /** Scratch space for atomic writes (same file system as the rest, so rename is atomic). */
  tmp: string;
}

/**
 * Creates (if needed) and returns the folders of a data root. Leftover temp files of a crashed
 * run are removed from `tmp`.
 * @throws EdgeTuneError IO naming the folder when it cannot be created.
 */
export function openDataRoot(root: string): DataPaths {
  const abs = path.resolve(root);
  const p: DataPaths = {
    root: abs,
    dataset: path.join(abs, 'dataset'),
    versions: path.join(abs, 'versions'),
    review: path.join(abs, 'review'),
    trash: path.join(abs, 'trash'),
    tmp: path.join(abs, 'tmp'),
  };
  for (const d of [p.dataset, p.versions, p.review, p.trash, p.tmp]) {
    try {
      fs.mkdirSync(d, { recursive: true });
    } catch (e) {
      throw ioError('create the data folder', d, e);
    }
  }
  for (const f of fs.readdirSync(p.tmp)) fs.rmSync(path.join(p.tmp, f), { recursive: true, force: true });
  return p;
}

/** One class of the dataset. */
export interface ClassInfo {
  label: string;
  /** Image files in the class folder (recursively, by content). */
  count: number;
  /** Id of the newest sample (its thumbnail stands for the class), or null when empty. */
  latest: string | null;
}

/** Sample id for a file inside a class folder: base64url of "label/relative path". */
export function sampleId(label: string, rel: string): string {
  return Buffer.from(`${label}/${rel.split(path.sep).join('/')}`, 'utf8').toString('base64url');
}

/** One sample. */
export interface SampleInfo {
  id: string;
  /** Path relative to the class folder. */
  file: string;
  /** File size, bytes. */
  bytes: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

function classDir(p: DataPaths, label: string): string {
  return path.join(p.dataset, label);
}

/**
 * The class folder of `label`, which must exist.
 * @throws EdgeTuneError BAD_LABEL for an invalid label; NOT_FOUND when there is no such class.
 */
export function existingClass(p: DataPaths, label: string): string {
  validateLabel(label);
  const dir = classDir(p, label);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw fail('NOT_FOUND', `class '${showLabel(label)}' does not exist: create it first (POST /api/classes)`);
  }
  return dir;
}

/** Samples of one class, oldest first (file order for equal times). @throws as `existingClass`. */
export function listSamples(p: DataPaths, label: string): SampleInfo[] {
  const dir = existingClass(p, label);
  const out: SampleInfo[] = [];
  for (const abs of walkImages(dir).images) {
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      continue; // deleted between the walk and the stat
    }
    const rel = path.relative(dir, abs);
    out.push({ id: sampleId(label, rel), file: rel, bytes: st.size, mtimeMs: st.mtimeMs });
  }
  return out.sort((a, b) => (a.mtimeMs - b.mtimeMs) || compareNames(a.file, b.file));
}

/** Every class with its sample count, sorted by label as `train` sorts them. */
export function listClasses(p: DataPaths): ClassInfo[] {
  return listClassFolders(p.dataset).map((label) => {
    const samples = listSamples(p, label);
    return { label, count: samples.length, latest: samples.length ? samples[samples.length - 1].id : null };
  });
}

/** Refuses a label that is invalid or would clash (same text after Unicode NFC) with another class. */
function checkNewLabel(p: DataPaths, label: string, except?: string): void {
  validateLabel(label);
  const others = listClassFolders(p.dataset).filter((l) => l !== except);
  if (others.includes(label)) throw fail('CONFLICT', `class '${showLabel(label)}' already exists: choose another name`);
  if (normalisationClashes([...others, label]).some((g) => g.includes(label))) {
    throw fail('CONFLICT', `class '${showLabel(label)}' looks the same as an existing class (Unicode normalisation): choose another name`);
  }
}

/**
 * Creates an empty class folder.
 * @throws EdgeTuneError BAD_LABEL (label rules of `validateLabel`), CONFLICT (exists or looks the same).
 */
export function addClass(p: DataPaths, label: string): ClassInfo {
  checkNewLabel(p, label);
  try {
    fs.mkdirSync(classDir(p, label));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw fail('CONFLICT', `class '${showLabel(label)}' already exists: choose another name`);
    throw ioError('create the class folder', classDir(p, label), e);
  }
  return { label, count: 0, latest: null };
}

/**
 * Renames a class (its folder, by one atomic rename).
 * @throws EdgeTuneError NOT_FOUND, BAD_LABEL, CONFLICT.
 */
export function renameClass(p: DataPaths, from: string, to: string): ClassInfo {
  const src = existingClass(p, from);
  if (from === to) return listClasses(p).find((c) => c.label === from)!;
  checkNewLabel(p, to, from);
  try {
    fs.renameSync(src, classDir(p, to));
  } catch (e) {
    throw ioError('rename the class folder', src, e);
  }
  return listClasses(p).find((c) => c.label === to)!;
}

/** A unique name inside `trash/` for something deleted now. */
function trashName(p: DataPaths, base: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return path.join(p.trash, `${stamp}-${crypto.randomBytes(3).toString('hex')}-${base}`);
}

/**
 * Deletes a class by moving its folder to `trash/` (recoverable by moving it back).
 * @returns how many samples it had. @throws EdgeTuneError NOT_FOUND, BAD_LABEL, IO.
 */
export function deleteClass(p: DataPaths, label: string): number {
  const dir = existingClass(p, label);
  const n = listSamples(p, label).length;
  try {
    fs.renameSync(dir, trashName(p, label));
  } catch (e) {
    throw ioError('move the class to the trash', dir, e);
  }
  return n;
}

/**
 * The file behind a sample id, checked: a valid label, an existing class, a path that stays inside
 * the class folder and names an existing file.
 * @throws EdgeTuneError NOT_FOUND for any id that does not name such a file (also malformed ids).
 */
export function resolveSample(p: DataPaths, id: string): { label: string; file: string; abs: string } {
  const unknown = () => fail('NOT_FOUND', `sample ${JSON.stringify(id).slice(0, 80)} does not exist: list samples with GET /api/classes/<label>/samples`);
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(id)) throw unknown();
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const slash = text.indexOf('/');
  if (slash <= 0) throw unknown();
  const label = text.slice(0, slash);
  const rel = text.slice(slash + 1);
  try {
    validateLabel(label);
  } catch {
    throw unknown();
  }
  const dir = classDir(p, label);
  const abs = path.resolve(dir, rel);
  if (rel === '' || rel.includes('\0') || !isInside(abs, dir) || abs === dir) throw unknown();
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    throw unknown();
  }
  if (!st.isFile()) throw unknown();
  return { label, file: rel, abs };
}

/** Deletes a sample (moved to `trash/`). @throws EdgeTuneError NOT_FOUND, IO. */
export function deleteSample(p: DataPaths, id: string): void {
  const s = resolveSample(p, id);
  try {
    fs.renameSync(s.abs, trashName(p, `${s.label}-${path.basename(s.file)}`));
  } catch (e) {
    throw ioError('move the sample to the trash', s.abs, e);
  }
}

/** Upload limits (see `checkUpload`). */
export interface UploadLimits {
  /** Largest accepted file, bytes. */
  maxBytes: number;
  /** Largest accepted decoded image, pixels (width × height): stops decompression bombs. */
  maxPixels: number;
}

/** Default limits: 10 MB per file (a 12 MP phone JPEG is 3–6 MB), 40 megapixels decoded. */
export const DEFAULT_LIMITS: UploadLimits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000 };

const EXT: Record<ImageFormat, string> = {
  jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif', bmp: 'bmp', heic: 'heic', avif: 'avif',
};

/**
 * Checks an uploaded image before it is stored or classified: size in bytes, content sniffed as a
 * format EdgeTune decodes, decoded size in pixels (read from the header by sharp before decoding,
 * so a decompression bomb is refused without being expanded), and a full decode.
 * @param name what to call it in messages (the upload's file name or "camera frame").
 * @returns the sniffed format.
 * @throws EdgeTuneError TOO_LARGE (bytes or pixels), BAD_IMAGE (not an image, unsupported, corrupt).
 */
export async function checkUpload(bytes: Uint8Array, name: string, limits: UploadLimits = DEFAULT_LIMITS): Promise<ImageFormat> {
  if (bytes.byteLength > limits.maxBytes) {
    throw fail('TOO_LARGE', `upload ${name} is ${bytes.byteLength} bytes; the limit is ${limits.maxBytes} bytes: send a smaller photo (or start serve with a larger --max-upload-mb)`);
  }
  const s = sniffImage(bytes);
  if (s.kind !== 'image') throw fail('BAD_IMAGE', `upload ${name}: ${sniffedReason(s)}`);
  if (s.format !== 'bmp' && s.format !== 'heic') {
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (e) {
      throw fail('BAD_IMAGE', `upload ${name}: cannot read the ${s.format.toUpperCase()} header (${(e as Error).message.split('\n')[0]}); send an intact image`);
    }
    const px = (meta.width ?? 0) * (meta.pageHeight ?? meta.height ?? 0);
    if (px > limits.maxPixels) {
      throw fail('TOO_LARGE', `upload ${name} is ${meta.width}×${meta.height} pixels; the limit is ${limits.maxPixels} pixels: send a smaller photo`);
    }
  }
  const img = await loadImage(bytes).catch((e: Error) => {
    throw fail('BAD_IMAGE', `upload ${name}: ${e.message.replace(/^cannot read image [^:]*: /, '')}`);
  });
  if (img.width * img.height > limits.maxPixels) {
    throw fail('TOO_LARGE', `upload ${name} is ${img.width}×${img.height} pixels; the limit is ${limits.maxPixels} pixels: send a smaller photo`);
  }
  return s.format;
}

/**
 * Stores one image in a class: written to `tmp/`, synced, then renamed into the class folder under
 * a new unique name (`<ms>-<random>.<ext>`), so the dataset never holds a partial file.
 * The bytes must already be checked (`checkUpload`).
 * @throws EdgeTuneError NOT_FOUND (class), IO.
 */
export function addSample(p: DataPaths, label: string, bytes: Uint8Array, format: ImageFormat): SampleInfo {
  const dir = existingClass(p, label);
  const file = `${Date.now()}-${crypto.randomBytes(4).toString('hex')}.${EXT[format]}`;
  const tmp = path.join(p.tmp, file);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, file));
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw ioError('store the sample', path.join(dir, file), e);
  }
  const st = fs.statSync(path.join(dir, file));
  return { id: sampleId(label, file), file, bytes: st.size, mtimeMs: st.mtimeMs };
}

/** Side of a thumbnail, pixels. */
export const THUMBNAIL_SIZE = 96;

const thumbs = new Map<string, Buffer>();

/**
 * A square JPEG thumbnail (THUMBNAIL_SIZE pixels, centre crop) of any image EdgeTune reads, cached
 * in memory by path, size and mtime (at most 2000 entries, ~3 KB each).
 * @throws EdgeTuneError BAD_IMAGE when the file cannot be decoded.
 */
export async function thumbnail(abs: string): Promise<Buffer> {
  const st = fs.statSync(abs);
  const key = `${abs}\0${st.size}\0${st.mtimeMs}`;
  const hit = thumbs.get(key);
  if (hit) return hit;
  const img = await loadImage(abs);
  const out = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'cover' })
    .jpeg({ quality: 75 })
    .toBuffer();
  if (thumbs.size >= 2000) thumbs.delete(thumbs.keys().next().value!);
  thumbs.set(key, out);
  return out;
}
