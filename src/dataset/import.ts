import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { EdgeTuneError, fail, ioError } from '../errors';
import { preprocessImage, tooSmallReason } from '../image/input';
import { SUPPORTED_FORMATS } from '../image/format';
import { DEFAULT_MAX_DISTANCE, hamming, perceptualHash } from './duplicates';
import { describeClash, normalisationClashes, validateLabel } from './label';
import { checkClassFolders, compareNames, listClassFolders, summarizeSkips, walkImages, type IgnoredFile, type SkipGroup, type SkipKind } from './scan';

/** One copied image: source path, destination path (inside the dataset), class label. */
export interface ImportedFile {
  source: string;
  dest: string;
  label: string;
}

/** A source entry that was not copied, with a one-line reason and its kind (for summaries). */
export interface SkippedFile {
  file: string;
  reason: string;
  kind: SkipKind;
}

/** A copied photo that is already in the dataset under ANOTHER class: a likely labelling mistake. */
export interface ImportConflict {
  /** The source file (it was copied into `label`). */
  source: string;
  label: string;
  /** The photo already in the dataset, and its class. */
  existing: string;
  existingLabel: string;
  /** 'identical': same SHA-256; 'near-duplicate': perceptual hashes within the threshold. */
  match: 'identical' | 'near-duplicate';
  /** Hamming distance of the perceptual hashes (0 for identical bytes). */
  distance: number;
}

/** Result of `importImages`. */
export interface ImportResult {
  copied: ImportedFile[];
  /** Every source entry not copied, in source order. */
  skipped: SkippedFile[];
  /** `skipped` grouped by kind, for a summary ("860 duplicates of files already in the dataset (same SHA-256)"). */
  skippedGroups: SkipGroup[];
  /** Copied photos already present in another class (same bytes or near-duplicate). */
  conflicts: ImportConflict[];
}

/** Options of `importImages`. */
export interface ImportOptions {
  /** Put every image of the source folder (recursively) into this class. */
  label?: string;
  /**
   * Also look for near-duplicates of each photo in the dataset's other classes (perceptual hash,
   * decodes every photo once; default true). Off: only byte-identical copies are found.
   */
  nearDuplicates?: boolean;
  /** Hamming distance threshold for near-duplicates (default `DEFAULT_MAX_DISTANCE`). */
  maxDistance?: number;
}

/** Side of the square the perceptual hash is computed from at import (pixels): the default base's input. */
const HASH_SIZE = 224;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A photo already in the dataset: where, which class, its SHA-256 and (lazily) its perceptual hash. */
interface Existing {
  file: string;
  label: string;
  sha: string;
  hash?: bigint | null;
}

/** Every image already in the dataset, per class (recursive, like `scanDataset`); unreadable ones are left out. */
async function existingPhotos(datasetDir: string): Promise<Existing[]> {
  if (!fs.existsSync(datasetDir)) return [];
  const out: Existing[] = [];
  for (const label of listClassFolders(datasetDir)) {
    for (const file of walkImages(path.join(datasetDir, label)).images) {
      try {
        out.push({ file, label, sha: sha256(await fsp.readFile(file)) });
      } catch {
        // unreadable existing file: cannot be matched; scanning reports it
      }
    }
  }
  return out;
}

async function hashOf(source: string | Uint8Array): Promise<bigint | null> {
  try {
    return perceptualHash((await preprocessImage(source, HASH_SIZE)).pixels, HASH_SIZE);
  } catch {
    return null;
  }
}

/** `name`, or `stem_1.ext`, `stem_2.ext` ... : the i-th candidate destination name. */
function candidateName(name: string, i: number): string {
  if (i === 0) return name;
  const ext = path.extname(name);
  return `${name.slice(0, name.length - ext.length)}_${i}${ext}`;
}

/**
 * Write `bytes` to a new file in `dir` named `name` or, when taken, `stem_N.ext`; never replaces an
 * existing file. Atomic: data goes to a hidden temp file (fsynced), which is then hard-linked to
 * the final name (link fails with EEXIST instead of overwriting) and removed. On filesystems
 * without hard links (FAT/exFAT SD cards) it falls back to check-then-rename.
 * @returns the final path.
 * @throws EdgeTuneError IO/CONFLICT (`ioError`) naming the file when it cannot be written.
 */
async function writeNewFile(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  try {
    return await writeNewFileRaw(dir, name, bytes);
  } catch (e) {
    throw ioError('write', path.join(dir, name), e);
  }
}

async function writeNewFileRaw(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    for (let i = 0; ; i++) {
      const dest = path.join(dir, candidateName(name, i));
      try {
        await fsp.link(tmp, dest);
        return dest;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw e;
        if (fs.existsSync(dest)) continue;
        await fsp.rename(tmp, dest);
        return dest;
      }
    }
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/**
 * Copy images into a folder-per-class dataset (`datasetDir/<label>/<file>`); sources are never
 * moved or modified.
 *
 * - With `label`: every image under `src`, recursively, goes to class `label`.
 * - Without `label`: `src` is a folder-per-class tree; each visible subfolder is a class and every
 *   image under it, recursively, is copied (files at the top level are reported as skipped).
 * Subfolders are kept: `src/mug/2024/a.jpg` becomes `datasetDir/mug/2024/a.jpg` (scanning reads
 * class folders recursively). Images are recognised by content (`sniffImage`), not extension;
 * hidden entries, non-images and unsupported formats are skipped and reported (`skipped`, and
 * grouped in `skippedGroups`). A file whose SHA-256 already exists in the destination class
 * (including one copied earlier in this call) is skipped as a duplicate. A photo already present
 * in ANOTHER class (same SHA-256, or a near-duplicate by perceptual hash) is copied and reported
 * in `conflicts`. With near-duplicate checking on, a photo that cannot be decoded or is below
 * `MIN_IMAGE_SIDE` is skipped and reported. Name collisions get `_1`, `_2` ... before the
 * extension; existing files are never overwritten. Each copy is written atomically (temp name +
 * hard link/rename).
 *
 * @param src source folder. @param datasetDir dataset root, created when missing.
 * @returns copied, skipped (source order: labels, then paths, by code units), skippedGroups, conflicts.
 * @throws EdgeTuneError before copying anything: NOT_FOUND (src missing), BAD_DATASET (src not a
 *   folder, dataset inside src or not a folder, src with no class folders or no images at all),
 *   BAD_LABEL (an invalid label, or one equal after NFC to another class); IO (one line, never a
 *   raw system error) when the dataset cannot be written.
 */
export async function importImages(src: string, datasetDir: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const srcStat = await fsp.stat(src).catch(() => undefined);
  if (!srcStat) throw fail('NOT_FOUND', `import source ${src} does not exist`);
  if (!srcStat.isDirectory()) throw fail('BAD_DATASET', `import source ${src} is not a folder; put the images in a folder`);
  const [s, d] = [path.resolve(src), path.resolve(datasetDir)];
  if (d === s || d.startsWith(s + path.sep)) {
    throw fail('BAD_DATASET', `dataset ${datasetDir} is inside the import source ${src}: the copies would be imported again; choose a dataset folder outside it`);
  }
  const destStat = await fsp.stat(datasetDir).catch(() => undefined);
  if (destStat && !destStat.isDirectory()) throw fail('BAD_DATASET', `dataset ${datasetDir} is a file, not a folder; choose a folder for the dataset`);
  const existingLabels = destStat ? listClassFolders(datasetDir) : [];

  const skipped: SkippedFile[] = [];
  const plan: { file: string; label: string; rel: string }[] = [];
  const seen = new Map<string, string>();
  const take = (folder: string, label: string) => {
    const walked = walkImages(folder, seen);
    for (const i of walked.ignored) skipped.push(toSkipped(i));
    for (const file of walked.images) plan.push({ file, label, rel: path.relative(path.resolve(folder), file) });
  };
  let labels: string[];
  if (opts.label !== undefined) {
    validateLabel(opts.label);
    labels = [opts.label];
    take(src, opts.label);
  } else {
    labels = listClassFolders(src);
    if (labels.length === 0) {
      throw fail('BAD_DATASET', `import source ${src} has no class folders; put images in ${src}/<label>/ or pass a label (--label L) to import a flat folder`);
    }
    checkClassFolders(labels, `import source ${src}`);
    for (const name of fs.readdirSync(src).sort(compareNames)) {
      if (labels.includes(name)) continue;
      const p = path.resolve(src, name);
      if (name.startsWith('.')) skipped.push({ file: p, kind: 'hidden', reason: 'hidden (its name starts with a dot); rename it without the dot to use it' });
      else skipped.push({ file: p, kind: 'outside-class', reason: 'not inside a class folder; pass a label (--label L) to import a flat folder' });
    }
    for (const label of labels) take(path.join(src, label), label);
  }
  for (const label of labels) {
    const clash = normalisationClashes([label, ...existingLabels.filter((l) => l !== label)]).find((g) => g.includes(label));
    if (clash) {
      const other = clash.find((l) => l !== label)!;
      throw fail('BAD_LABEL', `class ${describeClash([label, other])} differ only in Unicode normalisation; import into the existing class folder under its exact name (--label) or rename one of them`);
    }
  }
  if (plan.length === 0) {
    const found = summarizeSkips(skipped).map((g) => g.summary).join(', ');
    throw fail('BAD_DATASET', `import source ${src} has no images${found ? ` (found ${found})` : ''}; supported: ${SUPPORTED_FORMATS}`);
  }

  const nearDuplicates = opts.nearDuplicates ?? true;
  const maxDistance = opts.maxDistance ?? DEFAULT_MAX_DISTANCE;
  const existing = await existingPhotos(datasetDir);
  const bySha = new Map<string, Existing[]>();
  const remember = (x: Existing) => {
    const list = bySha.get(x.sha);
    if (list) list.push(x);
    else bySha.set(x.sha, [x]);
  };
  existing.forEach(remember);
  const copied: ImportedFile[] = [];
  const conflicts: ImportConflict[] = [];
  for (const { file, label, rel } of plan) {
    let bytes: Uint8Array;
    try {
      bytes = await fsp.readFile(file);
    } catch (e) {
      skipped.push({ file, kind: 'unreadable', reason: ioError('read', file, e).message });
      continue;
    }
    const digest = sha256(bytes);
    const same = bySha.get(digest)?.find((x) => x.label === label);
    if (same) {
      skipped.push({ file, kind: 'duplicate', reason: `duplicate of ${path.relative(datasetDir, same.file)} (same SHA-256)` });
      continue;
    }
    let hash: bigint | null = null;
    if (nearDuplicates) {
      try {
        const pre = await preprocessImage(bytes, HASH_SIZE);
        const small = tooSmallReason(pre.width, pre.height);
        if (small) {
          skipped.push({ file, kind: 'too-small', reason: small });
          continue;
        }
        hash = perceptualHash(pre.pixels, HASH_SIZE);
      } catch (e) {
        if (!(e instanceof EdgeTuneError) || e.code !== 'BAD_IMAGE') throw e;
        skipped.push({ file, kind: 'bad-image', reason: e.message.replace(/^cannot read image <\d+-byte buffer>: /, '') });
        continue;
      }
    }
    const conflict = await findConflict(existing, bySha.get(digest) ?? [], label, hash, maxDistance);
    const classDir = path.join(datasetDir, label);
    const destDir = path.join(classDir, path.dirname(rel));
    try {
      await fsp.mkdir(destDir, { recursive: true });
    } catch (e) {
      throw ioError('create folder', destDir, e);
    }
    const dest = await writeNewFile(destDir, path.basename(rel), bytes);
    const added: Existing = { file: dest, label, sha: digest, hash };
    existing.push(added);
    remember(added);
    copied.push({ source: file, dest, label });
    if (conflict) conflicts.push({ source: file, label, existing: conflict.x.file, existingLabel: conflict.x.label, match: conflict.distance === 0 && conflict.x.sha === digest ? 'identical' : 'near-duplicate', distance: conflict.distance });
  }
  return { copied, skipped, skippedGroups: summarizeSkips(skipped), conflicts };
}

/** The closest photo of another class: identical bytes first, else the nearest perceptual hash within maxDistance. */
async function findConflict(
  existing: Existing[], sameBytes: Existing[], label: string, hash: bigint | null, maxDistance: number,
): Promise<{ x: Existing; distance: number } | undefined> {
  const identical = sameBytes.find((x) => x.label !== label);
  if (identical) return { x: identical, distance: 0 };
  if (hash === null) return undefined;
  let best: { x: Existing; distance: number } | undefined;
  for (const x of existing) {
    if (x.label === label) continue;
    if (x.hash === undefined) x.hash = await hashOf(x.file);
    if (x.hash === null) continue;
    const d = hamming(hash, x.hash);
    if (d <= maxDistance && (!best || d < best.distance)) best = { x, distance: d };
  }
  return best;
}

function toSkipped(i: IgnoredFile): SkippedFile {
  return { file: i.path, reason: i.reason, kind: i.kind };
}
