/**
 * Cameras read through ffmpeg: a V4L2 device (USB webcams, `--camera v4l2:/dev/video0`) and a
 * video file played in a loop (`--camera file:clip.mp4`), both as an MJPEG stream on ffmpeg's
 * stdout, split into frames by `mjpeg.ts`.
 */
import * as fs from 'node:fs';
import { EdgeTuneError } from '../errors';
import { startChildSource } from './child';
import { cameraOn, createCameraCore, type SourceOptions } from './core';
import { requireDevice, requireTool } from './tools';
import type { Camera } from './types';

/** Options shared by ffmpeg's runs: quiet but for errors (their last line is the error line), no stdin. */
const COMMON = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
/** Write each frame as soon as it is muxed instead of in 32 KB blocks (latency). */
const OUTPUT = ['-flush_packets', '1', '-f', 'mjpeg', 'pipe:1'];
/** JPEG quality when ffmpeg encodes (2 best … 31 worst): 5 keeps about 50 KB per 640×480 frame. */
const JPEG_Q = '5';

/**
 * ffmpeg arguments reading a V4L2 device.
 * - 'copy': the camera's own MJPEG frames, passed through untouched (no decode, no encode: the
 *   cheapest path on a Pi; most USB cameras offer MJPEG at 640×480 and above).
 * - 'encode': the camera's default raw format (YUYV…) encoded to JPEG by ffmpeg, for cameras
 *   without an MJPEG mode.
 * @param size pixels, as `WxH`; @param fps frames per second asked of the driver.
 */
export function v4l2Args(device: string, width: number, height: number, fps: number, mode: 'copy' | 'encode'): string[] {
  const input = ['-f', 'v4l2', ...(mode === 'copy' ? ['-input_format', 'mjpeg'] : []), '-video_size', `${width}x${height}`, '-framerate', String(fps), '-i', device];
  const codec = mode === 'copy' ? ['-c:v', 'copy'] : ['-c:v', 'mjpeg', '-q:v', JPEG_Q];
  return [...COMMON, ...input, '-an', ...codec, ...OUTPUT];
}

/**
 * ffmpeg arguments playing `file` forever at its own speed (`-re`, `-stream_loop -1`), `fps`
 * frames per second, scaled down (never up) to fit inside width × height with its aspect ratio
 * kept, encoded to JPEG.
 */
export function videoFileArgs(file: string, width: number, height: number, fps: number): string[] {
  const scale = `scale=w='min(${width},iw)':h='min(${height},ih)':force_original_aspect_ratio=decrease:force_divisible_by=2`;
  return [...COMMON, '-re', '-stream_loop', '-1', '-i', file, '-an', '-vf', `fps=${fps},${scale}`, '-c:v', 'mjpeg', '-q:v', JPEG_Q, ...OUTPUT];
}

/** Test and tuning knobs of the ffmpeg sources. */
export interface FfmpegSourceOptions extends SourceOptions {
  /** Restart delays of a device source (ms); default 1 s doubling to 30 s. */
  backoff?: { initialMs: number; maxMs: number };
}

/**
 * A V4L2 device through ffmpeg, MJPEG passed through. When a pass-through run ends without a
 * frame (the camera has no MJPEG mode at that size), ffmpeg is started again at once, encoding
 * the camera's raw format; that mode is kept once it delivers frames. When ffmpeg dies (USB
 * camera unplugged), status 'error' with its last stderr line and a restart with backoff.
 * Resolves at once (state 'starting'); frames follow.
 * @param spec the `--camera` value, for status and messages.
 * @throws EdgeTuneError UNSUPPORTED when ffmpeg is not installed; NOT_FOUND when `device` does not
 *   exist (naming the devices present).
 */
export function openV4l2Camera(device: string, spec: string, opts: FfmpegSourceOptions): Camera {
  requireTool('ffmpeg', `--camera ${spec}`);
  requireDevice(device);
  const core = createCameraCore('v4l2', spec, opts.log);
  let mode: 'copy' | 'encode' = 'copy';
  let encodeWorked = false;
  const source = startChildSource({
    core,
    command: 'ffmpeg',
    what: device,
    args: () => v4l2Args(device, opts.width, opts.height, opts.fps, mode),
    retryNow: (end) => {
      if (end.frames > 0) {
        if (mode === 'encode') encodeWorked = true;
        return null;
      }
      if (mode === 'copy') {
        mode = 'encode';
        return `no MJPEG frames from ${device} at ${opts.width}x${opts.height}; trying its raw format, encoded by ffmpeg`;
      }
      if (!encodeWorked) mode = 'copy'; // neither worked (unplugged, busy): the next restart tries both again
      return null;
    },
    restart: true,
    backoff: opts.backoff,
    log: opts.log,
  });
  return cameraOn(core, { close: () => source.close(), pid: () => source.pid() });
}

/**
 * A video file played in a loop through ffmpeg. When ffmpeg stops (an unreadable file), status
 * 'error' with its last stderr line; no restart.
 * @throws EdgeTuneError UNSUPPORTED when ffmpeg is not installed; NOT_FOUND / BAD_OPTION when
 *   `file` is missing or not a file.
 */
export function openVideoFileCamera(file: string, spec: string, opts: SourceOptions): Camera {
  requireTool('ffmpeg', `--camera ${spec}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new EdgeTuneError('NOT_FOUND', `--camera ${spec}: ${file} does not exist: give a folder of images or a video file`);
  }
  if (!st.isFile()) throw new EdgeTuneError('BAD_OPTION', `--camera ${spec}: ${file} is not a regular file: give a folder of images or a video file`);
  const core = createCameraCore('file', spec, opts.log);
  const source = startChildSource({
    core,
    command: 'ffmpeg',
    what: file,
    args: () => videoFileArgs(file, opts.width, opts.height, opts.fps),
    restart: false,
    log: opts.log,
  });
  return cameraOn(core, { close: () => source.close(), pid: () => source.pid() });
}
