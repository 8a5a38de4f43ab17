/**
 * The child-process side of the doctor's runtime checks. Loading a native addon or starting a
 * TensorFlow.js backend can crash a process (a wrong-architecture or half-built binding, a
 * segfault in TFLite), so the doctor does it here, in a process of its own, and reads one result
 * line; a crash is then a finding in the report, not the end of `edgetune doctor`.
 *
 *   node probe.js tflite <tfjs-tflite-node folder> [model.tflite]
 *       loads the binding; with a model, runs one inference on a mid-grey input (1 thread)
 *   node probe.js backend <wasm|tensorflow>
 *       starts that TensorFlow.js backend (as head training does) and sums a small tensor
 *
 * Prints `PROBE_MARK` + a JSON `ProbeResult` on stdout (libraries may print their own lines too).
 */
import * as path from 'node:path';

/** Prefix of the result line on stdout. */
export const PROBE_MARK = 'EDGETUNE-DOCTOR-PROBE ';

/** What a probe found. */
export interface ProbeResult {
  ok: boolean;
  /** The failure's first line when ok is false. */
  error?: string;
  /** tflite with a model: ms of the second inference (the first warms up), its output length. */
  ms?: number;
  outputs?: number;
  /** backend: the backend that runs, and the sum of [1, 2, 3] it computed (6). */
  backend?: string;
  sum?: number;
  /** backend tensorflow: @tensorflow/tfjs-node's version. */
  version?: string;
}

/** The result line in a probe's stdout, or null when the probe printed none (it crashed). */
export function parseProbeOutput(stdout: string): ProbeResult | null {
  const line = stdout.split('\n').reverse().find((l) => l.startsWith(PROBE_MARK));
  if (line === undefined) return null;
  try {
    return JSON.parse(line.slice(PROBE_MARK.length)) as ProbeResult;
  } catch {
    return null;
  }
}

async function probeTflite(packageDir: string, model: string | undefined): Promise<ProbeResult> {
  // The same loader and binding name the runtime uses (src/runtime nativeInterpreter).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = (require('bindings') as (o: { bindings: string; module_root: string }) => { Interpreter?: unknown })(
    { bindings: 'node_tflite_binding', module_root: path.resolve(packageDir) });
  if (typeof binding.Interpreter !== 'function') return { ok: false, error: 'the binding loaded but has no Interpreter class' };
  if (model === undefined) return { ok: true };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { openModel } = require('../runtime') as typeof import('../runtime');
  const session = openModel(model, { threads: 1, device: 'cpu' });
  try {
    session.inputBuffer.fill(session.inputBuffer instanceof Uint8Array ? 128 : 0);
    session.run();
    const t0 = performance.now();
    const out = session.run();
    const ms = performance.now() - t0;
    if (out.length === 0 || !out.every(Number.isFinite)) return { ok: false, error: `inference gave ${out.length} outputs, not all finite` };
    return { ok: true, ms, outputs: out.length };
  } finally {
    session.close();
  }
}

async function probeBackend(name: string): Promise<ProbeResult> {
  if (name !== 'wasm' && name !== 'tensorflow') return { ok: false, error: `unknown backend ${name}` };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { initBackend } = require('../head/backend') as typeof import('../head/backend');
  const backend = await initBackend(name);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
  const sum = tf.tidy(() => tf.tensor1d([1, 2, 3]).sum().dataSync()[0]);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const version = name === 'tensorflow' ? (require('@tensorflow/tfjs-node/package.json') as { version: string }).version : undefined;
  return { ok: sum === 6, backend, sum, ...(version ? { version } : {}), ...(sum === 6 ? {} : { error: `sum of [1, 2, 3] gave ${sum}` }) };
}

async function main(args: string[]): Promise<void> {
  let result: ProbeResult;
  try {
    if (args[0] === 'tflite' && args[1]) result = await probeTflite(args[1], args[2]);
    else if (args[0] === 'backend' && args[1]) result = await probeBackend(args[1]);
    else result = { ok: false, error: `usage: probe.js tflite DIR [MODEL] | backend NAME (got ${args.join(' ')})` };
  } catch (e) {
    result = { ok: false, error: String((e as Error)?.message ?? e).split('\n').map((s) => s.trim()).filter((s) => s !== '').join(' ') };
  }
  process.stdout.write(`${PROBE_MARK}${JSON.stringify(result)}\n`);
  // A started backend may keep the event loop alive; the answer is written.
  process.exit(0);
}

if (require.main === module) void main(process.argv.slice(2));
