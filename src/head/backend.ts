import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './wasm-kernels';

/** Which TensorFlow.js backend trains the head. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

let chosen: Promise<BackendName> | undefined;

/**
 * Selects and initialises the TensorFlow.js backend for head training, once per process.
 *
 * `auto` uses `@tensorflow/tfjs-node` (backend `tensorflow`) when that optional package is
 * installed, else the WASM backend, which measured about 3–15× faster than the pure-JS `cpu`
 * backend for these heads on a 2-core x86 machine. `@tensorflow/tfjs-node` is never required:
 * its install downloads a native binary, which fails offline and on Pi arm64.
 * Starting the WASM backend also registers the kernels it lacks for training convolutions
 * (`registerWasmTrainingKernels`). Starting the WASM backend leaves the host process as it was: the process-wide error handlers
 * its Emscripten module installs are removed again (see `withoutProcessHandlersFrom`).
 *
 * @param choice 'auto' (default) or a backend name.
 * @returns the backend that now runs.
 * @throws Error when an explicitly requested backend cannot be initialised.
 */
export function initBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  if (!chosen) chosen = pick(choice);
  return chosen;
}

async function pick(choice: BackendChoice): Promise<BackendName> {
  const order: BackendName[] = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  for (const name of order) {
    if (await tryBackend(name)) return name;
    if (choice !== 'auto') {
      throw new Error(`TensorFlow.js backend '${name}' is not available` +
        (name === 'tensorflow' ? ': install @tensorflow/tfjs-node or use --backend wasm' : ''));
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') {
      // Optional dependency: resolved at run time so the app works without it.
      require.resolve('@tensorflow/tfjs-node');
      require('@tensorflow/tfjs-node');
    } else if (name === 'wasm') {
      return await withoutProcessHandlersFrom(packageDir('@tensorflow/tfjs-backend-wasm'), async () => {
        require('@tensorflow/tfjs-backend-wasm');
        // Conv2D's kernel gradient is missing on 'wasm': bridged so CNNs train there (wasm-kernels.ts).
        registerWasmTrainingKernels();
        return start(name);
      });
    }
    return await start(name);
  } catch {
    return false;
  }
}

async function start(name: BackendName): Promise<boolean> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  return ok && tf.getBackend() === name;
}

/**
 * The process-wide events Emscripten's Node glue listens to. tfjs-backend-wasm 4.22's module
 * (built with Emscripten's defaults NODEJS_CATCH_EXIT=1 and NODEJS_CATCH_REJECTION=1) calls
 * `process.on('uncaughtException', ex => { throw ex })` and `process.on('unhandledRejection',
 * r => { throw r })` when the backend starts. Any later unrelated error in the host then rethrows
 * inside a listener, so Node exits with code 7 ("internal exception handler run-time failure")
 * and prints a tfjs-backend-wasm source line instead of the host's. See
 * https://github.com/emscripten-core/emscripten/issues/11768 for the Emscripten side.
 */
const EMSCRIPTEN_EVENTS: readonly string[] = ['uncaughtException', 'unhandledRejection'];

/**
 * Runs `init` and takes back the `uncaughtException`/`unhandledRejection` listeners that code
 * loaded from `dir` attaches to `process` meanwhile; other listeners are left alone.
 *
 * Why this way: the two Emscripten settings are build-time only, and tfjs exposes no Module
 * option for them. tfjs's own cleanup (in the module's `_dispose`, run only when the backend is
 * disposed) snapshots the listeners before and after, but its filter
 * `!before.indexOf(l) > -1` is always true, so it would remove the host's listeners too. A
 * before/after snapshot here would have the same flaw across the `await`: the host may add its
 * own listener while the backend starts. So each listener is attributed when it is added: the
 * 'newListener' event fires synchronously inside `process.on`, where the raw V8 call sites
 * (not a source-mapped `stack` string) show whether the caller's file lies in `dir`.
 * EdgeTune never disposes the backend, so tfjs's `_dispose` never runs. Exit codes are untouched:
 * in Node tfjs picks the non-threaded module (no WASM thread support there), whose `quit` only
 * throws; the threaded one's `process.exit` path is never loaded.
 * @param dir the package folder whose listeners are removed (absolute, as Node loaded it).
 */
async function withoutProcessHandlersFrom<T>(dir: string | undefined, init: () => Promise<T>): Promise<T> {
  if (dir === undefined) return init();
  const added: Array<[string, (...args: unknown[]) => void]> = [];
  const onNewListener = (event: string | symbol, listener: (...args: unknown[]) => void): void => {
    if (typeof event !== 'string' || !EMSCRIPTEN_EVENTS.includes(event)) return;
    if (!callerFiles().some((f) => f.startsWith(dir + path.sep))) return;
    added.push([event, listener]);
    // 'newListener' fires before the listener is attached: detach it once the adding code returns.
    queueMicrotask(() => process.removeListener(event, listener));
  };
  process.on('newListener', onNewListener);
  try {
    return await init();
  } finally {
    process.removeListener('newListener', onNewListener);
    for (const [event, listener] of added) process.removeListener(event, listener);
  }
}

/** Files of the current call stack, innermost first, from V8's structured call sites. */
function callerFiles(): string[] {
  const saved = { prepare: Error.prepareStackTrace, limit: Error.stackTraceLimit };
  try {
    // A host may shorten stacks or rewrite them (source maps): read the raw frames instead.
    Error.prepareStackTrace = (_e, frames) => frames;
    Error.stackTraceLimit = 50;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder);
    return (holder.stack ?? []).map((f) => f.getFileName() ?? '');
  } finally {
    Error.prepareStackTrace = saved.prepare;
    Error.stackTraceLimit = saved.limit;
  }
}

/** Folder of an installed package (its package.json's folder), or undefined when it cannot be resolved. */
function packageDir(name: string): string | undefined {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}
