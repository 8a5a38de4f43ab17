/**
 * Activations at the cut tensor, computed once per photo view by the frozen part of the base and
 * cached: what the unfrozen blocks train on. Views are the same augmented views the head's
 * embeddings came from (same seed per photo and view, `viewSeed`).
 */
import * as fs from 'node:fs';
import { cutCacheConfig, viewSeed, type Base } from '../base';
import type { EmbeddingCache } from '../base/cache';
import { cutAtEmbedding, writeModel } from '../tflite';
import { openModel, type Session } from '../runtime';
import { preprocessImage, type Fit } from '../image';
import { augment, makeRng, type AugmentParams } from '../augment';
import { fail, ioError } from '../errors';
import type { QuantTensorRef } from './blocks';

/** uint8 activations at the cut, one row per photo view. */
export interface CutActivations {
  /** uint8 `[photos, size]`: the clean view of each photo (row i = photo i of the input list). */
  clean: Uint8Array;
  /** uint8 `[trainPhotos · views, size]`: rows j·views … j·views + views − 1 belong to trainIdx[j]. */
  views: Uint8Array;
  /** Views per training photo. */
  k: number;
  /** Values per row: H·W·C of the cut tensor. */
  size: number;
  /** The cut tensor ([1, H, W, C], scale, zero point). */
  cut: QuantTensorRef;
}

/** One photo to compute: its file and the SHA-256 (hex) of its bytes (from embedding). */
export interface PhotoRef { path: string; sha: string }

/**
 * Opens the base cut at `cut` (its graph output becomes the cut tensor) on the CPU.
 * @returns a session whose raw output is the uint8 activation `[1, H, W, C]`.
 */
export function openCutBase(base: Base, cut: QuantTensorRef, threads?: number): Session {
  const model = cutAtEmbedding(base.model, cut.name).model;
  return openModel(writeModel(model), { threads, device: 'cpu' });
}

/**
 * Activations at the cut for every photo (clean) and `k` augmented views of the training photos.
 * Each entry is looked up in the cache first (key: base file, cut tensor, fit; views also the
 * augmentation and seed) and stored there once computed; photos whose entries are all cached are
 * not decoded.
 * @param photos every kept photo, in `Prepared.all.kept` order.
 * @param trainIdx indices into `photos` that get augmented views.
 * @throws EdgeTuneError('CANCELLED') when `signal` aborts; ('BAD_IMAGE') when a photo that decoded
 *   before cannot be read now.
 */
export async function cutActivations(
  base: Base, session: Session, cut: QuantTensorRef, photos: PhotoRef[], trainIdx: number[],
  opts: { k: number; augment: AugmentParams; seed: number; fit: Fit; cache: EmbeddingCache; signal?: AbortSignal; onProgress?: (done: number, total: number) => void },
): Promise<CutActivations> {
  const size = cut.shape.slice(1).reduce((a, b) => a * b, 1);
  if (session.output.shape.slice(1).reduce((a, b) => a * b, 1) !== size || session.output.dtype !== 'uint8') {
    throw fail('UNSUPPORTED', `the cut base's output ${session.output.name} [${session.output.shape.join(',')}] ${session.output.dtype} is not the uint8 cut tensor ${cut.name}`);
  }
  const keys = cutCacheConfig(base, cut.name, opts.fit, opts.augment, opts.seed);
  const inputSize = session.input.shape[1];
  const clean = new Uint8Array(photos.length * size);
  const views = new Uint8Array(trainIdx.length * opts.k * size);
  const viewsOf = new Map(trainIdx.map((i, j) => [i, j]));
  const run = (pixels: Uint8Array): Uint8Array => {
    session.inputBuffer.set(pixels);
    return session.runRaw() as Uint8Array;
  };
  for (let i = 0; i < photos.length; i++) {
    if (opts.signal?.aborted) throw fail('CANCELLED', 'fine-tuning cancelled while computing activations');
    const p = photos[i];
    const j = viewsOf.get(i);
    const nViews = j === undefined ? 0 : opts.k;
    let c = opts.cache.getBytes(keys.clean, p.sha, 'clean', size);
    const v = Array.from({ length: nViews }, (_, x) => opts.cache.getBytes(keys.views, p.sha, `v${x}`, size));
    if (!c || v.some((e) => !e)) {
      let bytes: Buffer;
      try {
        bytes = await fs.promises.readFile(p.path);
      } catch (e) {
        throw ioError('read photo', p.path, e);
      }
      let pixels: Uint8Array;
      try {
        pixels = (await preprocessImage(bytes, inputSize, opts.fit)).pixels;
      } catch (e) {
        throw fail('BAD_IMAGE', `cannot read image ${p.path} a second time (${(e as Error).message.split('\n')[0]}): was it changed during training?`);
      }
      if (!c) {
        c = run(pixels);
        opts.cache.putBytes(keys.clean, p.sha, 'clean', c);
      }
      for (let x = 0; x < nViews; x++) {
        if (v[x]) continue;
        v[x] = run(augment(pixels, inputSize, opts.augment, makeRng(viewSeed(opts.seed, p.sha, x))));
        opts.cache.putBytes(keys.views, p.sha, `v${x}`, v[x]!);
      }
    }
    clean.set(c, i * size);
    for (let x = 0; x < nViews; x++) views.set(v[x]!, (j! * opts.k + x) * size);
    opts.onProgress?.(i + 1, photos.length);
    // Let timers and I/O run (progress output, a server's abort request) between photos.
    if (i % 8 === 7) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { clean, views, k: opts.k, size, cut };
}
