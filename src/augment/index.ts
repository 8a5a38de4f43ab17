/**
 * Seeded on-the-fly augmentation of preprocessed inputs (size×size×3 uint8 for a base, H×W×C for
 * the CNN), applied before the base computes embeddings during head training, or to the CNN's
 * inputs every epoch. Never applied at prediction time.
 */
import type { AugmentParams } from './presets';
import type { Rng } from './rng';
import { applyTransform, applyTransformTo, sampleTransform } from './warp';

export { makeRng, hashString, shuffled } from './rng';
export type { Rng } from './rng';
export { presetParams, parsePreset, PRESETS } from './presets';
export type { Preset, AugmentParams } from './presets';
export { applyTransform, applyTransformTo, sampleTransform, IDENTITY } from './warp';
export type { Transform } from './warp';

/**
 * Augment one image: sample a `Transform` from `params` with `rng`, apply it (see
 * `applyTransform`: one inverse affine warp, bilinear, 'nearest' fill, then brightness/contrast).
 * Deterministic: the same pixels, params and rng state give identical bytes.
 *
 * @param pixels Uint8Array [size*size*3], HWC RGB uint8 (output of `preprocess`).
 * @param size side in pixels.
 * @param params ranges (e.g. `presetParams('objects')`); all-zero params return an identical copy.
 * @param rng from `makeRng(seed)`; 7 values are consumed per call.
 * @returns a new Uint8Array [size*size*3]; the input is never modified.
 * @throws Error for a wrong pixel count or out-of-range params.
 */
export function augment(pixels: Uint8Array, size: number, params: AugmentParams, rng: Rng): Uint8Array {
  return applyTransform(pixels, size, sampleTransform(params, size, rng));
}

/**
 * `augment` for any input shape (the CNN's H×W grey or RGB input): shifts are fractions of each
 * side, rotation is about the centre, contrast per channel.
 * @param pixels Uint8Array [height·width·channels] HWC uint8 (output of `preprocessTo`).
 * @param shape height, width (pixels) and channels (1 | 3).
 * @param params ranges; `digits` never flips (`hflip` false).
 * @param rng from `makeRng(seed)`; 7 values are consumed per call.
 * @returns a new Uint8Array of the same length.
 * @throws Error for a wrong pixel count or out-of-range params.
 */
export function augmentTo(pixels: Uint8Array, shape: { height: number; width: number; channels: number }, params: AugmentParams, rng: Rng): Uint8Array {
  return applyTransformTo(pixels, shape, sampleTransform(params, shape, rng));
}
