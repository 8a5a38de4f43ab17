import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EDGETPU_LIBRARY, probeEdgeTpu, topK } from '../../src/runtime';

/**
 * Whether the dynamic linker can find `lib`, asked independently of the product's dlopen: the
 * linker cache (`ldconfig -p`) and the folders in LD_LIBRARY_PATH.
 */
function linkerFinds(lib: string): boolean {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== '');
  if (dirs.some((d) => fs.existsSync(path.join(d, lib)))) return true;
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    if (!fs.existsSync(ldconfig)) continue;
    const r = spawnSync(ldconfig, ['-p'], { encoding: 'utf8' });
    return r.stdout.split('\n').some((l) => l.trim().startsWith(`${lib} `));
  }
  throw new Error('ldconfig not found: cannot tell independently whether the Edge TPU runtime is installed');
}

/**
 * Coral devices visible here, read from sysfs uevents (PRODUCT=vendor/product/bcd in hex without
 * leading zeros, per the kernel's USB uevent) and /dev, not from the idVendor/idProduct files the
 * probe reads. Coral USB Accelerator: 1a6e:089a before its firmware is loaded, 18d1:9302 after.
 */
function coralVisible(): boolean | 'unknown' {
  if (fs.readdirSync('/dev').some((n) => /^apex_\d+$/.test(n))) return true;
  const usb = '/sys/bus/usb/devices';
  if (!fs.existsSync(usb)) return 'unknown';
  const coral = new Set(['1a6e/89a', '18d1/9302']);
  return fs.readdirSync(usb).some((d) => {
    const uevent = path.join(usb, d, 'uevent');
    if (!fs.existsSync(uevent)) return false;
    const product = /^PRODUCT=([0-9a-f]+)\/([0-9a-f]+)\//m.exec(fs.readFileSync(uevent, 'utf8'));
    return product !== null && coral.has(`${product[1]}/${product[2]}`);
  });
}

describe('runtime (no model needed)', () => {
  it('probeEdgeTpu agrees with the linker cache, /sys and /dev about the Edge TPU runtime and a Coral', () => {
    const p = probeEdgeTpu();
    assert.equal(p.library, linkerFinds(EDGETPU_LIBRARY));
    if (p.library) {
      assert.equal(p.libraryError, undefined);
    } else {
      // The loader's reason, on one line, naming the library.
      assert.match(p.libraryError ?? '', new RegExp(`^${EDGETPU_LIBRARY.replace(/\./g, '\\.')}: `));
      assert.ok(!p.libraryError!.includes('\n'));
    }
    assert.equal(p.device, coralVisible());
  });

  it('topK: sorted by score, ties by index, k beyond length, labels checked', () => {
    const p = Float32Array.from([0.1, 0.3, 0.3, 0.05, 0.25]);
    assert.deepEqual(topK(p, 3), [
      { index: 1, label: '', score: p[1] }, { index: 2, label: '', score: p[2] }, { index: 4, label: '', score: p[4] }]);
    assert.deepEqual(topK(p, 10, ['a', 'b', 'c', 'd', 'e']).map((x) => x.label), ['b', 'c', 'e', 'a', 'd']);
    assert.deepEqual(topK(p, 0), []);
    assert.throws(() => topK(p, 2, ['a']), { message: 'labels file has 1 labels but the model outputs 5 scores' });
    assert.throws(() => topK(p, -1), /integer k/);
  });
});
