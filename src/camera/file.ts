/**
 * `--camera file:DIR`: a folder of images replayed as a camera, for demos, tests and machines
 * without one. Every image format EdgeTune reads works (decoded by content through src/image,
 * EXIF orientation applied), re-encoded as JPEG.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { EdgeTuneError, ioError } from '../errors';
import { loadImage } from '../image';
import { cameraOn, createCameraCore, type SourceOptions } from './core';
import type { Camera, Frame } from './types';

/** Encoded frames kept in memory so a cycle re-decodes nothing (bytes); files beyond it are re-encoded each time. */
const CACHE_BYTES = 64 * 1024 * 1024;
/** JPEG quality of the frames (sharp, 1–100). */
const JPEG_QUALITY = 85;

const NATURAL = new Intl.Collator('en', { numeric: true });

/**
 * The files a folder camera cycles through: regular files (or links to them) directly in `dir`,
 * hidden ones (".…") left out, in natural order ("frame2" before "frame10").
 * @throws EdgeTuneError NOT_FOUND / IO when the folder cannot be read.
 */
export function listFolderFrames(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw ioError('read camera folder', dir, e);
  }
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isFile() || (e.isSymbolicLink() && fs.statSync(p, { throwIfNoEntry: false })?.isFile())) files.push(e.name);
  }
  return files.sort(NATURAL.compare).map((n) => path.join(dir, n));
}

/**
 * A camera cycling through the images of `dir` at `opts.fps` frames per second, each scaled down
 * (never up) to fit inside width × height and encoded as JPEG. The folder is listed again at the
 * start of every cycle (images added while it runs are picked up). A file that cannot be read is
 * reported once through `opts.log` and skipped; when a whole cycle yields no image the camera
 * goes to state 'error'. `capture()` produces the next image at once.
 * @throws EdgeTuneError NOT_FOUND when `dir` does not exist; BAD_OPTION when it holds no files.
 */
export function openFolderCamera(dir: string, spec: string, opts: SourceOptions): Camera {
  let files = listFolderFrames(dir);
  if (files.length === 0) throw new EdgeTuneError('BAD_OPTION', `--camera ${spec}: the folder ${dir} has no files: put images (JPEG, PNG, WebP…) in it`);
  const core = createCameraCore('file', spec, opts.log);
  const period = 1000 / opts.fps;
  const reported = new Set<string>();
  const cache = new Map<string, { mtimeMs: number; size: number; jpeg: Buffer }>();
  let cached = 0;
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  let looping = false;
  let chain: Promise<unknown> = Promise.resolve();

  async function encode(file: string): Promise<Buffer> {
    const st = fs.statSync(file);
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.jpeg;
    const rgb = await loadImage(file);
    const jpeg = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
      .resize({ width: opts.width, height: opts.height, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer();
    if (hit) cached -= hit.jpeg.length;
    if (cached + jpeg.length <= CACHE_BYTES) {
      cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, jpeg });
      cached += jpeg.length;
    } else if (hit) {
      cache.delete(file);
    }
    return jpeg;
  }

  /** Publishes the next readable image; null when the camera stopped or nothing in a whole cycle was readable. */
  async function produce(): Promise<Frame | null> {
    for (let tried = 0; !core.stopped; tried++) {
      if (next === 0) {
        try {
          files = listFolderFrames(dir);
        } catch (e) {
          core.fail((e as Error).message);
          return null;
        }
      }
      if (files.length === 0 || tried >= files.length) {
        core.fail(`no readable image in ${dir} (${files.length} files): put images (JPEG, PNG, WebP…) in it`);
        return null;
      }
      const file = files[next];
      next = (next + 1) % files.length;
      try {
        const jpeg = await encode(file);
        if (core.stopped) return null;
        return core.publish(jpeg);
      } catch (e) {
        if (!reported.has(file)) {
          reported.add(file);
          // loadImage's errors already name the file; a file removed since the listing does not.
          const why = e instanceof EdgeTuneError
            ? e.message.replace(/^cannot read image /, '')
            : `${file}: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
          opts.log(`camera ${spec}: skipping ${why}`);
        }
      }
    }
    return null;
  }

  /** Runs `produce` after any production in progress (one at a time). */
  function produceNext(): Promise<Frame | null> {
    const p = chain.then(produce);
    chain = p.catch(() => null);
    return p;
  }

  /** The replay loop: one image per period (less the time it took), until nothing is readable or close. */
  function schedule(delayMs: number): void {
    looping = true;
    timer = setTimeout(async () => {
      const t0 = Date.now();
      const frame = await produceNext().catch(() => null);
      if (frame && !core.stopped) schedule(Math.max(0, period - (Date.now() - t0)));
      else looping = false;
    }, delayMs);
  }
  schedule(0);

  return cameraOn(core, {
    close: async () => {
      if (timer) clearTimeout(timer);
      core.stop();
      await chain;
    },
    capture: async (timeoutMs) => {
      let timeout: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timeout = setTimeout(() => reject(new EdgeTuneError('IO', `no frame from camera ${spec} within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const frame = await Promise.race([produceNext(), late]);
        if (frame) {
          if (!looping && !core.stopped) schedule(period); // images readable again after an error
          return frame;
        }
        const s = core.status();
        throw new EdgeTuneError('IO', `no frame from camera ${spec}: ${s.error ?? 'it is closed'}`);
      } finally {
        clearTimeout(timeout);
      }
    },
  });
}
