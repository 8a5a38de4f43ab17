/**
 * Coral Edge TPU devices: finding them, and the device grammar of pycoral's
 * `make_interpreter(model, device)` (pycoral/utils/edgetpu.py), which EdgeTune's `--device` follows:
 *
 *   auto     the Edge TPU when one is present with libedgetpu.so.1 and the model has an
 *            `_edgetpu` twin, else the CPU
 *   cpu      the CPU interpreter only
 *   edgetpu  any Edge TPU (libedgetpu picks the first)
 *   usb      any USB Accelerator;   usb:N  the N-th USB Accelerator (0-based)
 *   pci      any PCIe/M.2 Edge TPU; pci:N  the N-th PCIe Edge TPU
 *   :N       the N-th Edge TPU of any kind
 *
 * The Edge TPU forms are passed unchanged as the delegate's `device` option (libedgetpu's external
 * delegate takes the same strings as pycoral's `load_delegate('libedgetpu.so.1', {'device': …})`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors';

/** A parsed `--device`. */
export type DeviceSpec =
  | { kind: 'auto' }
  | { kind: 'cpu' }
  /** `type` undefined: any kind; `index` undefined: the first of that kind. */
  | { kind: 'edgetpu'; type?: 'usb' | 'pci'; index?: number };

/** The grammar, for help texts and error messages. */
export const DEVICE_GRAMMAR = 'auto, cpu, edgetpu, usb, usb:N, pci, pci:N or :N';

/**
 * Parses a device string of the grammar above (case-sensitive, as pycoral's).
 * @throws EdgeTuneError BAD_OPTION naming the value and the grammar.
 */
export function parseDevice(text: string): DeviceSpec {
  if (text === 'auto' || text === 'cpu') return { kind: text };
  if (text === 'edgetpu') return { kind: 'edgetpu' };
  const m = /^(usb|pci)?(?::(\d{1,3}))?$/.exec(text);
  if (m && text !== '' && (m[1] !== undefined || m[2] !== undefined)) {
    return { kind: 'edgetpu', ...(m[1] ? { type: m[1] as 'usb' | 'pci' } : {}), ...(m[2] !== undefined ? { index: Number(m[2]) } : {}) };
  }
  throw fail('BAD_OPTION', `unknown device '${text}': use ${DEVICE_GRAMMAR} (as pycoral's make_interpreter)`);
}

/** The string a DeviceSpec was parsed from (canonical form). */
export function formatDevice(d: DeviceSpec): string {
  if (d.kind !== 'edgetpu') return d.kind;
  if (d.type === undefined && d.index === undefined) return 'edgetpu';
  return `${d.type ?? ''}${d.index !== undefined ? `:${d.index}` : ''}`;
}

/**
 * The delegate's `device` option for an Edge TPU spec (undefined = let libedgetpu choose), as
 * pycoral passes it to load_delegate.
 */
export function delegateDevice(d: DeviceSpec): string | undefined {
  if (d.kind !== 'edgetpu') return undefined;
  const f = formatDevice(d);
  return f === 'edgetpu' ? undefined : f;
}

/** One Edge TPU found on this machine (pycoral's list_edge_tpus gives the same two fields). */
export interface EdgeTpuDevice {
  type: 'usb' | 'pci';
  /** /sys/bus/usb/devices/<port> for USB, /dev/apex_N for PCIe. */
  path: string;
  /** USB only: vendor:product, '1a6e:089a' before libedgetpu loads its firmware, '18d1:9302' after. */
  usbId?: string;
}

/**
 * USB ids of the Coral USB Accelerator, from Coral's USB Accelerator get-started guide (lsusb shows
 * "Global Unichip Corp." before the runtime first loads its firmware, "Google Inc." after).
 */
export const CORAL_USB_IDS: readonly string[] = ['1a6e:089a', '18d1:9302'];

/**
 * Lists the Edge TPUs visible here: USB Accelerators by their USB ids under /sys/bus/usb/devices
 * (sorted by port path, the order libedgetpu enumerates in), then PCIe/M.2 ones as /dev/apex_N
 * (the gasket/apex driver), sorted by N.
 * @param root file-system root to look under (tests pass a fake tree), default '/'.
 */
export function listEdgeTpus(root = '/'): EdgeTpuDevice[] {
  const out: EdgeTpuDevice[] = [];
  const usb = path.join(root, 'sys', 'bus', 'usb', 'devices');
  let ports: string[] = [];
  try {
    ports = fs.readdirSync(usb).sort();
  } catch {
    // no sysfs (a container): no USB devices to see
  }
  for (const d of ports) {
    try {
      const id = `${fs.readFileSync(path.join(usb, d, 'idVendor'), 'utf8').trim()}:${fs.readFileSync(path.join(usb, d, 'idProduct'), 'utf8').trim()}`;
      if (CORAL_USB_IDS.includes(id)) out.push({ type: 'usb', path: path.join('/sys/bus/usb/devices', d), usbId: id });
    } catch {
      // interfaces and hubs have no ids
    }
  }
  let apex: string[] = [];
  try {
    apex = fs.readdirSync(path.join(root, 'dev')).filter((n) => /^apex_\d+$/.test(n));
  } catch {
    // no /dev listing
  }
  apex.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  for (const n of apex) out.push({ type: 'pci', path: path.join('/dev', n) });
  return out;
}

/**
 * The device a spec names among those present, or null when it names none: for `usb:N`, the N-th
 * USB device; for `:N`, the N-th of all; for a bare kind or 'edgetpu', the first.
 */
export function findDevice(d: DeviceSpec, devices: readonly EdgeTpuDevice[]): EdgeTpuDevice | null {
  if (d.kind !== 'edgetpu') return null;
  const pool = d.type ? devices.filter((x) => x.type === d.type) : devices;
  return pool[d.index ?? 0] ?? null;
}

/** "usb:0 (/sys/bus/usb/devices/2-1), pci:0 (/dev/apex_0)", or "none", for messages. */
export function describeDevices(devices: readonly EdgeTpuDevice[]): string {
  if (devices.length === 0) return 'none';
  const n = { usb: 0, pci: 0 };
  return devices.map((x) => `${x.type}:${n[x.type]++} (${x.path})`).join(', ');
}
