import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aptFix, CORAL_APT_FIX, doctorEnv, doctorOk, FETCH_COMMAND, formatDoctor, type Check, type DoctorEnv } from '../../src/doctor';
import { checkBases, verifyBases } from '../../src/doctor/bases';
import { checkPiCamera, checkProgram, checkVideoDevices } from '../../src/doctor/cameras';
import { checkCoralDevices, checkEdgeTpuLibrary } from '../../src/doctor/edgetpu';
import { parseElfHeader } from '../../src/doctor/elf';
import { checkArch, checkDisk, checkNode } from '../../src/doctor/system';
import { checkTflite } from '../../src/doctor/tflite';
import { BASES, LABELS_FILE, PINNED_SHA256 } from '../../src/models';
import { ROOT, tmpDir } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

/** An environment of this machine with `over` applied, and an empty PATH unless given. */
function env(over: Partial<DoctorEnv> = {}): DoctorEnv {
  return doctorEnv({ path: '', root: tmpDir('edgetune-doctor-root-'), modelsDir: tmpDir('edgetune-doctor-models-'), ...over });
}

/** Writes `text` at `root/rel`, making the folders. */
function put(root: string, rel: string, text: string | Uint8Array, mode?: number): string {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  if (mode !== undefined) fs.chmodSync(p, mode);
  return p;
}

/** A USB device folder in a fake sysfs, as the kernel lays it out (ids in lowercase hex). */
function usbDevice(root: string, port: string, vendor: string, product: string): void {
  put(root, `sys/bus/usb/devices/${port}/idVendor`, `${vendor}\n`);
  put(root, `sys/bus/usb/devices/${port}/idProduct`, `${product}\n`);
}

/** The first 20 bytes of a little-endian ELF shared object of `bits` and machine `machine`. */
function elfHeader(bits: 32 | 64, machine: number): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, 1, 1]);
  b[16] = 3; // ET_DYN
  b[18] = machine & 0xff;
  b[19] = machine >> 8;
  return b;
}

function one(checks: Check[], name: string): Check {
  const c = checks.find((x) => x.name === name);
  assert.ok(c, `no check named ${name} in ${checks.map((x) => x.name).join(', ')}`);
  return c;
}

function cli(args: string[], extraEnv: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...extraEnv }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('edgetune doctor', () => {
  describe('bases', () => {
    it('fails a base whose file differs from its pinned SHA-256, with the fetch command as the fix', () => {
      const e = env();
      const spec = BASES.find((b) => b.name === 'mobilenet_v1_0.25_128')!;
      const bytes = Buffer.from('not the pinned model');
      put(e.modelsDir, spec.file, bytes);
      const checks = checkBases(verifyBases(e.modelsDir), e.modelsDir);
      const got = crypto.createHash('sha256').update(bytes).digest('hex');
      assert.deepEqual(one(checks, 'base mobilenet_v1_0.25_128'), {
        name: 'base mobilenet_v1_0.25_128', status: 'fail', fix: FETCH_COMMAND,
        detail: `${spec.file}: SHA-256 ${got.slice(0, 12)}… differs from the pinned ${PINNED_SHA256[spec.file].slice(0, 12)}… (corrupt or replaced)`,
      });
      assert.equal(FETCH_COMMAND, 'edgetune models fetch');
      // The others are simply not installed: warnings, the default base named as such.
      assert.deepEqual(one(checks, 'base mobilenet_v1_1.0_224'), {
        name: 'base mobilenet_v1_1.0_224', status: 'warn', fix: FETCH_COMMAND,
        detail: `not installed in ${path.resolve(e.modelsDir)} (the default base)`,
      });
      assert.equal(one(checks, 'base mobilenet_v2_1.0_224').status, 'warn');
      assert.equal(one(checks, 'imagenet labels').status, 'warn');
      assert.equal(doctorOk(checks), false);
    });

    it('fails once when no base is installed at all, and fails a wrong Edge TPU twin beside a good CPU file', () => {
      const e = env();
      const none = checkBases(verifyBases(e.modelsDir), e.modelsDir);
      assert.deepEqual(none.map((c) => [c.name, c.status]), [['bases', 'fail'], ['imagenet labels', 'warn']]);
      assert.equal(none[0].detail, `none of the ${BASES.length} pinned bases is installed in ${path.resolve(e.modelsDir)}`);
      assert.equal(none[0].fix, FETCH_COMMAND);

      const spec = BASES.find((b) => b.name === 'mobilenet_v1_0.5_160')!;
      put(e.modelsDir, spec.edgetpuFile!, 'truncated');
      put(e.modelsDir, spec.file, 'also wrong');
      const twin = one(checkBases(verifyBases(e.modelsDir), e.modelsDir), 'base mobilenet_v1_0.5_160');
      assert.equal(twin.status, 'fail');
      assert.match(twin.detail, new RegExp(`^${spec.file.replace(/\./g, '\\.')}: SHA-256 [0-9a-f]{12}… differs .*; ${spec.edgetpuFile!.replace(/\./g, '\\.')}: SHA-256 [0-9a-f]{12}… differs`));
    });

    it('verifies the labels file by its pinned SHA-256', () => {
      const e = env();
      put(e.modelsDir, LABELS_FILE, 'background\n');
      const bad = one(checkBases(verifyBases(e.modelsDir), e.modelsDir), 'imagenet labels');
      assert.equal(bad.status, 'fail');
      assert.equal(bad.fix, FETCH_COMMAND);
    });
  });

  describe('programs and cameras', () => {
    it('warns about ffmpeg and fswebcam on an empty PATH with the apt command, and finds an executable one', () => {
      const e = env({ path: '' });
      assert.deepEqual(checkProgram(e, 'ffmpeg'), {
        name: 'ffmpeg', status: 'warn', detail: 'not found on PATH: needed for USB cameras (--camera v4l2:/dev/videoN) and video files',
        fix: 'sudo apt-get install -y ffmpeg',
      });
      assert.equal(checkProgram(e, 'fswebcam').fix, 'sudo apt-get install -y fswebcam');

      const bin = tmpDir('edgetune-doctor-bin-');
      const ffmpeg = put(bin, 'ffmpeg', '#!/bin/sh\n', 0o755);
      put(bin, 'fswebcam', 'not executable', 0o644);
      const withBin = env({ path: `/nonexistent${path.delimiter}${bin}` });
      assert.deepEqual(checkProgram(withBin, 'ffmpeg'), { name: 'ffmpeg', status: 'ok', detail: `${ffmpeg}, for USB cameras (--camera v4l2:/dev/videoN) and video files` });
      assert.equal(checkProgram(withBin, 'fswebcam').status, 'warn');
    });

    it('lists /dev/video* of the root in numeric order, and warns when there is none', () => {
      const e = env();
      assert.equal(checkVideoDevices(e).status, 'warn');
      for (const n of ['video10', 'video2', 'video0', 'vchiq']) put(e.root, `dev/${n}`, '');
      assert.deepEqual(checkVideoDevices(e), {
        name: 'video devices', status: 'ok',
        detail: '/dev/video0, /dev/video2, /dev/video10 (use --camera v4l2:/dev/video0; on a Pi some are codec nodes, not cameras)',
      });
    });

    it('on a Pi without rpicam-apps warns with the apt command; with rpicam-hello lists its cameras', async () => {
      const e = env();
      assert.equal((await checkPiCamera(e)).status, 'ok', 'not a Pi: nothing to install');
      put(e.root, 'proc/device-tree/model', 'Raspberry Pi 5 Model B Rev 1.0\0');
      assert.deepEqual(await checkPiCamera(e), {
        name: 'pi camera', status: 'warn', detail: 'rpicam-hello is not installed: the Pi camera (--camera rpicam) cannot be used',
        fix: aptFix('rpicam-hello'),
      });
      assert.equal(aptFix('rpicam-hello'), 'sudo apt-get install -y rpicam-apps');

      const bin = tmpDir('edgetune-doctor-bin-');
      put(bin, 'rpicam-hello', '#!/bin/sh\necho "Available cameras"\necho "-----------------"\necho "0 : imx708 [4608x2592 10-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a)"\n', 0o755);
      assert.deepEqual(await checkPiCamera({ ...e, path: bin }), {
        name: 'pi camera', status: 'ok', detail: '0 : imx708 [4608x2592 10-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a) (use --camera rpicam)',
      });
      put(bin, 'rpicam-hello', '#!/bin/sh\necho "No cameras available!"\n', 0o755);
      assert.equal((await checkPiCamera({ ...e, path: bin })).status, 'warn');
    });
  });

  describe('Coral', () => {
    it('lists a USB Accelerator of a fake sysfs (18d1:9302) as usb:0, ignoring other USB devices', () => {
      const e = env();
      usbDevice(e.root, '1-1', '1d6b', '0002');
      usbDevice(e.root, '2-1', '18d1', '9302');
      fs.mkdirSync(path.join(e.root, 'sys/bus/usb/devices/2-1:1.0'), { recursive: true }); // an interface: no ids
      assert.deepEqual(checkCoralDevices(e), {
        name: 'coral devices', status: 'ok',
        detail: 'usb:0 = /sys/bus/usb/devices/2-1 (18d1:9302); pass one to --device (e.g. --device usb:0)',
      });
    });

    it('numbers USB and PCIe devices apart and says when the firmware is not loaded yet (1a6e:089a)', () => {
      const e = env();
      usbDevice(e.root, '2-1', '18d1', '9302');
      usbDevice(e.root, '4-2', '1a6e', '089a');
      put(e.root, 'dev/apex_0', '');
      assert.equal(checkCoralDevices(e).detail,
        'usb:0 = /sys/bus/usb/devices/2-1 (18d1:9302), usb:1 = /sys/bus/usb/devices/4-2 (1a6e:089a, firmware not loaded yet: libedgetpu loads it at first use), '
        + 'pci:0 = /dev/apex_0; pass one to --device (e.g. --device usb:0)');
    });

    it('warns when there is no device, and when sysfs cannot be read', () => {
      const e = env();
      const unreadable = checkCoralDevices(e);
      assert.equal(unreadable.status, 'warn');
      assert.match(unreadable.detail, /^cannot list USB devices/);
      usbDevice(e.root, '1-1', '1d6b', '0002');
      const none = checkCoralDevices(e);
      assert.equal(none.status, 'warn');
      assert.equal(none.detail, 'no Edge TPU found (USB 1a6e:089a or 18d1:9302, or /dev/apex_N): predictions run on the CPU');
      assert.match(none.fix!, /USB 3 port/);
    });

    it('warns with Coral\'s apt repository and libedgetpu1-std when the runtime library is missing', async () => {
      const c = await checkEdgeTpuLibrary(env({ edgetpuLibrary: 'libedgetpu-doctor-test-missing.so.1' }));
      assert.equal(c.status, 'warn');
      assert.match(c.detail, /^libedgetpu-doctor-test-missing\.so\.1 not found \(.*No such file.*\): the Edge TPU cannot be used; the CPU runs everything$/);
      assert.equal(c.fix, CORAL_APT_FIX);
      assert.match(CORAL_APT_FIX, /deb \[signed-by=[^\]]+\] https:\/\/packages\.cloud\.google\.com\/apt coral-edgetpu-stable main/);
      assert.match(CORAL_APT_FIX, /sudo apt-get install -y libedgetpu1-std$/);
    });
  });

  describe('system', () => {
    it('fails 32-bit ARM with the 64-bit OS advice, passes x64 and arm64 Linux', () => {
      assert.deepEqual(checkArch(env({ arch: 'arm', machine: 'armv7l', platform: 'linux' })), {
        name: 'architecture', status: 'fail',
        detail: 'linux arm (32-bit ARM): no 32-bit ARM TFLite library is published: install a 64-bit OS',
        fix: 'flash the 64-bit Raspberry Pi OS (or another arm64 Linux) and install EdgeTune there',
      });
      // 32-bit Raspberry Pi OS on a Pi 4/5 boots a 64-bit kernel: uname -m says aarch64.
      assert.deepEqual(checkArch(env({ arch: 'arm', machine: 'aarch64', platform: 'linux' })), {
        name: 'architecture', status: 'fail',
        detail: 'linux arm (32-bit ARM on a 64-bit aarch64 kernel: a 32-bit OS): no 32-bit ARM TFLite library is published: install a 64-bit OS',
        fix: 'flash the 64-bit Raspberry Pi OS (or another arm64 Linux) and install EdgeTune there',
      });
      assert.equal(checkArch(env({ arch: 'arm64', machine: 'aarch64', platform: 'linux' })).detail, 'linux arm64');
      assert.equal(checkArch(env({ arch: 'arm64', platform: 'linux' })).status, 'ok');
      assert.equal(checkArch(env({ arch: 'x64', platform: 'linux' })).status, 'ok');
      assert.equal(checkArch(env({ arch: 'riscv64', platform: 'linux' })).status, 'fail');
      assert.equal(checkArch(env({ arch: 'arm64', platform: 'darwin' })).status, 'warn');
    });

    it('fails Node.js older than 20', () => {
      assert.equal(checkNode(env({ node: '20.0.0' })).status, 'ok');
      const old = checkNode(env({ node: '18.19.1' }));
      assert.equal(old.status, 'fail');
      assert.equal(old.detail, 'Node.js 18.19.1 is too old: EdgeTune needs 20 or newer');
      assert.match(old.fix!, /setup_20\.x/);
    });

    it('reports free disk once when the models folder (not created yet) and the current folder share a file system', () => {
      const dir = tmpDir();
      const checks = checkDisk(env({ modelsDir: path.join(dir, 'not', 'yet'), cwd: dir }));
      assert.equal(checks.length, 1);
      assert.equal(checks[0].name, 'disk');
      assert.match(checks[0].detail, new RegExp(`^\\d+(\\.\\d)? [MG]B free where the models folder ${path.join(dir, 'not', 'yet')} and current folder ${dir} are$`));
    });
  });

  describe('TFLite runtime', () => {
    it('reads the ELF class and machine like `file`', () => {
      assert.deepEqual(parseElfHeader(elfHeader(64, 62)), { bits: 64, machine: 62, arch: 'x64' });
      assert.deepEqual(parseElfHeader(elfHeader(64, 183)), { bits: 64, machine: 183, arch: 'arm64' });
      assert.deepEqual(parseElfHeader(elfHeader(32, 40)), { bits: 32, machine: 40, arch: 'arm' });
      assert.equal(parseElfHeader(Buffer.from('#!/bin/sh\necho not elf at all')), null);
    });

    it('fails a binding built for another architecture, with the rebuild command, before loading it', async () => {
      const pkg = path.join(tmpDir(), 'node_modules', 'tfjs-tflite-node');
      put(pkg, 'package.json', JSON.stringify({ name: 'tfjs-tflite-node', version: '0.0.2' }));
      const other = process.arch === 'arm64' ? { machine: 62, arch: 'x64' } : { machine: 183, arch: 'arm64' };
      put(pkg, 'build/Release/node_tflite_binding.node', elfHeader(64, other.machine));
      const c = await checkTflite(env({ tflitePackage: pkg }), []);
      assert.equal(c.status, 'fail');
      assert.equal(c.detail, `tfjs-tflite-node 0.0.2: the addon is built for ${other.arch} (64-bit ELF), this machine is ${process.arch}`);
      assert.equal(c.fix, `sudo apt-get install -y build-essential python3 && cd ${path.dirname(path.dirname(pkg))} && npm rebuild tfjs-tflite-node`);
    });

    it('fails a binding that was never built', async () => {
      const pkg = path.join(tmpDir(), 'node_modules', 'tfjs-tflite-node');
      put(pkg, 'package.json', JSON.stringify({ name: 'tfjs-tflite-node', version: '0.0.2' }));
      const c = await checkTflite(env({ tflitePackage: pkg }), []);
      assert.equal(c.status, 'fail');
      assert.match(c.detail, /never built/);
      assert.match(c.fix!, /npm rebuild tfjs-tflite-node$/);
    });

    it('fails, without crashing, a binding of the right architecture that does not load', async function () {
      this.timeout(60_000);
      const pkg = path.join(tmpDir(), 'node_modules', 'tfjs-tflite-node');
      put(pkg, 'package.json', JSON.stringify({ name: 'tfjs-tflite-node', version: '0.0.2' }));
      const machine = process.arch === 'arm64' ? 183 : 62;
      // A valid ELF header and nothing else: the dynamic linker refuses it.
      put(pkg, 'build/Release/node_tflite_binding.node', elfHeader(64, machine));
      put(pkg, `cc_deps/linux_${process.arch === 'arm64' ? 'arm64' : 'amd64'}/libtensorflowlite_c.so`, elfHeader(64, machine));
      const c = await checkTflite(env({ tflitePackage: pkg }), []);
      assert.equal(c.status, 'fail');
      assert.match(c.detail, new RegExp(`^tfjs-tflite-node 0\\.0\\.2 \\(${process.arch} addon, cc_deps/linux_(amd64|arm64)\\) does not load: .*node_tflite_binding\\.node`));
      assert.match(c.fix!, /npm rebuild tfjs-tflite-node$/);
    });

    it('loads the real binding in a child process (no base: no inference)', async function () {
      this.timeout(60_000);
      const c = await checkTflite(env(), []);
      assert.equal(c.status, 'ok', c.detail);
      assert.match(c.detail, /^tfjs-tflite-node \d+\.\d+\.\d+ \((x64|arm64) addon, cc_deps\/linux_(amd64|arm64)\) loads \(no verified base installed: no inference tried\)$/);
    });
  });

  describe('report and CLI', () => {
    it('formats one line per check, the fix after the finding, and a last line on the main job', () => {
      const text = formatDoctor({
        ok: false,
        checks: [
          { name: 'node', status: 'ok', detail: 'Node.js 20.1.0' },
          { name: 'ffmpeg', status: 'warn', detail: 'not found on PATH', fix: 'sudo apt-get install -y ffmpeg' },
          { name: 'bases', status: 'fail', detail: 'none installed', fix: 'edgetune models fetch' },
        ],
      });
      assert.equal(text, [
        'ok    node    Node.js 20.1.0',
        'warn  ffmpeg  not found on PATH; fix: sudo apt-get install -y ffmpeg',
        'fail  bases   none installed; fix: edgetune models fetch',
        'the main job (train + predict on the CPU) cannot run: 1 check failed; 1 warning',
      ].join('\n'));
    });

    it('--json prints {ok, checks: [{name, status, detail, fix?}]} and exits 1 with a wrong base file', function () {
      this.timeout(120_000);
      const models = tmpDir();
      put(models, BASES[0].file, 'wrong bytes');
      const r = cli(['--models-dir', models, 'doctor', '--json'], { PATH: '' });
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
      assert.deepEqual(Object.keys(report).sort(), ['checks', 'ok']);
      assert.equal(report.ok, false);
      for (const c of report.checks) {
        assert.deepEqual(Object.keys(c).filter((k) => !['name', 'status', 'detail', 'fix'].includes(k)), [], JSON.stringify(c));
        assert.ok(['ok', 'warn', 'fail'].includes(c.status), JSON.stringify(c));
        assert.equal(typeof c.detail, 'string');
        assert.ok(!c.detail.includes('\n'), `one line: ${c.detail}`);
        if (c.status !== 'ok') assert.equal(typeof c.fix, 'string', `${c.name} has no fix`);
      }
      const names = report.checks.map((c) => c.name);
      for (const n of ['node', 'architecture', 'cpu', 'memory', 'tflite runtime', 'tfjs backend', 'libedgetpu', 'coral devices', 'video devices', 'pi camera', 'ffmpeg', 'fswebcam']) {
        assert.ok(names.includes(n), `no ${n} check in ${names.join(', ')}`);
      }
      assert.deepEqual(one(report.checks, `base ${BASES[0].name}`).status, 'fail');
      assert.deepEqual(one(report.checks, 'ffmpeg'), { name: 'ffmpeg', status: 'warn', detail: 'not found on PATH: needed for USB cameras (--camera v4l2:/dev/videoN) and video files', fix: 'sudo apt-get install -y ffmpeg' });
      assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => c.name), [`base ${BASES[0].name}`]);
    });

    it('prints one line per check and exits 1 when a base file is wrong (text mode)', function () {
      this.timeout(120_000);
      const models = tmpDir();
      put(models, BASES[2].file, 'wrong bytes');
      const r = cli(['--models-dir', models, 'doctor'], {});
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      const fail = lines.filter((l) => l.startsWith('fail'));
      assert.equal(fail.length, 1, r.stdout);
      assert.match(fail[0], new RegExp(`^fail  base ${BASES[2].name.replace(/\./g, '\\.')} +${BASES[2].file.replace(/\./g, '\\.')}: SHA-256 .*; fix: edgetune models fetch$`));
      assert.match(lines[lines.length - 1], /^the main job \(train \+ predict on the CPU\) cannot run: 1 check failed; \d+ warnings?$/);
      assert.ok(lines.slice(0, -1).every((l) => /^(ok  |warn|fail)  \S/.test(l)), r.stdout);
    });
  });
});
