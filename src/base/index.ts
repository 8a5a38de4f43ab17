import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { fail } from '../errors';
import { noCache, configKey, type EmbeddingCache, type CleanInfo } from './cache';
import { resolveBase, type BaseSpec } from '../models';
import { readModel, writeModel, cutAtEmbedding, embeddingInfo, gridPool, type Model, type Pooling } from '../tflite';
import { openModel, edgeTpuReady, type Session, type DeviceChoice } from '../runtime';
import { preprocessImage, tooSmallReason, type Fit, type Preprocessed } from '../image';
import { augment, makeRng, hashString, type AugmentParams } from '../augment';
import type { Sample } from '../dataset';

/** A pretrained base without its top (Keras include_top=False), open for embedding. */
export interface Base {
  spec: BaseSpec;
  /** The CPU graph ending at the pooled embedding (classifiers are cut; extractors as shipped). */
  model: Model;
  /** `model` serialised: what the interpreter runs and what heads are grafted onto. */
  bytes: Uint8Array;
  session: Session;
  /** Input side in pixels (square RGB uint8 input `[1, size, size, 3]`). */
  inputSize: number;
  /** Embedding length: D for the `[1, 1, 1, D]` global average, 4·D for the `[1, 2, 2, D]` grid. */
  dim: number;
  pooling: Pooling;
  /** Path of the Edge TPU-compiled embedding extractor (global average only), when installed. */
  edgetpuPath?: string;
  /**
   * What computes the embeddings: the CPU graph above, or (on a Coral) the Edge TPU-compiled
   * extractor, so a head is trained on the numerics the exported model will run with.
   */
  embedder: { device: 'cpu' | 'edgetpu'; deviceName: string; file: string; sha256: string };
}

/**
 * Opens a pinned base as an embedding extractor. Full classifiers are cut at their pooled
 * embedding (the output of the last AVERAGE_POOL_2D), which is what include_top=False keeps.
 * @param name base name from `listBases`, e.g. 'mobilenet_v1_1.0_224'.
 * @param modelsDir where `edgetune models fetch` installed the files.
 * @param threads interpreter threads (default: the machine's cores).
 * @param pooling 'avg' (Keras pooling='avg': one vector) or 'grid' (a 2×2 grid of averages, see
 *   `gridPool`: keeps where features are, for digits and other layout-dependent classes).
 * @throws Error when the base is unknown or not installed (naming the fetch command).
 */
export function openBase(name: string, modelsDir: string, threads?: number, pooling: Pooling = 'avg', device: DeviceChoice = 'cpu'): Base {
  const r = resolveBase(name, modelsDir);
  let model = readModel(fs.readFileSync(r.path));
  if (r.spec.kind === 'classifier') model = cutAtEmbedding(model).model;
  if (pooling === 'grid') model = gridPool(model);
  const bytes = writeModel(model);
  const info = embeddingInfo(model);
  const edgetpuPath = r.spec.edgetpuGraftable && pooling === 'avg' ? r.edgetpuPath : undefined;
  // On a Coral, embed with the compiled extractor: its output is the same [1, 1, 1, D] embedding
  // (Coral compiled the same graph), computed with the Edge TPU's numerics.
  const tpu = edgetpuPath !== undefined && device !== 'cpu' && (device !== 'auto' || edgeTpuReady());
  const session = tpu ? openModel(edgetpuPath, { threads, device: device === 'auto' ? 'edgetpu' : device }) : openModel(bytes, { threads, device: 'cpu' });
  return {
    spec: r.spec, model, bytes, session,
    inputSize: session.input.shape[1],
    dim: info.dim,
    pooling,
    edgetpuPath,
    embedder: tpu
      ? { device: 'edgetpu', deviceName: session.deviceName, file: r.spec.edgetpuFile!, sha256: r.spec.edgetpuSha256! }
      : { device: 'cpu', deviceName: 'cpu', file: r.spec.file, sha256: r.spec.sha256 },
  };
}

/**
 * Runs the base on one preprocessed image.
 * @param pixels uint8 `[size·size·3]` RGB, HWC (from `preprocess`), written straight into the
 *   interpreter's input buffer.
 * @returns float32 `[D]` embedding, dequantized with the output tensor's scale/zero-point.
 */
export function embedPixels(base: Base, pixels: Uint8Array): Float32Array {
  base.session.inputBuffer.set(pixels);
  return base.session.run();
}

/** Options of `embedSamples`. */
export interface EmbedOptions {
  /** Augmented views per image (0 = clean embeddings only). */
  views: number;
  augment: AugmentParams;
  /** Seed of the augmentation: view v of a photo uses a stream from (seed, photo content, v). */
  seed: number;
  /** How non-square photos become the square input (default 'crop'); the same at predict time. */
  fit?: Fit;
  /** Where embeddings are kept between runs (default: none). */
  cache?: EmbeddingCache;
  /**
   * Computes a fingerprint (e.g. a perceptual hash, 16 hex digits) of the preprocessed pixels,
   * stored with the clean embedding; '' when not given.
   */
  fingerprint?: (pixels: Uint8Array, size: number) => string;
  /** Called after each image (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Stops the work between images: the promise rejects with EdgeTuneError('CANCELLED'). */
  signal?: AbortSignal;
  /** Images decoded ahead of the one being embedded (default EMBED_LOOKAHEAD). */
  lookahead?: number;
}

/** Default decode lookahead of `embedSamples`. */
export const EMBED_LOOKAHEAD = 4;

/** Embeddings of a list of samples; unreadable images are reported, not fatal. */
export interface EmbeddedSamples {
  /** The samples that decoded, in input order. */
  kept: Sample[];
  /** SHA-256 (hex) of each kept sample's file bytes. */
  sha: string[];
  /** Per kept sample: fingerprint and decoded size (see CleanInfo). */
  info: CleanInfo[];
  /** float32 `[kept.length, D]`: the clean image of each kept sample. */
  clean: Float32Array;
  /** float32 `[kept.length · views, D]`: views of sample i at rows i·views … i·views+views−1. */
  views: Float32Array;
  skipped: { path: string; reason: string }[];
  dim: number;
}

/**
 * The cache keys of a base configuration: one for clean embeddings (base file, pooling, fit) and
 * one for augmented views (also the augmentation parameters and seed).
 */
export function cacheConfig(base: Base, fit: Fit, augment: AugmentParams, seed: number): { clean: string; views: string } {
  // The CPU graph keeps its historical key; Edge TPU embeddings (other numerics) get their own.
  const clean = base.embedder.device === 'cpu'
    ? { base: base.spec.sha256, pooling: base.pooling, fit, format: 1 }
    : { base: base.spec.sha256, embedder: base.embedder.sha256, pooling: base.pooling, fit, format: 1 };
  return { clean: configKey(clean), views: configKey({ ...clean, augment, seed }) };
}

/**
 * The cache keys of activations at a tensor inside a base (fine-tuning's cut): as `cacheConfig`
 * for the CPU graph, plus the cut tensor's name; views also key on the augmentation and seed.
 */
export function cutCacheConfig(base: Base, cut: string, fit: Fit, augment: AugmentParams, seed: number): { clean: string; views: string } {
  const clean = { base: base.spec.sha256, cut, fit, format: 1 };
  return { clean: configKey(clean), views: configKey({ ...clean, augment, seed }) };
}

interface Prepared {
  sha: string;
  clean?: { embedding: Float32Array; info: CleanInfo };
  /** Cached views (undefined where missing). */
  views: (Float32Array | undefined)[];
  /** Preprocessed pixels and the decoded size, present when something must be computed. */
  pixels?: Uint8Array;
  width?: number;
  height?: number;
}

/**
 * Embeds every sample once clean and `views` times augmented. Views are generated in memory when
 * used, never written to disk. The random stream of each view depends only on (seed, photo content,
 * view index), so results depend neither on timing nor on the other photos of the dataset, and
 * cached views stay valid when photos are added. Reading, hashing and decoding of the next photos
 * overlap the current inference (sharp decodes on libuv's thread pool); photos whose embeddings are
 * all cached are not decoded at all.
 * @throws EdgeTuneError('CANCELLED') when `signal` aborts.
 */
export async function embedSamples(base: Base, samples: Sample[], opts: EmbedOptions): Promise<EmbeddedSamples> {
  const { dim, inputSize } = base;
  const K = opts.views;
  const fit = opts.fit ?? 'crop';
  const cache = opts.cache ?? noCache();
  const keys = cacheConfig(base, fit, opts.augment, opts.seed);
  const clean = new Float32Array(samples.length * dim);
  const views = new Float32Array(samples.length * K * dim);
  const kept: Sample[] = [];
  const shas: string[] = [];
  const infos: CleanInfo[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const prepare = async (s: Sample): Promise<Prepared> => {
    const bytes = await readImageFile(s.path);
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    const c = cache.getClean(keys.clean, sha, dim);
    const v = Array.from({ length: K }, (_, k) => cache.getView(keys.views, sha, k, dim));
    if (c && v.every((e) => e !== undefined)) {
      const small = tooSmallReason(c.info.width, c.info.height);
      if (small) throw new Error(small);
      return { sha, clean: c, views: v };
    }
    const img = await preprocessNamed(bytes, inputSize, fit, s.path);
    // A 1×1 or tiny photo would be blown up into a meaningless input: left out, with the reason.
    const small = tooSmallReason(img.width, img.height);
    if (small) throw new Error(small);
    return { sha, clean: c, views: v, pixels: img.pixels, width: img.width, height: img.height };
  };
  const LOOKAHEAD = Math.max(1, opts.lookahead ?? EMBED_LOOKAHEAD);
  const pending: Promise<Prepared | Error>[] = [];
  const start = (i: number) => {
    pending[i] = prepare(samples[i]).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  };
  for (let i = 0; i < Math.min(LOOKAHEAD, samples.length); i++) start(i);
  try {
    for (let i = 0; i < samples.length; i++) {
      if (opts.signal?.aborted) throw fail('CANCELLED', 'embedding cancelled');
      if (i + LOOKAHEAD < samples.length) start(i + LOOKAHEAD);
      const p = await pending[i];
      delete pending[i];
      if (p instanceof Error) {
        skipped.push({ path: samples[i].path, reason: p.message.startsWith(`cannot read image ${samples[i].path}: `) ? p.message.slice(`cannot read image ${samples[i].path}: `.length) : p.message });
      } else {
        const row = kept.length;
        let c = p.clean;
        if (!c) {
          const info: CleanInfo = { phash: opts.fingerprint?.(p.pixels!, inputSize) ?? '', width: p.width!, height: p.height! };
          c = { embedding: embedPixels(base, p.pixels!), info };
          cache.putClean(keys.clean, p.sha, c.embedding, info);
        }
        clean.set(c.embedding, row * dim);
        for (let v = 0; v < K; v++) {
          let e = p.views[v];
          if (!e) {
            const rng = makeRng(viewSeed(opts.seed, p.sha, v));
            e = embedPixels(base, augment(p.pixels!, inputSize, opts.augment, rng));
            cache.putView(keys.views, p.sha, v, e);
          }
          views.set(e, (row * K + v) * dim);
        }
        kept.push(samples[i]);
        shas.push(p.sha);
        infos.push(c.info);
      }
      opts.onProgress?.(i + 1, samples.length);
    }
  } finally {
    // Let outstanding reads settle so that no rejection goes unhandled after a cancel.
    await Promise.all(pending.filter(Boolean));
  }
  return {
    kept,
    sha: shas,
    info: infos,
    clean: clean.slice(0, kept.length * dim),
    views: views.slice(0, kept.length * K * dim),
    skipped,
    dim,
  };
}

/** A photo's bytes; a missing or unreadable file gives the image module's one error shape. */
async function readImageFile(file: string): Promise<Uint8Array> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cannot read image ${file}: ${err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'it is a folder' : err.message}`);
  }
}

/** `preprocessImage` of bytes, with errors naming the file instead of the buffer. */
async function preprocessNamed(bytes: Uint8Array, size: number, fit: Fit, file: string): Promise<Preprocessed> {
  try {
    return await preprocessImage(bytes, size, fit);
  } catch (e) {
    throw new Error((e as Error).message.replace(/<\d+-byte buffer>/, file));
  }
}

/**
 * The seed of augmented view `v` of the photo with SHA-256 `sha` (hex): what `embedSamples` uses,
 * so that other stages (fine-tuning's cut activations) see the very same views.
 */
export function viewSeed(seed: number, sha: string, v: number): number {
  return mix(seed, hashString(sha), v);
}

/** A 32-bit seed from (seed, photo, view): distinct streams for every view of every photo. */
function mix(seed: number, photo: number, v: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ photo, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (v + 1), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
