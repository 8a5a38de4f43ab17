/**
 * The Coral Edge TPU, which is optional (the CPU runs everything): the runtime library
 * libedgetpu.so.1 and its version, and the accelerators present with their `--device` strings.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listEdgeTpus, probeEdgeTpu, type EdgeTpuDevice } from '../runtime';
import { findOnPath } from '../host';
import { runProgram } from './exec';
import type { Check, DoctorEnv } from './types';

/**
 * Installs Coral's Edge TPU runtime: Coral's apt repository line and signing key (as in Coral's
 * "Get started with the USB Accelerator" guide, with the key in a keyring file instead of the
 * retired apt-key), then the standard-clock runtime package.
 */
export const CORAL_APT_FIX =
  'curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | sudo gpg --dearmor -o /usr/share/keyrings/coral-edgetpu.gpg'
  + ' && echo "deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt coral-edgetpu-stable main"'
  + ' | sudo tee /etc/apt/sources.list.d/coral-edgetpu.list && sudo apt-get update && sudo apt-get install -y libedgetpu1-std';

/** The Debian packages of the runtime: standard and maximum clock frequency (Coral's guide). */
export const EDGETPU_PACKAGES: readonly string[] = ['libedgetpu1-std', 'libedgetpu1-max'];

/** Debian multiarch folders where Coral's packages put the library, per Node architecture. */
const MULTIARCH: Readonly<Record<string, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf' };

/**
 * Where the dynamic linker would find `library`: LD_LIBRARY_PATH, the linker cache
 * (`ldconfig -p`), then the default folders. Null when no such file is found (dlopen may still
 * know better, e.g. through an rpath).
 */
async function locateLibrary(library: string, arch: string, timeoutMs: number): Promise<string | null> {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== '');
  const ldconfig = ['/sbin/ldconfig', '/usr/sbin/ldconfig'].find((p) => fs.existsSync(p));
  if (ldconfig) {
    const r = await runProgram(ldconfig, ['-p'], timeoutMs);
    // "\tlibedgetpu.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libedgetpu.so.1"
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*(\S+)\s.*=>\s*(\S+)\s*$/.exec(line);
      if (m && m[1] === library) dirs.push(path.dirname(m[2]));
    }
  }
  const triplet = MULTIARCH[arch];
  if (triplet) dirs.push(`/usr/lib/${triplet}`, `/lib/${triplet}`);
  dirs.push('/usr/local/lib', '/usr/lib', '/lib');
  for (const d of dirs) {
    const p = path.join(d, library);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** Installed runtime packages as "libedgetpu1-std 16.0", via dpkg-query when it is on PATH. */
async function installedPackages(env: DoctorEnv): Promise<string[]> {
  const dpkg = findOnPath('dpkg-query', env.path);
  if (!dpkg) return [];
  const r = await runProgram(dpkg, ['-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n', ...EDGETPU_PACKAGES], env.timeoutMs);
  // Exit code 1 when one of them is unknown: the other's line is still printed. "ii" = installed.
  return r.stdout.split('\n').map((l) => l.split('\t')).filter((f) => f.length >= 3 && f[2].startsWith('ii') && f[1] !== '').map((f) => `${f[0]} ${f[1]}`);
}

/**
 * The Edge TPU runtime: ok when `env.edgetpuLibrary` loads (probeEdgeTpu), with the file it
 * resolves to, the version in that file's name (libedgetpu.so.1.0 → 1.0) and the Debian package
 * version; warn with CORAL_APT_FIX otherwise.
 */
export async function checkEdgeTpuLibrary(env: DoctorEnv): Promise<Check> {
  const name = 'libedgetpu';
  const probe = probeEdgeTpu({ library: env.edgetpuLibrary, root: env.root });
  const packages = await installedPackages(env);
  const pkgs = packages.length > 0 ? `package ${packages.join(', ')}` : undefined;
  if (!probe.library) {
    return {
      name, status: 'warn',
      detail: `${env.edgetpuLibrary} not found (${(probe.libraryError ?? 'cannot be loaded').replace(`${env.edgetpuLibrary}: `, '')})${pkgs ? `, though ${pkgs} is installed` : ''}: the Edge TPU cannot be used; the CPU runs everything`,
      fix: CORAL_APT_FIX,
    };
  }
  const file = await locateLibrary(env.edgetpuLibrary, env.arch, env.timeoutMs);
  let where = 'loads';
  if (file) {
    const real = fs.realpathSync(file);
    const m = /\.so\.([0-9][0-9.]*)$/.exec(path.basename(real));
    where = `${real}${m ? ` (version ${m[1]})` : ''}`;
  }
  return { name, status: 'ok', detail: `${env.edgetpuLibrary}: ${where}${pkgs ? `; ${pkgs}` : ''}` };
}

/** The `--device` strings of the devices in listing order: usb:0, usb:1, pci:0 … (pycoral's grammar). */
export function deviceStrings(devices: readonly EdgeTpuDevice[]): string[] {
  const n = { usb: 0, pci: 0 };
  return devices.map((d) => `${d.type}:${n[d.type]++}`);
}

/** The device node libedgetpu opens for a device: /dev/bus/usb/BBB/DDD for USB (from sysfs busnum/devnum), /dev/apex_N for PCIe. */
function deviceNode(d: EdgeTpuDevice, root: string): string | null {
  if (d.type === 'pci') return d.path;
  try {
    const sys = path.join(root, d.path);
    const bus = Number(fs.readFileSync(path.join(sys, 'busnum'), 'utf8').trim());
    const dev = Number(fs.readFileSync(path.join(sys, 'devnum'), 'utf8').trim());
    if (!Number.isInteger(bus) || !Number.isInteger(dev)) return null;
    return `/dev/bus/usb/${String(bus).padStart(3, '0')}/${String(dev).padStart(3, '0')}`;
  } catch {
    return null;
  }
}

/** True when `node` (a path of the machine, looked up under `root`) exists and is not readable and writable by this user. */
function inaccessible(node: string | null, root: string): boolean {
  if (node === null) return false;
  const p = path.join(root, node);
  if (!fs.existsSync(p)) return false;
  try {
    fs.accessSync(p, fs.constants.R_OK | fs.constants.W_OK);
    return false;
  } catch {
    return true;
  }
}

/**
 * Coral accelerators under `env.root` (listEdgeTpus): USB by id (1a6e:089a before libedgetpu
 * loads the firmware, 18d1:9302 after, per Coral's USB Accelerator guide) and PCIe/M.2 as
 * /dev/apex_N, each with its `--device` string. ok when some are present and usable; warn when
 * none is, or when this user cannot open one (udev rules / group).
 */
export function checkCoralDevices(env: DoctorEnv): Check {
  const name = 'coral devices';
  const devices = listEdgeTpus(env.root);
  if (devices.length === 0) {
    const sysfs = fs.existsSync(path.join(env.root, 'sys', 'bus', 'usb', 'devices'));
    return {
      name, status: 'warn',
      detail: sysfs
        ? 'no Edge TPU found (USB 1a6e:089a or 18d1:9302, or /dev/apex_N): predictions run on the CPU'
        : `cannot list USB devices (${path.join(env.root, 'sys/bus/usb/devices')} is missing, e.g. in a container) and no /dev/apex_N`,
      fix: 'plug the Coral USB Accelerator into a USB 3 port (then lsusb shows 1a6e:089a or 18d1:9302); for an M.2/PCIe Edge TPU: sudo apt-get install gasket-dkms libedgetpu1-std and reboot',
    };
  }
  const names = deviceStrings(devices);
  const parts = devices.map((d, i) => {
    const state = d.usbId === '1a6e:089a' ? `${d.usbId}, firmware not loaded yet: libedgetpu loads it at first use` : d.usbId;
    return `${names[i]} = ${d.path}${state ? ` (${state})` : ''}`;
  });
  const blocked = devices.map((d) => ({ d, node: deviceNode(d, env.root) })).filter((x) => inaccessible(x.node, env.root));
  const detail = `${parts.join(', ')}; pass one to --device (e.g. --device ${names[0]})`;
  if (blocked.length > 0) {
    const usb = blocked.some((x) => x.d.type === 'usb');
    return {
      name, status: 'warn',
      detail: `${detail}; but this user cannot open ${blocked.map((x) => x.node).join(', ')}`,
      fix: usb
        ? 'sudo usermod -aG plugdev $USER (libedgetpu1-std\'s udev rules give group plugdev the accelerator), log in again and replug it'
        : 'sudo sh -c \'echo SUBSYSTEM==\\"apex\\", MODE=\\"0660\\", GROUP=\\"apex\\" > /etc/udev/rules.d/65-apex.rules\' && sudo groupadd -f apex && sudo usermod -aG apex $USER, then reboot',
    };
  }
  return { name, status: 'ok', detail };
}
