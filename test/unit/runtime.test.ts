import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultThreads, EDGETPU_LIBRARY, openModel, probeEdgeTpu, topK } from '../../src/runtime';
import { makeRng } from '../../src/augment';
import { tmpDir } from '../helpers';
import { TINY_INPUT, TINY_INPUT_SCALE, TINY_OUTPUT, tinySoftmaxModel } from '../tiny-model';

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

/** Float softmax of the dequantized logits, as uint8 steps of 1/256 (the reference for the kernel). */
function softmaxSteps(q: ArrayLike<number>): number[] {
  const x = Array.from(q, (v) => v * TINY_INPUT_SCALE);
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => Math.min(255, Math.round((v / sum) * 256)));
}

describe('runtime sessions on a tiny model written by the repository (no ../shared)', () => {
  const bytes = tinySoftmaxModel(5);

  it('reads the specs from the file and runs uint8 softmax within one step of float; run() = runRaw()/256', () => {
    const s = openModel(bytes, { threads: 1 });
    assert.deepEqual(s.input, { name: TINY_INPUT, shape: [1, 5], dtype: 'uint8', scale: Math.fround(TINY_INPUT_SCALE), zeroPoint: 0 });
    assert.deepEqual(s.output, { name: TINY_OUTPUT, shape: [1, 5], dtype: 'uint8', scale: 1 / 256, zeroPoint: 0 });
    assert.equal(s.device, 'cpu');
    assert.ok(s.inputBuffer instanceof Uint8Array && s.inputBuffer.length === 5);
    const rng = makeRng(3);
    for (let i = 0; i < 50; i++) {
      const q = Uint8Array.from({ length: 5 }, () => Math.floor(rng() * 256));
      s.inputBuffer.set(q);
      const raw = s.runRaw();
      assert.ok(raw instanceof Uint8Array);
      softmaxSteps(q).forEach((want, j) => assert.ok(Math.abs(raw[j] - want) <= 1, `logits ${q}: got ${raw}, float ${softmaxSteps(q)}`));
      assert.deepEqual(s.run(), Float32Array.from(raw, (v) => v / 256));
    }
  });

  it('the input buffer is live and outputs are copies; path and bytes, 1 and 2 threads agree', () => {
    const file = path.join(tmpDir(), 'tiny.tflite');
    fs.writeFileSync(file, bytes);
    const a = openModel(file, { threads: 1 });
    const b = openModel(bytes, { threads: 2 });
    const buf = a.inputBuffer;
    buf.set([0, 0, 0, 0, 255]);
    const first = a.runRaw();
    assert.equal(first[4], 255);   // e^12.75 dwarfs the other four: the saturated step
    buf.set([255, 0, 0, 0, 0]);
    const second = a.runRaw();
    assert.equal(a.inputBuffer, buf);
    assert.equal(second[0], 255);
    assert.equal(first[4], 255);   // the earlier result was not overwritten
    b.inputBuffer.set(buf);
    assert.deepEqual(b.runRaw(), second);
  });

  it('threads default to the cores less one and are checked; close() ends the session', () => {
    assert.equal(defaultThreads(), Math.max(1, os.availableParallelism() - 1));
    assert.equal(openModel(bytes).threads, defaultThreads());
    assert.throws(() => openModel(bytes, { threads: 0 }), { message: `threads must be an integer ≥ 1 (got 0) for model <${bytes.length} bytes>` });
    const s = openModel(bytes, { threads: 1 });
    s.close();
    assert.throws(() => s.run(), /is closed; open it again with openModel/);
  });

  it("refuses device 'edgetpu' for a CPU model, unreadable files and non-TFLite bytes, each in one line", () => {
    assert.throws(() => openModel(bytes, { device: 'edgetpu' }), {
      message: `model <${bytes.length} bytes> is not compiled for the Edge TPU (no edgetpu-custom-op); use device cpu or auto, or open its _edgetpu.tflite twin`,
    });
    const missing = path.join(tmpDir(), 'nope.tflite');
    assert.throws(() => openModel(missing), /^Error: cannot read model .*nope\.tflite: ENOENT/);
    assert.throws(() => openModel(new TextEncoder().encode('background\ncat\n')), /not a TFLite file/);
  });

  it('a model marked for the Edge TPU asks for what this machine lacks, whatever the device', function () {
    const p = probeEdgeTpu();
    // With the runtime and a Coral present the open would reach the real delegate: nothing to check here.
    if (p.library && p.device !== false) this.skip();
    const tpu = tinySoftmaxModel(5, { edgetpu: true });
    const label = `<${tpu.length} bytes>`;
    const runtime = `model ${label} needs the Edge TPU runtime (libedgetpu.so.1) and a Coral device: install libedgetpu1-std ` +
      `from Coral's apt repository (https://coral.ai/software/#debian-packages) and plug in the accelerator, or use the CPU model (model.tflite)`;
    for (const device of ['auto', 'cpu', 'edgetpu'] as const) {
      assert.throws(() => openModel(tpu, { device }), (e: Error) => {
        assert.ok(!e.message.includes('\n'));
        if (!p.library || device === 'cpu') assert.equal(e.message, runtime);
        else assert.match(e.message, new RegExp(`^model <${tpu.length} bytes> needs a Coral device: the Edge TPU runtime .* is installed but no Edge TPU is visible`));
        return true;
      }, device);
    }
  });
});
