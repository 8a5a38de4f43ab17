/**
 * The machine itself: Node.js, CPU architecture, cores, memory and free disk.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TFLITE_LINUX_ARCHES } from '../runtime';
import type { Check, DoctorEnv } from './types';

/** Oldest Node.js major EdgeTune runs on (package.json "engines"). */
export const MIN_NODE_MAJOR = 20;

/** The architectures tfjs-tflite-node 0.0.2 ships a TFLite library for on Linux (its cc_deps: linux_amd64, linux_arm64). */
export const TFLITE_ARCHES: readonly string[] = TFLITE_LINUX_ARCHES;

/**
 * Below this much memory available (bytes) training may swap or be killed: train + export of
 * 1,000 photos peaked at 382 MB RSS (README, "Measured here").
 */
export const LOW_MEMORY_BYTES = 512 * 1024 * 1024;

/** Free disk (bytes) below which the doctor warns (bases, model folders, the embedding cache) … */
export const LOW_DISK_BYTES = 1024 * 1024 * 1024;
/** … and below which it fails: the pinned bases alone take about 30 MB. */
export const NO_DISK_BYTES = 100 * 1024 * 1024;

/** Node.js version: ok from MIN_NODE_MAJOR on, else fail with how to install a current one. */
export function checkNode(env: DoctorEnv): Check {
  const major = Number(env.node.split('.')[0]);
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) {
    return { name: 'node', status: 'ok', detail: `Node.js ${env.node} (${MIN_NODE_MAJOR} or newer needed)` };
  }
  return {
    name: 'node', status: 'fail', detail: `Node.js ${env.node} is too old: EdgeTune needs ${MIN_NODE_MAJOR} or newer`,
    fix: `curl -fsSL https://deb.nodesource.com/setup_${MIN_NODE_MAJOR}.x | sudo -E bash - && sudo apt-get install -y nodejs`,
  };
}

/**
 * Platform and CPU architecture: Linux on x64 or arm64 is ok; 32-bit ARM fails (no TFLite
 * library is published for it), saying so when the kernel is 64-bit (32-bit Raspberry Pi OS boots
 * a 64-bit kernel on a Pi 4/5: `uname -m` says aarch64, yet Node.js and every program are 32-bit);
 * other architectures fail likewise; other platforms warn.
 */
export function checkArch(env: DoctorEnv): Check {
  const where = `${env.platform} ${env.arch}`;
  if (env.arch === 'arm') {
    const kernel = env.machine === 'aarch64' || env.machine === 'arm64' ? ` on a 64-bit ${env.machine} kernel: a 32-bit OS` : '';
    return {
      name: 'architecture', status: 'fail',
      detail: `${where} (32-bit ARM${kernel}): no 32-bit ARM TFLite library is published: install a 64-bit OS`,
      fix: 'flash the 64-bit Raspberry Pi OS (or another arm64 Linux) and install EdgeTune there',
    };
  }
  if (!TFLITE_ARCHES.includes(env.arch)) {
    return {
      name: 'architecture', status: 'fail',
      detail: `${where}: tfjs-tflite-node publishes TFLite libraries for ${TFLITE_ARCHES.join(' and ')} only`,
      fix: 'run EdgeTune on a 64-bit x86 or ARM Linux machine',
    };
  }
  if (env.platform !== 'linux') {
    return { name: 'architecture', status: 'warn', detail: `${where}: EdgeTune is built and tested on Linux only`, fix: 'run EdgeTune on Linux (x64 or arm64)' };
  }
  return { name: 'architecture', status: 'ok', detail: where };
}

/** Cores usable by this process, the CPU model and, on a board with a device tree (a Pi), the board. */
export function checkCpu(env: DoctorEnv): Check {
  const cpus = os.cpus();
  const model = cpus[0]?.model?.trim();
  let board: string | undefined;
  try {
    // The device tree's model string ends in a NUL ("Raspberry Pi 5 Model B Rev 1.0\0").
    board = fs.readFileSync(path.join(env.root, 'proc', 'device-tree', 'model'), 'utf8').replace(/\0/g, '').trim() || undefined;
  } catch {
    // not a device-tree board
  }
  const n = os.availableParallelism();
  const what = [model && model !== 'unknown' ? model : undefined, board].filter((s) => s !== undefined).join(', ');
  return { name: 'cpu', status: 'ok', detail: `${n} core${n === 1 ? '' : 's'}${what ? ` (${what})` : ''}` };
}

/** Memory total and available; warns below LOW_MEMORY_BYTES available. */
export function checkMemory(): Check {
  const total = os.totalmem();
  // libuv reads MemAvailable on Linux: what can be had without swapping.
  const free = os.freemem();
  const detail = `${formatBytes(total)} total, ${formatBytes(free)} available`;
  if (free < LOW_MEMORY_BYTES) {
    return {
      name: 'memory', status: 'warn', detail: `${detail}: training needs about 400 MB`,
      fix: 'close other programs, or add swap (Raspberry Pi OS: raise CONF_SWAPSIZE in /etc/dphys-swapfile, then sudo systemctl restart dphys-swapfile)',
    };
  }
  return { name: 'memory', status: 'ok', detail };
}

/** The nearest existing folder at or above `p` (the models folder may not exist yet). */
function existingAncestor(p: string): string {
  let d = path.resolve(p);
  while (!fs.existsSync(d)) {
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

/**
 * Free disk where the models folder and the current folder are: one check when both are on the
 * same file system, else one each. Warns below LOW_DISK_BYTES, fails below NO_DISK_BYTES.
 */
export function checkDisk(env: DoctorEnv): Check[] {
  const places = [
    { what: 'models folder', dir: path.resolve(env.modelsDir) },
    { what: 'current folder', dir: path.resolve(env.cwd) },
  ].map((p) => ({ ...p, at: existingAncestor(p.dir) }));
  let devs: Array<number | undefined>;
  try {
    devs = places.map((p) => fs.statSync(p.at).dev);
  } catch {
    devs = [undefined, undefined];
  }
  const groups = devs[0] !== undefined && devs[0] === devs[1] ? [places] : places.map((p) => [p]);
  return groups.map((g): Check => {
    const name = groups.length === 1 ? 'disk' : `disk (${g[0].what})`;
    const where = g.map((p) => `${p.what} ${p.dir}`).join(' and ');
    let free: number;
    try {
      const s = fs.statfsSync(g[0].at);
      free = s.bavail * s.bsize;
    } catch (e) {
      return { name, status: 'warn', detail: `cannot read the free space of ${g[0].at}: ${(e as Error).message.split('\n')[0]}` };
    }
    const detail = `${formatBytes(free)} free where the ${where} ${g.length === 1 ? 'is' : 'are'}`;
    if (free < NO_DISK_BYTES) return { name, status: 'fail', detail: `${detail}: the bases and model folders need at least ${formatBytes(NO_DISK_BYTES)}`, fix: `free space on that disk (e.g. sudo apt-get clean, or remove old runs), or set EDGETUNE_MODELS to a folder on a bigger disk` };
    if (free < LOW_DISK_BYTES) return { name, status: 'warn', detail: `${detail}: model folders and the embedding cache grow with every training`, fix: 'free space on that disk (e.g. sudo apt-get clean, or remove old runs and ~/.cache/edgetune)' };
    return { name, status: 'ok', detail };
  });
}

/** Bytes as "7.8 GB" / "512 MB" (powers of 1024, one decimal from GB up). */
export function formatBytes(n: number): string {
  const mb = n / (1024 * 1024);
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`;
}
