import * as tf from '@tensorflow/tfjs';

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
      require('@tensorflow/tfjs-backend-wasm');
    }
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}
