/**
 * The records `edgetune doctor` works with: one `Check` per thing looked at, and the environment
 * the checks read, injectable so that tests can point them at fake folders, a fake PATH and a
 * fake /sys tree.
 */

/**
 * ok: present and working. warn: missing or degraded, but the main job (train + predict on the
 * CPU) still runs. fail: the main job cannot run (or cannot be trusted) until it is fixed.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's report. */
export interface Check {
  /** Short name of what was checked, e.g. 'node', 'libedgetpu', 'base mobilenet_v1_1.0_224'. */
  name: string;
  status: CheckStatus;
  /** What was found, one line. */
  detail: string;
  /** For warn/fail: the exact command (or step) that fixes it. */
  fix?: string;
}

/** The whole report: `ok` is true when no check failed, i.e. the main job can run. */
export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

/** Everything the checks read from the machine, with the defaults `doctorEnv` fills in. */
export interface DoctorEnv {
  /** The models folder whose bases are verified (default `defaultModelsDir()`). */
  modelsDir: string;
  /** The folder the user works in (default `process.cwd()`), for the free-disk check. */
  cwd: string;
  /** The PATH programs are looked up in (default `process.env.PATH`). */
  path: string;
  /** File-system root under which /sys, /dev and /proc are read (default '/'). */
  root: string;
  /** Node.js version without the 'v' (default `process.versions.node`). */
  node: string;
  /** Node's architecture name (default `process.arch`): 'x64', 'arm64', 'arm', … */
  arch: string;
  /**
   * The kernel's machine name (default `os.machine()`, as `uname -m`): 'x86_64', 'aarch64',
   * 'armv7l', … A 32-bit ARM Node.js on an 'aarch64' kernel is a 32-bit OS on a 64-bit kernel.
   */
  machine: string;
  /** Node's platform name (default `process.platform`). */
  platform: string;
  /** Folder of the installed tfjs-tflite-node package, or null when it cannot be resolved. */
  tflitePackage: string | null;
  /** The Edge TPU runtime library loaded by name (default EDGETPU_LIBRARY, libedgetpu.so.1). */
  edgetpuLibrary: string;
  /** Longest a probe child process or external program may take, ms (default 60000). */
  timeoutMs: number;
}
