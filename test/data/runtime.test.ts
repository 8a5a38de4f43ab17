import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { preprocess } from '../../src/image';
import { defaultThreads, openModel, probeEdgeTpu, readLabels, topK } from '../../src/runtime';
import { MODELS_DIR, shared, tmpDir } from '../helpers';

const V2 = path.join(MODELS_DIR, 'mobilenet_v2_1.0_224_quant.tflite');
const V1_SMALL = path.join(MODELS_DIR, 'mobilenet_v1_0.25_128_quant.tflite');
const EXTRACTOR = path.join(MODELS_DIR, 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite');
const EDGETPU_FILES = [
  'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite',
  'mobilenet_v1_0.25_128_quant_edgetpu.tflite',
  'mobilenet_v1_0.5_160_quant_edgetpu.tflite',
];
const LABELS = path.join(MODELS_DIR, 'imagenet_labels.txt');

function edgeTpuMessage(file: string, cpuTwin: string): string {
  return `model ${file} needs the Edge TPU runtime (libedgetpu.so.1) and a Coral device: install libedgetpu1-std ` +
    `from Coral's apt repository (https://coral.ai/software/#debian-packages) and plug in the accelerator, ` +
    `or use the CPU model (${cpuTwin})`;
}

describe('runtime', () => {
  let cat224: Uint8Array;
  let cat128: Uint8Array;
  before(async () => {
    cat224 = await preprocess(shared('images', 'cat.bmp'), 224);
    cat128 = await preprocess(shared('images', 'cat.bmp'), 128);
  });

  it('stock v2 classifier puts a cat class top-1 on cat.bmp', () => {
    const s = openModel(V2);
    assert.deepEqual(s.input, { name: 'input', shape: [1, 224, 224, 3], dtype: 'uint8', scale: 0.0078125, zeroPoint: 128 });
    assert.deepEqual(s.output, { name: 'MobilenetV2/Predictions/Softmax', shape: [1, 1001], dtype: 'uint8', scale: 1 / 256, zeroPoint: 0 });
    assert.equal(s.device, 'cpu');
    assert.ok(s.inputBuffer instanceof Uint8Array);
    assert.equal(s.inputBuffer.length, 224 * 224 * 3);
    s.inputBuffer.set(cat224);
    const probs = s.run();
    const labels = readLabels(LABELS);
    const top = topK(probs, 3, labels);
    assert.match(top[0].label, /\bcat\b/, JSON.stringify(top));
    assert.ok([281, 282, 283, 284, 285, 286, 287].includes(top[0].index), JSON.stringify(top));
    assert.ok(top[0].score > 0.5, JSON.stringify(top));
  });

  it('probabilities are multiples of 1/256 in [0,1] summing to ≈ 1; run() = dequantized runRaw()', () => {
    const s = openModel(V2);
    s.inputBuffer.set(cat224);
    const probs = s.run();
    assert.equal(probs.length, 1001);
    let sum = 0;
    for (const p of probs) {
      assert.ok(p >= 0 && p <= 1);
      assert.equal(Math.round(p * 256), p * 256);
      sum += p;
    }
    // 1001 uint8 softmax outputs, each rounded to 1/256: the sum is 1 within a few steps.
    assert.ok(Math.abs(sum - 1) < 0.05, `sum ${sum}`);
    const raw = s.runRaw();
    assert.ok(raw instanceof Uint8Array);
    assert.deepEqual(Float32Array.from(raw, (q) => q / 256), probs);
  });

  it('threads default to the cores less one (at least 1) and can be set', () => {
    assert.equal(defaultThreads(), Math.max(1, os.availableParallelism() - 1));
    assert.equal(openModel(V1_SMALL).threads, defaultThreads());
    assert.equal(openModel(V1_SMALL, { threads: 1 }).threads, 1);
    assert.throws(() => openModel(V1_SMALL, { threads: 0 }), { message: `threads must be an integer ≥ 1 (got 0) for model ${V1_SMALL}` });
    assert.throws(() => openModel(V1_SMALL, { threads: 1.5 }), /threads must be an integer/);
  });

  it('threads do not change results', () => {
    const a = openModel(V1_SMALL, { threads: 1 });
    const b = openModel(V1_SMALL, { threads: 2 });
    a.inputBuffer.set(cat128);
    b.inputBuffer.set(cat128);
    assert.deepEqual(a.runRaw(), b.runRaw());
  });

  it('an _edgetpu model without a TPU fails with one clean line, whatever the device', function () {
    // These check the error path without Coral's runtime; where it is installed they cannot run.
    if (probeEdgeTpu().library) this.skip();
    for (const f of EDGETPU_FILES) {
      const p = path.join(MODELS_DIR, f);
      const msg = edgeTpuMessage(p, f.replace('_edgetpu.tflite', '.tflite'));
      for (const device of ['auto', 'cpu', 'edgetpu'] as const) {
        assert.throws(() => openModel(p, { device }), (e: Error) => {
          assert.equal(e.message, msg);
          assert.ok(!e.message.includes('\n'));
          return true;
        });
      }
    }
    const bytes = fs.readFileSync(path.join(MODELS_DIR, EDGETPU_FILES[0]));
    assert.throws(() => openModel(bytes), { message: edgeTpuMessage(`<${bytes.length} bytes>`, 'model.tflite') });
  });

  it('an _edgetpu model in a child process: no crash, nothing on stderr, only our error', function () {
    // These check the error path without Coral's runtime; where it is installed they cannot run.
    if (probeEdgeTpu().library) this.skip();
    const runtime = path.resolve(__dirname, '..', '..', 'src', 'runtime');
    const model = path.join(MODELS_DIR, EDGETPU_FILES[0]);
    // Many failed opens and forced GCs: the binding's failed-constructor path used to segfault here.
    const code = `const rt = require(${JSON.stringify(runtime)});
      let last = '';
      for (let i = 0; i < 20; i++) for (const device of ['auto', 'cpu', 'edgetpu']) {
        try { rt.openModel(${JSON.stringify(model)}, { device }); console.log('opened'); } catch (e) { last = e.message; }
        global.gc();
      }
      setTimeout(() => { global.gc(); console.log('ERR ' + last); }, 50);`;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', code], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.equal(r.signal, null);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, `ERR ${edgeTpuMessage(model, 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite')}\n`);
  });

  it("device 'edgetpu' on a CPU model is refused", () => {
    assert.throws(() => openModel(V2, { device: 'edgetpu' }), {
      message: `model ${V2} is not compiled for the Edge TPU (no edgetpu-custom-op); use device cpu or auto, or open its _edgetpu.tflite twin`,
    });
    assert.equal(openModel(V2, { device: 'cpu' }).device, 'cpu');
  });

  it('two sessions of the same model give identical outputs (path and bytes)', () => {
    const a = openModel(V2);
    const b = openModel(fs.readFileSync(V2));
    a.inputBuffer.set(cat224);
    b.inputBuffer.set(cat224);
    const pa = a.run();
    assert.deepEqual(b.run(), pa);
    assert.deepEqual(a.run(), pa);
  });

  it('inputBuffer is the live input: writing into it changes the output, across many runs', () => {
    const s = openModel(V1_SMALL);
    const buf = s.inputBuffer;
    buf.set(cat128);
    const catOut = s.runRaw();
    assert.equal(s.inputBuffer, buf);
    buf.fill(0);
    const black = s.runRaw();
    assert.notDeepEqual(black, catOut);
    buf.set(cat128);
    assert.deepEqual(s.runRaw(), catOut);
    // runRaw returns copies: later runs do not rewrite earlier results.
    assert.notDeepEqual(black, catOut);
  });

  it('the embedding extractor exposes its uint8 embedding with scale/zero-point from the file', () => {
    const s = openModel(EXTRACTOR, { threads: 1 });
    assert.deepEqual(s.input, { name: 'input', shape: [1, 224, 224, 3], dtype: 'uint8', scale: 0.0078125, zeroPoint: 128 });
    assert.equal(s.output.name, 'MobilenetV1/Logits/AvgPool_1a/AvgPool');
    assert.deepEqual(s.output.shape, [1, 1, 1, 1024]);
    assert.equal(s.output.zeroPoint, 0);
    assert.equal(Math.fround(s.output.scale), s.output.scale);
    assert.ok(Math.abs(s.output.scale - 0.0235285) < 1e-6);
    s.inputBuffer.set(cat224);
    const raw = s.runRaw();
    const emb = s.run();
    assert.equal(emb.length, 1024);
    assert.deepEqual(emb, Float32Array.from(raw, (q) => s.output.scale * q));
  });

  it('close() ends the session', () => {
    const s = openModel(V1_SMALL);
    s.close();
    assert.throws(() => s.run(), { message: `session for model ${V1_SMALL} is closed; open it again with openModel` });
  });

  it('unreadable and non-TFLite inputs give clear errors', () => {
    const missing = path.join(tmpDir(), 'nope.tflite');
    assert.throws(() => openModel(missing), /^Error: cannot read model .*nope\.tflite: ENOENT/);
    assert.throws(() => openModel(fs.readFileSync(LABELS)), /not a TFLite file/);
  });

  it('readLabels: one per line, nothing trimmed but line ends (LF/CRLF), trailing empty lines dropped, blank lines refused', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'labels.txt');
    fs.writeFileSync(f, ' background \r\ncat\ndog\t\n\n\n');
    assert.deepEqual(readLabels(f), [' background ', 'cat', 'dog\t']);
    fs.writeFileSync(f, 'cat\n\ndog\n');
    assert.throws(() => readLabels(f), /^EdgeTuneError: labels file .*labels\.txt: line 2 is blank; every line must name one class \(output 1\)$/);
    const imagenet = readLabels(LABELS);
    assert.equal(imagenet.length, 1001);
    assert.equal(imagenet[0], 'background');
    assert.equal(imagenet[286], 'Egyptian cat');
    assert.throws(() => readLabels(path.join(dir, 'none.txt')), /^EdgeTuneError: cannot read labels .*none\.txt: it does not exist \(ENOENT\)$/);
  });
});

describe('runtime: close() frees the interpreter at once', function () {
  this.timeout(120000);

  it('30 open/run/close cycles of the v1 224 extractor keep the resident set flat', () => {
    // In a child: a fresh process, so the test runner's own allocations do not blur the figure.
    // Without the collection in close() the interpreters pile up until a GC: about +200 MB here.
    const script = `
      const { openModel } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'src', 'runtime'))});
      (async () => {
        const once = async () => { const s = openModel(${JSON.stringify(EXTRACTOR)}, { threads: 1, device: 'cpu' }); s.run(); await s.close(); };
        for (let i = 0; i < 5; i++) await once();
        const before = process.memoryUsage().rss;
        for (let i = 0; i < 30; i++) await once();
        console.log(JSON.stringify({ growthMb: (process.memoryUsage().rss - before) / 1048576 }));
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { growthMb } = JSON.parse(r.stdout.trim());
    assert.ok(growthMb < 60, `RSS grew ${growthMb.toFixed(0)} MB over 30 cycles`);
  });
});
