// TEMPORARY STUB (not committed): replaced by the camera helper's module.
import { fail } from '../errors';
import type { Camera, Frame } from './types';
export async function openCamera(spec: string, _o: { log?: (l: string) => void } = {}): Promise<Camera> {
  let latest: Frame | null = null; let seq = 0; const subs = new Set<(f: Frame) => void>();
  const waiters: ((f: Frame) => void)[] = [];
  const kind = spec === 'none' ? 'none' : 'browser';
  return {
    kind, spec, latest: () => latest,
    onFrame(cb) { subs.add(cb); return () => subs.delete(cb); },
    capture(t = 5000) { if (kind === 'none') return Promise.reject(fail('UNSUPPORTED', 'no camera')); return new Promise((res, rej) => { const tm = setTimeout(() => rej(fail('IO', 'no frame')), t); waiters.push((f) => { clearTimeout(tm); res(f); }); }); },
    ...(kind === 'browser' ? { push(jpeg: Buffer) { const f = { jpeg, seq: ++seq, time: Date.now() }; latest = f; subs.forEach((c) => c(f)); waiters.splice(0).forEach((w) => w(f)); return f; } } : {}),
    status: () => ({ kind, spec, state: 'running', fps: 0, frames: seq }),
    close: async () => undefined,
  };
}
