import sharp, { type Metadata } from 'sharp';
import { decodeBytes, decodeError, readImageBytes, sharpInput } from './load';
import type { RgbImage } from './types';

/**
 * Resampling kernel for the resize to the base's input size. Lanczos3 (sharp's default, with
 * proper anti-aliasing when shrinking) matches Coral's reference preprocessing, which resizes with
 * Pillow's `Image.ANTIALIAS` (= LANCZOS) in pycoral `examples/classify_image.py`.
 */
export const RESIZE_KERNEL = 'lanczos3' as const;

/** A crop rectangle in pixels. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The centred square crop of a width×height image: side = min(width, height) pixels,
 * left = floor((width - side) / 2), top = floor((height - side) / 2) (odd leftovers go to the
 * right/bottom). Throws Error for non-positive or non-integer sizes.
 */
export function centreCropBox(width: number, height: number): CropBox {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`cannot crop an image of size ${width}x${height}: width and height must be positive integers`);
  }
  const side = Math.min(width, height);
  return { left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side };
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 4096) {
    throw new Error(`input size ${size} is invalid: expected an integer number of pixels in 1..4096`);
  }
}

function asUint8(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Turn a decoded image into a base's input: centre crop to a square (`centreCropBox`), then
 * resize to size×size with `RESIZE_KERNEL` (lanczos3) in sharp.
 *
 * @param img `RgbImage` HWC uint8, 3 channels.
 * @param size output side in pixels (e.g. 224 for MobileNet).
 * @returns Uint8Array of length size*size*3: HWC, RGB, uint8 0..255 (no normalisation; the
 *   quantized base's input scale/zero-point do that).
 * @throws Error when `img.data.length !== width*height*3` or size is not an integer in 1..4096.
 */
export async function toInput(img: RgbImage, size: number): Promise<Uint8Array> {
  checkSize(size);
  const { width, height, data } = img;
  if (data.length !== width * height * 3) {
    throw new Error(`toInput: image data has ${data.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  }
  const box = centreCropBox(width, height);
  const out = await sharp(data, { raw: { width, height, channels: 3 } })
    .extract(box)
    .resize(size, size, { kernel: RESIZE_KERNEL })
    .raw({ depth: 'uchar' })
    .toBuffer();
  return asUint8(out);
}

/**
 * Load + centre crop + resize: the one preprocessing path for training, export verification and
 * prediction. Output is byte-identical to `toInput(await loadImage(path), size)` (tested).
 *
 * For 8-bit JPEG/PNG without alpha it runs decode → EXIF orient → crop → resize as one sharp
 * pipeline (one decode, no full-size raw copy; about 3 ms for a 384x512 JPEG at size 224 on one
 * core). A pre-resize extract disables libjpeg shrink-on-load in sharp, which is what keeps the
 * result identical to the two-step path. Images with alpha take the two-step path because sharp
 * premultiplies alpha while resizing and drops it only at the end, which changes RGB values.
 *
 * @param pathOrBytes a file path or the whole file's bytes.
 * @param size output side in pixels.
 * @returns Uint8Array [size*size*3], HWC RGB uint8.
 * @throws Error "cannot read image X: reason" (see `loadImage`) or for an invalid size.
 */
export async function preprocess(pathOrBytes: string | Uint8Array, size: number): Promise<Uint8Array> {
  checkSize(size);
  const { bytes, format, source } = await readImageBytes(pathOrBytes);
  if (format === 'jpeg' || format === 'png') {
    let meta: Metadata;
    try {
      meta = await sharpInput(bytes).metadata();
    } catch (e) {
      throw decodeError(source, format, e);
    }
    if (!meta.hasAlpha && meta.depth === 'uchar') {
      const w = meta.autoOrient?.width ?? meta.width;
      const h = meta.autoOrient?.height ?? meta.height;
      try {
        const out = await sharpInput(bytes)
          .autoOrient()
          .extract(centreCropBox(w, h))
          .resize(size, size, { kernel: RESIZE_KERNEL })
          .toColourspace('srgb')
          .raw({ depth: 'uchar' })
          .toBuffer({ resolveWithObject: true });
        if (out.info.channels !== 3) throw new Error(`decoder returned ${out.info.channels} channels`);
        return asUint8(out.data);
      } catch (e) {
        throw decodeError(source, format, e);
      }
    }
  }
  return toInput(await decodeBytes(bytes, format, source), size);
}
