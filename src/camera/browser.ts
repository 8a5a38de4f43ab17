/**
 * The page's own camera (`--camera browser`): the browser captures, posts each frame as JPEG
 * (`POST /api/camera/frame`), and the server hands it to `push`. Nothing runs on the server side.
 */
import { EdgeTuneError } from '../errors';
import { cameraOn, createCameraCore } from './core';
import type { Camera } from './types';

/**
 * A camera whose frames come from `push(jpeg)`. State 'starting' until the first push.
 * `capture()` waits for the next push (the page posts continuously while open).
 * `push` throws EdgeTuneError BAD_IMAGE for bytes that do not start with a JPEG SOI marker
 * followed by another marker (FF D8 FF; ITU T.81 B.1.1.3), e.g. a PNG or an empty body.
 */
export function openBrowserCamera(spec: string, log: (line: string) => void): Camera {
  const core = createCameraCore('browser', spec, log);
  return cameraOn(core, {
    close: async () => core.stop(),
    push(jpeg: Buffer): ReturnType<typeof core.publish> {
      if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff) {
        const first = jpeg.subarray(0, 4).toString('hex') || 'none';
        throw new EdgeTuneError('BAD_IMAGE', `camera frame from the page is not a JPEG (${jpeg.length} bytes, first bytes ${first}): post the canvas as image/jpeg`);
      }
      if (core.stopped) throw new EdgeTuneError('IO', `camera ${spec} is closed: restart edgetune serve with --camera browser`);
      return core.publish(jpeg);
    },
  });
}
