import * as fs from 'node:fs';
import { resolveBase, type BaseSpec } from '../models';
import { readModel, writeModel, cutAtEmbedding, embeddingInfo, gridPool, type Model, type Pooling } from '../tflite';
import { openModel, type Session } from '../runtime';
import { preprocess, type Fit } from '../image';
import { augment, makeRng, type AugmentParams } from '../augment';
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
export function openBase(name: string, modelsDir: string, threads?: number, pooling: Pooling = 'avg'): Base {
  const r = resolveBase(name, modelsDir);
  let model = readModel(fs.readFileSync(r.path));
  if (r.spec.kind === 'classifier') model = cutAtEmbedding(model).model;
  if (pooling === 'grid') model = gridPool(model);
  const bytes = writeModel(model);
  const info = embeddingInfo(model);
  const session = openModel(bytes, { threads, device: 'cpu' });
  return {
    spec: r.spec, model, bytes, session,
    inputSize: session.input.shape[1],
    dim: info.dim,
    pooling,
    edgetpuPath: r.spec.edgetpuGraftable && pooling === 'avg' ? r.edgetpuPath : undefined,
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
  seed: number;
  /** How non-square photos become the square input (default 'crop'); the same at predict time. */
  fit?: Fit;
  /** Called after each image (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Images decoded ahead of the one being embedded (default EMBED_LOOKAHEAD). */
  lookahead?: number;
}

/** Default decode lookahead of `embedSamples`. */
export const EMBED_LOOKAHEAD = 4;

/** Embeddings of a list of samples; unreadable images are reported, not fatal. */
export interface EmbeddedSamples {
  /** The samples that decoded, in input order. */
  kept: Sample[];
  /** float32 `[kept.length, D]`: the clean image of each kept sample. */
  clean: Float32Array;
  /** float32 `[kept.length · views, D]`: views of sample i at rows i·views … i·views+views−1. */
  views: Float32Array;
  skipped: { path: string; reason: string }[];
  dim: number;
}

/**
 * Embeds every sample once clean and `views` times augmented. Views are generated in memory when
 * used, never written to disk. The random stream of each view depends only on (seed, sample
 * index, view index), so results do not depend on timing. Decoding of the next images overlaps
 * the current inference (sharp decodes on libuv's thread pool).
 */
export async function embedSamples(base: Base, samples: Sample[], opts: EmbedOptions): Promise<EmbeddedSamples> {
  const { dim, inputSize } = base;
  const K = opts.views;
  const clean = new Float32Array(samples.length * dim);
  const views = new Float32Array(samples.length * K * dim);
  const kept: Sample[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const LOOKAHEAD = Math.max(1, opts.lookahead ?? EMBED_LOOKAHEAD);
  const pending: Promise<Uint8Array | Error>[] = [];
  const start = (i: number) => {
    pending[i] = preprocess(samples[i].path, inputSize, opts.fit).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  };
  for (let i = 0; i < Math.min(LOOKAHEAD, samples.length); i++) start(i);
  for (let i = 0; i < samples.length; i++) {
    if (i + LOOKAHEAD < samples.length) start(i + LOOKAHEAD);
    const px = await pending[i];
    delete pending[i];
    if (px instanceof Error) {
      skipped.push({ path: samples[i].path, reason: px.message });
    } else {
      const row = kept.length;
      clean.set(embedPixels(base, px), row * dim);
      for (let v = 0; v < K; v++) {
        const rng = makeRng(mix(opts.seed, i, v));
        views.set(embedPixels(base, augment(px, inputSize, opts.augment, rng)), (row * K + v) * dim);
      }
      kept.push(samples[i]);
    }
    opts.onProgress?.(i + 1, samples.length);
  }
  return {
    kept,
    clean: clean.slice(0, kept.length * dim),
    views: views.slice(0, kept.length * K * dim),
    skipped,
    dim,
  };
}

/** A 32-bit seed from (seed, sample, view): distinct streams for every view of every image. */
function mix(seed: number, i: number, v: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (i + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (v + 1), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
