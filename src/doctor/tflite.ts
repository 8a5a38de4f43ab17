/**
 * The two runtimes the main job needs: TFLite (tfjs-tflite-node's native binding: is it built,
 * for this CPU, does it load, does it infer) and a TensorFlow.js backend for head training.
 * Both are tried in a child process (probe.ts), so a crash there cannot take the doctor down.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectOf, tfliteRebuildCommand } from '../runtime';
import { runProgram } from './exec';
import { readElfHeader } from './elf';
import { parseProbeOutput, type ProbeResult } from './probe';
import type { BaseState } from './bases';
import type { Check, DoctorEnv } from './types';

/**
 * tfjs-tflite-node's TFLite library folder per Node architecture on Linux, from its binding.gyp
 * (`OS=="linux" and ARCH=="x64"` → cc_deps/linux_amd64, `ARCH=="arm64"` → cc_deps/linux_arm64,
 * linked with rpath `$ORIGIN/../../cc_deps/<folder>`).
 */
export const CC_DEPS: Readonly<Record<string, string>> = { x64: 'linux_amd64', arm64: 'linux_arm64' };

/** Where node-gyp puts the addon (`bindings` looks there first); Debug only after a debug build. */
const BINDING_FILES = ['build/Release/node_tflite_binding.node', 'build/Debug/node_tflite_binding.node'];

const PROBE = path.join(__dirname, 'probe.js');

function rebuildFix(packageDir: string): string {
  // tfjs-tflite-node compiles its addon with node-gyp (a C++ compiler and Python); package.json's
  // allowScripts lets npm 11 run that install script.
  return tfliteRebuildCommand(packageDir);
}

/** Runs probe.js with `args`; a crash or timeout becomes `{ok: false, error}`. */
export async function runProbe(args: string[], timeoutMs: number): Promise<ProbeResult> {
  const r = await runProgram(process.execPath, [PROBE, ...args], timeoutMs);
  const parsed = parseProbeOutput(r.stdout);
  if (parsed) return parsed;
  const why = r.error ?? (r.signal ? `crashed (${r.signal})` : `exited with code ${r.code}`);
  const last = r.stderr.split('\n').map((s) => s.trim()).filter((s) => s !== '').pop();
  return { ok: false, error: `${why}${last ? `: ${last}` : ''}` };
}

/** The smallest verified base (fastest to infer), or undefined when none is verified. */
function smallestVerified(bases: readonly BaseState[]): BaseState | undefined {
  return bases.filter((b) => b.cpu.state === 'ok').sort((a, b) => a.spec.inputSize - b.spec.inputSize || a.spec.embeddingDim - b.spec.embeddingDim)[0];
}

/**
 * TFLite runtime: tfjs-tflite-node installed; its addon built (build/Release) as an ELF for this
 * architecture; cc_deps holds this architecture's libtensorflowlite_c.so, also of the right
 * machine; the addon loads in a child process; and, when a base is installed and verified, one
 * inference of the smallest one runs there (1 thread, time in ms reported).
 * @returns ok, or fail with the rebuild / reinstall command.
 */
export async function checkTflite(env: DoctorEnv, bases: readonly BaseState[]): Promise<Check> {
  const name = 'tflite runtime';
  if (env.tflitePackage === null) {
    return { name, status: 'fail', detail: 'tfjs-tflite-node is not installed', fix: 'npm ci (in the EdgeTune folder), or npm install edgetune' };
  }
  const pkg = env.tflitePackage;
  let version = '?';
  try {
    version = (JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // reported below through the binding checks
  }
  const label = `tfjs-tflite-node ${version}`;
  const binding = BINDING_FILES.map((f) => path.join(pkg, f)).find((f) => fs.existsSync(f));
  if (!binding) {
    return { name, status: 'fail', detail: `${label}: its native addon was never built (no ${BINDING_FILES[0]} in ${pkg}; its install script did not run)`, fix: rebuildFix(pkg) };
  }
  const elf = readElfHeader(binding);
  if (!elf) return { name, status: 'fail', detail: `${label}: ${binding} is not an ELF shared library`, fix: rebuildFix(pkg) };
  if (elf.arch !== env.arch) {
    return { name, status: 'fail', detail: `${label}: the addon is built for ${elf.arch} (${elf.bits}-bit ELF), this machine is ${env.arch}`, fix: rebuildFix(pkg) };
  }
  const deps = CC_DEPS[env.arch];
  const have = (() => { try { return fs.readdirSync(path.join(pkg, 'cc_deps')).filter((d) => d !== 'include'); } catch { return []; } })();
  if (deps === undefined) {
    return { name, status: 'fail', detail: `${label} ships TFLite for ${have.join(', ') || 'no platform'}, not linux ${env.arch}`, fix: 'run EdgeTune on 64-bit Linux (x64 or arm64)' };
  }
  const lib = path.join(pkg, 'cc_deps', deps, 'libtensorflowlite_c.so');
  const libElf = readElfHeader(lib);
  if (!libElf || libElf.arch !== env.arch) {
    return {
      name, status: 'fail',
      detail: `${label}: ${libElf ? `cc_deps/${deps}/libtensorflowlite_c.so is built for ${libElf.arch}` : `cc_deps/${deps}/libtensorflowlite_c.so is missing or not ELF`}`,
      fix: `cd ${projectOf(pkg)} && rm -rf node_modules/tfjs-tflite-node && npm ci`,
    };
  }
  const base = smallestVerified(bases);
  const r = await runProbe(['tflite', pkg, ...(base ? [base.path] : [])], env.timeoutMs);
  const found = `${label} (${elf.arch} addon, cc_deps/${deps})`;
  if (!r.ok) return { name, status: 'fail', detail: `${found} does not ${base ? `run ${base.spec.name}` : 'load'}: ${r.error}`, fix: rebuildFix(pkg) };
  return {
    name, status: 'ok',
    detail: base
      ? `${found} loads; one inference of ${base.spec.name}: ${r.ms!.toFixed(1)} ms on 1 thread, ${r.outputs} outputs`
      : `${found} loads (no verified base installed: no inference tried)`,
  };
}

/** The installed @tensorflow/tfjs-node's folder, or null (it is an optional peer dependency). */
function tfjsNodePackage(): string | null {
  try {
    return path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return null;
  }
}

/**
 * TensorFlow.js backend for the head: WASM must start (fail otherwise: nothing trains); when the
 * optional @tensorflow/tfjs-node is installed it is started too (a warning when it does not,
 * since `--backend auto` then falls back to WASM).
 */
export async function checkBackend(env: DoctorEnv): Promise<Check> {
  const name = 'tfjs backend';
  const wasm = await runProbe(['backend', 'wasm'], env.timeoutMs);
  if (!wasm.ok) {
    return { name, status: 'fail', detail: `the WASM backend does not start: ${wasm.error}`, fix: 'npm ci (reinstalls @tensorflow/tfjs-backend-wasm)' };
  }
  if (tfjsNodePackage() === null) {
    return { name, status: 'ok', detail: 'wasm starts (head training uses it; @tensorflow/tfjs-node, optional, is not installed)' };
  }
  const node = await runProbe(['backend', 'tensorflow'], env.timeoutMs);
  if (!node.ok) {
    return {
      name, status: 'warn', detail: `wasm starts; @tensorflow/tfjs-node is installed but does not start (${node.error}): --backend auto falls back to wasm`,
      fix: 'npm rebuild @tensorflow/tfjs-node, or npm uninstall @tensorflow/tfjs-node',
    };
  }
  return { name, status: 'ok', detail: `wasm and tensorflow (@tensorflow/tfjs-node ${node.version}) start; head training uses tensorflow` };
}
