/**
 * `--camera webcam[:/dev/videoN]`: stills through the node-webcam package, which runs fswebcam
 * (one process per still: it opens the device, lets exposure settle, grabs, closes). That costs
 * about a second a frame, so this is the fallback for cameras ffmpeg cannot stream; the preview
 * loop runs slowly and `capture()` takes a still of its own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EdgeTuneError } from '../errors';
import { cameraOn, createCameraCore, type SourceOptions } from './core';
import { requireDevice, requireTool } from './tools';
import type { Camera, Frame } from './types';

/** The part of node-webcam (0.8) used here; it ships no types. */
interface NodeWebcam {
  capture(location: string, cb: (err: Error | null, data?: Buffer) => void): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const NodeWebcamModule = require('node-webcam') as { create(opts: Record<string, unknown>): NodeWebcam };

/** Shortest time between two preview stills (ms), whatever fps asks: each still is a whole fswebcam run. */
export const WEBCAM_MIN_INTERVAL_MS = 1000;
/** Wait before the preview loop tries again after a failed still (ms): a camera being replugged. */
export const WEBCAM_RETRY_MS = 5000;

/** Longest wait in close() for a still in progress (ms). */
const WEBCAM_CLOSE_WAIT_MS = 3000;

/**
 * node-webcam builds a shell command line from the device and file names without quoting them,
 * so only plain path characters may reach it.
 */
const SHELL_SAFE = /^[A-Za-z0-9_.:/-]+$/;

/**
 * A camera taking stills with fswebcam through node-webcam: JPEG, width × height asked of the
 * device, 3 frames skipped before each grab (auto-exposure settles), no banner. The preview loop
 * takes one still every max(1/fps, 1 s); `capture()` takes a new one (after any still in progress).
 * @param device the V4L2 device node (default /dev/video0).
 * @throws EdgeTuneError UNSUPPORTED when fswebcam is not installed; NOT_FOUND when the device
 *   does not exist; BAD_OPTION for a device path with characters other than letters, digits, `_.:/-`.
 */
export function openWebcamCamera(device: string | undefined, spec: string, opts: SourceOptions): Camera {
  const dev = device ?? '/dev/video0';
  if (!SHELL_SAFE.test(dev)) throw new EdgeTuneError('BAD_OPTION', `--camera ${spec}: device path ${JSON.stringify(dev)} may only hold letters, digits and _ . : / -`);
  requireTool('fswebcam', `--camera ${spec}`);
  requireDevice(dev);
  let dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetune-webcam-'));
  if (!SHELL_SAFE.test(dir)) {
    fs.rmSync(dir, { recursive: true, force: true });
    dir = fs.mkdtempSync('/tmp/edgetune-webcam-');
  }
  const location = path.join(dir, 'still.jpg');
  const cam = NodeWebcamModule.create({
    width: opts.width,
    height: opts.height,
    quality: 85,
    frames: 1,
    skip: 3,
    delay: 0,
    saveShots: false,
    output: 'jpeg',
    device: dev,
    callbackReturn: 'buffer',
    verbose: false,
  });
  const core = createCameraCore('webcam', spec, opts.log);
  const interval = Math.max(1000 / opts.fps, WEBCAM_MIN_INTERVAL_MS);
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  function still(): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      cam.capture(location, (err, data) => {
        if (core.stopped) return reject(new EdgeTuneError('IO', `camera ${spec} was closed`));
        if (err || !data || data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) {
          const lines = String(err?.message ?? 'fswebcam wrote no JPEG').split('\n').map((l) => l.trim()).filter(Boolean);
          const why = `fswebcam could not take a still from ${dev}: ${lines[lines.length - 1] ?? 'no output'}`;
          core.fail(why);
          return reject(new EdgeTuneError('IO', why));
        }
        resolve(core.publish(data));
      });
    });
  }

  /** A still started after every still already asked for (one fswebcam at a time). */
  function nextStill(): Promise<Frame> {
    const p = chain.then(still);
    chain = p.catch(() => null);
    return p;
  }

  function loop(delayMs: number): void {
    timer = setTimeout(() => {
      nextStill().then(
        () => !core.stopped && loop(interval),
        () => !core.stopped && loop(WEBCAM_RETRY_MS),
      );
    }, delayMs);
  }
  loop(0);

  return cameraOn(core, {
    close: async () => {
      if (timer) clearTimeout(timer);
      core.stop();
      // node-webcam gives no handle on its fswebcam process: wait for the still in progress, but
      // not forever (a hung device); a still finishing later finds the camera stopped.
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([chain, new Promise((r) => (wait = setTimeout(r, WEBCAM_CLOSE_WAIT_MS)))]);
      clearTimeout(wait);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    capture: async (timeoutMs) => {
      let timeout: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timeout = setTimeout(() => reject(new EdgeTuneError('IO', `no still from camera ${spec} within ${timeoutMs} ms (fswebcam is slow; try a longer timeout)`)), timeoutMs);
      });
      try {
        return await Promise.race([nextStill(), late]);
      } finally {
        clearTimeout(timeout);
      }
    },
  });
}
