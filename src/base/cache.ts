/**
 * The embedding cache: embeddings keyed by the photo's content (SHA-256 of its bytes) and by
 * everything that changes them (the base file's SHA-256, pooling, fit, and for augmented views the
 * augmentation parameters, seed and view index). A retrain after adding 10 photos embeds only those
 * 10; a sweep after a training run embeds nothing. The base is frozen, so a cached embedding is
 * exactly what the base would compute again.
 *
 * Layout: `<dir>/<config key>/<sha256[0..2]>/<sha256>.<view>` where view is `clean` or `v<k>`; each
 * file is float32 little-endian `[dim]`, preceded for clean entries by a small JSON record
 * (fingerprint, decoded size). Files are written to a temporary name and renamed, so concurrent
 * runs and crashes never leave a partial entry; a corrupt or short file is a miss.
 *
 * Fine-tuning also caches raw activations at a cut tensor inside the base (uint8, e.g. 7·7·1024
 * = 50 KB per view for MobileNet v1's last block): `<dir>/activations/<config key>/<sha256[0..2]>/
 * <sha256>.<view>`, the bytes as the interpreter wrote them; the config key names the cut tensor.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Extra facts stored with a clean embedding (about the photo, not the base). */
export interface CleanInfo {
  /** Perceptual hash of the preprocessed photo, 16 hex digits. */
  phash: string;
  /** Decoded (EXIF-oriented) size in pixels. */
  width: number;
  height: number;
}

/** A store of embeddings; `noCache` stores nothing. */
export interface EmbeddingCache {
  getClean(config: string, sha: string, dim: number): { embedding: Float32Array; info: CleanInfo } | undefined;
  putClean(config: string, sha: string, embedding: Float32Array, info: CleanInfo): void;
  getView(config: string, sha: string, view: number, dim: number): Float32Array | undefined;
  putView(config: string, sha: string, view: number, embedding: Float32Array): void;
  /**
   * Raw activations of a photo at a cut tensor: `view` is 'clean' or 'v<k>'; `length` the expected
   * byte count (anything else is a miss).
   */
  getBytes(config: string, sha: string, view: string, length: number): Uint8Array | undefined;
  putBytes(config: string, sha: string, view: string, bytes: Uint8Array): void;
  /** Entries found / computed since the cache was opened. */
  stats: { hits: number; misses: number };
}

/**
 * The default cache folder: $EDGETUNE_CACHE, else $XDG_CACHE_HOME/edgetune, else ~/.cache/edgetune.
 */
export function defaultCacheDir(): string {
  if (process.env.EDGETUNE_CACHE) return process.env.EDGETUNE_CACHE;
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'edgetune');
}

/** A short, stable key for a configuration record (first 16 hex digits of its SHA-256). */
export function configKey(record: Record<string, unknown>): string {
  return crypto.createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 16);
}

/** The cache that stores nothing (every lookup misses). */
export function noCache(): EmbeddingCache {
  const stats = { hits: 0, misses: 0 };
  return {
    stats,
    getClean: () => { stats.misses++; return undefined; },
    putClean: () => undefined,
    getView: () => { stats.misses++; return undefined; },
    putView: () => undefined,
    getBytes: () => { stats.misses++; return undefined; },
    putBytes: () => undefined,
  };
}

const MAGIC = 0x31455445; // 'ETE1' little-endian

/**
 * A cache in `dir` (created on first write). Write failures (read-only disk, full disk) are not
 * fatal: the entry is simply not kept, and training goes on.
 */
export function diskCache(dir: string): EmbeddingCache {
  const stats = { hits: 0, misses: 0 };
  const file = (config: string, sha: string, view: string, kind = 'embeddings') => path.join(dir, kind, config, sha.slice(0, 2), `${sha}.${view}`);
  const read = (p: string): Buffer | undefined => {
    try {
      return fs.readFileSync(p);
    } catch {
      return undefined;
    }
  };
  const write = (p: string, data: Buffer) => {
    const tmp = `${p}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(tmp, data);
      fs.renameSync(tmp, p);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  };
  const floats = (buf: Buffer, offset: number, dim: number): Float32Array | undefined => {
    if (buf.length - offset !== dim * 4) return undefined;
    const out = new Float32Array(dim);
    for (let i = 0; i < dim; i++) out[i] = buf.readFloatLE(offset + 4 * i);
    return out;
  };
  const bytes = (e: Float32Array): Buffer => {
    const b = Buffer.alloc(e.length * 4);
    for (let i = 0; i < e.length; i++) b.writeFloatLE(e[i], 4 * i);
    return b;
  };
  return {
    stats,
    getClean(config, sha, dim) {
      const buf = read(file(config, sha, 'clean'));
      if (buf && buf.length >= 8 && buf.readUInt32LE(0) === MAGIC) {
        const n = buf.readUInt32LE(4);
        try {
          const info = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as CleanInfo;
          const embedding = floats(buf, 8 + n, dim);
          if (embedding && typeof info.phash === 'string') {
            stats.hits++;
            return { embedding, info };
          }
        } catch {
          // corrupt entry: a miss
        }
      }
      stats.misses++;
      return undefined;
    },
    putClean(config, sha, embedding, info) {
      const json = Buffer.from(JSON.stringify(info), 'utf8');
      const head = Buffer.alloc(8);
      head.writeUInt32LE(MAGIC, 0);
      head.writeUInt32LE(json.length, 4);
      write(file(config, sha, 'clean'), Buffer.concat([head, json, bytes(embedding)]));
    },
    getView(config, sha, view, dim) {
      const buf = read(file(config, sha, `v${view}`));
      const e = buf ? floats(buf, 0, dim) : undefined;
      if (e) stats.hits++;
      else stats.misses++;
      return e;
    },
    putView(config, sha, view, embedding) {
      write(file(config, sha, `v${view}`), bytes(embedding));
    },
    getBytes(config, sha, view, length) {
      const buf = read(file(config, sha, view, 'activations'));
      if (buf && buf.length === length) {
        stats.hits++;
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
      }
      stats.misses++;
      return undefined;
    },
    putBytes(config, sha, view, data) {
      write(file(config, sha, view, 'activations'), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    },
  };
}
