import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { detectFormat, unknownFormatReason } from '../image/format';
import { validateLabel } from './label';
import { compareNames, listClassFolders } from './scan';

/** One copied image: source path, destination path (inside the dataset), class label. */
export interface ImportedFile {
  source: string;
  dest: string;
  label: string;
}

/** A source entry that was not copied, with a one-line reason. */
export interface SkippedFile {
  file: string;
  reason: string;
}

/** Result of `importImages`. */
export interface ImportResult {
  copied: ImportedFile[];
  skipped: SkippedFile[];
}

/** Options of `importImages`: label = put every image of the flat source folder into this class. */
export interface ImportOptions {
  label?: string;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function isDir(p: string): Promise<boolean> {
  return fsp.stat(p).then((s) => s.isDirectory(), () => false);
}

/** Visible entries of a folder, split into files and folders, each sorted by `compareNames`. */
async function entries(dir: string): Promise<{ files: string[]; dirs: string[] }> {
  const names = (await fsp.readdir(dir)).filter((n) => !n.startsWith('.')).sort(compareNames);
  const files: string[] = [];
  const dirs: string[] = [];
  for (const n of names) ((await isDir(path.join(dir, n))) ? dirs : files).push(n);
  return { files, dirs };
}

/** SHA-256 → file name of every visible regular file already in a class folder. */
async function existingHashes(classDir: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  if (!fs.existsSync(classDir)) return map;
  for (const name of (await entries(classDir)).files) {
    try {
      map.set(sha256(await fsp.readFile(path.join(classDir, name))), name);
    } catch {
      // unreadable existing file: it cannot be a duplicate we could detect; ignore it
    }
  }
  return map;
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
 */
async function writeNewFile(dir: string, name: string, bytes: Uint8Array): Promise<string> {
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
 * - With `label`: `src` is a flat folder; every image directly inside goes to class `label`
 *   (subfolders are reported as skipped).
 * - Without `label`: `src` is a folder-per-class tree; each visible subfolder is a class and the
 *   images directly inside it are copied (top-level files are reported as skipped).
 * Images are recognised by content (`detectFormat`), not extension; hidden entries (.DS_Store)
 * are ignored silently, other non-images are reported as skipped. A file whose SHA-256 already
 * exists in the destination class (including one copied earlier in this call) is skipped. Name
 * collisions get `_1`, `_2` ... before the extension; existing files are never overwritten.
 * Each copy is written atomically (temp name + hard link/rename).
 *
 * @param src source folder. @param datasetDir dataset root, created when missing.
 * @returns `{ copied, skipped }` in source order (labels, then file names, by code units).
 * @throws Error (before copying anything) when src is missing or not a folder, a label is invalid
 *   (`validateLabel`), or in tree mode src has no class folders.
 */
export async function importImages(src: string, datasetDir: string, opts: ImportOptions = {}): Promise<ImportResult> {
  if (!fs.existsSync(src)) throw new Error(`import source ${src} does not exist`);
  if (!(await isDir(src))) throw new Error(`import source ${src} is not a folder; put the images in a folder`);
  const [s, d] = [path.resolve(src), path.resolve(datasetDir)];
  if (d === s || d.startsWith(s + path.sep)) {
    throw new Error(`dataset ${datasetDir} is inside the import source ${src}: the copies would be imported again; choose a dataset folder outside it`);
  }
  const skipped: SkippedFile[] = [];
  const plan: { file: string; label: string }[] = [];
  if (opts.label !== undefined) {
    validateLabel(opts.label);
    const { files, dirs } = await entries(src);
    for (const d of dirs) {
      skipped.push({ file: path.join(src, d), reason: 'is a folder; with a label only images directly inside the source are imported' });
    }
    for (const f of files) plan.push({ file: path.join(src, f), label: opts.label });
  } else {
    const labels = listClassFolders(src);
    if (labels.length === 0) {
      throw new Error(`import source ${src} has no class folders; put images in ${src}/<label>/ or pass a label (--label L) to import a flat folder`);
    }
    for (const l of labels) {
      try {
        validateLabel(l);
      } catch (e) {
        throw new Error(`import source ${src}: folder ${(e as Error).message.replace(/^invalid class /, '')}; rename the folder`);
      }
    }
    for (const f of (await entries(src)).files) {
      skipped.push({ file: path.join(src, f), reason: 'not inside a class folder; pass a label (--label L) to import a flat folder' });
    }
    for (const label of labels) {
      const { files, dirs } = await entries(path.join(src, label));
      for (const d of dirs) {
        skipped.push({ file: path.join(src, label, d), reason: 'is a folder; only images directly inside a class folder are imported' });
      }
      for (const f of files) plan.push({ file: path.join(src, label, f), label });
    }
  }

  const copied: ImportedFile[] = [];
  const hashesByLabel = new Map<string, Map<string, string>>();
  for (const { file, label } of plan) {
    let bytes: Uint8Array;
    try {
      bytes = await fsp.readFile(file);
    } catch (e) {
      skipped.push({ file, reason: `cannot read: ${(e as Error).message}` });
      continue;
    }
    if (detectFormat(bytes) === null) {
      skipped.push({ file, reason: `not an image: ${unknownFormatReason(bytes)}` });
      continue;
    }
    const classDir = path.join(datasetDir, label);
    let hashes = hashesByLabel.get(label);
    if (!hashes) {
      hashes = await existingHashes(classDir);
      hashesByLabel.set(label, hashes);
    }
    const digest = sha256(bytes);
    const existing = hashes.get(digest);
    if (existing !== undefined) {
      skipped.push({ file, reason: `duplicate of ${path.join(label, existing)} (same SHA-256)` });
      continue;
    }
    await fsp.mkdir(classDir, { recursive: true });
    const dest = await writeNewFile(classDir, path.basename(file), bytes);
    hashes.set(digest, path.basename(dest));
    copied.push({ source: file, dest, label });
  }
  return { copied, skipped };
}
