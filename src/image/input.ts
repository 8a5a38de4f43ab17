import sharp, { type Metadata, type Sharp } from 'sharp';
import { fail } from '../errors';
import type { ImageFormat } from './format';
import { decodeBytes, decodeError, readImageBytes, sharpInput } from './load';
import type { RgbImage } from './types';

/**
 * Smallest image side EdgeTune accepts as a photo, in pixels (16). Below it an image is a
 * placeholder, an icon or a tracking pixel, not a photo: the smallest base input is 128 px, so a
 * 15 px side is blown up more than 8× and every source pixel becomes a flat 8×8 block (a 1×1 PNG
 * becomes one flat colour, which a model still scores with confidence). The smallest real photos
 * in the shared sets, meter-digit crops, are 17 px wide and stay in.
 */
export const MIN_IMAGE_SIDE = 16;

/**
 * Whether a decoded image (its displayed, oriented size) is below `MIN_IMAGE_SIDE` on either side.
 * @param width, height in pixels.
 */
export function isBelowMinSize(width: number, height: number): boolean {
  return Math.min(width, height) < MIN_IMAGE_SIDE;
}

/**
 * The one-line reason for a too-small image, or null when it is big enough: "too small (1x1
 * pixels); a photo needs at least 16 px on each side". Training skips such an image with this
 * reason; prediction warns with it.
 */
export function tooSmallReason(width: number, height: number): string | null {
  return isBelowMinSize(width, height) ? `too small (${width}x${height} pixels); a photo needs at least ${MIN_IMAGE_SIDE} px on each side` : null;
}

/**
 * Resampling kernel for the resize to the base's input size. Lanczos3 (sharp's default, with
 * proper anti-aliasing when shrinking) matches Coral's reference preprocessing, which resizes with
 * Pillow's `Image.ANTIALIAS` (= LANCZOS) in pycoral `examples/classify_image.py`.
 */
export const RESIZE_KERNEL = 'lanczos3' as const;

/**
 * How a non-square image becomes the square input:
 * - 'crop': centre crop to a square of the shorter side, then resize (Coral's and Teachable
 *   Machine's choice; keeps the aspect ratio, loses the long side's ends);
 * - 'squash': resize the whole image to size×size (keeps everything, stretches the aspect ratio:
 *   right for tall crops such as single meter digits, whose ends a centre crop would cut off);
 * - 'pad': resize the whole image to fit inside size×size and pad the rest with mid-grey 128
 *   (the quantized base's zero point, i.e. input value 0.0).
 */
export type Fit = 'crop' | 'squash' | 'pad';

/** The fits `parseFit` accepts. */
export const FITS: readonly Fit[] = ['crop', 'squash', 'pad'];

/** Parses a --fit value. @throws EdgeTuneError BAD_OPTION listing the valid fits. */
export function parseFit(s: string): Fit {
  if ((FITS as readonly string[]).includes(s)) return s as Fit;
  throw fail('BAD_OPTION', `unknown fit '${s}': use one of ${FITS.join(', ')}`);
}

/** Padding colour of the 'pad' fit: 128 = zero point of the bases' uint8 input (scale 1/128). */
const PAD = { r: 128, g: 128, b: 128 };

/** A crop rectangle in pixels. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The centred crop of a width×height image to an aspect ratio (default 1: a square of the shorter
 * side). For aspect = target width / target height: an image wider than that keeps its full height
 * and the centred width round(height·aspect); a taller one keeps its full width and the centred
 * height round(width / aspect); never below 1 px. left = floor((width − crop width) / 2), top
 * likewise (odd leftovers go to the right/bottom).
 * @param width, height image size in pixels (positive integers).
 * @param aspect target width / height, > 0 (e.g. 20/32 for a 32×20 CNN input).
 * @throws EdgeTuneError BAD_IMAGE for non-positive or non-integer sizes.
 */
export function centreCropBox(width: number, height: number, aspect = 1): CropBox {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw fail('BAD_IMAGE', `cannot crop an image of size ${width}x${height}: width and height must be positive integers`);
  }
  let w = width;
  let h = height;
  // Integer comparison first so aspect 1 gives exactly the square of the shorter side.
  if (aspect === 1) {
    w = h = Math.min(width, height);
  } else if (width > height * aspect) {
    w = Math.max(1, Math.min(width, Math.round(height * aspect)));
  } else {
    h = Math.max(1, Math.min(height, Math.round(width / aspect)));
  }
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/**
 * A network input's shape: height × width pixels, 3 channels (RGB) or 1 (grey, BT.601 luma).
 * MobileNet bases take square RGB; EdgeTune's CNN (`--arch cnn`) takes any of these.
 */
export interface InputShape {
  height: number;
  width: number;
  channels: 1 | 3;
}

/**
 * The image input of a model from its input tensor's shape [1, H, W, C] (NHWC, batch 1; C 1 or 3),
 * so the input size and channels of any EdgeTune model (a base + head, or a CNN) come from the
 * .tflite itself.
 * @throws EdgeTuneError BAD_MODEL naming the shape when it is not an image input.
 */
export function inputShapeOf(tensorShape: readonly number[], file = 'the model'): InputShape {
  const [b, h, w, c] = tensorShape;
  if (tensorShape.length !== 4 || b !== 1 || !(h >= 1) || !(w >= 1) || (c !== 1 && c !== 3)) {
    throw fail('BAD_MODEL', `${file} takes input [${tensorShape.join(', ')}], not an image [1, height, width, 1 or 3]: pass an image classifier`);
  }
  return { height: h, width: w, channels: c };
}

/** The square RGB input of a base: size×size×3. */
export function squareRgb(size: number): InputShape {
  return { height: size, width: size, channels: 3 };
}

/**
 * RGB → grey: Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601 luma, as Pillow's convert('L') and
 * the perceptual hash use), rounded to the nearest integer.
 * @param rgb uint8 [n·3] HWC. @returns uint8 [n].
 */
export function toGrey(rgb: Uint8Array): Uint8Array {
  const n = rgb.length / 3;
  const out = new Uint8Array(n);
  for (let i = 0, o = 0; i < n; i++, o += 3) out[i] = Math.round(0.299 * rgb[o] + 0.587 * rgb[o + 1] + 0.114 * rgb[o + 2]);
  return out;
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 4096) {
    throw fail('BAD_OPTION', `input size ${size} is invalid: expected an integer number of pixels in 1..4096`);
  }
}

function checkShape(s: InputShape): void {
  checkSize(s.height);
  checkSize(s.width);
  if (s.channels !== 1 && s.channels !== 3) throw fail('BAD_OPTION', `input channels ${String(s.channels)} is invalid: expected 1 (grey) or 3 (RGB)`);
}

/** Grey when the shape asks for one channel; the RGB bytes as they are otherwise. */
function toChannels(rgb: Uint8Array, channels: 1 | 3): Uint8Array {
  return channels === 1 ? toGrey(rgb) : rgb;
}

function asUint8(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Applies the fit's geometry to a sharp pipeline of a width×height image, to outW×outH: the part
 * shared by the one-pass and the two-step path, so both give the same bytes.
 */
function fitTo(pipeline: Sharp, width: number, height: number, outW: number, outH: number, fit: Fit): Sharp {
  // 'fill' after the crop: a crop rounded to whole pixels may miss the aspect ratio by a fraction of a pixel.
  if (fit === 'crop') return pipeline.extract(centreCropBox(width, height, outW / outH)).resize(outW, outH, { kernel: RESIZE_KERNEL, fit: 'fill' });
  // A full-frame extract keeps sharp from shrink-on-load (which would change the resampling).
  const whole = pipeline.extract({ left: 0, top: 0, width, height });
  if (fit === 'squash') return whole.resize(outW, outH, { kernel: RESIZE_KERNEL, fit: 'fill' });
  return whole.resize(outW, outH, { kernel: RESIZE_KERNEL, fit: 'contain', background: PAD }).removeAlpha();
}

/**
 * Turn a decoded image into a base's input: by default centre crop to a square (`centreCropBox`),
 * then resize to size×size with `RESIZE_KERNEL` (lanczos3) in sharp; see `Fit` for the others.
 *
 * @param img `RgbImage` HWC uint8, 3 channels.
 * @param size output side in pixels (e.g. 224 for MobileNet).
 * @param fit how a non-square image is made square (default 'crop').
 * @returns Uint8Array of length size*size*3: HWC, RGB, uint8 0..255 (no normalisation; the
 *   quantized base's input scale/zero-point do that).
 * @throws Error when `img.data.length !== width*height*3` or size is not an integer in 1..4096.
 */
export async function toInput(img: RgbImage, size: number, fit: Fit = 'crop'): Promise<Uint8Array> {
  return toInputShape(img, squareRgb(size), fit);
}

/**
 * `toInput` for any input shape: fit (for 'crop' a centre crop to the shape's aspect ratio,
 * `centreCropBox`) and resize to width×height with `RESIZE_KERNEL`, then grey (BT.601 luma,
 * `toGrey`) when the shape has one channel.
 * @returns Uint8Array [height·width·channels], HWC uint8 0..255.
 * @throws EdgeTuneError BAD_IMAGE for inconsistent image data, BAD_OPTION for an invalid shape.
 */
export async function toInputShape(img: RgbImage, shape: InputShape, fit: Fit = 'crop'): Promise<Uint8Array> {
  checkShape(shape);
  const { width, height, data } = img;
  if (data.length !== width * height * 3) {
    throw fail('BAD_IMAGE', `toInput: image data has ${data.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  }
  const out = await fitTo(sharp(data, { raw: { width, height, channels: 3 } }), width, height, shape.width, shape.height, fit)
    .raw({ depth: 'uchar' })
    .toBuffer();
  return toChannels(asUint8(out), shape.channels);
}

/** A preprocessed image and what was learnt decoding it, so callers never decode twice. */
export interface Preprocessed {
  /** Uint8Array [height·width·channels], HWC uint8 (RGB, or grey for one channel): the network's input. */
  pixels: Uint8Array;
  /** Displayed (EXIF/irot-oriented) size of the decoded image before fitting, in pixels. */
  width: number;
  height: number;
  /** The sniffed container format. */
  format: ImageFormat;
}

/**
 * Load + fit (centre crop by default) + resize: the one preprocessing path for training, export
 * verification and prediction, returning the oriented size too (for `tooSmallReason`).
 * Pixels are byte-identical to `toInput(await loadImage(path), size, fit)` (tested).
 *
 * For 8-bit JPEG/PNG without alpha it runs decode → EXIF orient → crop → resize as one sharp
 * pipeline (one decode, no full-size raw copy; about 3 ms for a 384x512 JPEG at size 224 on one
 * core). A pre-resize extract disables libjpeg shrink-on-load in sharp, which is what keeps the
 * result identical to the two-step path. Images with alpha take the two-step path because sharp
 * premultiplies alpha while resizing and drops it only at the end, which changes RGB values.
 * libvips reads only the rows a crop needs, so a truncated JPEG/PNG is refused up front
 * (`readImageBytes`), giving the same answer and message for every fit and path.
 *
 * @param pathOrBytes a file path or the whole file's bytes.
 * @param size output side in pixels (1..4096).
 * @param fit how a non-square image is made square (default 'crop'; see `Fit`).
 * @throws EdgeTuneError BAD_IMAGE "cannot read image X: reason" (see `loadImage`); BAD_OPTION for an invalid size.
 */
export async function preprocessImage(pathOrBytes: string | Uint8Array, size: number, fit: Fit = 'crop'): Promise<Preprocessed> {
  checkSize(size);
  return preprocessTo(pathOrBytes, { ...squareRgb(size), fit });
}

/**
 * `preprocessImage` for any input shape (EdgeTune's CNN: e.g. 32×20 grey): the same decode path,
 * then the fit to width×height (for 'crop' a centre crop to the target aspect ratio) and, for one
 * channel, BT.601 luma (`toGrey`) of the resized RGB.
 * @param pathOrBytes a file path or the whole file's bytes.
 * @param opts height, width (pixels, 1..4096), channels 1 | 3, fit (default 'crop').
 * @returns pixels Uint8Array [height·width·channels] HWC uint8, and the oriented source size.
 * @throws as `preprocessImage`; BAD_OPTION for an invalid shape.
 */
export async function preprocessTo(pathOrBytes: string | Uint8Array, opts: InputShape & { fit?: Fit }): Promise<Preprocessed> {
  const shape: InputShape = { height: opts.height, width: opts.width, channels: opts.channels };
  const fit = opts.fit ?? 'crop';
  checkShape(shape);
  const { bytes, format, source } = await readImageBytes(pathOrBytes);
  if (format === 'jpeg' || format === 'png') {
    let meta: Metadata;
    try {
      meta = await sharpInput(bytes).metadata();
    } catch (e) {
      throw decodeError(source, format, e);
    }
    if (!meta.hasAlpha && meta.depth === 'uchar') {
      const width = meta.autoOrient?.width ?? meta.width;
      const height = meta.autoOrient?.height ?? meta.height;
      try {
        const out = await fitTo(sharpInput(bytes).autoOrient(), width, height, shape.width, shape.height, fit)
          .toColourspace('srgb')
          .raw({ depth: 'uchar' })
          .toBuffer({ resolveWithObject: true });
        if (out.info.channels !== 3) throw new Error(`decoder returned ${out.info.channels} channels`);
        return { pixels: toChannels(asUint8(out.data), shape.channels), width, height, format };
      } catch (e) {
        throw decodeError(source, format, e);
      }
    }
  }
  const img = await decodeBytes(bytes, format, source);
  return { pixels: await toInputShape(img, shape, fit), width: img.width, height: img.height, format };
}

/**
 * `preprocessImage` without the size: the base input only.
 * @returns Uint8Array [size*size*3], HWC RGB uint8.
 * @throws as `preprocessImage`.
 */
export async function preprocess(pathOrBytes: string | Uint8Array, size: number, fit: Fit = 'crop'): Promise<Uint8Array> {
  return (await preprocessImage(pathOrBytes, size, fit)).pixels;
}
