import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { EdgeTuneError } from '../../src/errors';
import { listVideoDevices, openCamera, parseCameraSpec, type Camera, type Frame } from '../../src/camera';
import { openV4l2Camera } from '../../src/camera/ffmpeg';
import { openWebcamCamera } from '../../src/camera/webcam';
import { findOnPath } from '../../src/camera/tools';
import { ROOT, tmpDir } from '../helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms; fails after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** True while a process with that pid exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` with PATH set to `dirs` (restored after). */
async function withPath<T>(dirs: string[], fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = dirs.join(path.delimiter);
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

/** Writes an executable shell script `name` into `dir`. */
function fakeTool(dir: string, name: string, body: string): void {
  fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

/** The dominant channel of a JPEG ('r', 'g' or 'b'), to tell solid-colour frames apart after re-encoding. */
async function colourOf(jpeg: Buffer): Promise<string> {
  const { channels } = await sharp(jpeg).stats();
  const means = channels.slice(0, 3).map((c) => c.mean);
  return 'rgb'[means.indexOf(Math.max(...means))];
}

function solid(colour: { r: number; g: number; b: number }, w = 64, h = 48) {
  return sharp({ create: { width: w, height: h, channels: 3, background: colour } });
}

async function expectError(p: Promise<unknown>, code: string, re: RegExp): Promise<EdgeTuneError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EdgeTuneError, `not an EdgeTuneError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
    return e;
  }
  assert.fail(`no ${code} error`);
}

const isJpeg = (b: Buffer) => b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;

describe('camera: parseCameraSpec', () => {
  const table: [string, { kind: string; arg?: string }][] = [
    ['auto', { kind: 'auto' }],
    ['none', { kind: 'none' }],
    ['browser', { kind: 'browser' }],
    [' webcam ', { kind: 'webcam' }],
    ['webcam:/dev/video2', { kind: 'webcam', arg: '/dev/video2' }],
    ['rpicam', { kind: 'rpicam' }],
    ['rpicam:1', { kind: 'rpicam', arg: '1' }],
    ['rpicam:01', { kind: 'rpicam', arg: '1' }],
    ['v4l2:/dev/video0', { kind: 'v4l2', arg: '/dev/video0' }],
    ['/dev/video12', { kind: 'v4l2', arg: '/dev/video12' }],
    ['v4l2:/dev/v4l/by-id/usb-Logitech_C270-video-index0', { kind: 'v4l2', arg: '/dev/v4l/by-id/usb-Logitech_C270-video-index0' }],
    ['v4l2:/dev/v4l/by-path/platform-xhci-hcd.0-usb-0:1.2:1.0-video-index0', { kind: 'v4l2', arg: '/dev/v4l/by-path/platform-xhci-hcd.0-usb-0:1.2:1.0-video-index0' }],
    ['file:photos', { kind: 'file', arg: 'photos' }],
    ['file:/data/clip: take 2.mp4', { kind: 'file', arg: '/data/clip: take 2.mp4' }],
  ];
  for (const [spec, want] of table) {
    it(`${JSON.stringify(spec)} → ${JSON.stringify(want)}`, () => assert.deepEqual(parseCameraSpec(spec), want));
  }

  const bad = ['', 'usb', 'v4l2', 'v4l2:', 'v4l2:/dev/sda', 'v4l2:video0', '/dev/video', 'webcam:/dev/video0;reboot', 'rpicam:x', 'rpicam:-1', 'file:', 'http://cam/stream', 'AUTO'];
  for (const spec of bad) {
    it(`refuses ${JSON.stringify(spec)} with one line listing the grammar`, () => {
      assert.throws(() => parseCameraSpec(spec), (e: unknown) => {
        assert.ok(e instanceof EdgeTuneError);
        assert.equal(e.code, 'BAD_OPTION');
        assert.ok(e.message.startsWith(`bad --camera value ${JSON.stringify(spec)}`), e.message);
        assert.ok(e.message.endsWith('use auto, none, browser, webcam[:/dev/videoN], rpicam[:N], v4l2:/dev/videoN (or just /dev/videoN), file:DIR or file:VIDEO'), e.message);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    });
  }

  it('refuses bad options with BAD_OPTION', async () => {
    await expectError(openCamera('browser', { width: 0 }), 'BAD_OPTION', /^camera width 0 is invalid: give an integer from 16 to 8192$/);
    await expectError(openCamera('browser', { fps: Number.NaN }), 'BAD_OPTION', /^camera fps NaN is invalid/);
  });
});

describe('camera: none and browser', () => {
  it('none: no frame, capture() refuses with UNSUPPORTED naming --camera none', async () => {
    const cam = await openCamera('none');
    assert.equal(cam.kind, 'none');
    assert.equal(cam.latest(), null);
    assert.deepEqual(cam.status(), { kind: 'none', spec: 'none', state: 'stopped', fps: 0, frames: 0 });
    await expectError(cam.capture(), 'UNSUPPORTED', /^no camera \(--camera none\): /);
    await cam.close();
  });

  it('browser: push checks the SOI marker, keeps only the latest frame, tells subscribers, and capture() waits for the next push', async () => {
    const cam = await openCamera('browser');
    assert.equal(cam.status().state, 'starting');
    const png = await solid({ r: 255, g: 0, b: 0 }).png().toBuffer();
    assert.throws(() => cam.push!(png), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_IMAGE' && /not a JPEG \(\d+ bytes, first bytes 89504e47\)/.test(e.message));
    assert.throws(() => cam.push!(Buffer.alloc(0)), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_IMAGE');
    const a = await solid({ r: 255, g: 0, b: 0 }).jpeg().toBuffer();
    const b = await solid({ r: 0, g: 0, b: 255 }).jpeg().toBuffer();
    const seen: number[] = [];
    const off = cam.onFrame((f) => seen.push(f.seq));
    cam.onFrame(() => {
      throw new Error('a broken subscriber');
    });
    const f1 = cam.push!(a);
    assert.equal(f1.seq, 1);
    assert.equal(cam.latest(), f1);
    const later = cam.capture(2000);
    setTimeout(() => cam.push!(b), 50);
    const f2 = await later;
    assert.equal(f2.seq, 2);
    assert.equal(f2.jpeg, b);
    assert.equal(cam.latest(), f2); // only the newest is kept
    off();
    cam.push!(a);
    assert.deepEqual(seen, [1, 2]); // each frame once, none after unsubscribing; the throwing subscriber did not stop them
    assert.equal(cam.status().state, 'running');
    assert.equal(cam.status().frames, 3);
    await expectError(cam.capture(100), 'IO', /^no frame from camera browser within 100 ms$/);
    await cam.close();
    assert.equal(cam.status().state, 'stopped');
  });
});

describe('camera: file:DIR', () => {
  let dir: string;
  before(async () => {
    dir = tmpDir('edgetune-cam-dir-');
    // Natural order: f1 (red PNG), f2 (green JPEG), f10 (blue WebP); an unreadable file and a hidden one.
    await solid({ r: 230, g: 10, b: 10 }).png().toFile(path.join(dir, 'f1.png'));
    await solid({ r: 10, g: 230, b: 10 }, 800, 600).jpeg().toFile(path.join(dir, 'f2.jpg'));
    await solid({ r: 10, g: 10, b: 230 }).webp().toFile(path.join(dir, 'f10.webp'));
    fs.writeFileSync(path.join(dir, 'f3.jpg'), 'not an image at all');
    fs.writeFileSync(path.join(dir, '.hidden.jpg'), 'skipped without a word');
  });

  it('cycles the images in natural order at about fps, scaled into width × height, and reports an unreadable file once', async () => {
    const log: string[] = [];
    const cam = await openCamera(`file:${dir}`, { fps: 20, width: 320, height: 240, log: (l) => log.push(l) });
    assert.equal(cam.kind, 'file');
    const frames: Frame[] = [];
    cam.onFrame((f) => frames.push(f));
    const t0 = Date.now();
    await sleep(1500);
    const elapsed = (Date.now() - t0) / 1000;
    const status = cam.status();
    await cam.close();
    // 20 fps for 1.5 s is 30 frames; a busy 2-core machine may lose some to timer and decode delays.
    assert.ok(frames.length >= 12 && frames.length <= 20 * elapsed + 2, `${frames.length} frames in ${elapsed} s`);
    assert.ok(status.fps >= 8 && status.fps <= 24, `fps ${status.fps}`);
    assert.equal(status.state, 'running');
    const colours = await Promise.all(frames.slice(0, 9).map((f) => colourOf(f.jpeg)));
    const first = colours.indexOf('r');
    assert.deepEqual(colours.slice(first, first + 6), ['r', 'g', 'b', 'r', 'g', 'b']);
    for (const f of frames) assert.ok(isJpeg(f.jpeg));
    const big = frames.find((f, i) => colours[i] === 'g')!;
    const meta = await sharp(big.jpeg).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 320, 240]); // 800×600 fitted inside 320×240
    assert.deepEqual([...new Set(frames.map((f) => f.seq))].length, frames.length);
    const bad = log.filter((l) => l.includes('f3.jpg'));
    assert.equal(bad.length, 1, log.join('\n'));
    assert.match(bad[0], /^camera file:.*: skipping .*f3\.jpg: /);
    assert.ok(!log.some((l) => l.includes('hidden')));
  });

  it('capture() returns a frame newer than the call; close() stops the frames', async () => {
    const cam = await openCamera(`file:${dir}`, { fps: 2 });
    await waitFor('a first frame', () => cam.latest() !== null);
    const before = cam.latest()!.seq;
    const called = Date.now();
    const f = await cam.capture(3000);
    assert.ok(f.seq > before, `seq ${f.seq} after ${before}`);
    assert.ok(f.time >= called);
    assert.ok(Date.now() - called < 400, 'capture() makes a frame at once instead of waiting for the 500 ms tick');
    await cam.close();
    await cam.close(); // idempotent
    const n = cam.status().frames;
    await sleep(700);
    assert.equal(cam.status().frames, n);
    assert.equal(cam.status().state, 'stopped');
    await expectError(cam.capture(200), 'IO', /closed/);
  });

  it('refuses an empty folder and a missing path', async () => {
    const empty = tmpDir('edgetune-cam-empty-');
    await expectError(openCamera(`file:${empty}`), 'BAD_OPTION', /^--camera file:.*: the folder .* has no files: put images/);
    await expectError(openCamera(`file:${empty}/nope`), 'NOT_FOUND', /nope does not exist/);
  });

  it('goes to error when no file of the folder is readable', async () => {
    const junk = tmpDir('edgetune-cam-junk-');
    fs.writeFileSync(path.join(junk, 'a.jpg'), 'text');
    const cam = await openCamera(`file:${junk}`, { fps: 10 });
    await waitFor('the error state', () => cam.status().state === 'error');
    assert.match(cam.status().error!, /^no readable image in .* \(1 files\)/);
    await cam.close();
  });
});

describe('camera: file:VIDEO and missing tools or devices (ffmpeg)', () => {
  let dir: string;
  let clip: string;
  before(function () {
    if (!findOnPath('ffmpeg')) throw new Error('ffmpeg is needed by these tests (sudo apt install ffmpeg); CI installs it');
    dir = tmpDir('edgetune-cam-video-');
    clip = path.join(dir, 'clip.mp4');
    execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '1', '-c:v', 'mpeg4', clip]);
  });

  it('plays the video in a loop as JPEG frames, and close() kills ffmpeg', async () => {
    const cam = await openCamera(`file:${clip}`, { fps: 10 });
    const pid = cam.pid!();
    assert.ok(typeof pid === 'number' && alive(pid));
    const frames: Frame[] = [];
    cam.onFrame((f) => frames.push(f));
    // The clip lasts 1 s (10 frames): 16 frames means it looped.
    await waitFor('16 frames', () => frames.length >= 16, 6000);
    for (const f of frames) assert.ok(isJpeg(f.jpeg));
    const meta = await sharp(frames[12].jpeg).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 160, 120]);
    assert.equal(cam.status().state, 'running');
    await cam.close();
    assert.equal(alive(pid), false, `ffmpeg ${pid} still runs after close()`);
    assert.equal(cam.pid!(), undefined);
  });

  it('reports ffmpeg\'s last stderr line when it cannot read the file', async () => {
    const notVideo = path.join(dir, 'notes.mp4');
    fs.writeFileSync(notVideo, 'this is text, not a video\n');
    const cam = await openCamera(`file:${notVideo}`);
    const capture = cam.capture(4000);
    await expectError(capture, 'IO', /^camera file:.*notes\.mp4 failed: ffmpeg stopped reading .*notes\.mp4 \(exit code \d+\): .*notes\.mp4: Invalid data found when processing input$/);
    assert.equal(cam.status().state, 'error');
    assert.match(cam.status().error!, /Invalid data found/);
    await cam.close();
  });

  it('names the package to install when a tool is not on PATH', async () => {
    const empty = tmpDir('edgetune-cam-nopath-');
    await withPath([empty], async () => {
      await expectError(openCamera(`file:${clip}`), 'UNSUPPORTED', /^ffmpeg is not installed \(needed for --camera file:.*clip\.mp4; not found on PATH\): sudo apt install ffmpeg$/);
      await expectError(openCamera('v4l2:/dev/video0'), 'UNSUPPORTED', /^ffmpeg is not installed .*: sudo apt install ffmpeg$/);
      await expectError(openCamera('rpicam'), 'UNSUPPORTED', /^rpicam-vid is not installed \(needed for --camera rpicam; not found on PATH\): sudo apt install rpicam-apps/);
      await expectError(openCamera('webcam'), 'UNSUPPORTED', /^fswebcam is not installed .*: sudo apt install fswebcam$/);
    });
  });

  it('names the device tried and the devices present when it does not exist', async () => {
    const present = listVideoDevices();
    const list = present.length ? present.join(', ') : 'none';
    const esc = list.replace(/[/.]/g, '\\$&');
    await expectError(openCamera('v4l2:/dev/video97'), 'NOT_FOUND', new RegExp(`^no video device /dev/video97 \\(present: ${esc}\\): plug the camera in`));
    await expectError(openCamera('/dev/video98'), 'NOT_FOUND', /^no video device \/dev\/video98 /);
  });

  it('lists /dev/videoN devices in numeric order', () => {
    const devs = listVideoDevices();
    const want = fs.readdirSync('/dev').filter((n) => /^video\d+$/.test(n)).map((n) => Number(n.slice(5))).sort((a, b) => a - b).map((n) => `/dev/video${n}`);
    assert.deepEqual(devs, want);
  });

  it('v4l2: streams frames from the first real device', async function () {
    const devs = listVideoDevices();
    if (devs.length === 0) {
      this.test!.title += ' (skipped: no /dev/video* device on this machine)';
      this.skip();
    }
    const cam = await openCamera(`v4l2:${devs[0]}`, { width: 640, height: 480 });
    try {
      const f = await cam.capture(8000);
      assert.ok(isJpeg(f.jpeg));
      assert.equal((await sharp(f.jpeg).metadata()).format, 'jpeg');
    } finally {
      await cam.close();
    }
  });
});

describe('camera: child process sources with stand-in programs', () => {
  let bin: string;
  let frameFile: string;
  let work: string;
  before(async () => {
    work = tmpDir('edgetune-cam-fake-');
    bin = path.join(work, 'bin');
    fs.mkdirSync(bin);
    frameFile = path.join(work, 'frame.jpg');
    await solid({ r: 0, g: 200, b: 0 }).jpeg().toFile(frameFile);
  });

  it('v4l2: re-encodes when the device has no MJPEG mode, restarts with backoff when ffmpeg dies, and recovers', async () => {
    // A stand-in ffmpeg: refuses pass-through (no MJPEG mode), fails while MODE says "gone"
    // (camera unplugged), else streams the same JPEG ten times a second.
    const argsLog = path.join(work, 'ffmpeg-args');
    const mode = path.join(work, 'mode');
    fs.writeFileSync(mode, 'ok');
    fakeTool(bin, 'ffmpeg', [
      `echo "$*" >> ${argsLog}`,
      'case " $* " in *" -input_format mjpeg "*) echo "[video4linux2,v4l2 @ 0x55] The V4L2 driver changed the pixel format from 0x47504A4D to 0x56595559" >&2; exit 1;; esac',
      `if [ "$(cat ${mode})" = gone ]; then echo "[video4linux2,v4l2 @ 0x55] Cannot open video device: No such device" >&2; exit 1; fi`,
      `while :; do cat ${frameFile}; sleep 0.1; done`,
    ].join('\n'));
    const device = path.join(work, 'video0');
    fs.writeFileSync(device, '');
    const log: string[] = [];
    await withPath([bin, '/usr/bin', '/bin'], async () => {
      const cam: Camera = openV4l2Camera(device, 'v4l2:test', { width: 320, height: 240, fps: 10, log: (l) => log.push(l), backoff: { initialMs: 100, maxMs: 400 } });
      try {
        const f = await cam.capture(3000);
        assert.ok(f.jpeg.equals(fs.readFileSync(frameFile)));
        const runs = fs.readFileSync(argsLog, 'utf8').trim().split('\n');
        assert.equal(runs.length, 2);
        assert.ok(runs[0].includes(`-f v4l2 -input_format mjpeg -video_size 320x240 -framerate 10 -i ${device} -an -c:v copy`), runs[0]);
        assert.ok(runs[1].includes(`-f v4l2 -video_size 320x240 -framerate 10 -i ${device} -an -c:v mjpeg -q:v 5 -flush_packets 1 -f mjpeg pipe:1`), runs[1]);
        assert.match(log[0], /^camera v4l2:test: no MJPEG frames from .*video0 at 320x240; trying its raw format, encoded by ffmpeg \(ffmpeg: .*changed the pixel format/);

        // Unplugged: ffmpeg dies and cannot start again until the camera is back.
        fs.writeFileSync(mode, 'gone');
        const pid = cam.pid!()!;
        process.kill(pid, 'SIGKILL');
        await waitFor('the restart to fail', () => /No such device/.test(cam.status().error ?? ''), 3000);
        const st = cam.status();
        assert.equal(st.state, 'error');
        assert.match(st.error!, /^ffmpeg stopped reading .*video0 \(exit code 1\): \[video4linux2,v4l2 @ 0x55\] Cannot open video device: No such device; restarting in 0\.\d s$/);
        assert.ok(log.some((l) => /\(killed by SIGKILL\); restarting in 0\.1 s$/.test(l)), log.join('\n'));
        // Replugged: the next restart streams again, with a new ffmpeg.
        fs.writeFileSync(mode, 'ok');
        const g = await cam.capture(3000);
        assert.ok(g.seq > f.seq);
        assert.equal(cam.status().state, 'running');
        assert.equal(cam.status().error, undefined);
        assert.notEqual(cam.pid!(), pid);
      } finally {
        const pid = cam.pid!();
        await cam.close();
        if (pid) assert.equal(alive(pid), false);
      }
    });
  });

  it('auto: picks the Pi camera when rpicam-hello lists one, with rpicam-vid streaming MJPEG', async () => {
    const argsLog = path.join(work, 'rpicam-args');
    fakeTool(bin, 'rpicam-hello', 'echo "Available cameras"; echo "-----------------"; echo "0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)"');
    fakeTool(bin, 'rpicam-vid', `echo "$*" > ${argsLog}\nwhile :; do cat ${frameFile}; sleep 0.1; done`);
    const log: string[] = [];
    await withPath([bin, '/usr/bin', '/bin'], async () => {
      const cam = await openCamera('auto', { width: 320, height: 240, fps: 10, log: (l) => log.push(l) });
      try {
        assert.equal(cam.kind, 'rpicam');
        assert.equal(cam.spec, 'rpicam');
        const f = await cam.capture(3000);
        assert.ok(f.jpeg.equals(fs.readFileSync(frameFile)));
        assert.equal(fs.readFileSync(argsLog, 'utf8').trim(), '-t 0 -n --codec mjpeg --width 320 --height 240 --framerate 10 --camera 0 -o -');
        assert.deepEqual(log, ['camera auto: using rpicam (0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a))']);
      } finally {
        await cam.close();
      }
      // An explicit index the Pi does not have.
      await expectError(openCamera('rpicam:1'), 'NOT_FOUND', /^no Raspberry Pi camera 1 \(rpicam-hello --list-cameras lists 1\): check the ribbon cable/);
    });
  });

  it('auto: falls back to the browser and says what it tried', async function () {
    if (listVideoDevices().length > 0) {
      this.test!.title += ' (skipped: this machine has /dev/video* devices, which auto would probe)';
      this.skip();
    }
    fakeTool(bin, 'rpicam-hello', 'echo "No cameras available!"');
    const log: string[] = [];
    await withPath([bin, '/usr/bin', '/bin'], async () => {
      const cam = await openCamera('auto', { log: (l) => log.push(l) });
      assert.equal(cam.kind, 'browser');
      assert.equal(typeof cam.push, 'function');
      await cam.close();
    });
    assert.deepEqual(log, ["camera auto: using browser (the page's own camera); tried rpicam (no camera listed by rpicam-hello --list-cameras); v4l2 (no /dev/video* device)"]);
  });

  it('kills the child when the process that opened the camera exits without close()', async () => {
    // A stand-in ffmpeg that never writes, so it cannot die of a broken pipe: only the exit hook ends it.
    const quiet = path.join(work, 'quiet-bin');
    fs.mkdirSync(quiet);
    fakeTool(quiet, 'ffmpeg', 'exec sleep 30');
    const video = path.join(work, 'clip.mp4');
    fs.writeFileSync(video, '');
    const script = path.join(work, 'exit.js');
    fs.writeFileSync(script, `
      const { openCamera } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'camera'))});
      openCamera('file:' + process.argv[2]).then((cam) => {
        setTimeout(() => {
          console.log(cam.pid());
          process.exit(0);
        }, 200);
      });`);
    const env = { ...process.env, PATH: [quiet, '/usr/bin', '/bin'].join(path.delimiter) };
    const pid = Number(execFileSync(process.execPath, [script, video], { encoding: 'utf8', env }).trim());
    assert.ok(pid > 0);
    // Gone, or a zombie waiting for a container's init to reap it: either way no longer running.
    const running = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    await waitFor(`the child ${pid} to end`, () => !running(), 2000);
  });

  it('webcam: stills through node-webcam and fswebcam, one per capture()', async () => {
    const argsLog = path.join(work, 'fswebcam-args');
    // A stand-in fswebcam: writes the JPEG to the file named last, like the real one.
    fakeTool(bin, 'fswebcam', `echo "$*" >> ${argsLog}\nfor last; do :; done\ncp ${frameFile} "$last"`);
    const device = path.join(work, 'video1');
    fs.writeFileSync(device, '');
    await withPath([bin, '/usr/bin', '/bin'], async () => {
      const cam = openWebcamCamera(device, 'webcam:test', { width: 320, height: 240, fps: 1, log: () => {} });
      try {
        await waitFor('the first preview still', () => cam.latest() !== null, 3000);
        const first = cam.latest()!;
        const f = await cam.capture(3000);
        assert.ok(f.seq > first.seq);
        assert.ok(f.jpeg.equals(fs.readFileSync(frameFile)));
        const runs = fs.readFileSync(argsLog, 'utf8').trim().split('\n');
        assert.equal(runs.length, 2);
        assert.match(runs[1], new RegExp(`-r 320x240 .*-F 1 .*--jpeg 85 .*-d ${device.replace(/[/.]/g, '\\$&')} .*--no-banner .*--skip 3 .*edgetune-webcam-\\w+/still\\.jpg$`));
        assert.equal(cam.status().state, 'running');
      } finally {
        await cam.close();
      }
    });
  });
});
