import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  parseDevice, formatDevice, delegateDevice, listEdgeTpus, findDevice, describeDevices, openModel, type EdgeTpuDevice,
} from '../../src/runtime';
import { EdgeTuneError } from '../../src/errors';
import { tinyRgbModel as tinyModel } from './tiny-model';
import { tmpDir } from '../helpers';

/** A fake file-system root with USB devices (vendor:product per port) and /dev/apex_N nodes. */
function fakeRoot(usb: Record<string, string>, apex: number[] = []): string {
  const root = tmpDir();
  const dir = path.join(root, 'sys', 'bus', 'usb', 'devices');
  fs.mkdirSync(dir, { recursive: true });
  for (const [port, id] of Object.entries(usb)) {
    fs.mkdirSync(path.join(dir, port));
    const [v, p] = id.split(':');
    fs.writeFileSync(path.join(dir, port, 'idVendor'), `${v}\n`);
    fs.writeFileSync(path.join(dir, port, 'idProduct'), `${p}\n`);
  }
  fs.mkdirSync(path.join(dir, '1-0:1.0')); // an interface: no ids
  fs.mkdirSync(path.join(root, 'dev'));
  for (const n of apex) fs.writeFileSync(path.join(root, 'dev', `apex_${n}`), '');
  return root;
}

describe("devices: pycoral's device grammar and the Coral devices here", () => {
  it('parses every form of the grammar and prints it back', () => {
    const cases: [string, unknown, string | undefined][] = [
      ['auto', { kind: 'auto' }, undefined],
      ['cpu', { kind: 'cpu' }, undefined],
      ['edgetpu', { kind: 'edgetpu' }, undefined],
      ['usb', { kind: 'edgetpu', type: 'usb' }, 'usb'],
      ['usb:0', { kind: 'edgetpu', type: 'usb', index: 0 }, 'usb:0'],
      ['usb:12', { kind: 'edgetpu', type: 'usb', index: 12 }, 'usb:12'],
      ['pci', { kind: 'edgetpu', type: 'pci' }, 'pci'],
      ['pci:1', { kind: 'edgetpu', type: 'pci', index: 1 }, 'pci:1'],
      [':2', { kind: 'edgetpu', index: 2 }, ':2'],
    ];
    for (const [text, spec, delegate] of cases) {
      assert.deepEqual(parseDevice(text), spec, text);
      assert.equal(formatDevice(parseDevice(text)), text);
      assert.equal(delegateDevice(parseDevice(text)), delegate, text);
    }
    for (const bad of ['', 'USB', 'usb:', 'usb:-1', 'usb:x', 'tpu', ':', 'usb:0:1', 'gpu']) {
      assert.throws(() => parseDevice(bad), (e: Error) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION'
        && e.message === `unknown device '${bad}': use auto, cpu, edgetpu, usb, usb:N, pci, pci:N or :N (as pycoral's make_interpreter)`, bad);
    }
  });

  it('lists USB Accelerators by their ids (before and after firmware load) and PCIe Edge TPUs, in order', () => {
    const root = fakeRoot({ '2-1': '18d1:9302', '1-1': '1a6e:089a', '1-2': '046d:0825' }, [1, 0]);
    const list = listEdgeTpus(root);
    assert.deepEqual(list, [
      { type: 'usb', path: '/sys/bus/usb/devices/1-1', usbId: '1a6e:089a' },
      { type: 'usb', path: '/sys/bus/usb/devices/2-1', usbId: '18d1:9302' },
      { type: 'pci', path: '/dev/apex_0' },
      { type: 'pci', path: '/dev/apex_1' },
    ]);
    assert.equal(describeDevices(list), 'usb:0 (/sys/bus/usb/devices/1-1), usb:1 (/sys/bus/usb/devices/2-1), pci:0 (/dev/apex_0), pci:1 (/dev/apex_1)');
    assert.deepEqual(listEdgeTpus(tmpDir()), []);
    assert.equal(describeDevices([]), 'none');
  });

  it('finds the device a spec names, or none', () => {
    const list: EdgeTpuDevice[] = [
      { type: 'usb', path: 'u0' }, { type: 'usb', path: 'u1' }, { type: 'pci', path: 'p0' },
    ];
    const at = (t: string) => findDevice(parseDevice(t), list)?.path ?? null;
    assert.equal(at('usb'), 'u0');
    assert.equal(at('usb:1'), 'u1');
    assert.equal(at('usb:2'), null);
    assert.equal(at('pci'), 'p0');
    assert.equal(at('pci:0'), 'p0');
    assert.equal(at(':2'), 'p0');
    assert.equal(at('edgetpu'), 'u0');
    assert.equal(at('cpu'), null);
    assert.equal(findDevice(parseDevice('usb'), []), null);
  });

  it('openModel takes the grammar: a CPU model on cpu/auto, the Edge TPU forms refused for it, nonsense named', async () => {
    const bytes = tinyModel();
    for (const d of ['cpu', 'auto'] as const) {
      const s = openModel(bytes, { threads: 1, device: d });
      assert.equal(s.device, 'cpu');
      assert.equal(s.deviceName, 'cpu');
      await s.close();
    }
    for (const d of ['usb', 'usb:0', 'pci:1', ':0'] as const) {
      assert.throws(() => openModel(bytes, { device: d }), /is not compiled for the Edge TPU \(no edgetpu-custom-op\)/, d);
    }
    assert.throws(() => openModel(bytes, { device: 'usb:x' as never }), {
      message: `unknown device 'usb:x' for model <${bytes.length} bytes>; use auto, cpu, edgetpu, usb, usb:N, pci, pci:N or :N`,
    });
  });

  it('close() resolves once, and a closed session refuses to run', async () => {
    const s = openModel(tinyModel(), { threads: 1, device: 'cpu' });
    s.run();
    await s.close();
    await s.close();
    assert.throws(() => s.run(), /is closed; open it again with openModel/);
  });
});
