/**
 * The Raspberry Pi camera (CSI ribbon cable) through rpicam-vid from rpicam-apps, which encodes
 * MJPEG itself (on the Pi's hardware JPEG path), split into frames by `mjpeg.ts`.
 *
 * Option names are rpicam-apps' own (core/options.cpp and core/video_options.hpp in
 * github.com/raspberrypi/rpicam-apps, documented in Raspberry Pi's "Camera software" guide):
 * `-t/--timeout 0` runs until killed, `-n/--nopreview` opens no preview window, `--codec mjpeg`,
 * `--width`, `--height`, `--framerate`, `--camera N` (index in `--list-cameras`), `-o -` writes
 * the stream to stdout. `rpicam-hello --list-cameras` prints "Available cameras", a dashed line
 * and one "N : <sensor> [...]" line per camera, or "No cameras available!", on stdout.
 */
import { execFile } from 'node:child_process';
import { EdgeTuneError } from '../errors';
import { startChildSource } from './child';
import { cameraOn, createCameraCore, type SourceOptions } from './core';
import { findOnPath, requireTool } from './tools';
import type { Camera } from './types';

/** rpicam-vid arguments for an endless MJPEG stream of camera `index` on stdout. */
export function rpicamArgs(index: number, width: number, height: number, fps: number): string[] {
  return ['-t', '0', '-n', '--codec', 'mjpeg', '--width', String(width), '--height', String(height), '--framerate', String(fps), '--camera', String(index), '-o', '-'];
}

/** The camera lines of `rpicam-hello --list-cameras` output: "0 : imx708 [4608x2592 10-bit RGGB] (/base/…)". */
export function parseCameraList(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+\s*:\s*\S/.test(l));
}

/**
 * The Pi cameras libcamera sees, as listed by `rpicam-hello --list-cameras` (one line each), or
 * null when rpicam-hello is not installed or fails to answer within `timeoutMs` ms.
 * @param searchPath the PATH rpicam-hello is looked up in (default `process.env.PATH`).
 */
export function listRpicamCameras(timeoutMs = 5000, searchPath?: string): Promise<string[] | null> {
  const program = findOnPath('rpicam-hello', searchPath);
  if (!program) return Promise.resolve(null);
  return new Promise((resolve) => {
    execFile(program, ['--list-cameras'], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      resolve(err && !stdout ? null : parseCameraList(stdout ?? ''));
    });
  });
}

/**
 * Camera `index` (0 = the first) through rpicam-vid. When rpicam-vid dies, status 'error' with
 * its last stderr line and a restart with backoff. Resolves once started (state 'starting').
 * @throws EdgeTuneError UNSUPPORTED when rpicam-vid is not installed; NOT_FOUND when
 *   `rpicam-hello --list-cameras` lists no camera at that index (naming how many it lists).
 */
export async function openRpicamCamera(index: number, spec: string, opts: SourceOptions & { backoff?: { initialMs: number; maxMs: number } }): Promise<Camera> {
  requireTool('rpicam-vid', `--camera ${spec}`);
  const cams = await listRpicamCameras();
  if (cams !== null && index >= cams.length) {
    throw new EdgeTuneError(
      'NOT_FOUND',
      `no Raspberry Pi camera ${index} (rpicam-hello --list-cameras lists ${cams.length}): check the ribbon cable and that the camera is enabled, or pick another with --camera rpicam:N`,
    );
  }
  const core = createCameraCore('rpicam', spec, opts.log);
  const source = startChildSource({
    core,
    command: 'rpicam-vid',
    what: `camera ${index}`,
    args: () => rpicamArgs(index, opts.width, opts.height, opts.fps),
    restart: true,
    backoff: opts.backoff,
    log: opts.log,
  });
  return cameraOn(core, { close: () => source.close(), pid: () => source.pid() });
}
