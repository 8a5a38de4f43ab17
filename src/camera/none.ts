/** `--camera none`: no camera; the server still runs (uploads, training), without live prediction. */
import { EdgeTuneError } from '../errors';
import { cameraOn, createCameraCore } from './core';
import type { Camera } from './types';

/** A camera that never has a frame: `latest()` null, `capture()` throws UNSUPPORTED, state 'stopped'. */
export function openNoCamera(): Camera {
  const core = createCameraCore('none', 'none');
  core.setState('stopped');
  return cameraOn(core, {
    close: async () => core.stop(),
    capture: async () => {
      throw new EdgeTuneError('UNSUPPORTED', 'no camera (--camera none): restart edgetune serve with --camera auto, a device (v4l2:/dev/video0, rpicam) or browser, or upload photos instead');
    },
  });
}
