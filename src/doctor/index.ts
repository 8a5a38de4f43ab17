/**
 * `edgetune doctor`: checks what this machine offers EdgeTune, one `Check` per thing, each ok /
 * warn / fail with what was found and, for anything missing, the command that fixes it.
 *
 * The main job — train a head and predict on the CPU — needs Node ≥ 20 on 64-bit Linux, a
 * working TFLite binding, a TensorFlow.js backend, disk space and verified bases: those fail when
 * broken. The Edge TPU and the cameras are optional: they warn. So `ok` (exit code 0) means no
 * check failed, i.e. the main job can run.
 *
 * Every check reads the machine through a `DoctorEnv` (models folder, current folder, PATH, a
 * file-system root for /sys, /dev and /proc, …) that callers and tests can replace in part.
 * Native code (the TFLite binding, the tfjs backends) is only ever loaded in child processes.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultModelsDir } from '../models';
import { EDGETPU_LIBRARY } from '../runtime';
import { checkBases, verifyBases } from './bases';
import { checkPiCamera, checkProgram, checkVideoDevices } from './cameras';
import { checkCoralDevices, checkEdgeTpuLibrary } from './edgetpu';
import { checkArch, checkCpu, checkDisk, checkMemory, checkNode } from './system';
import { checkBackend, checkTflite } from './tflite';
import type { Check, DoctorEnv, DoctorReport } from './types';

export type { Check, CheckStatus, DoctorEnv, DoctorReport } from './types';
export { FETCH_COMMAND } from './bases';
export { CORAL_APT_FIX, deviceStrings } from './edgetpu';
export { aptFix } from './cameras';

/** The tfjs-tflite-node package folder as Node resolves it from here, or null. */
function tflitePackage(): string | null {
  try {
    return path.dirname(require.resolve('tfjs-tflite-node/package.json'));
  } catch {
    return null;
  }
}

/** This machine's environment with `overrides` applied (see DoctorEnv for each default). */
export function doctorEnv(overrides: Partial<DoctorEnv> = {}): DoctorEnv {
  return {
    modelsDir: defaultModelsDir(),
    cwd: process.cwd(),
    path: process.env.PATH ?? '',
    root: '/',
    node: process.versions.node,
    arch: process.arch,
    machine: os.machine(),
    platform: process.platform,
    tflitePackage: tflitePackage(),
    edgetpuLibrary: EDGETPU_LIBRARY,
    timeoutMs: 60_000,
    ...overrides,
  };
}

/** True when no check failed: the main job (train + predict on the CPU) can run. */
export function doctorOk(checks: readonly Check[]): boolean {
  return checks.every((c) => c.status !== 'fail');
}

/**
 * Runs every check, in report order: node, architecture, cpu, memory, disk; the bases (each file
 * hashed against its pinned SHA-256) and the ImageNet labels; tflite runtime (binding built for
 * this architecture, loaded and one inference of the smallest verified base, in a child
 * process); tfjs backend; libedgetpu; coral devices; video devices, pi camera, ffmpeg, fswebcam.
 * Takes a few seconds (two child processes start Node; hashing ~30 MB of bases). Never throws
 * for what it finds: a broken piece is a `fail` check.
 * @param overrides parts of the environment to replace (tests: a fake models folder, PATH, root).
 */
export async function runDoctor(overrides: Partial<DoctorEnv> = {}): Promise<DoctorReport> {
  const env = doctorEnv(overrides);
  const bases = verifyBases(env.modelsDir);
  const [tflite, backend, edgetpu, piCamera] = await Promise.all([
    checkTflite(env, bases), checkBackend(env), checkEdgeTpuLibrary(env), checkPiCamera(env),
  ]);
  const checks: Check[] = [
    checkNode(env), checkArch(env), checkCpu(env), checkMemory(), ...checkDisk(env),
    ...checkBases(bases, env.modelsDir),
    tflite, backend,
    edgetpu, checkCoralDevices(env),
    checkVideoDevices(env), piCamera, checkProgram(env, 'ffmpeg'), checkProgram(env, 'fswebcam'),
  ];
  return { ok: doctorOk(checks), checks };
}

/**
 * The report as text: one line per check (`ok   name  detail`, then `; fix: COMMAND` for a
 * warning or failure), and a last line saying whether the main job can run.
 */
export function formatDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => `${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}${c.fix ? `; fix: ${c.fix}` : ''}`);
  const count = (s: string) => report.checks.filter((c) => c.status === s).length;
  const fails = count('fail');
  const warns = count('warn');
  const tail = `${warns} warning${warns === 1 ? '' : 's'}`;
  lines.push(fails === 0
    ? `the main job (train + predict on the CPU) can run; ${tail}`
    : `the main job (train + predict on the CPU) cannot run: ${fails} check${fails === 1 ? '' : 's'} failed; ${tail}`);
  return lines.join('\n');
}
