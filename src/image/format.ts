/** Image container formats EdgeTune decodes, identified by content (magic bytes), never by file name. */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'bmp';

/** How many leading bytes `detectFormat` needs to recognise every supported format (bytes). */
export const SNIFF_BYTES = 18;

/** Human-readable list for error messages. */
export const SUPPORTED_FORMATS = 'JPEG, PNG, WebP, GIF, TIFF, BMP';

/**
 * DIB header sizes that may follow the 14-byte BMP file header (bytes). 'BM' alone is a weak
 * signature (any text starting "BM..." would match), so the header size at offset 14 is checked too.
 * Source: Microsoft BITMAPCOREHEADER (12), OS/2 BITMAPINFOHEADER2 short (16) and full (64),
 * BITMAPINFOHEADER (40), V2 (52), V3 (56), BITMAPV4HEADER (108), BITMAPV5HEADER (124).
 */
const BMP_DIB_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

function startsWith(bytes: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (bytes.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[at + i] !== sig[i]) return false;
  return true;
}

/**
 * Identify an image container from its first bytes.
 *
 * @param bytes the start of the file (at least `SNIFF_BYTES` = 18 bytes for BMP; fewer is fine for
 *   the others; a whole file is fine too).
 * @returns the format, or `null` when no supported signature matches (never throws).
 *
 * Signatures (sources: JFIF/ITU T.81 SOI marker + next marker; PNG spec §5.2; GIF87a/89a spec;
 * RIFF container + WebP FourCC, Google WebP container spec; TIFF 6.0 §2 byte-order header;
 * BMP BITMAPFILEHEADER):
 * - JPEG `FF D8 FF`
 * - PNG  `89 50 4E 47 0D 0A 1A 0A`
 * - GIF  `GIF87a` / `GIF89a`
 * - WebP `RIFF` <4-byte size> `WEBP`
 * - TIFF `II*\0` (little-endian) / `MM\0*` (big-endian)
 * - BMP  `BM` + a known DIB header size (uint32 LE at offset 14)
 */
export function detectFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38]) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61) {
    return 'gif';
  }
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length >= 18) {
    const dib = (bytes[14] | (bytes[15] << 8) | (bytes[16] << 16) | (bytes[17] << 24)) >>> 0;
    if (BMP_DIB_HEADER_SIZES.has(dib)) return 'bmp';
  }
  return null;
}

/**
 * The first `n` bytes as lowercase hex pairs ("ff d8 ff e0"), for error messages.
 * @param bytes any bytes; @param n how many to show (default 8).
 */
export function hexPrefix(bytes: Uint8Array, n = 8): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * The one-line "unknown format" reason used by every module that sniffs files.
 * @param bytes the start of the file; an empty array gives "empty file".
 */
export function unknownFormatReason(bytes: Uint8Array): string {
  if (bytes.length === 0) return `unknown format (empty file); supported: ${SUPPORTED_FORMATS}`;
  return `unknown format (first bytes ${hexPrefix(bytes)}); supported: ${SUPPORTED_FORMATS}`;
}
