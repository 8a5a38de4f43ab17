/** Named augmentation settings; choose `digits` for anything whose mirror image means something else. */
export type Preset = 'objects' | 'digits' | 'none';

/** The valid preset names, in the order shown in help and error messages. */
export const PRESETS: readonly Preset[] = ['objects', 'digits', 'none'];

/**
 * Ranges of the random transforms. Each value is sampled uniformly per image:
 * - rotationDeg: angle in [-rotationDeg, +rotationDeg] degrees (positive = counter-clockwise on screen)
 * - zoom: magnification in [1 - zoom, 1 + zoom] (>1 zooms in), same factor on both axes
 * - shiftFrac: x and y shift, each in [-shiftFrac, +shiftFrac] × size pixels
 * - brightness: multiplicative factor in [1 - brightness, 1 + brightness]
 * - contrast: factor in [1 - contrast, 1 + contrast] applied around each channel's mean
 *   (as tf.image.adjust_contrast)
 * - hflip: mirror left-right with probability 0.5 when true
 * All zero / false = identity.
 */
export interface AugmentParams {
  rotationDeg: number;
  zoom: number;
  shiftFrac: number;
  brightness: number;
  contrast: number;
  hflip: boolean;
}

const PRESET_PARAMS: Record<Preset, AugmentParams> = {
  // Everyday objects photographed from any side: mirror images are the same class.
  objects: { rotationDeg: 20, zoom: 0.15, shiftFrac: 0.1, brightness: 0.2, contrast: 0.2, hflip: true },
  // Digits and text: a mirrored 2 looks like a 5, so no flips and only small rotations; meter
  // photos vary most in lighting, hence the wider brightness/contrast ranges.
  digits: { rotationDeg: 8, zoom: 0.1, shiftFrac: 0.08, brightness: 0.3, contrast: 0.3, hflip: false },
  none: { rotationDeg: 0, zoom: 0, shiftFrac: 0, brightness: 0, contrast: 0, hflip: false },
};

/** The `AugmentParams` of a preset (a fresh copy; safe to modify). */
export function presetParams(preset: Preset): AugmentParams {
  return { ...PRESET_PARAMS[preset] };
}

/**
 * Parse a preset name (case-sensitive, surrounding spaces ignored).
 * @throws Error "unknown augmentation preset 'x'; valid presets: objects, digits, none".
 */
export function parsePreset(s: string): Preset {
  const t = s.trim();
  if ((PRESETS as readonly string[]).includes(t)) return t as Preset;
  throw new Error(`unknown augmentation preset '${s}'; valid presets: ${PRESETS.join(', ')}`);
}
