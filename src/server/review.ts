/**
 * Active learning: camera frames the active model was unsure about (top score below a threshold)
 * are kept in `DIR/review/` as `<id>.jpg` + `<id>.json`, at most MAX_REVIEW, to be labelled with
 * one tap (moved into a class) or discarded.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail, ioError } from '../errors';
import { addSample, type DataPaths, type SampleInfo } from './store';

/** Most frames kept for review; the oldest go first. */
export const MAX_REVIEW = 100;

/** One frame waiting for a label. */
export interface ReviewItem {
  id: string;
  /** What the model said, best first. */
  predictions: { label: string; score: number }[];
  modelId: string;
  /** When it was seen, ms since the epoch. */
  time: number;
}

const ID_RE = /^r[0-9a-z]{6,20}$/;

function itemPaths(p: DataPaths, id: string): { jpg: string; json: string } {
  if (!ID_RE.test(id)) throw fail('NOT_FOUND', `review item '${id.slice(0, 40)}' does not exist: list them with GET /api/review`);
  return { jpg: path.join(p.review, `${id}.jpg`), json: path.join(p.review, `${id}.json`) };
}

/** Items, newest first (unreadable ones are skipped). */
export function listReview(p: DataPaths): ReviewItem[] {
  const out: ReviewItem[] = [];
  for (const f of fs.readdirSync(p.review)) {
    const m = /^(r[0-9a-z]+)\.json$/.exec(f);
    if (!m || !fs.existsSync(path.join(p.review, `${m[1]}.jpg`))) continue;
    try {
      out.push({ id: m[1], ...JSON.parse(fs.readFileSync(path.join(p.review, f), 'utf8')) });
    } catch {
      // a half-written item of a crash: its .json was never renamed into place, so this is rare
    }
  }
  return out.sort((a, b) => b.time - a.time);
}

/**
 * Keeps a frame for review (JPEG bytes), dropping the oldest beyond MAX_REVIEW. The image is
 * written before its record, each by temp file + rename, so a listed item always has its image.
 */
export function addReview(p: DataPaths, jpeg: Uint8Array, item: Omit<ReviewItem, 'id'>): ReviewItem {
  const id = `r${item.time.toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  const { jpg, json } = itemPaths(p, id);
  const write = (file: string, data: string | Uint8Array) => {
    const tmp = path.join(p.tmp, `${path.basename(file)}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  };
  try {
    write(jpg, jpeg);
    write(json, JSON.stringify(item));
  } catch (e) {
    throw ioError('keep the frame for review', jpg, e);
  }
  const items = listReview(p);
  for (const old of items.slice(MAX_REVIEW)) removeReview(p, old.id);
  return { id, ...item };
}

/** The JPEG of an item. @throws EdgeTuneError NOT_FOUND. */
export function reviewImage(p: DataPaths, id: string): string {
  const { jpg } = itemPaths(p, id);
  if (!fs.existsSync(jpg)) throw fail('NOT_FOUND', `review item '${id}' does not exist: list them with GET /api/review`);
  return jpg;
}

/** Discards an item. @throws EdgeTuneError NOT_FOUND. */
export function removeReview(p: DataPaths, id: string): void {
  const { jpg, json } = itemPaths(p, id);
  if (!fs.existsSync(json) && !fs.existsSync(jpg)) throw fail('NOT_FOUND', `review item '${id}' does not exist: list them with GET /api/review`);
  fs.rmSync(json, { force: true });
  fs.rmSync(jpg, { force: true });
}

/** Labels an item: its frame becomes a sample of `label` and the item goes. @throws EdgeTuneError NOT_FOUND (item or class). */
export function labelReview(p: DataPaths, id: string, label: string): SampleInfo {
  const jpg = reviewImage(p, id);
  const sample = addSample(p, label, fs.readFileSync(jpg), 'jpeg');
  removeReview(p, id);
  return sample;
}
