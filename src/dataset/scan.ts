import * as fs from 'node:fs';
import * as path from 'node:path';
import { EdgeTuneError, fail, ioError } from '../errors';
import { sniffImage, sniffedReason, SNIFF_BYTES, type ImageFormat, type Sniffed } from '../image/format';
import { describeClash, normalisationClashes, showLabel, validateLabel } from './label';

/** One image of a dataset. path: absolute file path; labelIndex: index into `Dataset.labels`. */
export interface Sample {
  path: string;
  label: string;
  labelIndex: number;
}

/** Why a file or folder of a dataset (or an import source) is not used. */
export type SkipKind =
  /** Name starts with '.' (.DS_Store, .Trashes, editors' temp files): skipped on purpose. */
  | 'hidden'
  /** Content is not an image (text, unknown binary, empty file). */
  | 'not-image'
  /** A recognised image or media format EdgeTune does not decode (PSD, JPEG XL, raw, video …). */
  | 'unsupported-format'
  /** A file at the top level of the dataset, outside any class folder. */
  | 'outside-class'
  /** A symbolic link leading back into a folder being walked (it would loop forever). */
  | 'symlink-loop'
  /** A folder reached a second time through a symbolic link (its photos are used once). */
  | 'already-included'
  /** A symbolic link whose target does not exist. */
  | 'broken-link'
  /** The file or folder cannot be read (permissions, I/O error). */
  | 'unreadable'
  /** Not a regular file or folder (a pipe, socket or device). */
  | 'special-file'
  /** The image cannot be decoded (truncated, corrupt): found when decoding, not by scanning. */
  | 'bad-image'
  /** The decoded image is below `MIN_IMAGE_SIDE`: found when decoding, not by scanning. */
  | 'too-small'
  /** Import only: same bytes (SHA-256) as a file already in the destination class. */
  | 'duplicate';

/** A file or folder that is not used, with a one-line reason. */
export interface IgnoredFile {
  /** Absolute path. */
  path: string;
  reason: string;
  kind: SkipKind;
}

/** A folder-per-class dataset: root (absolute), labels (sorted), samples (sorted by label, then path). */
export interface Dataset {
  root: string;
  labels: string[];
  samples: Sample[];
  /**
   * Every file or folder under the root that is not a sample, with its reason, in walk order:
   * hidden entries, non-images, unsupported formats, top-level files, symlink loops, unreadable
   * files … Nothing is dropped silently. A hidden folder is one entry (its contents are not listed).
   */
  ignored: IgnoredFile[];
}

/** Deterministic, locale-independent order (UTF-16 code units), same on every machine. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What `classifyFile` found: an image, or why the file is skipped. */
export type FileVerdict = { image: ImageFormat } | { kind: SkipKind; reason: string };

/**
 * Classify one file by its first `SNIFF_BYTES` bytes (never by extension). Follows symbolic links.
 * @returns `{ image: format }` for a decodable image, else the skip kind and a one-line reason
 *   (unsupported formats by name with how to convert; unreadable files with the system reason
 *   worded by `ioError`). Never throws.
 */
export function classifyFile(file: string): FileVerdict {
  let fd: number | undefined;
  try {
    // stat before open: opening a FIFO for reading would block until a writer appears.
    const st = fs.statSync(file);
    if (st.isDirectory()) return { kind: 'special-file', reason: 'is a folder' };
    if (!st.isFile()) return { kind: 'special-file', reason: 'not a regular file (a pipe, socket or device)' };
    fd = fs.openSync(file, 'r');
    const head = new Uint8Array(Math.min(SNIFF_BYTES, st.size));
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return verdict(sniffImage(head.subarray(0, n)));
  } catch (e) {
    return { kind: 'unreadable', reason: `cannot read it: ${ioReason(e)}` };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function verdict(s: Sniffed): FileVerdict {
  if (s.kind === 'image') return { image: s.format };
  return { kind: s.kind === 'unsupported' ? 'unsupported-format' : 'not-image', reason: sniffedReason(s) };
}

/**
 * Format of a file by its first bytes; null for anything that is not a decodable image (see
 * `classifyFile` for the reason). Never throws.
 */
export function sniffFile(file: string): ImageFormat | null {
  const v = classifyFile(file);
  return 'image' in v ? v.image : null;
}

/** The reason part of `ioError`'s wording ("permission denied (EACCES)"), without action and file. */
export function ioReason(e: unknown): string {
  const prefix = 'cannot x : ';
  return ioError('x', '', e).message.slice(prefix.length);
}

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/** stat following links; undefined when the target does not exist or cannot be reached. */
function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function readNames(dir: string, what: string): string[] {
  try {
    return fs.readdirSync(dir).sort(compareNames);
  } catch (e) {
    throw ioError(`read ${what}`, dir, e);
  }
}

/**
 * Class folders of a dataset root: visible subdirectories (symbolic links followed), sorted by
 * `compareNames`.
 * @throws EdgeTuneError NOT_FOUND when `dir` is missing; BAD_DATASET when it is not a folder; IO when unreadable.
 */
export function listClassFolders(dir: string): string[] {
  const st = statOrUndefined(dir);
  if (!st) {
    throw fail(fs.existsSync(dir) || isLink(dir) ? 'BAD_DATASET' : 'NOT_FOUND', `dataset ${dir} does not exist; create it with one subfolder per class (DIR/<label>/<image>)`);
  }
  if (!st.isDirectory()) throw fail('BAD_DATASET', `dataset ${dir} is not a folder; expected DIR/<label>/<image>`);
  return readNames(dir, 'dataset folder').filter((name) => !isHidden(name) && statOrUndefined(path.join(dir, name))?.isDirectory());
}

/** Images found under one folder, recursively, and everything skipped on the way. */
export interface FolderWalk {
  /** Absolute paths of the image files, sorted by `compareNames` on the whole path. */
  images: string[];
  ignored: IgnoredFile[];
}

/**
 * Every image file under `folder`, recursively (photos sorted into subfolders of a class belong to
 * it), found by content sniffing. Symbolic links are followed; a link back into a folder being
 * walked is reported as a loop, a second way into an already walked folder as already included.
 * Hidden entries are skipped but reported, like every other file that is not an image.
 *
 * @param folder the folder to walk. @param seen realpaths of folders already walked elsewhere (shared across classes).
 * @returns images and ignored entries (absolute paths).
 */
export function walkImages(folder: string, seen: Map<string, string> = new Map()): FolderWalk {
  const images: string[] = [];
  const ignored: IgnoredFile[] = [];
  const skip = (p: string, kind: SkipKind, reason: string) => ignored.push({ path: path.resolve(p), reason, kind });
  const walk = (dir: string, ancestors: Set<string>) => {
    let names: string[];
    try {
      names = readNames(dir, 'folder');
    } catch (e) {
      skip(dir, 'unreadable', `cannot read the folder: ${ioReason((e as EdgeTuneError).cause ?? e)}`);
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      if (isHidden(name)) {
        skip(p, 'hidden', 'hidden (its name starts with a dot); rename it without the dot to use it');
        continue;
      }
      const st = statOrUndefined(p);
      if (!st) {
        if (isLink(p)) skip(p, 'broken-link', 'a symbolic link whose target does not exist');
        else skip(p, 'unreadable', 'cannot read it (it vanished or its folder is not searchable)');
        continue;
      }
      if (st.isDirectory()) {
        let real: string;
        try {
          real = fs.realpathSync(p);
        } catch (e) {
          skip(p, 'unreadable', `cannot read it: ${ioReason(e)}`);
          continue;
        }
        if (ancestors.has(real)) {
          skip(p, 'symlink-loop', 'a symbolic link to a folder that contains it (a loop); remove the link');
          continue;
        }
        const first = seen.get(real);
        if (first !== undefined) {
          skip(p, 'already-included', `the same folder as ${first} (through a symbolic link); its photos are used once`);
          continue;
        }
        seen.set(real, p);
        walk(p, new Set([...ancestors, real]));
        continue;
      }
      const v = classifyFile(p);
      if ('image' in v) images.push(path.resolve(p));
      else skip(p, v.kind, v.reason);
    }
  };
  let rootReal: string;
  try {
    rootReal = fs.realpathSync(folder);
  } catch (e) {
    skip(folder, 'unreadable', `cannot read the folder: ${ioReason(e)}`);
    return { images, ignored };
  }
  const first = seen.get(rootReal);
  if (first !== undefined && first !== folder) {
    skip(folder, 'already-included', `the same folder as ${first} (through a symbolic link); its photos are used once`);
    return { images, ignored };
  }
  seen.set(rootReal, folder);
  walk(folder, new Set([rootReal]));
  images.sort(compareNames);
  return { images, ignored };
}

/**
 * Image files under `folder`, recursively, as paths relative to it (see `walkImages`), sorted.
 * Everything else is skipped; use `walkImages` to learn why.
 */
export function listImageFiles(folder: string): string[] {
  return walkImages(folder).images.map((p) => path.relative(path.resolve(folder), p));
}

/**
 * Check class folder names: each a valid label, and no two equal after Unicode NFC.
 * @param where "dataset X" or "import source X", for the message.
 * @throws EdgeTuneError BAD_LABEL (one line) naming the folder and what to rename.
 */
export function checkClassFolders(labels: readonly string[], where: string): void {
  for (const label of labels) {
    try {
      validateLabel(label);
    } catch (e) {
      throw new EdgeTuneError('BAD_LABEL', `${where}: class folder ${(e as Error).message.replace(/^invalid class /, '')}; rename the folder`, { cause: e });
    }
  }
  const clash = normalisationClashes(labels);
  if (clash.length) {
    throw new EdgeTuneError('BAD_LABEL', `${where}: class folders ${describeClash(clash[0])} differ only in Unicode normalisation (e.g. copied from macOS); merge them into one folder`);
  }
}

/**
 * Read a folder-per-class dataset `DIR/<label>/…/<image>`.
 *
 * Labels are the visible subfolder names, sorted by UTF-16 code units (locale-independent), each
 * checked with `validateLabel`, and no two may be equal after Unicode NFC; labelIndex is the
 * position in that list. A class's samples are all image files under its folder, recursively
 * (`5/more/x.jpg` belongs to class '5'), recognised by their first bytes (`sniffImage`), not by
 * extension; they are ordered by label, then path. Everything else is listed in `ignored` with
 * its reason (see `Dataset.ignored`), including files at the top level.
 *
 * @param dir dataset root (relative paths resolve against the working directory).
 * @param opts minClasses (default 2, for training) and minImagesPerClass (default 2): `eval` scans
 *   with 1 and 1, since scoring a model on photos of one class is legitimate.
 * @returns `Dataset` with absolute paths.
 * @throws EdgeTuneError (one line): NOT_FOUND when the folder is missing; BAD_LABEL for a folder
 *   name that is not a valid label or two names equal after NFC; BAD_DATASET when there are fewer
 *   than `minClasses` classes or any class has fewer than `minImagesPerClass` images (all such
 *   classes are listed).
 */
export function scanDataset(dir: string, opts: { minClasses?: number; minImagesPerClass?: number } = {}): Dataset {
  const minClasses = opts.minClasses ?? 2;
  const minImages = opts.minImagesPerClass ?? 2;
  const root = path.resolve(dir);
  const labels = listClassFolders(root);
  checkClassFolders(labels, `dataset ${dir}`);
  if (labels.length < minClasses) {
    const list = labels.length === 0 ? 'none' : labels.map((l) => showLabel(l)).join(', ');
    throw fail('BAD_DATASET', `dataset ${dir} has ${labels.length} class${labels.length === 1 ? '' : 'es'} (${list}); need at least ${minClasses} — add a folder per class`);
  }
  const samples: Sample[] = [];
  const ignored: IgnoredFile[] = [];
  const classSet = new Set(labels);
  for (const name of readNames(root, 'dataset folder')) {
    if (classSet.has(name)) continue;
    const p = path.join(root, name);
    if (isHidden(name)) ignored.push({ path: p, kind: 'hidden', reason: 'hidden (its name starts with a dot); rename it without the dot to use it' });
    else if (!statOrUndefined(p)) ignored.push({ path: p, kind: isLink(p) ? 'broken-link' : 'unreadable', reason: isLink(p) ? 'a symbolic link whose target does not exist' : 'cannot read it' });
    else ignored.push({ path: p, kind: 'outside-class', reason: 'a file at the top level, outside any class folder; move it into DIR/<label>/ to use it' });
  }
  const tooSmall: string[] = [];
  const seen = new Map<string, string>();
  labels.forEach((label, labelIndex) => {
    const walked = walkImages(path.join(root, label), seen);
    ignored.push(...walked.ignored);
    if (walked.images.length < minImages) tooSmall.push(`'${showLabel(label)}' has ${walked.images.length} image${walked.images.length === 1 ? '' : 's'}`);
    for (const p of walked.images) samples.push({ path: p, label, labelIndex });
  });
  if (tooSmall.length > 0) {
    throw fail('BAD_DATASET', `dataset ${dir}: class ${tooSmall.join(', class ')}; need at least ${minImages} image${minImages === 1 ? '' : 's'} per class — add images or remove the folder`);
  }
  return { root, labels, samples, ignored };
}

/** How each skip kind is summed up in one line ("860 duplicates of files already in the dataset"). */
const KIND_SUMMARY: Record<SkipKind, [string, string]> = {
  'hidden': ['hidden file or folder', 'hidden files or folders'],
  'not-image': ['file that is not an image', 'files that are not images'],
  'unsupported-format': ['image in a format EdgeTune does not read', 'images in formats EdgeTune does not read'],
  'outside-class': ['file outside any class folder', 'files outside any class folder'],
  'symlink-loop': ['symbolic link loop', 'symbolic link loops'],
  'already-included': ['folder reached twice through a symbolic link', 'folders reached twice through symbolic links'],
  'broken-link': ['broken symbolic link', 'broken symbolic links'],
  'unreadable': ['unreadable file or folder', 'unreadable files or folders'],
  'special-file': ['special file (pipe, socket, device or folder)', 'special files (pipes, sockets, devices or folders)'],
  'bad-image': ['image that cannot be decoded', 'images that cannot be decoded'],
  'too-small': ['image too small to be a photo', 'images too small to be photos'],
  'duplicate': ['duplicate of a file already in the dataset (same SHA-256)', 'duplicates of files already in the dataset (same SHA-256)'],
};

/** One group of skipped entries of the same kind. */
export interface SkipGroup {
  kind: SkipKind;
  count: number;
  /** One line, e.g. "860 duplicates of files already in the dataset (same SHA-256)". */
  summary: string;
  /** The entries' paths, in input order. */
  paths: string[];
}

/**
 * Group skipped entries by kind for a summary instead of one line per file (the per-file reasons
 * are for `--verbose`). Groups are in a fixed kind order (as listed in `SkipKind`).
 * @param items entries with `kind` and `path` (or `file`, as import's skipped list has).
 */
export function summarizeSkips(items: readonly ({ kind: SkipKind } & ({ path: string } | { file: string }))[]): SkipGroup[] {
  const groups = new Map<SkipKind, string[]>();
  for (const it of items) {
    const p = 'path' in it ? it.path : it.file;
    const g = groups.get(it.kind);
    if (g) g.push(p);
    else groups.set(it.kind, [p]);
  }
  return (Object.keys(KIND_SUMMARY) as SkipKind[])
    .filter((k) => groups.has(k))
    .map((kind) => {
      const paths = groups.get(kind)!;
      const [one, many] = KIND_SUMMARY[kind];
      return { kind, count: paths.length, summary: `${paths.length} ${paths.length === 1 ? one : many}`, paths };
    });
}
