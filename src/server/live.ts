/**
 * The live loop: every camera frame is offered to the model, but only the latest one is ever
 * classified. At most IN_FLIGHT frames are with the inference process at once, and newer frames
 * replace each other in a one-frame slot meanwhile, so a camera faster than the interpreter never
 * builds a backlog and a result is never older than about two prediction times.
 */
import { fail } from '../errors';
import type { Camera, Frame } from '../camera/types';
import type { Inference, LivePrediction } from './inference';

/**
 * Frames being decoded or inferred at once. Two, so that the next frame's JPEG decode and resize
 * (sharp, on libuv's thread pool, started by `Inference.predict` on this thread) overlap the
 * current frame's inference in the model's process instead of following it. Measured side by side with the
 * bare interpreter (`npm run bench -- --serve`, 2-core x86, stock v2 classifier, 1 thread): one in
 * flight with the decode in the worker 0.63×; two in flight, decode in the worker 0.75×; two in
 * flight, decode here 1.09× (at the interpreter's rate), at a mean latency of about 2 inferences.
 */
export const IN_FLIGHT = 2;

/** A prediction on a camera frame. */
export interface LiveResult extends LivePrediction {
  /** The frame's sequence number. */
  frame: number;
  /** From the frame's arrival to the prediction, ms. */
  latencyMs: number;
  /** When the prediction finished, ms since the epoch. */
  time: number;
}

/** The live loop of a server. */
export interface Live {
  /** The latest result, or null before the first. */
  latest(): LiveResult | null;
  /** Calls `cb` with each result; returns the unsubscribe function. */
  subscribe(cb: (r: LiveResult) => void): () => void;
  /**
   * The result of frame `seq`, or of a newer frame if that one was skipped.
   * @throws EdgeTuneError UNAVAILABLE when none comes within `timeoutMs`, or the prediction's error.
   */
  resultFor(seq: number, timeoutMs: number): Promise<LiveResult>;
  stop(): void;
}

/**
 * Starts classifying `camera`'s frames with `inference`.
 * @param top classes per result (top-k).
 * @param onResult called for every result before subscribers (e.g. to keep unsure frames for review).
 */
export function startLive(camera: Camera, inference: Inference, top: number, onResult: (r: LiveResult, f: Frame) => void = () => undefined): Live {
  let last: LiveResult | null = null;
  let busy = 0;
  let slot: Frame | null = null;
  let stopped = false;
  const subs = new Set<(r: LiveResult) => void>();
  const waiters = new Set<{ seq: number; resolve: (r: LiveResult) => void; reject: (e: Error) => void }>();

  const run = async (f: Frame): Promise<void> => {
    busy++;
    try {
      const p = await inference.predict(f.jpeg, top);
      const now = Date.now();
      const r: LiveResult = { ...p, frame: f.seq, latencyMs: now - f.time, time: now };
      // With two in flight an older frame can finish second: never show the past after the present.
      if (last && last.frame > r.frame) return;
      last = r;
      try {
        onResult(r, f);
      } catch {
        // keeping a frame for review must never stop the preview
      }
      subs.forEach((cb) => cb(r));
      for (const w of waiters) if (w.seq <= f.seq) { waiters.delete(w); w.resolve(r); }
    } catch (e) {
      for (const w of waiters) if (w.seq <= f.seq) { waiters.delete(w); w.reject(e as Error); }
    } finally {
      busy--;
      const next = slot;
      slot = null;
      if (next && !stopped) void run(next);
    }
  };

  const off = camera.onFrame((f) => {
    if (stopped) return;
    if (busy >= IN_FLIGHT) {
      slot = f;
    } else {
      void run(f);
    }
  });

  return {
    latest: () => last,
    subscribe(cb) {
      subs.add(cb);
      return () => subs.delete(cb);
    },
    resultFor(seq, timeoutMs) {
      if (last && last.frame >= seq) return Promise.resolve(last);
      return new Promise((resolve, reject) => {
        const w = {
          seq,
          resolve: (r: LiveResult) => { clearTimeout(t); resolve(r); },
          reject: (e: Error) => { clearTimeout(t); reject(e); },
        };
        const t = setTimeout(() => {
          waiters.delete(w);
          reject(fail('UNAVAILABLE', `no prediction within ${timeoutMs} ms: the model may still be loading, try again`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    stop() {
      stopped = true;
      off();
      subs.clear();
    },
  };
}
