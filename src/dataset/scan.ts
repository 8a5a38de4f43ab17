import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectFormat, SNIFF_BYTES, type ImageFormat } from '../image/format';
import { validateLabel } from './label';

/** One image of a dataset. path: absolute file path; labelIndex: index into `Dataset.labels`. */
export interface Sample {
  path: string;
  label: string;
  labelIndex: number;
}

/** A folder-per-class dataset: root (absolute), labels (sorted), samples (sorted by label, then file name). */
export interface Dataset {
  root: string;
  labels: string[];
  samples: Sample[];
  /**
   * Files named like photos (.jpg, .png, …) whose content is not an image the product reads: left
   * out, and reported so the user can see why a photo is missing (other files are ignored quietly).
   */
  ignored: { path: string; reason: string }[];
}

/** Extensions that say "photo": such a file that does not sniff as an image is worth a warning. */
const PHOTO_NAME = /\.(jpe?g|png|webp|gif|tiff?|bmp)$/i;

/** Deterministic, locale-independent order (UTF-16 code units), same on every machine. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Format of a file by its first `SNIFF_BYTES` bytes (never by extension); null for non-images,
 * unreadable files and non-regular files.
 */
export function sniffFile(file: string): ImageFormat | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    if (!fs.fstatSync(fd).isFile()) return null;
    const head = new Uint8Array(SNIFF_BYTES);
    const n = fs.readSync(fd, head, 0, SNIFF_BYTES, 0);
    return detectFormat(head.subarray(0, n));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Class folders of a dataset root: visible subdirectories, sorted by `compareNames`.
 * @throws Error when `dir` is missing or not a folder.
 */
export function listClassFolders(dir: string): string[] {
  if (!fs.existsSync(dir)) {
    throw new Error(`dataset ${dir} does not exist; create it with one subfolder per class (DIR/<label>/<image>)`);
  }
  if (!isDirectory(dir)) throw new Error(`dataset ${dir} is not a folder; expected DIR/<label>/<image>`);
  return fs
    .readdirSync(dir)
    .filter((name) => !isHidden(name) && isDirectory(path.join(dir, name)))
    .sort(compareNames);
}

/**
 * Image files directly inside `folder` (not recursive), found by content sniffing; hidden files,
 * subfolders and non-images (.DS_Store, desktop.ini, notes.txt) are skipped silently.
 * Returns file names sorted by `compareNames`.
 */
export function listImageFiles(folder: string): string[] {
  return fs
    .readdirSync(folder)
    .filter((name) => !isHidden(name) && sniffFile(path.join(folder, name)) !== null)
    .sort(compareNames);
}

/**
 * Read a folder-per-class dataset `DIR/<label>/<image>`.
 *
 * Labels are the visible subfolder names, sorted by UTF-16 code units (locale-independent), each
 * checked with `validateLabel`; labelIndex is the position in that list. Samples are the image
 * files directly inside each class folder, recognised by their first bytes (`detectFormat`), not
 * by extension; they are ordered by label, then file name. Files at the top level are ignored.
 *
 * @param dir dataset root (relative paths resolve against the working directory).
 * @param opts minClasses (default 2, for training) and minImagesPerClass (default 2): `eval` scans
 *   with 1 and 1, since scoring a model on photos of one class is legitimate.
 * @returns `Dataset` with absolute paths.
 * @throws Error (one line) when the folder is missing, a folder name is not a valid label, there
 *   are fewer than `minClasses` classes, or any class has fewer than `minImagesPerClass` images
 *   (all such classes are listed).
 */
export function scanDataset(dir: string, opts: { minClasses?: number; minImagesPerClass?: number } = {}): Dataset {
  const minClasses = opts.minClasses ?? 2;
  const minImages = opts.minImagesPerClass ?? 2;
  const root = path.resolve(dir);
  const labels = listClassFolders(root);
  for (const label of labels) {
    try {
      validateLabel(label);
    } catch (e) {
      throw new Error(`dataset ${dir}: class folder ${(e as Error).message.replace(/^invalid class /, '')}; rename the folder`);
    }
  }
  if (labels.length < minClasses) {
    const list = labels.length === 0 ? 'none' : labels.join(', ');
    throw new Error(
      `dataset ${dir} has ${labels.length} class${labels.length === 1 ? '' : 'es'} (${list}); need at least ${minClasses} — add a folder per class`,
    );
  }
  const samples: Sample[] = [];
  const ignored: { path: string; reason: string }[] = [];
  const tooSmall: string[] = [];
  labels.forEach((label, labelIndex) => {
    const folder = path.join(root, label);
    const files = listImageFiles(folder);
    const found = new Set(files);
    for (const name of fs.readdirSync(folder).sort(compareNames)) {
      if (!found.has(name) && !isHidden(name) && PHOTO_NAME.test(name) && !isDirectory(path.join(folder, name))) {
        ignored.push({ path: path.join(folder, name), reason: 'not an image (its content is not JPEG, PNG, WebP, GIF, TIFF or BMP)' });
      }
    }
    if (files.length < minImages) tooSmall.push(`'${label}' has ${files.length} image${files.length === 1 ? '' : 's'}`);
    for (const f of files) samples.push({ path: path.join(root, label, f), label, labelIndex });
  });
  if (tooSmall.length > 0) {
    throw new Error(`dataset ${dir}: class ${tooSmall.join(', class ')}; need at least ${minImages} image${minImages === 1 ? '' : 's'} per class — add images or remove the folder`);
  }
  return { root, labels, samples, ignored };
}
