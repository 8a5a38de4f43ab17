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
 * @throws Error for negative or out-of-range parameters (rotationDeg ≤ 180, zoom ≤ 0.9, others ≤ 1).
 */
export function sampleTransform(params: AugmentParams, size: number, rng: Rng): Transform {
  checkParams(params);
  const sym = (r: number, range: number) => (2 * r - 1) * range;
  const angleDeg = sym(rng(), params.rotationDeg);
  const scale = 1 + sym(rng(), params.zoom);
  const shiftX = sym(rng(), params.shiftFrac) * size;
  const shiftY = sym(rng(), params.shiftFrac) * size;
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
 * Apply one transform to a square image: a single inverse affine warp (flip, rotate about the
 * centre, zoom, shift) with bilinear sampling and 'nearest' edge fill (source coordinates clamped
 * to the border, like Keras ImageDataGenerator fill_mode='nearest'), then brightness, then
 * contrast, clamped to 0..255 and rounded once at the end.
 *
 * Pixel centres are at (x + 0.5, y + 0.5); the rotation centre is (size/2, size/2), so the
 * identity transform samples exactly at source pixel centres and returns identical bytes.
 *
 * @param pixels Uint8Array [size*size*3], HWC RGB uint8 (the output of `preprocess`).
 * @param size side in pixels.
 * @returns a new Uint8Array [size*size*3].
 * @throws Error when `pixels.length !== size*size*3`.
 */
export function applyTransform(pixels: Uint8Array, size: number, t: Transform): Uint8Array {
  if (!Number.isInteger(size) || size < 1 || pixels.length !== size * size * 3) {
    throw new Error(`augment: expected ${size}x${size}x3 = ${size * size * 3} bytes, got ${pixels.length}`);
  }
  const n = size * size;
  const out = new Float32Array(n * 3);
  const rad = (t.angleDeg * Math.PI) / 180;
  // Inverse map: dst → src. Forward is src → flip → rotate(+angle, CCW on screen) → scale → shift,
  // so the inverse undoes them in reverse order. With y pointing down, a CCW-on-screen rotation by
  // θ maps (u, v) to (u cosθ + v sinθ, -u sinθ + v cosθ); its inverse uses -θ.
  const c = snap(Math.cos(rad)) / t.scale;
  const s = snap(Math.sin(rad)) / t.scale;
  const half = size / 2;
  const max = size - 1;
  for (let y = 0; y < size; y++) {
    const v = y + 0.5 - half - t.shiftY;
    for (let x = 0; x < size; x++) {
      const u = x + 0.5 - half - t.shiftX;
      let su = u * c - v * s;
      const sv = u * s + v * c;
      if (t.flip) su = -su;
      // Back to array coordinates (pixel centre at integer index), then clamp: 'nearest' fill.
      let sx = su + half - 0.5;
      let sy = sv + half - 0.5;
      sx = sx < 0 ? 0 : sx > max ? max : sx;
      sy = sy < 0 ? 0 : sy > max ? max : sy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const x1 = x0 < max ? x0 + 1 : x0;
      const y1 = y0 < max ? y0 + 1 : y0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      const i00 = (y0 * size + x0) * 3;
      const i10 = (y0 * size + x1) * 3;
      const i01 = (y1 * size + x0) * 3;
      const i11 = (y1 * size + x1) * 3;
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        out[o + ch] = w00 * pixels[i00 + ch] + w10 * pixels[i10 + ch] + w01 * pixels[i01 + ch] + w11 * pixels[i11 + ch];
      }
    }
  }
  if (t.brightness !== 1) {
    for (let i = 0; i < out.length; i++) out[i] *= t.brightness;
  }
  if (t.contrast !== 1) {
    const mean = [0, 0, 0];
    for (let i = 0; i < out.length; i += 3) {
      mean[0] += out[i];
      mean[1] += out[i + 1];
      mean[2] += out[i + 2];
    }
    for (let ch = 0; ch < 3; ch++) mean[ch] /= n;
    for (let i = 0; i < out.length; i += 3) {
      for (let ch = 0; ch < 3; ch++) out[i + ch] = (out[i + ch] - mean[ch]) * t.contrast + mean[ch];
    }
  }
  const result = new Uint8Array(n * 3);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    result[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return result;
}
