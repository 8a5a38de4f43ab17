/**
 * When tfjs-tflite-node's native addon does not load: the one-line error that says why and what to
 * do, instead of the dynamic linker's message (a Pi on a 32-bit OS sees "undefined symbol:
 * TfLiteInterpreterGetInputTensor", tensorflow/tfjs#6796) or `bindings`' multi-line search list.
 *
 * Facts from tfjs-tflite-node 0.0.2's binding.gyp: the addon is compiled on install (npm runs
 * `node-gyp rebuild` for a package with a binding.gyp; no prebuilt addon is published) and linked
 * against cc_deps/linux_amd64 when `node -e "console.log(process.arch)"` says x64 and against
 * cc_deps/linux_arm64 when it says arm64. For any other architecture no condition matches: the
 * addon still compiles, links no TFLite library at all, and fails at load time on its first TFLite
 * symbol.
 */
import * as path from 'node:path';
import { EdgeTuneError } from '../errors';

/** The Linux architectures (Node's names) tfjs-tflite-node ships a TFLite library for. */
export const TFLITE_LINUX_ARCHES: readonly string[] = ['x64', 'arm64'];

/** The folder whose node_modules holds `packageDir`, for `cd … && npm rebuild` (the package's own folder when not under node_modules). */
export function projectOf(packageDir: string): string {
  const parts = path.resolve(packageDir).split(path.sep);
  const i = parts.lastIndexOf('node_modules');
  return i > 0 ? parts.slice(0, i).join(path.sep) || path.sep : path.resolve(packageDir);
}

/**
 * The shell command that builds tfjs-tflite-node's addon again for this machine. It compiles with
 * node-gyp, which needs a C++ compiler, make and Python (Debian: build-essential, python3).
 * @param packageDir the installed tfjs-tflite-node folder.
 */
export function tfliteRebuildCommand(packageDir: string): string {
  return `sudo apt-get install -y build-essential python3 && cd ${projectOf(packageDir)} && npm rebuild tfjs-tflite-node`;
}

/**
 * The error for an addon that does not load, by cause:
 * - 32-bit ARM Linux (`arch` 'arm', e.g. 32-bit Raspberry Pi OS, also on a 64-bit kernel):
 *   `UNSUPPORTED`, install a 64-bit OS;
 * - any other Linux architecture but x64 and arm64: `UNSUPPORTED`;
 * - never built (`bindings` found no node_tflite_binding.node): `UNAVAILABLE`, with the rebuild command;
 * - anything else (built for another CPU, a missing library): `UNAVAILABLE`, with the rebuild command.
 * @param cause what loading threw (its first line is quoted).
 * @param packageDir the installed tfjs-tflite-node folder.
 * @param arch Node's architecture name (default `process.arch`).
 * @param platform Node's platform name (default `process.platform`).
 * @returns an EdgeTuneError with a one-line message; `cause` is kept as its cause.
 */
export function tfliteAddonError(cause: unknown, packageDir: string, arch: string = process.arch, platform: string = process.platform): EdgeTuneError {
  const raw = cause instanceof Error ? cause.message : String(cause);
  const why = raw.split('\n')[0].trim();
  const where = `${platform} ${arch}`;
  if (platform === 'linux' && arch === 'arm') {
    return new EdgeTuneError('UNSUPPORTED',
      `the TFLite runtime cannot run on 32-bit ARM (${where}): tfjs-tflite-node publishes no 32-bit ARM TFLite library, so its addon links none (${why}); ` +
      'install a 64-bit OS (64-bit Raspberry Pi OS, where node -p process.arch prints arm64) and run npm ci again', { cause });
  }
  if (platform === 'linux' && !TFLITE_LINUX_ARCHES.includes(arch)) {
    return new EdgeTuneError('UNSUPPORTED',
      `the TFLite runtime cannot run on ${where}: tfjs-tflite-node publishes TFLite libraries for Linux ${TFLITE_LINUX_ARCHES.join(' and ')} only (${why}); ` +
      'run EdgeTune on a 64-bit x86 or ARM Linux machine', { cause });
  }
  if (/could not locate the bindings file/i.test(why)) {
    return new EdgeTuneError('UNAVAILABLE',
      `the TFLite runtime is not built: tfjs-tflite-node's addon (build/Release/node_tflite_binding.node in ${packageDir}) is missing, as its install script did not run; ` +
      `build it: ${tfliteRebuildCommand(packageDir)}`, { cause });
  }
  return new EdgeTuneError('UNAVAILABLE',
    `the TFLite runtime does not load on ${where} (${why}); build tfjs-tflite-node's addon again for this machine: ${tfliteRebuildCommand(packageDir)} (edgetune doctor tells more)`,
    { cause });
}
