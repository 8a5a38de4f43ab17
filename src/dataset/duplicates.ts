import { fail } from '../errors';

/**
 * Near-duplicate photos: a 64-bit perceptual hash (pHash) per photo and grouping by Hamming
 * distance. A photo and its re-encoded or resized copy must land on the same side of a split
 * (else validation measures memory, not generalisation), and the same photo in two classes is a
 * labelling conflict.
 */

/** Side of the luma grid the DCT runs on, and of the low-frequency block kept (pHash, Zauner 2010). */
const GRID = 32;
const LOW = 8;

/** cos((2x+1)·u·π / 2N) for u = 1..LOW (row u-1), x = 0..GRID-1: the DCT-II basis rows the hash uses. */
const BASIS: Float64Array[] = Array.from({ length: LOW }, (_, k) =>
  Float64Array.from({ length: GRID }, (_, x) => Math.cos(((2 * x + 1) * (k + 1) * Math.PI) / (2 * GRID))));

/**
 * Default largest Hamming distance (bits of 64) at which two photos count as near-duplicates: 6.
 * pHash sets exactly 32 of 64 bits, so distances are even and 6 means "at most 3 bits moved".
 * Measured on all of ../shared/datasets (scripts/duplicates-threshold.ts, hashes of the 224 px
 * centre crop; "grouped" = photos within 6 bits of a distinct photo of their class):
 *
 * | dataset | JPEG q75 copies ≤ 6 | ×0.5 copies ≤ 6 | grouped |
 * |---|---|---|---|
 * | objects-small (801) | 100% (max 4) | 100% (max 6) | 0.25% |
 * | gestures (860) | 100% (max 4) | 100% (max 4) | 2.6% (consecutive frames of one hand) |
 * | digits-photo (874) | 100% (max 6) | 60% (max 26) | 21% (3.4% at distance 0) |
 *
 * digits-photo's crops are 17–160 px wide: halving them destroys real detail, and many crops of
 * one meter's digit are pixel-for-pixel alike, so grouping them is right for a split. 4 would miss
 * 0.2% of objects-small's halved copies; 8 groups 0.5% of objects-small and 7.2% of gestures.
 */
export const DEFAULT_MAX_DISTANCE = 6;

/**
 * 64-bit perceptual hash (pHash: the signs of low DCT frequencies around their median, as in
 * the pHash library's `ph_dct_imagehash`, C. Zauner, "Implementation and Benchmarking of
 * Perceptual Image Hash Functions", 2010) of a square RGB image, computed from already decoded
 * pixels (the preprocessed base input), so no photo is decoded twice.
 *
 * Steps: luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601); mean luma over a 32×32 grid of boxes
 * (box edges at floor(i·size/32), every pixel counts once); 2-D DCT-II of that grid; the 8×8
 * coefficients with both frequencies in 1..8 (the DC row and column carry brightness, not
 * structure); bit = 1 when the coefficient is above the median of those 64. Packed row by row
 * (vertical frequency 1, horizontal 1 in the most significant bit). Measured far more stable
 * under JPEG re-encoding and resizing than a 9×8 difference hash (see `DEFAULT_MAX_DISTANCE`).
 * A flat image hashes to 0.
 *
 * @param pixels uint8 [size·size·3], HWC RGB (e.g. from `preprocess`).
 * @param size side in pixels, ≥ 32.
 * @returns unsigned 64-bit hash as a bigint in [0, 2^64).
 * @throws EdgeTuneError BAD_OPTION when pixels.length ≠ size·size·3 or size < 32.
 */
export function perceptualHash(pixels: Uint8Array, size: number): bigint {
  if (!Number.isInteger(size) || size < GRID || pixels.length !== size * size * 3) {
    throw fail('BAD_OPTION', `perceptualHash needs a square RGB image of side ≥ ${GRID}: got ${pixels.length} bytes for size ${size}`);
  }
  const grey = new Float64Array(GRID * GRID);
  const cnt = new Float64Array(GRID * GRID);
  const cell = new Int32Array(size);
  for (let x = 0; x < size; x++) cell[x] = Math.floor((x * GRID) / size);
  for (let y = 0; y < size; y++) {
    const row = cell[y] * GRID;
    for (let x = 0, o = y * size * 3; x < size; x++, o += 3) {
      grey[row + cell[x]] += 0.299 * pixels[o] + 0.587 * pixels[o + 1] + 0.114 * pixels[o + 2];
      cnt[row + cell[x]]++;
    }
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < grey.length; i++) {
    grey[i] /= cnt[i];
    min = Math.min(min, grey[i]);
    max = Math.max(max, grey[i]);
  }
  if (max - min < 1e-9) return 0n; // flat: every coefficient is 0 up to rounding noise
  // Separable DCT: horizontal frequencies 1..8 of every row, then vertical frequencies 1..8.
  const rows = new Float64Array(GRID * LOW);
  for (let y = 0; y < GRID; y++) {
    for (let v = 0; v < LOW; v++) {
      let s = 0;
      for (let x = 0; x < GRID; x++) s += grey[y * GRID + x] * BASIS[v][x];
      rows[y * LOW + v] = s;
    }
  }
  const coef = new Float64Array(LOW * LOW);
  for (let u = 0; u < LOW; u++) {
    for (let v = 0; v < LOW; v++) {
      let s = 0;
      for (let y = 0; y < GRID; y++) s += rows[y * LOW + v] * BASIS[u][y];
      coef[u * LOW + v] = s;
    }
  }
  const sorted = Float64Array.from(coef).sort();
  const median = (sorted[31] + sorted[32]) / 2;
  let hi = 0;
  let lo = 0;
  for (let k = 0; k < 64; k++) {
    if (!(coef[k] > median)) continue;
    if (k < 32) hi = (hi | (1 << (31 - k))) >>> 0;
    else lo = (lo | (1 << (63 - k))) >>> 0;
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
