import { readFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { decodeBmp } from './bmp';
import { detectFormat, unknownFormatReason, type ImageFormat } from './format';
import type { RgbImage } from './types';

/** Where an image came from, for error messages: the path, or "<N-byte buffer>". */
export function describeSource(pathOrBytes: string | Uint8Array): string {
  return typeof pathOrBytes === 'string' ? pathOrBytes : `<${pathOrBytes.length}-byte buffer>`;
}

/** The one error shape for unreadable images: "cannot read image X: reason". */
export function imageError(source: string, reason: string): Error {
  return new Error(`cannot read image ${source}: ${reason}`);
}

/**
 * The one-line error for a decoder failure: "cannot read image X: JPEG decode failed (reason)",
 * keeping only the first line of libvips' multi-line messages.
 */
export function decodeError(source: string, format: ImageFormat, e: unknown): Error {
  const first = String((e as Error)?.message ?? e).split('\n')[0].trim();
  return imageError(source, `${format.toUpperCase()} decode failed (${first})`);
}

/** Bytes and sniffed format of an image source; throws `imageError` for I/O failures or unknown formats. */
export async function readImageBytes(
  pathOrBytes: string | Uint8Array,
): Promise<{ bytes: Uint8Array; format: ImageFormat; source: string }> {
  const source = describeSource(pathOrBytes);
  let bytes: Uint8Array;
  if (typeof pathOrBytes === 'string') {
    try {
      bytes = await readFile(pathOrBytes);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw imageError(source, err.code === 'ENOENT' ? 'file not found' : err.message);
    }
  } else {
    bytes = pathOrBytes;
  }
  const format = detectFormat(bytes);
  if (format === null) throw imageError(source, unknownFormatReason(bytes));
  return { bytes, format, source };
}

/**
 * A sharp instance with the decode options every path shares. `failOn: 'error'` (which implies
 * 'truncated' in sharp's levels): decoder warnings such as libjpeg's "extraneous bytes before
 * marker" (seen in cheap-camera JPEGs) are tolerated, but decode errors and truncated files fail,
 * close to Pillow's default (it raises "image file is truncated" unless LOAD_TRUNCATED_IMAGES is
 * set). sharp's own default ('warning') would also reject the warnings.
 * @param bytes whole file bytes.
 */
export function sharpInput(bytes: Uint8Array): Sharp {
  return sharp(bytes, { failOn: 'error' });
}

/** Decode with sharp to RGB uint8: EXIF orientation applied, alpha dropped, grey → 3 channels. */
async function decodeWithSharp(bytes: Uint8Array, format: ImageFormat, source: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharpInput(bytes)
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`decoder returned ${info.channels} channels for ${info.width}x${info.height}`);
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (e) {
    throw decodeError(source, format, e);
  }
}

/**
 * Load an image file (or its bytes) as RGB.
 *
 * Format is decided by magic bytes (`detectFormat`), never by extension: a BMP named `.jpg`
 * decodes as BMP. BMP goes through bmp-ts (libvips in the sharp prebuilds has no BMP loader);
 * JPEG, PNG, WebP, GIF (first frame) and TIFF (first page) go through sharp/libvips.
 * EXIF orientation is applied (sharp `autoOrient`), so width/height are the displayed size.
 * Alpha is dropped without compositing (same as Pillow's `convert('RGB')` used by Coral's
 * examples); greyscale is replicated to 3 channels; embedded ICC profiles are converted to sRGB.
 *
 * @param pathOrBytes a file path or the whole file's bytes.
 * @returns `RgbImage` (HWC uint8, 3 channels, width*height*3 bytes).
 * @throws Error "cannot read image X: reason" for a missing file, an unknown format (lists the
 *   first bytes and the supported formats), RLE BMPs, or a decoder failure.
 */
export async function loadImage(pathOrBytes: string | Uint8Array): Promise<RgbImage> {
  const { bytes, format, source } = await readImageBytes(pathOrBytes);
  return decodeBytes(bytes, format, source);
}

/**
 * Decode bytes whose format is already sniffed (see `loadImage` for the rules).
 * @param source file name for error messages. @throws Error "cannot read image <source>: reason".
 */
export async function decodeBytes(bytes: Uint8Array, format: ImageFormat, source: string): Promise<RgbImage> {
  if (format === 'bmp') {
    try {
      return decodeBmp(bytes);
    } catch (e) {
      throw imageError(source, (e as Error).message);
    }
  }
  return decodeWithSharp(bytes, format, source);
}
