/**
 * Model versions of a data folder: `versions/v1`, `versions/v2`, … (each a model folder written
 * atomically by `train`) and `versions/current`, a symbolic link to the active one. Activation
 * makes a new link under a temporary name and renames it over `current` (rename(2) replaces the
 * old link atomically), so after a crash `current` names the old version or the new one, never
 * neither. No `current` means the stock ImageNet classifier.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMetadata, type ModelMetadata } from '../artifact';
import { fail, ioError } from '../errors';
import type { DataPaths } from './store';

/** The id of the stock ImageNet classifier (no trained version active). */
export const STOCK_ID = 'stock';

/** Files of a version a client may download, by name. */
export const VERSION_FILES = [
  'model.tflite', 'model_edgetpu.tflite', 'labels.txt', 'metadata.json',
  'curves.png', 'curves.svg', 'confusion.png', 'confusion.svg',
] as const;

/** One model version. */
export interface VersionInfo {
  id: string;
  dir: string;
  metadata: ModelMetadata;
  /** Names from VERSION_FILES present in the folder. */
  files: string[];
}

const VERSION_RE = /^v(\d{1,9})$/;

/** The pointer's path. */
function currentLink(p: DataPaths): string {
  return path.join(p.versions, 'current');
}

/**
 * Every complete version, newest (highest number) first. Folders whose metadata.json cannot be
 * read are left out and reported through `warn` (one line each).
 */
export function listVersions(p: DataPaths, warn: (line: string) => void = () => undefined): VersionInfo[] {
  const out: VersionInfo[] = [];
  for (const name of fs.readdirSync(p.versions)) {
    if (!VERSION_RE.test(name)) continue;
    const dir = path.join(p.versions, name);
    try {
      const metadata = readMetadata(dir);
      if (!fs.existsSync(path.join(dir, 'model.tflite'))) throw new Error('model.tflite is missing');
      out.push({ id: name, dir, metadata, files: VERSION_FILES.filter((f) => fs.existsSync(path.join(dir, f))) });
    } catch (e) {
      warn(`model version ${dir} is unusable and left out: ${(e as Error).message}`);
    }
  }
  return out.sort((a, b) => Number(b.id.slice(1)) - Number(a.id.slice(1)));
}

/**
 * The version `current` points to, or STOCK_ID when there is none or it points to something that is
 * not a listed version (then `warn` says so).
 */
export function activeVersionId(p: DataPaths, warn: (line: string) => void = () => undefined): string {
  let target: string;
  try {
    target = fs.readlinkSync(currentLink(p));
  } catch {
    return STOCK_ID;
  }
  const id = path.basename(target);
  if (!VERSION_RE.test(id) || !listVersions(p).some((v) => v.id === id)) {
    warn(`${currentLink(p)} points to ${target}, which is not a usable model version: serving the stock classifier`);
    return STOCK_ID;
  }
  return id;
}

/**
 * Makes `id` the active version (STOCK_ID: the stock classifier) by an atomic rename of a new link.
 * @throws EdgeTuneError NOT_FOUND for an unknown id; IO.
 */
export function setActiveVersion(p: DataPaths, id: string): void {
  const link = currentLink(p);
  if (id === STOCK_ID) {
    fs.rmSync(link, { force: true });
    return;
  }
  findVersion(p, id);
  const tmp = path.join(p.versions, `.current-${process.pid}-${Date.now()}`);
  try {
    fs.symlinkSync(id, tmp); // relative: the data folder can move
    fs.renameSync(tmp, link);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw ioError('switch the active model version', link, e);
  }
}

/** @throws EdgeTuneError NOT_FOUND naming the id and the versions there are. */
export function findVersion(p: DataPaths, id: string): VersionInfo {
  const v = VERSION_RE.test(id) ? listVersions(p).find((x) => x.id === id) : undefined;
  if (!v) {
    const ids = listVersions(p).map((x) => x.id);
    throw fail('NOT_FOUND', `model version '${id.slice(0, 40)}' does not exist: use one of ${[...ids, STOCK_ID].join(', ')}`);
  }
  return v;
}

/** The id the next training writes: one more than the highest number used so far (v1 first). */
export function nextVersionId(p: DataPaths): string {
  let max = 0;
  for (const name of fs.readdirSync(p.versions)) {
    const m = /^\.?v(\d{1,9})(?:$|\.)/.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `v${max + 1}`;
}

/** Removes what a crash can leave: temporary model folders (`.vN.tmp-*`) and pointer links (`.current-*`). */
export function cleanVersions(p: DataPaths): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(p.versions)) {
    if (/^\.v\d+\.tmp-/.test(name) || name.startsWith('.current-')) {
      fs.rmSync(path.join(p.versions, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}
