/**
 * Camera sources for `edgetune serve` (`--camera SPEC`): one `Camera` contract (types.ts), one
 * file per source:
 * - `ffmpeg.ts`: V4L2 devices (USB cameras) and video files through ffmpeg, as MJPEG;
 * - `rpicam.ts`: the Raspberry Pi camera through rpicam-vid, as MJPEG;
 * - `webcam.ts`: stills through node-webcam / fswebcam (the slow fallback);
 * - `file.ts`: a folder of images replayed;
 * - `browser.ts`: frames the page posts from its own camera;
 * - `none.ts`: no camera.
 * `mjpeg.ts` splits MJPEG streams into frames; `core.ts` holds the latest-frame rule.
 */
import * as fs from 'node:fs';
import { EdgeTuneError, ioError } from '../errors';
import type { SourceOptions } from './core';
import { openBrowserCamera } from './browser';
import { openV4l2Camera, openVideoFileCamera } from './ffmpeg';
import { openFolderCamera } from './file';
import { openNoCamera } from './none';
import { listRpicamCameras, openRpicamCamera } from './rpicam';
import { findOnPath, listVideoDevices } from './tools';
import { openWebcamCamera } from './webcam';
import type { Camera, CameraKind, CameraOptions } from './types';

export type { Camera, CameraKind, CameraOptions, CameraStatus, Frame } from './types';
export { listVideoDevices } from './tools';
export { createMjpegSplitter, MAX_FRAME_BYTES, type MjpegSplitter, type MjpegStats } from './mjpeg';

/** The `--camera` grammar, for help texts and error messages. */
export const CAMERA_SPEC_GRAMMAR =
  'auto, none, browser, webcam[:/dev/videoN], rpicam[:N], v4l2:/dev/videoN (or just /dev/videoN), file:DIR or file:VIDEO';

/** Default frame size (pixels) and rates (frames per second). */
export const CAMERA_DEFAULTS = { width: 640, height: 480, fps: 15, folderFps: 5 } as const;

/** How long `auto` waits for a V4L2 device's first frame (ms). */
export const AUTO_PROBE_MS = 4000;

/**
 * V4L2 device nodes accepted: /dev/videoN, and the stable names udev makes for them
 * (/dev/v4l/by-id/…, /dev/v4l/by-path/…), which survive a USB replug onto another port number.
 */
const DEVICE = /^\/dev\/(video\d+|v4l\/by-(id|path)\/[A-Za-z0-9_.:-]+)$/;

/**
 * Parses a `--camera` value.
 *
 * | spec | result |
 * |---|---|
 * | `auto`, `none`, `browser` | `{kind}` |
 * | `webcam`, `webcam:/dev/video1` | `{kind: 'webcam', arg?: device}` |
 * | `rpicam`, `rpicam:1` | `{kind: 'rpicam', arg?: camera index}` |
 * | `v4l2:/dev/video0`, `/dev/video0` | `{kind: 'v4l2', arg: device}` |
 * | `file:DIR`, `file:clip.mp4` | `{kind: 'file', arg: path}` (folder or video decided when opened) |
 *
 * Devices are `/dev/videoN` or `/dev/v4l/by-id|by-path/NAME`. Surrounding spaces are ignored.
 * @param name how the error names the setting: `--camera` on the command line, `camera` in a config file.
 * @throws EdgeTuneError BAD_OPTION, one line quoting the value and listing the grammar.
 */
export function parseCameraSpec(spec: string, name = '--camera'): { kind: CameraKind | 'auto'; arg?: string } {
  const s = spec.trim();
  const bad = (why = '') => new EdgeTuneError('BAD_OPTION', `bad ${name} value ${JSON.stringify(spec)}${why}: use ${CAMERA_SPEC_GRAMMAR}`);
  if (s === 'auto' || s === 'none' || s === 'browser' || s === 'webcam' || s === 'rpicam') return { kind: s };
  if (DEVICE.test(s)) return { kind: 'v4l2', arg: s };
  const colon = s.indexOf(':');
  if (colon < 0) throw bad();
  const kind = s.slice(0, colon);
  const arg = s.slice(colon + 1);
  switch (kind) {
    case 'v4l2':
    case 'webcam':
      if (!DEVICE.test(arg)) throw bad(` (${arg ? `${JSON.stringify(arg)} is not a video device` : 'no device'})`);
      return { kind, arg };
    case 'rpicam':
      if (!/^\d{1,2}$/.test(arg)) throw bad(' (the Pi camera is a number: rpicam:0, rpicam:1)');
      return { kind, arg: String(Number(arg)) };
    case 'file':
      if (!arg) throw bad(' (no path after file:)');
      return { kind, arg };
    default:
      throw bad();
  }
}

function resolveOptions(opts: CameraOptions, folder: boolean): SourceOptions {
  const num = (name: string, v: number | undefined, def: number, min: number, max: number, int: boolean): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
      throw new EdgeTuneError('BAD_OPTION', `camera ${name} ${v} is invalid: give ${int ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return v;
  };
  return {
    width: num('width', opts.width, CAMERA_DEFAULTS.width, 16, 8192, true),
    height: num('height', opts.height, CAMERA_DEFAULTS.height, 16, 8192, true),
    fps: num('fps', opts.fps, folder ? CAMERA_DEFAULTS.folderFps : CAMERA_DEFAULTS.fps, 0.1, 120, false),
    log: opts.log ?? (() => {}),
  };
}

/**
 * Opens the camera a `--camera` value names (grammar: `parseCameraSpec`). Sources that run a
 * program resolve once it is started (state 'starting'; frames follow), except under `auto`.
 *
 * `auto` takes the first that works, in this order, and says in `opts.log` which it tried and
 * which it chose:
 * 1. `rpicam`: rpicam-vid is installed and `rpicam-hello --list-cameras` lists a camera;
 * 2. each V4L2 device /dev/video0, /dev/video1 … that delivers a first frame through ffmpeg
 *    within `AUTO_PROBE_MS` (4 s);
 * 3. `browser`: the page's own camera.
 * The camera's `spec` is then the chosen one ('rpicam', 'v4l2:/dev/video0' or 'browser').
 *
 * @param opts width × height in pixels (default 640×480), fps (default 15; 5 for file:DIR), log.
 * @throws EdgeTuneError BAD_OPTION for a bad spec or option; UNSUPPORTED when the program a
 *   source needs is not installed (naming the package); NOT_FOUND for a missing device, Pi
 *   camera, folder or file (naming what exists); BAD_OPTION for an empty folder.
 */
export async function openCamera(spec: string, opts: CameraOptions = {}): Promise<Camera> {
  const { kind, arg } = parseCameraSpec(spec);
  const s = spec.trim();
  if (kind === 'file') {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(arg!, { throwIfNoEntry: false });
    } catch (e) {
      throw ioError('open camera source', arg!, e);
    }
    if (!st) throw new EdgeTuneError('NOT_FOUND', `--camera ${s}: ${arg} does not exist: give a folder of images or a video file`);
    if (st.isDirectory()) return openFolderCamera(arg!, s, resolveOptions(opts, true));
    return openVideoFileCamera(arg!, s, resolveOptions(opts, false));
  }
  const o = resolveOptions(opts, false);
  switch (kind) {
    case 'none':
      return openNoCamera();
    case 'browser':
      return openBrowserCamera(s, o.log);
    case 'v4l2':
      return openV4l2Camera(arg!, s, o);
    case 'webcam':
      return openWebcamCamera(arg, s, o);
    case 'rpicam':
      return openRpicamCamera(Number(arg ?? 0), s, o);
    case 'auto':
      return openAuto(o);
  }
}

/** `--camera auto`: see `openCamera`. */
async function openAuto(o: SourceOptions): Promise<Camera> {
  const tried: string[] = [];
  if (!findOnPath('rpicam-vid')) {
    tried.push('rpicam (rpicam-vid not installed)');
  } else {
    const cams = await listRpicamCameras();
    if (cams && cams.length > 0) {
      o.log(`camera auto: using rpicam (${cams[0]})`);
      return openRpicamCamera(0, 'rpicam', o);
    }
    tried.push(`rpicam (${cams === null ? 'rpicam-hello --list-cameras failed' : 'no camera listed by rpicam-hello --list-cameras'})`);
  }
  const devices = listVideoDevices();
  if (devices.length === 0) {
    tried.push('v4l2 (no /dev/video* device)');
  } else if (!findOnPath('ffmpeg')) {
    tried.push(`v4l2 (${devices.join(', ')} present but ffmpeg is not installed: sudo apt install ffmpeg)`);
  } else {
    for (const dev of devices) {
      let probing = true;
      // The probe's own restarts and fallbacks stay quiet; the chosen camera logs as usual.
      const log = (line: string) => {
        if (!probing) o.log(line);
      };
      const cam = openV4l2Camera(dev, `v4l2:${dev}`, { ...o, log });
      try {
        await cam.capture(AUTO_PROBE_MS);
        probing = false;
        o.log(`camera auto: using v4l2:${dev}${tried.length ? `; tried ${tried.join('; ')}` : ''}`);
        return cam;
      } catch (e) {
        tried.push(`${dev} (${(e as Error).message.replace(/^no frame from camera \S+ /, 'no frame ')})`);
        await cam.close();
      }
    }
  }
  o.log(`camera auto: using browser (the page's own camera); tried ${tried.join('; ')}`);
  return openBrowserCamera('browser', o.log);
}
