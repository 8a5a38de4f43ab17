import type { RgbImage } from './types';

/**
 * HEIC (HEIF with HEVC-coded images) decoding through heic-decode, which runs libheif compiled to
 * WebAssembly (package libheif-js; no native build, no download at install). sharp's prebuilt
 * libvips has no HEVC decoder, so this is the only HEIC path.
 *
 * libheif-js reports its failures with `console.log` ("Could not parse HEIF file …"), which would
 * land on stdout in the middle of `--json` output. While a decode runs, those lines (and only
 * those: matched by their fixed prefixes) are captured and become the error reason; decodes are
 * serialised so each captured line belongs to the decode that printed it (the WebAssembly module
 * runs on the main thread anyway, so serialising costs no parallelism).
 */

/** The fixed prefixes of libheif-js' console.log messages (libheif-js 1.23 `HeifDecoder.decode`, `HeifImage.display`). */
const LIBHEIF_LOG = /^(Could not create HEIF context|Could not parse HEIF file|Error loading image ids|No images found|Could not get image data for id|Decoding image failed)/;

let queue: Promise<unknown> = Promise.resolve();

type HeicDecode = (input: { buffer: Uint8Array }) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
let decoder: HeicDecode | undefined;

/** heic-decode, loaded on first use: it instantiates an 8 MB WebAssembly bundle that no other format needs. */
function heicDecode(): HeicDecode {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  decoder ??= require('heic-decode') as HeicDecode;
  return decoder;
}

/** One line from console.log arguments: strings as is, errors/objects by their `message`. */
function logLine(args: unknown[]): string {
  return args
    .slice(1)
    .map((a) => (typeof a === 'string' ? a : a && typeof a === 'object' && 'message' in a ? String((a as { message: unknown }).message) : ''))
    .filter((s) => s !== '')
    .join(': ');
}

async function withCapturedLog<T>(run: () => Promise<T>): Promise<{ value?: T; error?: unknown; log: string[] }> {
  const log: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && LIBHEIF_LOG.test(args[0])) log.push(`${args[0]}${args.length > 1 ? ` ${logLine(args)}` : ''}`.trim());
    else original.apply(console, args as []);
  };
  try {
    return { value: await run(), log };
  } catch (error) {
    return { error, log };
  } finally {
    console.log = original;
  }
}

/**
 * Decode a HEIC file to RGB: the first top-level image (the primary image of a phone photo),
 * with the file's rotation/mirroring (`irot`/`imir` boxes) applied by libheif, alpha dropped.
 *
 * @param bytes the whole file.
 * @returns `RgbImage` HWC uint8, 3 channels.
 * @throws Error with a plain one-line reason (the caller adds the file name): "HEIC decode failed (…)"
 *   or "it contains no still image …" for image sequences without one.
 */
export function decodeHeic(bytes: Uint8Array): Promise<RgbImage> {
  const job = queue.then(() => withCapturedLog(() => heicDecode()({ buffer: bytes })));
  queue = job;
  return job.then(({ value, error, log }) => {
    if (!value) {
      if (log.some((l) => l.startsWith('No images found'))) {
        throw new Error("it contains no still image (an image sequence or burst): export the photo you want as JPEG, e.g. with 'heif-convert' (Debian package libheif-examples)");
      }
      const why = log.map((l) => l.replace(/^Could not parse HEIF file\s*/, '')).find((l) => l !== '') ?? String((error as Error)?.message ?? error).split('\n')[0];
      throw new Error(`HEIC decode failed (${why})`);
    }
    const { width, height, data } = value;
    if (!(width > 0 && height > 0) || data.length !== width * height * 4) {
      throw new Error(`HEIC decode failed (decoder returned ${data.length} bytes for ${width}x${height})`);
    }
    const n = width * height;
    const out = new Uint8Array(n * 3);
    for (let i = 0, s = 0, d = 0; i < n; i++, s += 4, d += 3) {
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
    return { data: out, width, height };
  });
}
