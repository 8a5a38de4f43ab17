import type { ImageFormat } from './format';

/**
 * Cheap end-of-file checks for formats whose decoders read lazily. libvips decodes JPEG and PNG
 * row by row and stops at the last row a crop needs, so a file cut off below the centre crop
 * decodes "fine" through the one-pass preprocessing path but fails a full decode: the same photo
 * would be accepted or refused depending on the fit. These checks run before any decoding so the
 * answer (and the message) is the same on every path.
 */

/** Position of the last `FF D9` (EOI) in `b`, or -1. */
function lastEoi(b: Uint8Array): number {
  for (let i = b.length - 2; i >= 0; i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return i;
  return -1;
}

/**
 * JPEG: walk the marker segments from SOI to the first SOS (ITU T.81 §B.1.1.4: each non-standalone
 * marker is followed by a 2-byte big-endian length that includes itself), then require an EOI
 * (`FF D9`) after it. Entropy-coded data never contains `FF D9` (0xFF is stuffed as `FF 00`, only
 * RST0–7 `FF D0`–`FF D7` may appear), so a file cut inside the scan data has no EOI after the SOS.
 * An EOI inside an EXIF thumbnail lies before the SOS and does not count.
 * @returns null when complete (or when the structure is too odd to judge: the decoder decides),
 *   else the reason.
 */
function jpegTruncated(b: Uint8Array): string | null {
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null;
    const m = b[at + 1];
    if (m === 0xff) { at++; continue; } // fill byte
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { at += 2; continue; }
    if (m === 0xd9) return null;
    const len = (b[at + 2] << 8) | b[at + 3];
    if (m === 0xda) return lastEoi(b) >= at + 2 + len ? null : 'the JPEG file is truncated (no end-of-image marker after the image data)';
    at += 2 + len;
  }
  return 'the JPEG file is truncated (it ends inside its header)';
}

/** PNG: the whole IEND chunk (length 0, type 'IEND', 4-byte CRC; PNG spec §5.3, §11.2.5) must be present. */
function pngTruncated(b: Uint8Array): string | null {
  for (let i = b.length - 12; i >= 8; i--) {
    if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 0 && b[i + 3] === 0 && b[i + 4] === 0x49 && b[i + 5] === 0x45 && b[i + 6] === 0x4e && b[i + 7] === 0x44) return null;
  }
  return 'the PNG file is truncated (no IEND chunk)';
}

/**
 * ISO-BMFF (HEIC, AVIF): the top-level boxes must tile the file (ISO/IEC 14496-12 §4.2: 32-bit size,
 * 1 = 64-bit size follows the type, 0 = to the end of the file). A box running past the end means
 * the file was cut.
 */
function bmffTruncated(b: Uint8Array, name: string): string | null {
  let at = 0;
  while (at + 8 <= b.length) {
    const size32 = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
    let size = size32;
    if (size32 === 0) return null;
    if (size32 === 1) {
      if (at + 16 > b.length) break;
      size = Number(new DataView(b.buffer, b.byteOffset + at + 8, 8).getBigUint64(0));
    }
    if (size < 8) return null; // malformed: the decoder says what is wrong
    if (at + size > b.length) break;
    at += size;
  }
  return at === b.length ? null : `the ${name} file is truncated (its last box runs past the end of the file)`;
}

/**
 * Reason the file is cut short, or null when its end looks complete (or the format has no cheap
 * check: GIF, WebP, TIFF and BMP are decoded in full, which reports truncation itself).
 * @param bytes the whole file. @param format its sniffed format.
 */
export function truncationReason(bytes: Uint8Array, format: ImageFormat): string | null {
  switch (format) {
    case 'jpeg': return jpegTruncated(bytes);
    case 'png': return pngTruncated(bytes);
    case 'heic': return bmffTruncated(bytes, 'HEIC');
    case 'avif': return bmffTruncated(bytes, 'AVIF');
    default: return null;
  }
}
