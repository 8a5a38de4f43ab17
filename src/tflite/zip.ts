/**
 * The zip of associated files that TFLite Metadata appends after a model's flatbuffer.
 *
 * tflite-support's MetadataPopulator (metadata.py `_populate_associated_files`) opens the finished
 * model with Python's `zipfile.ZipFile(f, 'a')` and writes each file with `writestr` (no
 * compression): the zip starts right where the flatbuffer ends, and every offset in it (local
 * headers, central directory) counts from the start of the .tflite file, so the whole file is a
 * valid zip. Coral's classifiers carry their labels this way (read off
 * mobilenet_v2_1.0_224_quant.tflite: stored, local header at the flatbuffer's end). Readers must
 * find stored entries: tflite-support's and MediaPipe's C++ extractors refuse compressed ones
 * ("Expected uncompressed zip archive", metadata_extractor.cc) and hand out views into the model.
 *
 * Zip writing and reading is fflate's; this module only places the archive (offsets) and finds it.
 * Zip64 archives are refused: associated files (labels) are far below its 4 GiB threshold.
 */
import { unzipSync, zipSync } from 'fflate';
import { fail } from '../errors';

/** End of central directory record signature, "PK\x05\x06" (APPNOTE.TXT 4.3.16). */
const EOCD_SIG = 0x06054b50;
/** Central directory file header signature, "PK\x01\x02" (APPNOTE.TXT 4.3.12). */
const CDH_SIG = 0x02014b50;
/** Fixed part of the EOCD record in bytes; a comment of up to 65535 bytes may follow. */
const EOCD_LEN = 22;
/** Fixed part of a central directory header in bytes (name, extra, comment follow). */
const CDH_LEN = 46;
/** Zip64 locator signature "PK\x06\x07", found 20 bytes before the EOCD of a zip64 archive. */
const ZIP64_LOCATOR_SIG = 0x07064b50;

/**
 * DOS timestamp written for every entry: a fixed date, so that exporting the same model twice
 * gives the same bytes (a zip entry otherwise records the time it was written).
 */
const FIXED_MTIME = new Date(2000, 0, 1, 0, 0, 0);

/** Where a zip sits inside a larger byte array. */
export interface ZipLocation {
  /** Byte position of the end of central directory record. */
  eocd: number;
  /** Byte position where the central directory really starts (EOCD position − its size). */
  centralDirectory: number;
  /** Entries in the central directory. */
  entries: number;
  /**
   * Position in `bytes` of the archive's offset 0: real position of any record = stored offset +
   * origin. 0 for a zip whose offsets count from the start of `bytes` (as MetadataPopulator
   * writes them); the zip's own start for one whose offsets count from itself.
   */
  origin: number;
}

function u16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function setU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/**
 * Finds a zip archive at the end of `bytes` (the EOCD record is searched backwards over the last
 * 22 + 65535 bytes, the longest possible comment), like minizip's `unzOpen` does.
 *
 * @param bytes a .tflite file, or any bytes that may end with a zip.
 * @returns the location, or null when the bytes do not end with a zip (no EOCD record whose
 *   central directory fits in front of it and starts with a central directory header).
 * @throws EdgeTuneError BAD_MODEL for a zip64 archive (not supported).
 */
export function locateZip(bytes: Uint8Array): ZipLocation | null {
  const lowest = Math.max(0, bytes.length - EOCD_LEN - 0xffff);
  for (let e = bytes.length - EOCD_LEN; e >= lowest; e--) {
    if (u32(bytes, e) !== EOCD_SIG) continue;
    // The comment length must account exactly for the bytes after the record.
    if (e + EOCD_LEN + u16(bytes, e + 20) !== bytes.length) continue;
    if (e >= 20 && u32(bytes, e - 20) === ZIP64_LOCATOR_SIG) {
      throw fail('BAD_MODEL', 'the zip appended to this model is a zip64 archive, which EdgeTune does not read: repack its associated files as a plain zip');
    }
    const entries = u16(bytes, e + 10);
    const cdSize = u32(bytes, e + 12);
    const cdOffset = u32(bytes, e + 16);
    const centralDirectory = e - cdSize;
    if (centralDirectory < 0) continue;
    if (entries > 0 && u32(bytes, centralDirectory) !== CDH_SIG) continue;
    return { eocd: e, centralDirectory, entries, origin: centralDirectory - cdOffset };
  }
  return null;
}

/**
 * Packs files into a zip with stored (uncompressed) entries and a fixed timestamp, offsets
 * counting from the zip's own first byte. Entry order follows `files`' key order.
 *
 * @param files name → contents; names are stored as given (UTF-8, flag bit 11 when non-ASCII).
 * @returns the zip bytes.
 */
export function zipStored(files: Readonly<Record<string, Uint8Array>>): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0; mtime: Date }]> = {};
  for (const [name, data] of Object.entries(files)) entries[name] = [data, { level: 0, mtime: FIXED_MTIME }];
  return zipSync(entries);
}

function tooFar(offset: number): Error {
  return fail('BAD_OPTION', `the associated files would sit past 4 GiB into the model (offset ${offset}): keep the model and its files under 4 GiB`);
}

/**
 * Rewrites a zip's offsets for a new position: afterwards the zip's first byte is meant to sit at
 * byte `at` of the file it ends, and every stored offset counts from that file's start (what
 * Python's zipfile append mode writes). The data itself is unchanged.
 *
 * @param zip a complete zip (from its first local header to its EOCD record), offsets counting
 *   from anywhere (its own start, or the start of the file it was cut from).
 * @param at byte position the zip will occupy in the output file (≥ 0).
 * @returns a new array, or null when `zip` is not a zip EdgeTune can place (no EOCD record, or a
 *   central directory that does not parse); the caller then keeps the bytes as they are.
 * @throws EdgeTuneError BAD_MODEL for zip64 (from locateZip), BAD_OPTION when an offset would not
 *   fit in 32 bits (a file above 4 GiB).
 */
export function placeZip(zip: Uint8Array, at: number): Uint8Array | null {
  const loc = locateZip(zip);
  if (!loc) return null;
  // Stored offset s names zip position s + origin; it must become that position + at.
  const delta = at + loc.origin;
  const out = zip.slice();
  let p = loc.centralDirectory;
  for (let i = 0; i < loc.entries; i++) {
    if (p + CDH_LEN > loc.eocd || u32(out, p) !== CDH_SIG) return null;
    const local = u32(out, p + 42) + delta;
    if (local < 0) return null;
    if (local > 0xfffffffe) throw tooFar(local);
    setU32(out, p + 42, local);
    p += CDH_LEN + u16(out, p + 28) + u16(out, p + 30) + u16(out, p + 32);
  }
  const cd = u32(out, loc.eocd + 16) + delta;
  if (cd < 0) return null;
  if (cd > 0xfffffffe) throw tooFar(cd);
  setU32(out, loc.eocd + 16, cd);
  return out;
}

/**
 * Reads the files of the zip at the end of `bytes` (a whole .tflite, or just its trailing bytes),
 * whatever its offsets count from.
 *
 * @param bytes a .tflite file or its trailing zip.
 * @returns name → contents (copies), in central directory order; {} when there is no zip.
 * @throws EdgeTuneError BAD_MODEL when a zip is found but its entries cannot be read (cut short,
 *   unknown compression, zip64).
 */
export function unzipAll(bytes: Uint8Array): Record<string, Uint8Array> {
  const loc = locateZip(bytes);
  if (!loc) return {};
  if (loc.origin < 0) throw fail('BAD_MODEL', `the zip appended to this model points ${-loc.origin} bytes before its own data: the file is cut short or corrupt`);
  try {
    // fflate takes offsets as positions in the array it is given.
    return unzipSync(bytes.subarray(loc.origin));
  } catch (e) {
    throw fail('BAD_MODEL', `cannot read the zip appended to this model (${String((e as Error).message ?? e).split('\n')[0]}): the file is corrupt; re-export it`, e);
  }
}
