/**
 * The external programs and devices the camera sources need: finding a program on PATH, the
 * one-line "install X" error, the list of V4L2 device nodes, and the "no such device" error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EdgeTuneError } from '../errors';
import { findOnPath } from '../host';

/** Programs the sources run, with what to install when one is missing (Debian / Raspberry Pi OS package names). */
export const TOOLS = {
  ffmpeg: 'sudo apt install ffmpeg',
  'rpicam-vid': 'sudo apt install rpicam-apps (Raspberry Pi OS)',
  'rpicam-hello': 'sudo apt install rpicam-apps (Raspberry Pi OS)',
  fswebcam: 'sudo apt install fswebcam',
} as const;

export type Tool = keyof typeof TOOLS;

export { findOnPath };

/**
 * Throws unless `tool` is on PATH.
 * @param forWhat what needs it, e.g. "--camera v4l2:/dev/video0".
 * @throws EdgeTuneError UNSUPPORTED "ffmpeg is not installed (needed for …): sudo apt install ffmpeg".
 */
export function requireTool(tool: Tool, forWhat: string): string {
  const found = findOnPath(tool);
  if (!found) throw new EdgeTuneError('UNSUPPORTED', `${tool} is not installed (needed for ${forWhat}; not found on PATH): ${TOOLS[tool]}`);
  return found;
}

/**
 * The V4L2 capture device nodes present, `/dev/video0`, `/dev/video1` … in numeric order (what
 * the kernel created; on a Raspberry Pi some are codec or ISP nodes, not cameras). Empty when
 * there are none or /dev cannot be read.
 * @param root file-system root to look under (tests pass a fake tree), default '/'; the paths
 *   returned are always the device's own (`/dev/videoN`).
 */
export function listVideoDevices(root = '/'): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(root, 'dev'));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^video\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((n) => `/dev/${n}`);
}

/**
 * Throws unless `device` exists.
 * @throws EdgeTuneError NOT_FOUND "no video device /dev/video7 (present: /dev/video0, /dev/video1): …".
 */
export function requireDevice(device: string): void {
  if (fs.existsSync(device)) return;
  const present = listVideoDevices();
  throw new EdgeTuneError(
    'NOT_FOUND',
    `no video device ${device} (present: ${present.length ? present.join(', ') : 'none'}): plug the camera in, or pick a present one with --camera v4l2:/dev/videoN`,
  );
}
