import { decode as decodeBmpTs } from 'bmp-ts';
import type { RgbImage } from './types';

/** BMP compression codes that bmp-ts 1.0.9 mis-decodes (its RLE path writes to wrong offsets). */
const BI_RLE8 = 1; // Source: Microsoft BITMAPINFOHEADER biCompression values.
const BI_RLE4 = 2;

/**
 * Decode a BMP (1/4/8/16/24/32 bits per pixel, uncompressed or BI_BITFIELDS) into RGB.
 *
 * bmp-ts returns 4 bytes per pixel in A,B,G,R order (byte 0 = alpha/unused, 1 = blue, 2 = green,
 * 3 = red) for every bit depth when `toRGBA` is off; its `toRGBA` option is not honoured by the
 * palette (1/4/8-bit) paths, so the ABGR layout is the one we rely on. Rows come out top-down
 * (bmp-ts undoes the bottom-up storage). Alpha is dropped.
 *
 * @param bytes the whole file.
 * @returns `RgbImage`: data HWC uint8, 3 channels, length width*height*3.
 * @throws Error (plain reason, the caller adds the file name) for RLE compression or a corrupt file.
 */
export function decodeBmp(bytes: Uint8Array): RgbImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // biCompression: uint32 LE at offset 30 (14-byte file header + 16 bytes into BITMAPINFOHEADER).
  const compression = buf.length >= 34 ? buf.readUInt32LE(30) : -1;
  if (compression === BI_RLE8 || compression === BI_RLE4) {
    throw new Error('RLE-compressed BMP is not supported; re-save it as an uncompressed BMP, PNG or JPEG');
  }
  let decoded: { width: number; height: number; data: Buffer };
  try {
    decoded = decodeBmpTs(buf);
  } catch (e) {
    // The decoder reads past the end of a short file with Buffer's own RangeError: say what it means.
    throw new Error(e instanceof RangeError ? `corrupt BMP (${buf.length} bytes: the file ends before the header or pixel data it declares; it is truncated or not a BMP)` : `corrupt BMP (${(e as Error).message})`);
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length < width * height * 4) {
    throw new Error(`corrupt BMP (size ${width}x${height}, ${data.length} pixel bytes)`);
  }
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, s = 0, d = 0; i < n; i++, s += 4, d += 3) {
    out[d] = data[s + 3];
    out[d + 1] = data[s + 2];
    out[d + 2] = data[s + 1];
  }
  return { data: out, width, height };
}
