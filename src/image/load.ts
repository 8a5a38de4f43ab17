import * as fsp from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { EdgeTuneError, ioError } from '../errors';
import { decodeBmp } from './bmp';
import { decodeHeic } from './heic';
import { sniffImage, sniffedReason, SNIFF_BYTES, type ImageFormat } from './format';
import { truncationReason } from './truncation';
import type { RgbImage } from './types';

/** Where an image came from, for error messages: the path, or "<N-byte buffer>". */
export function describeSource(pathOrBytes: string | Uint8Array): string {
  return typeof pathOrBytes === 'string' ? pathOrBytes : `<${pathOrBytes.length}-byte buffer>`;
}

/**
 * The one error for every unreadable image, on every path (training, export verification,
 * prediction, evaluation): `EdgeTuneError('BAD_IMAGE', "cannot read image X: reason")`, one line.
 * Callers that list skipped files should show `message` as is (it already names the file).
 */
export function imageError(source: string, reason: string, cause?: unknown): EdgeTuneError {
  return new EdgeTuneError('BAD_IMAGE', `cannot read image ${source}: ${reason.split('\n')[0].trim()}`, cause === undefined ? undefined : { cause });
}

/**
 * The one-line error for a decoder failure: "cannot read image X: JPEG decode failed (reason)",
 * keeping only the first line of libvips' multi-line messages and dropping sharp's
 * "Input buffer has corrupt header:" wrapper (the same fault gives the same message whether the
 * header or the pixel data was being read).
 */
export function decodeError(source: string, format: ImageFormat, e: unknown): EdgeTuneError {
  if (e instanceof EdgeTuneError) return e;
  const first = String((e as Error)?.message ?? e).split('\n')[0].replace(/^Input (buffer|file) has corrupt header:\s*/, '').trim();
  return imageError(source, `${format.toUpperCase()} decode failed (${first})`, e);
}

/**
 * Bytes and sniffed format of an image source. A file is read only far enough to sniff it when it
 * is not a decodable image (a 2 GB video named .jpg is not loaded), then whole.
 * @throws EdgeTuneError BAD_IMAGE: I/O failures as one line ("it is a folder, not a file (EISDIR)",
 *   never a raw system error), unsupported formats by name with what to do, unknown content, and
 *   truncated JPEG/PNG/HEIC/AVIF files (`truncationReason`).
 */
export async function readImageBytes(
  pathOrBytes: string | Uint8Array,
): Promise<{ bytes: Uint8Array; format: ImageFormat; source: string }> {
  const source = describeSource(pathOrBytes);
  let bytes: Uint8Array;
  if (typeof pathOrBytes === 'string') {
    bytes = await readImageFile(pathOrBytes);
  } else {
    bytes = pathOrBytes;
  }
  const sniffed = sniffImage(bytes.subarray(0, SNIFF_BYTES));
  if (sniffed.kind !== 'image') throw imageError(source, sniffedReason(sniffed));
  const cut = truncationReason(bytes, sniffed.format);
  if (cut) throw imageError(source, cut);
  return { bytes, format: sniffed.format, source };
}

async function readImageFile(file: string): Promise<Uint8Array> {
  // ioError words the system error ("it is a folder, not a file (EISDIR)"); the code stays BAD_IMAGE.
  const fail = (e: unknown) => new EdgeTuneError('BAD_IMAGE', ioError('read image', file, e).message, { cause: e });
  let fh: fsp.FileHandle | undefined;
  try {
    // stat before open: opening a FIFO for reading would block until a writer appears.
    const st = await fsp.stat(file);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR', syscall: 'read' });
    if (!st.isFile()) throw new EdgeTuneError('BAD_IMAGE', `cannot read image ${file}: it is not a regular file (a device, pipe or socket)`);
    fh = await fsp.open(file, 'r');
    const head = new Uint8Array(Math.min(SNIFF_BYTES, st.size));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const sniffed = sniffImage(head.subarray(0, bytesRead));
    if (sniffed.kind !== 'image') throw imageError(file, sniffedReason(sniffed));
    return await fh.readFile();
  } catch (e) {
    throw e instanceof EdgeTuneError ? e : fail(e);
  } finally {
    await fh?.close();
  }
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
 * Format is decided by content (`sniffImage`), never by extension: a BMP named `.jpg` decodes as
 * BMP. BMP goes through bmp-ts (libvips in the sharp prebuilds has no BMP loader); HEIC through
 * heic-decode (libheif in WebAssembly; sharp's libheif has no HEVC decoder); JPEG, PNG, WebP,
 * GIF (first frame), TIFF (first page) and AVIF through sharp/libvips.
 * Orientation is applied (EXIF for JPEG/TIFF/WebP/PNG via sharp `autoOrient`, `irot`/`imir` for
 * HEIF via libheif), so width/height are the displayed size. Alpha is dropped without compositing
 * (same as Pillow's `convert('RGB')` used by Coral's examples); greyscale is replicated to
 * 3 channels; embedded ICC profiles are converted to sRGB.
 *
 * @param pathOrBytes a file path or the whole file's bytes.
 * @returns `RgbImage` (HWC uint8, 3 channels, width*height*3 bytes).
 * @throws EdgeTuneError BAD_IMAGE "cannot read image X: reason" for a missing or unreadable file,
 *   an unsupported format (named, with how to convert), unknown content, a truncated file, RLE
 *   BMPs, or a decoder failure.
 */
export async function loadImage(pathOrBytes: string | Uint8Array): Promise<RgbImage> {
  const { bytes, format, source } = await readImageBytes(pathOrBytes);
  return decodeBytes(bytes, format, source);
}

/**
 * Decode bytes whose format is already sniffed (see `loadImage` for the rules).
 * @param source file name for error messages. @throws EdgeTuneError BAD_IMAGE "cannot read image <source>: reason".
 */
export async function decodeBytes(bytes: Uint8Array, format: ImageFormat, source: string): Promise<RgbImage> {
  if (format === 'bmp' || format === 'heic') {
    try {
      return format === 'bmp' ? decodeBmp(bytes) : await decodeHeic(bytes);
    } catch (e) {
      throw imageError(source, (e as Error).message, e);
    }
  }
  return decodeWithSharp(bytes, format, source);
}
