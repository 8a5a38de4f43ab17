/**
 * What `edgetune serve` can use as a camera: V4L2 devices, the Raspberry Pi camera (through
 * rpicam-apps), and the programs the camera sources run (ffmpeg, fswebcam). None is needed by
 * the main job, so a missing one is a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findOnPath, listVideoDevices } from '../camera/tools';
import { listRpicamCameras } from '../camera/rpicam';
import type { Check, DoctorEnv } from './types';

/** Debian / Raspberry Pi OS package of each program the camera sources run. */
export const CAMERA_PACKAGES: Readonly<Record<string, string>> = {
  ffmpeg: 'ffmpeg',
  fswebcam: 'fswebcam',
  'rpicam-hello': 'rpicam-apps',
};

/** What each program is for, in the report. */
const USED_FOR: Readonly<Record<string, string>> = {
  ffmpeg: 'USB cameras (--camera v4l2:/dev/videoN) and video files',
  fswebcam: 'the slow stills fallback (--camera webcam)',
};

/** The apt command that installs `program`'s package. */
export function aptFix(program: string): string {
  return `sudo apt-get install -y ${CAMERA_PACKAGES[program] ?? program}`;
}

/** A Raspberry Pi, by its device-tree model string under `root`. */
function isRaspberryPi(root: string): boolean {
  try {
    return fs.readFileSync(path.join(root, 'proc', 'device-tree', 'model'), 'utf8').includes('Raspberry Pi');
  } catch {
    return false;
  }
}

/** /dev/video* under `env.root` (listVideoDevices): ok listing them, else a warning. */
export function checkVideoDevices(env: DoctorEnv): Check {
  const devices = listVideoDevices(env.root);
  if (devices.length > 0) {
    return { name: 'video devices', status: 'ok', detail: `${devices.join(', ')} (use --camera v4l2:${devices[0]}; on a Pi some are codec nodes, not cameras)` };
  }
  return {
    name: 'video devices', status: 'warn', detail: 'no /dev/video* device: no USB camera is plugged in',
    fix: 'plug in a USB camera, or use edgetune serve --camera rpicam (Pi camera) or --camera browser',
  };
}

/**
 * The Pi camera: with rpicam-hello on `env.path`, the cameras `rpicam-hello --list-cameras`
 * lists (warn when none); without it, a warning with the apt command on a Raspberry Pi, and ok
 * elsewhere (the Pi camera exists only there).
 */
export async function checkPiCamera(env: DoctorEnv): Promise<Check> {
  const name = 'pi camera';
  if (!findOnPath('rpicam-hello', env.path)) {
    if (isRaspberryPi(env.root)) {
      return { name, status: 'warn', detail: 'rpicam-hello is not installed: the Pi camera (--camera rpicam) cannot be used', fix: aptFix('rpicam-hello') };
    }
    return { name, status: 'ok', detail: 'not a Raspberry Pi and no rpicam-apps: no Pi camera to use' };
  }
  const cams = await listRpicamCameras(Math.min(env.timeoutMs, 10_000), env.path);
  if (cams === null) {
    return { name, status: 'warn', detail: 'rpicam-hello --list-cameras did not answer', fix: 'run rpicam-hello --list-cameras to see why (camera enabled? sudo raspi-config)' };
  }
  if (cams.length === 0) {
    return { name, status: 'warn', detail: 'rpicam-hello --list-cameras lists no camera', fix: 'check the ribbon cable (contacts facing the right way), then reboot; enable the camera in sudo raspi-config on older OS versions' };
  }
  return { name, status: 'ok', detail: `${cams.join('; ')} (use --camera rpicam${cams.length > 1 ? ' or rpicam:N' : ''})` };
}

/** A camera program on `env.path`: ok with its path, else a warning with the apt command. */
export function checkProgram(env: DoctorEnv, program: 'ffmpeg' | 'fswebcam'): Check {
  const found = findOnPath(program, env.path);
  if (found) return { name: program, status: 'ok', detail: `${found}, for ${USED_FOR[program]}` };
  return { name: program, status: 'warn', detail: `not found on PATH: needed for ${USED_FOR[program]}`, fix: aptFix(program) };
}
