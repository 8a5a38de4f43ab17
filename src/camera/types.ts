/**
 * The camera contract shared by every source (`src/camera/*`) and the server: a stream of JPEG
 * frames of which only the latest matters (predictions never queue behind a slow interpreter),
 * plus `capture()` for a fresh frame.
 */

/** Which source a camera is; `--camera` takes these as `kind` or `kind:argument`. */
export type CameraKind = 'v4l2' | 'rpicam' | 'webcam' | 'browser' | 'file' | 'none';

/** One camera frame. */
export interface Frame {
  /** A complete JPEG image (SOI … EOI). */
  jpeg: Buffer;
  /** 1, 2, 3 … per camera, in arrival order. */
  seq: number;
  /** Arrival time, ms since the epoch (Date.now()). */
  time: number;
}

/** What a camera is doing, for /api/health and the page. */
export interface CameraStatus {
  kind: CameraKind;
  /** The spec it was opened with, e.g. 'v4l2:/dev/video0'. */
  spec: string;
  state: 'starting' | 'running' | 'stopped' | 'error';
  /** Frames per second over the last few seconds (0 when none arrive). */
  fps: number;
  /** Frames received since opening. */
  frames: number;
  /** One line: why the camera stopped or failed, naming what to install or which device was tried. */
  error?: string;
}

/** An open camera. */
export interface Camera {
  readonly kind: CameraKind;
  readonly spec: string;
  /** The most recent frame, or null before the first. */
  latest(): Frame | null;
  /** Calls `cb` for every new frame; returns the unsubscribe function. */
  onFrame(cb: (f: Frame) => void): () => void;
  /**
   * A frame newer than the call (waits for the next one; for 'file' and 'webcam' it triggers one).
   * @param timeoutMs default 5000.
   * @throws EdgeTuneError('UNSUPPORTED') for 'none', ('IO') when no frame arrives in time or the source died.
   */
  capture(timeoutMs?: number): Promise<Frame>;
  /** 'browser' only: a frame the page posted (JPEG bytes). Other kinds do not have it. */
  push?(jpeg: Buffer): Frame;
  status(): CameraStatus;
  /**
   * Sources run by a child process (v4l2, rpicam, a video file): the running child's pid, or
   * undefined between restarts and after close. Other kinds do not have it.
   */
  pid?(): number | undefined;
  /** Stops the source (kills its child process) and resolves when it is gone. Idempotent. */
  close(): Promise<void>;
}

/** Options of `openCamera`. */
export interface CameraOptions {
  /** Frame width in pixels (default 640). Devices are asked for it; file sources fit frames inside width × height. */
  width?: number;
  /** Frame height in pixels (default 480). */
  height?: number;
  /** Frames per second (default 15 for devices and videos, 5 for file:DIR). */
  fps?: number;
  /** Receives one line per notable event: which source `auto` tried and chose, restarts, skipped files. */
  log?: (line: string) => void;
}
