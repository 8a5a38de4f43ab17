/**
 * `npm run bench`: EdgeTune's speed and memory targets, each measured side by side in one run on
 * the same images, printed as ratios.
 *
 *   1. embedding throughput of the pipeline (decode → preprocess → base) vs the bare interpreter
 *      on pre-decoded inputs (target ≥ 0.85×);
 *   2. latency of the exported model (base + grafted head) vs the base alone (target ≤ 1.10×);
 *   3. end-to-end train + export time on the shared object set with the defaults;
 *   4. peak RSS of a training run on 1,000 images (target ≤ 400 MB), in a child process.
 *
 * Reads ../shared/datasets and the installed bases (`edgetune models fetch`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { train, listBases } from '../src';
import { openBase, embedSamples } from '../src/base';
import { preprocess } from '../src/image';
import { scanDataset, type Sample } from '../src/dataset';
import { presetParams } from '../src/augment';
import { openModel, defaultThreads, type Session } from '../src/runtime';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = process.env.EDGETUNE_SHARED ?? path.resolve(ROOT, '..', 'shared');
const MODELS = process.env.EDGETUNE_MODELS ?? path.join(ROOT, 'models');
const OBJECTS = path.join(SHARED, 'datasets', 'objects-small');

// The bare interpreter: tfjs-tflite-node's native class (its TFLiteNodeModelRunner), loaded from
// the binding as the runtime does, driven by hand.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const TFLiteNodeModelRunner = require('bindings')({
  bindings: 'node_tflite_binding', module_root: path.dirname(require.resolve('tfjs-tflite-node/package.json')),
}).Interpreter;

function ms(f: () => void, reps: number): number {
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
}

function row(name: string, value: string, target: string, ok: boolean | undefined): void {
  const verdict = ok === undefined ? '' : ok ? 'PASS' : 'MISS';
  console.log(`${name.padEnd(52)} ${value.padEnd(30)} ${target.padEnd(12)} ${verdict}`);
}

/**
 * Mean latency (ms) of two sessions on the same input, measured in alternating rounds so that
 * machine noise hits both alike. Both sessions must take a size×size×3 uint8 input.
 */
function sideBySide(a: Session, b: Session, size: number, reps: number): [number, number] {
  const px = new Uint8Array(size * size * 3).map((_, i) => (i * 31) & 255);
  a.inputBuffer.set(px);
  b.inputBuffer.set(px);
  a.run(); b.run();
  let ta = 0, tb = 0;
  for (let round = 0; round < 5; round++) {
    ta += ms(() => a.run(), reps);
    tb += ms(() => b.run(), reps);
  }
  return [ta / 5, tb / 5];
}

/** Interpreter latency of every base at 1 thread and at all cores, side by side (the default is cores − 1). */
function threadScaling(): void {
  const cores = os.availableParallelism();
  for (const b of listBases(MODELS)) {
    const base = openBase(b.name, MODELS, 1);
    const wide = openModel(base.bytes, { threads: cores });
    const [one, all] = sideBySide(base.session, wide, base.inputSize, 8);
    row(`threads: ${b.name} 1 / ${cores} thread(s)`, `${one.toFixed(2)} / ${all.toFixed(2)} ms (${(all / one).toFixed(2)}×)`, '', undefined);
    base.session.close(); wide.close();
  }
}

async function embeddingThroughput(samples: Sample[]): Promise<void> {
  const base = openBase('mobilenet_v1_1.0_224', MODELS);
  const inputs = await Promise.all(samples.map((s) => preprocess(s.path, base.inputSize)));
  const ab = base.bytes.buffer.slice(base.bytes.byteOffset, base.bytes.byteOffset + base.bytes.byteLength);
  const bare = new TFLiteNodeModelRunner(ab, { threads: defaultThreads() });
  const bareIn = bare.getInputs()[0].data() as Uint8Array;
  const bareRun = () => { for (const px of inputs) { bareIn.set(px); bare.infer(); } };
  bareRun();
  const none = presetParams('none');
  // Alternate the two so that machine noise hits both alike.
  let bareMs = 0, pipeMs = 0;
  for (let round = 0; round < 2; round++) {
    bareMs += ms(bareRun, 1);
    const t0 = performance.now();
    await embedSamples(base, samples, { views: 0, augment: none, seed: 0 });
    pipeMs += performance.now() - t0;
  }
  const bareRate = (2 * samples.length) / (bareMs / 1000);
  const pipeRate = (2 * samples.length) / (pipeMs / 1000);
  row(`embedding: bare interpreter (pre-decoded), ${samples.length} imgs`, `${bareRate.toFixed(1)} img/s`, '', undefined);
  row('embedding: pipeline (JPEG decode + preprocess + base)', `${pipeRate.toFixed(1)} img/s`, '', undefined);
  row('  ratio pipeline / bare', `${(pipeRate / bareRate).toFixed(3)}×`, '≥ 0.85×', pipeRate / bareRate >= 0.85);
  base.session.close();
}

function exportLatency(modelPath: string, baseName: string): void {
  const base = openBase(baseName, MODELS);
  const exported = openModel(modelPath);
  const [b, e] = sideBySide(base.session, exported, base.inputSize, 10);
  row(`latency: base ${baseName} alone`, `${b.toFixed(2)} ms`, '', undefined);
  row('latency: exported model (base + quantized head)', `${e.toFixed(2)} ms`, '', undefined);
  row('  ratio exported / base', `${(e / b).toFixed(3)}×`, '≤ 1.10×', e / b <= 1.1);
  base.session.close(); exported.close();
}

/** A 1,000-image folder-per-class dataset of hard links/copies from the shared sets. */
function thousandImages(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetune-bench-1000-'));
  const pick: [string, number][] = [['objects-small', 801], ['gestures', 199]];
  for (const [set, count] of pick) {
    const ds = scanDataset(path.join(SHARED, 'datasets', set));
    for (const s of ds.samples.slice(0, count)) {
      const d = path.join(dir, `${set}-${s.label}`);
      fs.mkdirSync(d, { recursive: true });
      fs.copyFileSync(s.path, path.join(d, path.basename(s.path)));
    }
  }
  return dir;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child-train') {
    // Child: train on the given dataset and report peak RSS (resourceUsage().maxRSS is in KiB).
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetune-bench-model-'));
    const r = await train(process.argv[3], path.join(out, 'm'), { modelsDir: MODELS });
    process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, images: r.metadata.dataset.train + r.metadata.dataset.val }) + '\n');
    return;
  }
  console.log(`EdgeTune benchmark: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${os.arch()}, node ${process.version}, ${defaultThreads()} interpreter threads`);
  console.log(`${'measure'.padEnd(52)} ${'value'.padEnd(30)} ${'target'.padEnd(12)}`);
  threadScaling();
  const ds = scanDataset(OBJECTS);
  const samples = ds.samples.filter((_, i) => i % 8 === 0);
  await embeddingThroughput(samples);

  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetune-bench-'));
  const t0 = performance.now();
  const r = await train(OBJECTS, path.join(out, 'objects'), { modelsDir: MODELS });
  const s = (performance.now() - t0) / 1000;
  const sec = r.metadata.training.seconds;
  row(`train + export: objects-small (${r.metadata.dataset.train + r.metadata.dataset.val} photos, defaults)`, `${s.toFixed(1)} s`, '< 300 s', s < 300);
  row('  of which embedding / head / export+verify', `${sec.embed} / ${sec.train} / ${sec.export} s`, '', undefined);
  row('  validation accuracy head / exported', `${(r.metadata.metrics.val_accuracy * 100).toFixed(1)}% / ${(r.metadata.metrics.export.accuracy * 100).toFixed(1)}%`, '≥ 85%', r.metadata.metrics.val_accuracy >= 0.85);

  exportLatency(path.join(out, 'objects', 'model.tflite'), 'mobilenet_v1_1.0_224');

  const big = thousandImages();
  const child = spawnSync(process.execPath, [__filename, '--child-train', big], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`child training run failed: ${child.stderr.split('\n').slice(-3).join(' ')}`);
  const { maxRssKiB, images } = JSON.parse(child.stdout.trim().split('\n').pop()!);
  const mb = maxRssKiB / 1024;
  row(`peak RSS: train + export on ${images} images`, `${mb.toFixed(0)} MB`, '≤ 400 MB', mb <= 400);
  fs.rmSync(big, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
});
