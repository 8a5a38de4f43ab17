/**
 * Image container formats EdgeTune decodes, identified by content (magic bytes), never by file
 * name. 'heic' is HEIF with HEVC-coded images (phones' default), decoded by heic-decode
 * (libheif compiled to WebAssembly); 'avif' is HEIF with AV1-coded images, decoded by sharp
 * (its prebuilt libvips has libheif with an AV1 decoder but no HEVC decoder).
 */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'bmp' | 'heic' | 'avif';

/**
 * How many leading bytes `sniffImage` reads to classify a file (bytes). Enough for every
 * signature, an ISO-BMFF `ftyp` box with its brand list (usually 24–40 bytes) and the first IFD of
 * a TIFF (camera raws announce themselves there). Fewer bytes still classify all but those details.
 */
export const SNIFF_BYTES = 1024;

/** Human-readable list for error messages. */
export const SUPPORTED_FORMATS = 'JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF';

/** What the first bytes of a file say about it. */
export type Sniffed =
  /** An image EdgeTune decodes. */
  | { kind: 'image'; format: ImageFormat }
  /** A recognised format EdgeTune does not decode: `name` (e.g. "PSD (Photoshop document)") and what to do. */
  | { kind: 'unsupported'; name: string; hint: string }
  /** Not recognised as any image format. `what`: "empty file", "text file", or "unknown content (first bytes …)". */
  | { kind: 'unknown'; what: string };

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

function ascii(s: string): number[] {
  return Array.from(s, (c) => c.charCodeAt(0));
}

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

const unsupported = (name: string, hint: string): Sniffed => ({ kind: 'unsupported', name, hint });

const HEIC_TO_JPEG = "convert it to JPEG, e.g. 'heif-convert photo.heic photo.jpg' (Debian package libheif-examples), or set the phone's camera format to 'Most Compatible'";

/**
 * HEIF/AVIF and other ISO base media files (ISO/IEC 14496-12 §4.3: a `ftyp` box with a major
 * brand, a minor version and compatible brands). Brands (source: ISO/IEC 23008-12 Annex B,
 * AV1 Image File Format §9, libheif's `heif_check_filetype`): heic/heix (HEVC still images),
 * hevc/hevx (HEVC image sequences), heim/heis (multi-layer/scalable HEVC), mif1/msf1/miaf
 * (generic HEIF image / sequence / MIAF, codec not named), avif/avis (AV1 still / sequence).
 */
function sniffIsoBmff(bytes: Uint8Array): Sniffed {
  const size = u32be(bytes, 0);
  const end = Math.min(bytes.length, size >= 16 ? size : bytes.length);
  const major = fourcc(bytes, 8);
  const brands = new Set([major]);
  for (let at = 16; at + 4 <= end; at += 4) brands.add(fourcc(bytes, at));
  const has = (...bs: string[]) => bs.some((b) => brands.has(b));
  if (has('avif')) return { kind: 'image', format: 'avif' };
  if (has('avis')) return unsupported('AVIF image sequence (animated AVIF)', "extract a frame as PNG, e.g. 'ffmpeg -i in.avif -frames:v 1 out.png'");
  if (has('heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1', 'miaf')) return { kind: 'image', format: 'heic' };
  if (has('heim', 'heis')) return unsupported('HEIC with layered (multi-layer or scalable) HEVC', HEIC_TO_JPEG);
  if (has('crx ')) return unsupported('Canon CR3 camera raw', 'export it as JPEG with your raw converter (darktable, RawTherapee, the camera software)');
  if (has('jp2 ', 'jpx ', 'jpm ')) return unsupported('JPEG 2000', "convert it to PNG, e.g. 'opj_decompress -i in.jp2 -o out.png' (Debian package libopenjp2-tools)");
  if (has('qt  ', 'isom', 'iso2', 'iso4', 'iso5', 'iso6', 'mp41', 'mp42', 'avc1', 'M4V ', 'M4VH', 'MSNV', '3gp4', '3gp5', '3gp6', '3g2a', 'dash', 'XAVC')) {
    return unsupported('video (MP4/QuickTime)', "it is a video, not a photo: extract frames, e.g. 'ffmpeg -i in.mp4 -vf fps=1 frame_%04d.jpg'");
  }
  return unsupported(`ISO media file (brand '${major.trim()}')`, 'convert it to JPEG or PNG');
}

/**
 * A TIFF whose first image is not the photo: camera raws (Canon CR2 marks itself with 'CR' at
 * offset 8; DNG has the DNGVersion tag 0xC612 in IFD0, Adobe DNG spec 1.4; NEF and others store
 * a reduced-resolution preview first: NewSubfileType (tag 254) bit 0 set, TIFF 6.0 §8). libvips
 * would decode that first, small image silently, so these are refused. Null for an ordinary TIFF
 * or when IFD0 is not within `bytes`.
 */
function tiffRaw(bytes: Uint8Array): Sniffed | null {
  if (bytes[8] === 0x43 && bytes[9] === 0x52) return unsupported('Canon CR2 camera raw', 'export it as JPEG with your raw converter (darktable, RawTherapee, the camera software)');
  const le = bytes[0] === 0x49;
  const u16 = (at: number) => (le ? bytes[at] | (bytes[at + 1] << 8) : (bytes[at] << 8) | bytes[at + 1]);
  const u32 = (at: number) => (le ? (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0 : u32be(bytes, at));
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > bytes.length) return null;
  const n = u16(ifd);
  for (let i = 0; i < n && ifd + 2 + i * 12 + 12 <= bytes.length; i++) {
    const e = ifd + 2 + i * 12;
    const tag = u16(e);
    if (tag === 0xc612) return unsupported('DNG camera raw', 'export it as JPEG with your raw converter (darktable, RawTherapee, the camera software)');
    if (tag === 254) {
      const type = u16(e + 2);
      const value = type === 3 ? u16(e + 8) : u32(e + 8);
      if (value & 1) {
        return unsupported('TIFF whose first image is a reduced-resolution preview (a camera raw such as NEF or ARW)', 'export it as JPEG with your raw converter (darktable, RawTherapee, the camera software)');
      }
    }
  }
  return null;
}

/** True when every byte is printable ASCII, whitespace or part of UTF-8 text (no NUL, no C0 controls but \t\n\r\f). */
function looksLikeText(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b === 0 || (b < 0x20 && b !== 9 && b !== 10 && b !== 12 && b !== 13) || b === 0x7f) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, Math.max(0, bytes.length - 3))); // a cut multi-byte char at the end is fine
    return true;
  } catch {
    return false;
  }
}

/**
 * Classify a file by its first bytes: an image EdgeTune decodes, a recognised format it does not
 * decode (named, with what to do), or unknown content. Never throws.
 *
 * @param bytes the start of the file (`SNIFF_BYTES` = 1024 are plenty; a whole file is fine).
 *
 * Signatures (sources: ITU T.81 SOI marker + next marker; PNG spec §5.2; GIF87a/89a spec; Google
 * WebP container spec; TIFF 6.0 §2 byte-order header; BMP BITMAPFILEHEADER; ISO/IEC 14496-12
 * `ftyp`; Adobe Photoshop file format spec '8BPS'; ISO/IEC 18181-2 JPEG XL codestream FF 0A and
 * container box 'JXL '; ISO/IEC 15444-1 JPEG 2000 codestream FF 4F FF 51 and 'jP  ' box;
 * PDF 1.7 §7.5.2 '%PDF-'; ZIP APPNOTE local header 'PK\3\4'; ICONDIR reserved 0, type 1):
 * - JPEG `FF D8 FF`; PNG `89 50 4E 47 0D 0A 1A 0A`; GIF `GIF87a` / `GIF89a`;
 * - WebP `RIFF` <size> `WEBP`; TIFF `II*\0` / `MM\0*`; BMP `BM` + a known DIB header size;
 * - HEIC/AVIF: `ftyp` at offset 4 and the brands above (`sniffIsoBmff`).
 */
export function sniffImage(bytes: Uint8Array): Sniffed {
  const image = (format: ImageFormat): Sniffed => ({ kind: 'image', format });
  if (bytes.length === 0) return { kind: 'unknown', what: 'empty file' };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return image('jpeg');
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return image('png');
  if (startsWith(bytes, ascii('GIF8')) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61) return image('gif');
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return image('webp');
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return tiffRaw(bytes) ?? image('tiff');
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length >= 18) {
    const dib = (bytes[14] | (bytes[15] << 8) | (bytes[16] << 16) | (bytes[17] << 24)) >>> 0;
    if (BMP_DIB_HEADER_SIZES.has(dib)) return image('bmp');
  }
  if (bytes.length >= 12 && startsWith(bytes, ascii('ftyp'), 4)) return sniffIsoBmff(bytes);
  const raw = 'export it as JPEG with your raw converter (darktable, RawTherapee, the camera software)';
  if (startsWith(bytes, ascii('IIRO')) || startsWith(bytes, ascii('IIRS'))) return unsupported('Olympus ORF camera raw', raw);
  if (startsWith(bytes, [0x49, 0x49, 0x55, 0x00])) return unsupported('Panasonic RW2 camera raw', raw);
  if (startsWith(bytes, ascii('FUJIFILMCCD-RAW'))) return unsupported('Fujifilm RAF camera raw', raw);
  if (startsWith(bytes, ascii('8BPS'))) return unsupported('PSD (Photoshop document)', 'save or export it as PNG or JPEG (Photoshop, GIMP, Krita)');
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, ...ascii('JXL '), 0x0d, 0x0a, 0x87, 0x0a])) {
    return unsupported('JPEG XL', "convert it to PNG, e.g. 'djxl in.jxl out.png' (Debian package libjxl-tools)");
  }
  if (startsWith(bytes, [0xff, 0x4f, 0xff, 0x51]) || startsWith(bytes, [0, 0, 0, 0x0c, ...ascii('jP  '), 0x0d, 0x0a, 0x87, 0x0a])) {
    return unsupported('JPEG 2000', "convert it to PNG, e.g. 'opj_decompress -i in.jp2 -o out.png' (Debian package libopenjp2-tools)");
  }
  if (startsWith(bytes, ascii('%PDF-'))) return unsupported('PDF document', 'export the page or picture you want as PNG or JPEG');
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return unsupported('ZIP archive', 'unpack it first and use the photos inside');
  if (startsWith(bytes, [0x76, 0x2f, 0x31, 0x01])) return unsupported('OpenEXR (HDR)', 'tone-map and export it as PNG or JPEG');
  if (startsWith(bytes, [0, 0, 1, 0]) && bytes.length >= 6 && bytes[4] + (bytes[5] << 8) > 0) return unsupported('ICO (Windows icon)', "convert it to PNG, e.g. 'convert icon.ico icon.png' (ImageMagick)");
  if (looksLikeText(bytes.subarray(0, 512))) {
    const text = new TextDecoder().decode(bytes.subarray(0, 512)).trimStart().toLowerCase();
    if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) {
      return unsupported('SVG (vector drawing)', "render it to PNG, e.g. 'rsvg-convert -o out.png in.svg' (Debian package librsvg2-bin)");
    }
    return { kind: 'unknown', what: 'a text file' };
  }
  return { kind: 'unknown', what: `unknown content (first bytes ${hexPrefix(bytes)})` };
}

/**
 * Identify an image container EdgeTune decodes from its first bytes.
 * @returns the format, or `null` for anything else (unknown or unsupported; see `sniffImage`). Never throws.
 */
export function detectFormat(bytes: Uint8Array): ImageFormat | null {
  const s = sniffImage(bytes);
  return s.kind === 'image' ? s.format : null;
}

/**
 * The first `n` bytes as lowercase hex pairs ("ff d8 ff e0"), for error messages about content no
 * format matches. @param bytes any bytes; @param n how many to show (default 8).
 */
export function hexPrefix(bytes: Uint8Array, n = 8): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * The one-line reason a file is not a decodable image, for every module that sniffs files:
 * "unsupported format PSD (Photoshop document): save or export it as PNG or JPEG …" or
 * "not an image (a text file); supported: …". Empty string for a decodable image.
 * @param bytes the start of the file (see `sniffImage`).
 */
export function notImageReason(bytes: Uint8Array): string {
  return sniffedReason(sniffImage(bytes));
}

/** `notImageReason` for an already computed `Sniffed`. */
export function sniffedReason(s: Sniffed): string {
  if (s.kind === 'image') return '';
  if (s.kind === 'unsupported') return `unsupported format ${s.name}: ${s.hint}`;
  return `not an image (${s.what}); supported: ${SUPPORTED_FORMATS}`;
}
