import type { AugmentParams } from './presets';
import type { Rng } from './rng';

/**
 * One concrete augmentation (sampled values, not ranges).
 * angleDeg: degrees, positive = counter-clockwise as displayed (y axis points down);
 * scale: magnification (1 = none, 2 = content twice as large); shiftX/shiftY: pixels, positive =
 * content moves right/down; flip: mirror left-right (applied first, before rotation);
 * brightness: multiplicative factor (1 = none); contrast: factor around the per-channel mean (1 = none).
 */
export interface Transform {
  angleDeg: number;
  scale: number;
  shiftX: number;
  shiftY: number;
  flip: boolean;
  brightness: number;
  contrast: number;
}

/** The transform that changes nothing. */
export const IDENTITY: Readonly<Transform> = {
  angleDeg: 0, scale: 1, shiftX: 0, shiftY: 0, flip: false, brightness: 1, contrast: 1,
};

function checkParams(p: AugmentParams): void {
  const bad = (name: string, v: number, max: number) => {
    if (!Number.isFinite(v) || v < 0 || v > max) {
      throw new Error(`augment parameter ${name}=${v} is out of range; expected a number in 0..${max}`);
    }
  };
  bad('rotationDeg', p.rotationDeg, 180);
  bad('zoom', p.zoom, 0.9);
  bad('shiftFrac', p.shiftFrac, 1);
  bad('brightness', p.brightness, 1);
  bad('contrast', p.contrast, 1);
}

/**
 * Draw one concrete `Transform` from parameter ranges (see `AugmentParams`).
 * Always consumes exactly 7 values from `rng`, so the stream stays aligned whatever the params.
 * @param size the side of a square image, or its height and width in pixels (shift ranges).
 * @throws Error for negative or out-of-range parameters (rotationDeg ≤ 180, zoom ≤ 0.9, others ≤ 1).
 */
export function sampleTransform(params: AugmentParams, size: number | { height: number; width: number }, rng: Rng): Transform {
  checkParams(params);
  // Shifts are fractions of each side: width for x, height for y (the same for a square).
  const [w, h] = typeof size === 'number' ? [size, size] : [size.width, size.height];
  const sym = (r: number, range: number) => (2 * r - 1) * range;
  const angleDeg = sym(rng(), params.rotationDeg);
  const scale = 1 + sym(rng(), params.zoom);
  const shiftX = sym(rng(), params.shiftFrac) * w;
  const shiftY = sym(rng(), params.shiftFrac) * h;
  const flip = rng() < 0.5 && params.hflip;
  const brightness = 1 + sym(rng(), params.brightness);
  const contrast = 1 + sym(rng(), params.contrast);
  return { angleDeg, scale, shiftX, shiftY, flip, brightness, contrast };
}

/** cos/sin with values within 1e-12 of 0 or ±1 snapped, so 90° steps are exact permutations. */
function snap(v: number): number {
  if (Math.abs(v) < 1e-12) return 0;
  if (Math.abs(v - 1) < 1e-12) return 1;
  if (Math.abs(v + 1) < 1e-12) return -1;
  return v;
}

/**
 * Apply one transform to an image (height×width, 1 or 3 channels): a single inverse affine warp (flip, rotate about the
 * centre, zoom, shift) with bilinear sampling and 'nearest' edge fill (source coordinates clamped
 * to the border, like Keras ImageDataGenerator fill_mode='nearest'), then brightness, then
 * contrast, clamped to 0..255 and rounded once at the end.
 *
 * Pixel centres are at (x + 0.5, y + 0.5); the rotation centre is (width/2, height/2), so the
 * identity transform samples exactly at source pixel centres and returns identical bytes.
 *
 * Contrast works around each channel's own mean; a grey image has one channel.
 *
 * @param pixels Uint8Array [height·width·channels], HWC uint8 (the output of `preprocessTo`).
 * @param shape height, width in pixels and channels (1 or 3).
 * @returns a new Uint8Array of the same length.
 * @throws Error when `pixels.length !== height·width·channels`.
 */
export function applyTransformTo(pixels: Uint8Array, shape: { height: number; width: number; channels: number }, t: Transform): Uint8Array {
  const { height, width, channels: C } = shape;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1 || (C !== 1 && C !== 3) || pixels.length !== height * width * C) {
    throw new Error(`augment: expected ${height}x${width}x${C} = ${height * width * C} bytes, got ${pixels.length}`);
  }
  const n = height * width;
  const out = new Float32Array(n * C);
  const rad = (t.angleDeg * Math.PI) / 180;
  // Inverse map: dst → src. Forward is src → flip → rotate(+angle, CCW on screen) → scale → shift,
  // so the inverse undoes them in reverse order. With y pointing down, a CCW-on-screen rotation by
  // θ maps (u, v) to (u cosθ + v sinθ, -u sinθ + v cosθ); its inverse uses -θ.
  const c = snap(Math.cos(rad)) / t.scale;
  const s = snap(Math.sin(rad)) / t.scale;
  const halfX = width / 2;
  const halfY = height / 2;
  const maxX = width - 1;
  const maxY = height - 1;
  for (let y = 0; y < height; y++) {
    const v = y + 0.5 - halfY - t.shiftY;
    for (let x = 0; x < width; x++) {
      const u = x + 0.5 - halfX - t.shiftX;
      let su = u * c - v * s;
      const sv = u * s + v * c;
      if (t.flip) su = -su;
      // Back to array coordinates (pixel centre at integer index), then clamp: 'nearest' fill.
      let sx = su + halfX - 0.5;
      let sy = sv + halfY - 0.5;
      sx = sx < 0 ? 0 : sx > maxX ? maxX : sx;
      sy = sy < 0 ? 0 : sy > maxY ? maxY : sy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const x1 = x0 < maxX ? x0 + 1 : x0;
      const y1 = y0 < maxY ? y0 + 1 : y0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      const i00 = (y0 * width + x0) * C;
      const i10 = (y0 * width + x1) * C;
      const i01 = (y1 * width + x0) * C;
      const i11 = (y1 * width + x1) * C;
      const o = (y * width + x) * C;
      for (let ch = 0; ch < C; ch++) {
        out[o + ch] = w00 * pixels[i00 + ch] + w10 * pixels[i10 + ch] + w01 * pixels[i01 + ch] + w11 * pixels[i11 + ch];
      }
    }
  }
  if (t.brightness !== 1) {
    for (let i = 0; i < out.length; i++) out[i] *= t.brightness;
  }
  if (t.contrast !== 1) {
    const mean = new Array<number>(C).fill(0);
    for (let i = 0; i < out.length; i += C) {
      for (let ch = 0; ch < C; ch++) mean[ch] += out[i + ch];
    }
    for (let ch = 0; ch < C; ch++) mean[ch] /= n;
    for (let i = 0; i < out.length; i += C) {
      for (let ch = 0; ch < C; ch++) out[i + ch] = (out[i + ch] - mean[ch]) * t.contrast + mean[ch];
    }
  }
  const result = new Uint8Array(n * C);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    result[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return result;
}

/**
 * `applyTransformTo` for a square RGB image (the bases' input).
 * @param pixels Uint8Array [size*size*3], HWC RGB uint8 (the output of `preprocess`).
 * @param size side in pixels.
 * @returns a new Uint8Array [size*size*3].
 * @throws Error when `pixels.length !== size*size*3`.
 */
export function applyTransform(pixels: Uint8Array, size: number, t: Transform): Uint8Array {
  if (!Number.isInteger(size) || size < 1 || pixels.length !== size * size * 3) {
    throw new Error(`augment: expected ${size}x${size}x3 = ${size * size * 3} bytes, got ${pixels.length}`);
  }
  return applyTransformTo(pixels, { height: size, width: size, channels: 3 }, t);
}
