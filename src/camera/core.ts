/**
 * The part every camera source shares: the latest-frame rule (only the newest frame is kept,
 * subscribers get each frame as it arrives, nothing queues), frame numbering, the frame rate
 * over the last few seconds, waiting for a fresh frame, and the status record.
 */
import { EdgeTuneError } from '../errors';
import type { Camera, CameraKind, CameraStatus, Frame } from './types';

/** Frame rate window (ms): `fps` counts the frames that arrived in the last 5 s. */
const FPS_WINDOW_MS = 5000;

/** Default `capture()` timeout (ms), as documented on `Camera.capture`. */
export const DEFAULT_CAPTURE_TIMEOUT_MS = 5000;

/** The shared state of one open camera; each source feeds it and builds its `Camera` on it. */
export interface CameraCore {
  readonly kind: CameraKind;
  readonly spec: string;
  /** Makes `jpeg` the latest frame (seq + 1, time = now) and hands it to every subscriber. */
  publish(jpeg: Buffer): Frame;
  latest(): Frame | null;
  onFrame(cb: (f: Frame) => void): () => void;
  /**
   * The next frame published after this call.
   * @throws EdgeTuneError IO after `timeoutMs` ms without one, or at once when `fail` is called
   *   (the source died) or the camera is closed.
   */
  nextFrame(timeoutMs: number): Promise<Frame>;
  /** Sets the state; 'running' and 'starting' clear the error, 'error' sets it (one line). */
  setState(state: CameraStatus['state'], error?: string): void;
  /** Puts the camera in 'error' with `error` and rejects every pending `nextFrame` with it. */
  fail(error: string): void;
  /** State 'stopped', pending `nextFrame` calls rejected; later `publish` calls are ignored. */
  stop(): void;
  readonly stopped: boolean;
  status(): CameraStatus;
}

interface Waiter {
  resolve(f: Frame): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A fresh core in state 'starting'.
 * @param log receives one line when a subscriber throws (the frame still reaches the others).
 */
export function createCameraCore(kind: CameraKind, spec: string, log: (line: string) => void = () => {}): CameraCore {
  let last: Frame | null = null;
  let seq = 0;
  let state: CameraStatus['state'] = 'starting';
  let error: string | undefined;
  const arrivals: number[] = []; // arrival times (ms) within the fps window, oldest first
  const subscribers = new Set<(f: Frame) => void>();
  const waiters = new Set<Waiter>();

  function rejectWaiters(message: string): void {
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(new EdgeTuneError('IO', message));
    }
    waiters.clear();
  }

  function prune(now: number): void {
    while (arrivals.length > 0 && arrivals[0] < now - FPS_WINDOW_MS) arrivals.shift();
  }

  const core: CameraCore = {
    kind,
    spec,
    get stopped() {
      return state === 'stopped';
    },
    publish(jpeg: Buffer): Frame {
      if (state === 'stopped') return { jpeg, seq, time: Date.now() }; // closed: dropped, not counted
      const frame: Frame = { jpeg, seq: ++seq, time: Date.now() };
      last = frame;
      arrivals.push(frame.time);
      prune(frame.time);
      if (state !== 'running') {
        state = 'running';
        error = undefined;
      }
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.resolve(frame);
      }
      waiters.clear();
      for (const cb of [...subscribers]) {
        try {
          cb(frame);
        } catch (e) {
          log(`camera ${spec}: a frame subscriber failed: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
        }
      }
      return frame;
    },
    latest: () => last,
    onFrame(cb) {
      subscribers.add(cb);
      return () => {
        subscribers.delete(cb);
      };
    },
    nextFrame(timeoutMs: number): Promise<Frame> {
      if (state === 'stopped') return Promise.reject(new EdgeTuneError('IO', `camera ${spec} is closed: open it again`));
      return new Promise<Frame>((resolve, reject) => {
        const w: Waiter = {
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(w);
            const why = error ? `: ${error}` : state === 'starting' ? ' (the camera is still starting)' : '';
            reject(new EdgeTuneError('IO', `no frame from camera ${spec} within ${timeoutMs} ms${why}`));
          }, timeoutMs),
        };
        waiters.add(w);
      });
    },
    setState(next, err) {
      if (state === 'stopped') return;
      state = next;
      error = next === 'error' ? err : undefined;
    },
    fail(message: string) {
      if (state === 'stopped') return;
      state = 'error';
      error = message;
      rejectWaiters(`camera ${spec} failed: ${message}`);
    },
    stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      error = undefined;
      subscribers.clear();
      rejectWaiters(`camera ${spec} was closed while waiting for a frame`);
    },
    status(): CameraStatus {
      const now = Date.now();
      prune(now);
      // Rate over the span the window's frames cover; 0 once they stop arriving (nothing for
      // twice the usual interval, and at least 2 s).
      let fps = 0;
      const n = arrivals.length;
      if (n >= 2) {
        const interval = (arrivals[n - 1] - arrivals[0]) / (n - 1);
        if (interval > 0 && now - arrivals[n - 1] < Math.max(2000, 2 * interval)) fps = Math.round((1000 / interval) * 10) / 10;
      }
      const s: CameraStatus = { kind, spec, state, fps, frames: seq };
      if (error !== undefined) s.error = error;
      return s;
    },
  };
  return core;
}

/** Checks a `capture()` timeout (ms): a positive finite number. @throws EdgeTuneError BAD_OPTION. */
export function checkTimeout(timeoutMs: number | undefined): number {
  const t = timeoutMs ?? DEFAULT_CAPTURE_TIMEOUT_MS;
  if (!(Number.isFinite(t) && t > 0)) throw new EdgeTuneError('BAD_OPTION', `capture timeout ${t} ms is invalid: give a positive number of milliseconds`);
  return t;
}

/** `CameraOptions` with every default filled in, as the sources receive them. */
export interface SourceOptions {
  width: number;
  height: number;
  fps: number;
  log: (line: string) => void;
}

/**
 * The `Camera` of a source built on `core`: `capture` waits for the next frame unless the source
 * supplies its own (sources that make frames on demand), `close` is the source's and idempotent.
 */
export function cameraOn(
  core: CameraCore,
  parts: {
    close(): Promise<void>;
    capture?: (timeoutMs: number) => Promise<Frame>;
    push?: (jpeg: Buffer) => Frame;
    pid?: () => number | undefined;
  },
): Camera {
  let closing: Promise<void> | undefined;
  const camera: Camera = {
    kind: core.kind,
    spec: core.spec,
    latest: () => core.latest(),
    onFrame: (cb) => core.onFrame(cb),
    capture: async (timeoutMs?: number) => {
      const t = checkTimeout(timeoutMs);
      return parts.capture ? parts.capture(t) : core.nextFrame(t);
    },
    status: () => core.status(),
    close: () => (closing ??= parts.close()),
  };
  if (parts.push) camera.push = parts.push;
  if (parts.pid) camera.pid = parts.pid;
  return camera;
}
