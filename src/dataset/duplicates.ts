import { fail } from '../errors';

/**
 * Near-duplicate photos: a 64-bit difference hash (dHash) per photo and grouping by Hamming
 * distance. A photo and its re-encoded or resized copy must land on the same side of a split
 * (else validation measures memory, not generalisation), and the same photo in two classes is a
 * labelling conflict.
 */

/** Grid of the dHash: 9 columns × 8 rows of mean luma; each row gives 8 left/right comparisons = 64 bits. */
const COLS = 9;
const ROWS = 8;

/**
 * Default largest Hamming distance (bits of 64) at which two photos count as near-duplicates.
 * Measured on ../shared/datasets (test/data/duplicates.test.ts, base input 224 px, centre crop):
 * see `NEAR_DUPLICATE_MEASUREMENT`.
 */
export const DEFAULT_MAX_DISTANCE = 10;

/**
 * 64-bit difference hash (dHash, after Neal Krawetz, "Kind of like that", 2013) of a square RGB
 * image, computed from already decoded pixels (the preprocessed base input), so no photo is
 * decoded twice.
 *
 * Steps: luma Y = (299 R + 587 G + 114 B) / 1000 (ITU-R BT.601); mean luma over a 9×8 grid of
 * boxes (box edges at floor(i·size/9) and floor(j·size/8), so every pixel counts once); bit
 * (row r, column c) = 1 when box (c, r) is darker than box (c+1, r). Bits are packed row by row,
 * row 0 column 0 in the most significant bit. Comparing neighbours makes the hash insensitive to
 * brightness, contrast, JPEG re-encoding and resizing; a flat image hashes to 0.
 *
 * @param pixels uint8 [size·size·3], HWC RGB (e.g. from `preprocess`).
 * @param size side in pixels, ≥ 9.
 * @returns unsigned 64-bit hash as a bigint in [0, 2^64).
 * @throws EdgeTuneError BAD_OPTION when pixels.length ≠ size·size·3 or size < 9.
 */
export function perceptualHash(pixels: Uint8Array, size: number): bigint {
  if (!Number.isInteger(size) || size < COLS || pixels.length !== size * size * 3) {
    throw fail('BAD_OPTION', `perceptualHash needs a square RGB image of side ≥ ${COLS}: got ${pixels.length} bytes for size ${size}`);
  }
  const sum = new Float64Array(COLS * ROWS);
  const cnt = new Float64Array(COLS * ROWS);
  const colOf = new Int32Array(size);
  for (let x = 0; x < size; x++) colOf[x] = Math.min(COLS - 1, Math.floor((x * COLS) / size));
  for (let y = 0; y < size; y++) {
    const r = Math.min(ROWS - 1, Math.floor((y * ROWS) / size));
    for (let x = 0, o = y * size * 3; x < size; x++, o += 3) {
      const cell = r * COLS + colOf[x];
      sum[cell] += 299 * pixels[o] + 587 * pixels[o + 1] + 114 * pixels[o + 2];
      cnt[cell]++;
    }
  }
  let hi = 0;
  let lo = 0;
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS - 1; c++) {
      const a = sum[r * COLS + c] / cnt[r * COLS + c];
      const b = sum[r * COLS + c + 1] / cnt[r * COLS + c + 1];
      const bit = a < b ? 1 : 0;
      const k = r * 8 + c; // 0 = most significant bit
      if (k < 32) hi = (hi | (bit << (31 - k))) >>> 0;
      else lo = (lo | (bit << (63 - k))) >>> 0;
    }
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Set bits of a 32-bit unsigned integer (SWAR popcount). */
function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Hamming distance between two 64-bit hashes: the number of differing bits, 0..64.
 * Computed on two 32-bit halves (no BigInt popcount in JavaScript).
 */
export function hamming(a: bigint, b: bigint): number {
  const x = BigInt.asUintN(64, a ^ b);
  return popcount32(Number(x >> 32n)) + popcount32(Number(x & 0xffffffffn));
}

/** One photo to group: file identity, perceptual hash, class. */
export interface DuplicateItem {
  /** SHA-256 of the file's bytes (hex): equal keys are the same file, whatever their hashes. */
  key: string;
  /** `perceptualHash` of the photo. */
  hash: bigint;
  /** Class index (`Sample.labelIndex`). */
  labelIndex: number;
}

/** Result of `groupDuplicates`. */
export interface DuplicateGroups {
  /** Group id per item (0-based, dense, in order of first member): near-duplicates share one. */
  groupOf: Int32Array;
  /** Item indices (ascending) of every group with ≥ 2 items, ordered by first item. */
  groups: number[][];
  /** The groups whose items span more than one class: the same photo labelled differently. */
  conflicts: number[][];
}

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

function union(parent: Int32Array, a: number, b: number): void {
  const ra = find(parent, a);
  const rb = find(parent, b);
  if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
}

/**
 * Group near-duplicate photos: items with the same key (identical bytes) or hashes at most
 * `maxDistance` bits apart are linked, and groups are the connected sets (a chain a~b~c is one
 * group even when a and c are further apart).
 *
 * Runs in about O(n·(d+1) + candidate pairs) rather than O(n²): by the pigeonhole principle two
 * hashes within distance d agree exactly on at least one of d+1 disjoint bit ranges, so each
 * range is bucketed by value and only items sharing a bucket are compared (multi-index hashing,
 * Norouzi et al., CVPR 2012). Identical hashes are linked once through one representative.
 * 2,000 photos take a few milliseconds.
 *
 * @param items one per photo, e.g. in `Dataset.samples` order.
 * @param maxDistance Hamming distance threshold, integer 0..63 (default `DEFAULT_MAX_DISTANCE`).
 * @throws EdgeTuneError BAD_OPTION for an invalid maxDistance.
 */
export function groupDuplicates(items: readonly DuplicateItem[], maxDistance = DEFAULT_MAX_DISTANCE): DuplicateGroups {
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 63) {
    throw fail('BAD_OPTION', `maxDistance ${maxDistance} is invalid; expected an integer number of bits in 0..63`);
  }
  const n = items.length;
  const parent = new Int32Array(n).map((_, i) => i);
  const byKey = new Map<string, number>();
  const byHash = new Map<bigint, number>();
  const reps: number[] = [];
  items.forEach((it, i) => {
    const k = byKey.get(it.key);
    if (k !== undefined) union(parent, k, i);
    else byKey.set(it.key, i);
    const h = BigInt.asUintN(64, it.hash);
    const r = byHash.get(h);
    if (r !== undefined) union(parent, r, i);
    else {
      byHash.set(h, i);
      reps.push(i);
    }
  });
  if (maxDistance > 0) {
    const m = maxDistance + 1;
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    for (const i of reps) {
      const h = BigInt.asUintN(64, items[i].hash);
      hi[i] = Number(h >> 32n);
      lo[i] = Number(h & 0xffffffffn);
    }
    const buckets: Map<bigint, number[]>[] = Array.from({ length: m }, () => new Map());
    const bounds = Array.from({ length: m + 1 }, (_, j) => Math.floor((j * 64) / m));
    for (const i of reps) {
      const h = BigInt.asUintN(64, items[i].hash);
      for (let j = 0; j < m; j++) {
        const width = bounds[j + 1] - bounds[j];
        const part = (h >> BigInt(bounds[j])) & ((1n << BigInt(width)) - 1n);
        const bucket = buckets[j].get(part);
        if (!bucket) {
          buckets[j].set(part, [i]);
          continue;
        }
        for (const o of bucket) {
          if (find(parent, o) === find(parent, i)) continue;
          if (popcount32(hi[i] ^ hi[o]) + popcount32(lo[i] ^ lo[o]) <= maxDistance) union(parent, o, i);
        }
        bucket.push(i);
      }
    }
  }
  const groupOf = new Int32Array(n);
  const idOfRoot = new Map<number, number>();
  const members: number[][] = [];
  for (let i = 0; i < n; i++) {
    const r = find(parent, i);
    let id = idOfRoot.get(r);
    if (id === undefined) {
      id = members.length;
      idOfRoot.set(r, id);
      members.push([]);
    }
    groupOf[i] = id;
    members[id].push(i);
  }
  const groups = members.filter((g) => g.length >= 2);
  const conflicts = groups.filter((g) => new Set(g.map((i) => items[i].labelIndex)).size > 1);
  return { groupOf, groups, conflicts };
}
