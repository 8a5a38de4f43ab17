/**
 * `npm run bench`: EdgeTune's speed and memory targets, each measured side by side in one run on
 * the same images, printed as ratios.
 *
 *   1. embedding throughput of the pipeline (decode → preprocess → base) vs the bare interpreter
 *      on pre-decoded inputs (target ≥ 0.85×);
 *   2. latency of the exported model (base + grafted head) vs the base alone (target ≤ 1.10×);
 *   3. end-to-end train + export time on the shared object set with the defaults;
 *   4. peak RSS of a training run on 1,000 images (target ≤ 400 MB), in a child process;
 *   0. ms per image of each base on the CPU here, on an Edge TPU when one is present, beside
 *      Coral's published figures;
 *   5. `edgetune serve`: live preview rate and latency, retrain after 10 new photos, 20
 *      train/activate cycles with RSS and tensors (scripts/bench-serve.ts);
 *   6. head vs fine-tune vs CNN on the three shared datasets: accuracy, model size, ms per image,
 *      training time, in one table (scripts/bench-arch.ts).
 *
 * Reads ../shared/datasets and the installed bases (`edgetune models fetch`). Everything it writes
 * goes under one temporary folder, removed at the end, on failure and on Ctrl-C / SIGTERM.
 *
 *   npm run bench                       all of the above
 *   npm run bench -- --embed            only thread scaling and (1)
 *   npm run bench -- --serve            only (5)
 *   npm run bench -- --bases            only (0)
 *   npm run bench -- --arch [DATASET…]  only (6), optionally for some datasets
 *   npm run bench -- --embed-variants   (1) for each decode lookahead × sharp thread count, side by side
 *   npm run bench -- --cnn              only the CNN trained from scratch on digits-photo (scripts/bench-cnn.ts);
 *                                       --cnn-all also on objects-small and gestures
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import sharp from 'sharp';
import { train, listBases } from '../src';
import { openBase, embedSamples, EMBED_LOOKAHEAD } from '../src/base';
import { preprocess } from '../src/image';
import { scanDataset, type Sample } from '../src/dataset';
import { presetParams } from '../src/augment';
import { openModel, defaultThreads, edgeTpuReady, type Session } from '../src/runtime';
import { resolveBase } from '../src/models';
import { benchServe } from './bench-serve';
import { benchArch, ARCH_DATASETS } from './bench-arch';
import { benchCnn } from './bench-cnn';

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

/** First value of `key` in /proc/cpuinfo ('' when absent or not Linux). */
function cpuinfo(key: string): string {
  try {
    const m = new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm').exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : '';
  } catch {
    return '';
  }
}

/**
 * The CPU as a reader can look it up: the model name (x86 /proc/cpuinfo 'model name'; on arm64,
 * where Node reports none, the board from /proc/device-tree/model and the core's 'CPU part'), the
 * x86 family/model numbers (a hypervisor may shorten the name to e.g. 'AMD EPYC'), and whether the
 * cores are SMT siblings (hyperthreads share one core's units, which matters for decode/inference
 * overlap). Sources: Linux /proc/cpuinfo and /sys/devices/system/cpu/cpu0/topology.
 */
function cpuName(): string {
  const parts: string[] = [];
  const model = os.cpus()[0]?.model?.trim() ?? '';
  if (model !== '' && model !== 'unknown') {
    parts.push(model);
  } else {
    try { parts.push(fs.readFileSync('/proc/device-tree/model', 'utf8').replace(/\0/g, '').trim()); } catch { /* not a device-tree board */ }
    const part = cpuinfo('CPU part');
    if (part !== '') parts.push(`CPU part ${part}`);
  }
  const family = cpuinfo('cpu family');
  if (family !== '') parts.push(`family ${family} model ${cpuinfo('model')}`);
  try {
    const siblings = fs.readFileSync('/sys/devices/system/cpu/cpu0/topology/thread_siblings_list', 'utf8').trim();
    parts.push(/[-,]/.test(siblings) ? 'SMT on' : 'no SMT');
  } catch { /* topology not exposed */ }
  return parts.length > 0 ? parts.join(', ') : 'unknown CPU';
}

/**
 * One turn of the event loop. The measurements are synchronous native calls; yielding between
 * rounds lets Ctrl-C / SIGTERM reach the cleanup within a round instead of after a whole section.
 */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

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
async function sideBySide(a: Session, b: Session, size: number, reps: number): Promise<[number, number]> {
  const px = new Uint8Array(size * size * 3).map((_, i) => (i * 31) & 255);
  a.inputBuffer.set(px);
  b.inputBuffer.set(px);
  a.run(); b.run();
  let ta = 0, tb = 0;
  for (let round = 0; round < 5; round++) {
    ta += ms(() => a.run(), reps);
    tb += ms(() => b.run(), reps);
    await tick();
  }
  return [ta / 5, tb / 5];
}

/** Interpreter latency of every base at 1 thread and at all cores, side by side (the default is cores − 1). */
async function threadScaling(): Promise<void> {
  const cores = os.availableParallelism();
  for (const b of listBases(MODELS)) {
    const base = openBase(b.name, MODELS, 1);
    const wide = openModel(base.bytes, { threads: cores });
    const [one, all] = await sideBySide(base.session, wide, base.inputSize, 8);
    row(`threads: ${b.name} 1 / ${cores} thread(s)`, `${one.toFixed(2)} / ${all.toFixed(2)} ms (${(all / one).toFixed(2)}×)`, '', undefined);
    await base.session.close(); await wide.close();
  }
}

/**
 * Coral's published inference times (ms) for the full ImageNet classifiers, from
 * coral.ai/docs/edgetpu/benchmarks (table 1): desktop CPU, desktop CPU + USB Accelerator (USB 3.0),
 * Coral's embedded CPU (Dev Board's quad Cortex-A53, without the Edge TPU), Dev Board with the Edge TPU.
 */
const CORAL_PUBLISHED: Record<string, { desktopCpu: number; desktopUsb: number; embeddedCpu: number; devBoard: number }> = {
  'mobilenet_v1_1.0_224': { desktopCpu: 53, desktopUsb: 2.4, embeddedCpu: 164, devBoard: 2.4 },
  'mobilenet_v2_1.0_224': { desktopCpu: 51, desktopUsb: 2.6, embeddedCpu: 122, devBoard: 2.6 },
};

/**
 * ms per image of every installed base: the CPU file on this machine (1 thread), the Edge TPU twin
 * when a Coral is ready here, and Coral's published figures beside them, so the gap is visible.
 */
async function perBase(): Promise<void> {
  const tpu = edgeTpuReady();
  for (const b of listBases(MODELS)) {
    const r = resolveBase(b.name, MODELS);
    const cpu = openModel(r.path, { threads: 1, device: 'cpu' });
    const px = new Uint8Array(cpu.inputBuffer.length).map((_, i) => (i * 31) & 255);
    cpu.inputBuffer.set(px);
    cpu.run();
    const cpuMs = ms(() => cpu.run(), 10);
    await cpu.close();
    let tpuText = 'no Coral here';
    if (tpu && r.edgetpuPath) {
      const t = openModel(r.edgetpuPath, { threads: 1, device: 'edgetpu' });
      t.inputBuffer.set(px);
      t.run(); // the first inference loads the model into the Edge TPU's memory
      tpuText = `${ms(() => t.run(), 50).toFixed(2)} ms on ${t.deviceName}`;
      await t.close();
    } else if (!r.edgetpuPath) {
      tpuText = 'no Edge TPU file';
    }
    const c = CORAL_PUBLISHED[b.name];
    const coral = c ? `Coral: desktop ${c.desktopCpu} / +USB ${c.desktopUsb}, Dev Board CPU ${c.embeddedCpu} / TPU ${c.devBoard} ms` : '';
    // Coral's figures are for the whole classifier; an extractor lacks only the last FC + softmax.
    row(`per base: ${b.name} (${b.kind}) CPU / Edge TPU`, `${cpuMs.toFixed(1)} ms / ${tpuText}`, '', undefined);
    if (coral) row('  published (coral.ai/docs/edgetpu/benchmarks)', coral, '', undefined);
  }
}

/** One way of running the embedding loop: decode lookahead and sharp's (libvips) threads per image. */
interface EmbedVariant {
  lookahead: number;
  sharpThreads: number;
}

/**
 * Embedding throughput of the pipeline (decode → preprocess → base, `embedSamples`) against the
 * bare interpreter on pre-decoded inputs, in alternating rounds so that machine noise (other
 * processes on a shared box) hits all alike. Prints img/s and the ratio per variant.
 */
async function embeddingThroughput(samples: Sample[], variants: EmbedVariant[], rounds: number): Promise<void> {
  const base = openBase('mobilenet_v1_1.0_224', MODELS);
  const inputs = await Promise.all(samples.map((s) => preprocess(s.path, base.inputSize)));
  const ab = base.bytes.buffer.slice(base.bytes.byteOffset, base.bytes.byteOffset + base.bytes.byteLength);
  const bare = new TFLiteNodeModelRunner(ab, { threads: defaultThreads() });
  const bareIn = bare.getInputs()[0].data() as Uint8Array;
  const bareRun = () => { for (const px of inputs) { bareIn.set(px); bare.infer(); } };
  bareRun();
  const none = presetParams('none');
  const defaultThreadsOfSharp = sharp.concurrency();
  let bareMs = 0;
  const pipeMs = variants.map(() => 0);
  for (let round = 0; round < rounds; round++) {
    bareMs += ms(bareRun, 1);
    await tick();
    for (const [k, v] of variants.entries()) {
      sharp.concurrency(v.sharpThreads);
      const t0 = performance.now();
      await embedSamples(base, samples, { views: 0, augment: none, seed: 0, lookahead: v.lookahead });
      pipeMs[k] += performance.now() - t0;
    }
  }
  sharp.concurrency(defaultThreadsOfSharp);
  const rate = (total: number) => (rounds * samples.length) / (total / 1000);
  const bareRate = rate(bareMs);
  row(`embedding: bare interpreter (pre-decoded), ${samples.length} imgs × ${rounds}`, `${bareRate.toFixed(1)} img/s`, '', undefined);
  for (const [k, v] of variants.entries()) {
    const r = rate(pipeMs[k]) / bareRate;
    const name = variants.length === 1 ? 'pipeline (JPEG decode + preprocess + base)' : `pipeline, lookahead ${v.lookahead}, sharp threads ${v.sharpThreads}`;
    row(`embedding: ${name}`, `${rate(pipeMs[k]).toFixed(1)} img/s = ${r.toFixed(3)}×`, '≥ 0.85×', r >= 0.85);
  }
  base.session.close();
}

async function exportLatency(modelPath: string, baseName: string): Promise<void> {
  const base = openBase(baseName, MODELS);
  const exported = openModel(modelPath);
  const [b, e] = await sideBySide(base.session, exported, base.inputSize, 10);
  row(`latency: base ${baseName} alone`, `${b.toFixed(2)} ms`, '', undefined);
  row('latency: exported model (base + quantized head)', `${e.toFixed(2)} ms`, '', undefined);
  row('  ratio exported / base', `${(e / b).toFixed(3)}×`, '≤ 1.10×', e / b <= 1.1);
  base.session.close(); exported.close();
}

/** A 1,000-image folder-per-class dataset, copied from the shared sets into `dir`. */
function thousandImages(dir: string): string {
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

/** The running child, ended by the cleanup if the bench is interrupted. */
let running: ChildProcess | undefined;

/** Runs this script as a child (for a clean peak RSS); resolves with its stdout. */
function child(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [__filename, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running = c;
    let out = '', err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('error', reject);
    c.on('close', (code) => {
      running = undefined;
      if (code === 0) resolve(out);
      else reject(new Error(`child training run failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

async function main(tmp: string): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child-train') {
    // Child: train on the given dataset into the given folder and report peak RSS
    // (resourceUsage().maxRSS is in KiB). The parent removes the folder.
    const r = await train(args[1], args[2], { modelsDir: MODELS, cacheDir: false });
    process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, images: r.metadata.dataset.counts.train + r.metadata.dataset.counts.val + r.metadata.dataset.counts.test }) + '\n');
    return;
  }
  console.log(`EdgeTune benchmark: ${os.cpus().length} cores (${cpuName()}), ${os.arch()}, node ${process.version}, ` +
    `${defaultThreads()} interpreter thread(s), sharp ${sharp.concurrency()} thread(s) per image`);
  console.log(`${'measure'.padEnd(52)} ${'value'.padEnd(30)} ${'target'.padEnd(12)}`);
  if (args.includes('--serve')) {
    await benchServe(tmp, SHARED, MODELS, row);
    return;
  }
  if (args.includes('--arch')) {
    await benchArch(tmp, SHARED, MODELS, args.filter((a) => ARCH_DATASETS.some(([d]) => d === a)));
    return;
  }
  if (args.includes('--cnn') || args.includes('--cnn-all')) {
    await benchCnn(tmp, SHARED, row, args.includes('--cnn-all'));
    return;
  }
  const ds = scanDataset(OBJECTS);
  const samples = ds.samples.filter((_, i) => i % 8 === 0);
  if (args.includes('--embed-variants')) {
    const variants: EmbedVariant[] = [];
    for (const sharpThreads of [1, os.availableParallelism()]) for (const lookahead of [1, 2, 4]) variants.push({ lookahead, sharpThreads });
    await embeddingThroughput(samples, variants, 3);
    return;
  }
  await perBase();
  if (args.includes('--bases')) return;
  await threadScaling();
  await embeddingThroughput(samples, [{ lookahead: EMBED_LOOKAHEAD, sharpThreads: sharp.concurrency() }], 3);
  if (args.includes('--embed')) return;

  const t0 = performance.now();
  // No embedding cache: the time of a first run on a new dataset.
  const r = await train(OBJECTS, path.join(tmp, 'objects'), { modelsDir: MODELS, cacheDir: false });
  const s = (performance.now() - t0) / 1000;
  const sec = r.metadata.training.seconds;
  row(`train + export: objects-small (${r.metadata.dataset.counts.train + r.metadata.dataset.counts.val + r.metadata.dataset.counts.test} photos, defaults)`, `${s.toFixed(1)} s`, '< 300 s', s < 300);
  row('  of which embedding / head / export+verify', `${sec.embed} / ${sec.train} / ${sec.export} s`, '', undefined);
  const est = r.metadata.metrics.estimate;
  row('  test-split estimate (exported model) / validation', `${((est?.accuracy ?? 0) * 100).toFixed(1)}% / ${(r.metadata.metrics.val_accuracy * 100).toFixed(1)}%`, '≥ 80%', (est?.accuracy ?? 0) >= 0.8);
  row('  export check: top-1 agreement with the head', `${(r.metadata.metrics.export.agreement * 100).toFixed(1)}% of ${r.metadata.metrics.export.n}`, '≥ 98%', r.metadata.metrics.export.agreement >= 0.98);

  await exportLatency(path.join(tmp, 'objects', 'model.tflite'), 'mobilenet_v1_1.0_224');

  const big = thousandImages(path.join(tmp, 'thousand'));
  const { maxRssKiB, images } = JSON.parse((await child(['--child-train', big, path.join(tmp, 'thousand-model')])).trim().split('\n').pop()!);
  const mb = maxRssKiB / 1024;
  row(`peak RSS: train + export on ${images} images`, `${mb.toFixed(0)} MB`, '≤ 400 MB', mb <= 400);

  await benchServe(tmp, SHARED, MODELS, row);
  await benchArch(tmp, SHARED, MODELS);
}

// The child writes only where the parent tells it; the parent owns one temporary folder for the
// run and removes it however the run ends (a model folder is ~8 MB; an SD card fills up fast).
const TMP = process.argv[2] === '--child-train' ? '' : fs.mkdtempSync(path.join(os.tmpdir(), 'edgetune-bench-'));
const cleanup = () => {
  running?.kill('SIGKILL');
  if (TMP !== '') fs.rmSync(TMP, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { cleanup(); process.exit(sig === 'SIGINT' ? 130 : 143); });
}
main(TMP).catch((e) => {
  const cause = (e as Error).cause as Error | undefined;
  console.error(`bench: ${(e as Error).message}${cause ? ` (${cause.message})` : ""}`);
  if (process.env.EDGETUNE_DEBUG) console.error((e as Error).stack);
  process.exitCode = 1;
}).finally(cleanup);
