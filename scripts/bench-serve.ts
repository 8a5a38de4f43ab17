/**
 * The `edgetune serve` part of `npm run bench` (also alone: `npm run bench -- --serve`):
 *
 *   1. live preview: frames per second classified from a 30 fps camera (a folder replayed by the
 *      file: source) vs the bare interpreter's rate on the same model and threads (target ≥ 0.80×),
 *      and frame-to-prediction latency vs one inference (target: p95 ≤ 3× — the frame waits for at
 *      most the prediction in flight, then its own);
 *   2. retrain after adding 10 photos to a 300-photo dataset vs the first training, with the
 *      embedding cache's hits and misses (only the new photos should be embedded);
 *   3. 20 train → activate cycles in one server process: its RSS before/after and the tensors each
 *      training worker left allocated (targets: RSS growth ≤ 10%, tensors 0 — flat).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { startServer } from '../src/server';
import { openCamera } from '../src/camera';
import { openModel } from '../src/runtime';
import { stockClassifier } from '../src/models';
import { readEvents } from '../test/sse';

type Row = (name: string, value: string, target: string, ok: boolean | undefined) => void;

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

/** Copies the first `perClass` photos of each class of `src` into `dst` (a new dataset). */
function subset(src: string, dst: string, perClass: number, skip = 0): number {
  let n = 0;
  for (const c of fs.readdirSync(src).sort()) {
    const dir = path.join(src, c);
    if (!fs.statSync(dir).isDirectory()) continue;
    fs.mkdirSync(path.join(dst, c), { recursive: true });
    for (const f of fs.readdirSync(dir).sort().slice(skip, skip + perClass)) {
      fs.copyFileSync(path.join(dir, f), path.join(dst, c, f));
      n++;
    }
  }
  return n;
}

/** Trains through the API and waits for the end; returns the wall time (s) and the job's end event. */
async function trainOnce(url: string, options: Record<string, unknown>): Promise<{ seconds: number; end: { type: string; data: any } }> {
  const t0 = performance.now();
  const r = await fetch(`${url}/api/train`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(options) });
  const { jobId, error } = await r.json() as any;
  if (!jobId) throw new Error(`training did not start: ${error}`);
  const end = (await readEvents(`${url}/api/train/events`, (t, d) => d.jobId === jobId && (t === 'done' || t === 'failed' || t === 'cancelled'), 60 * 60 * 1000)).at(-1)!;
  if (end.type !== 'done') throw new Error(`training ${end.type}: ${end.data.error ?? ''}`);
  return { seconds: (performance.now() - t0) / 1000, end };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs the serve benchmarks; `tmp` is the bench's temporary folder. */
export async function benchServe(tmp: string, shared: string, models: string, row: Row): Promise<void> {
  const gestures = path.join(shared, 'datasets', 'gestures');
  const objects = path.join(shared, 'datasets', 'objects-small');

  // 1. Live preview on the stock classifier, one interpreter thread (the server's share on 2 cores).
  const frames = path.join(tmp, 'frames');
  fs.mkdirSync(frames);
  for (const f of fs.readdirSync(path.join(gestures, '3')).sort().slice(0, 30)) fs.copyFileSync(path.join(gestures, '3', f), path.join(frames, f));
  const stock = openModel(stockClassifier(models).modelPath, { threads: 1 });
  const px = new Uint8Array(stock.inputBuffer.length).map((_, i) => (i * 31) & 255);
  stock.inputBuffer.set(px);
  for (let i = 0; i < 3; i++) stock.run();
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) stock.run();
  const bareMs = (performance.now() - t0) / 20;
  stock.close();

  const camera = await openCamera(`file:${frames}`, { fps: 30 });
  const s = await startServer({ port: 0, camera, data: path.join(tmp, 'serve-live'), modelsDir: models, cores: 2, log: () => undefined });
  try {
    await new Promise((r) => setTimeout(r, 3000)); // warm up: first frames, first predictions
    const lat: number[] = [];
    const ms: number[] = [];
    const ac = new AbortController();
    const res = await fetch(`${s.url}/api/live/events`, { signal: ac.signal });
    const reader = res.body!.getReader();
    const seconds = 10;
    const start = performance.now();
    let buf = '';
    let first = -1;
    let last = -1;
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const data = /^data: (.*)$/m.exec(buf.slice(0, i))?.[1];
          buf = buf.slice(i + 2);
          if (!data || performance.now() - start < 0) continue;
          const r = JSON.parse(data);
          if (first < 0) first = r.frame;
          last = r.frame;
          lat.push(r.latencyMs);
          ms.push(r.ms);
        }
      }
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    ac.abort();
    await read;
    const fps = lat.length / seconds;
    const ideal = 1000 / bareMs;
    lat.sort((a, b) => a - b);
    const p95 = lat[Math.floor(lat.length * 0.95)] ?? NaN;
    const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
    const cam = camera.status();
    row('serve: live preview, predictions per second', `${fps.toFixed(1)} /s vs bare ${ideal.toFixed(1)} /s = ${(fps / ideal).toFixed(2)}×`, '≥ 0.80×', fps / ideal >= 0.8);
    row(`  camera ${cam.fps.toFixed(0)} fps (file:, 30 requested), frames skipped (latest only)`, `${Math.max(0, last - first + 1 - lat.length)} of ${last - first + 1}`, '', undefined);
    row('  frame → prediction latency, mean / p95', `${mean.toFixed(0)} / ${p95.toFixed(0)} ms (1 inference ${bareMs.toFixed(0)} ms)`, 'p95 ≤ 3×', p95 <= 3 * bareMs);
  } finally {
    await s.close();
  }

  // 2. Retrain after adding 10 photos to a 300-photo dataset (defaults), in one server.
  const data = path.join(tmp, 'serve-retrain');
  const n = subset(objects, path.join(data, 'dataset'), 50);
  const r = await startServer({ port: 0, camera: 'none', data, modelsDir: models, cores: 2, log: () => undefined });
  try {
    const first = await trainOnce(r.url, {});
    const meta1 = JSON.parse(fs.readFileSync(path.join(data, 'versions', first.end.data.modelId, 'metadata.json'), 'utf8'));
    // 10 new photos: 2 for each of 5 classes.
    const add = path.join(tmp, 'add10');
    subset(objects, add, 2, 50);
    let added = 0;
    for (const c of fs.readdirSync(add).sort()) {
      for (const f of fs.readdirSync(path.join(add, c))) {
        if (added === 10) break;
        const form = new FormData();
        form.append('image', new Blob([fs.readFileSync(path.join(add, c, f))], { type: 'image/jpeg' }), f);
        const up = await fetch(`${r.url}/api/classes/${c}/samples`, { method: 'POST', body: form });
        if (up.status !== 201) throw new Error(`upload failed: ${await up.text()}`);
        added++;
      }
    }
    const second = await trainOnce(r.url, {});
    const meta2 = JSON.parse(fs.readFileSync(path.join(data, 'versions', second.end.data.modelId, 'metadata.json'), 'utf8'));
    const c1 = meta1.training.cache;
    const c2 = meta2.training.cache;
    row(`serve: first training, ${n} photos (defaults)`, `${first.seconds.toFixed(1)} s (embed ${meta1.training.seconds.embed} s)`, '', undefined);
    row(`  retrain after adding ${added} photos`, `${second.seconds.toFixed(1)} s (embed ${meta2.training.seconds.embed} s) = ${(second.seconds / first.seconds).toFixed(2)}×`, '< 1×', second.seconds < first.seconds);
    row('  embeddings computed (cache misses) first / retrain', `${c1.misses} / ${c2.misses} (hits ${c2.hits})`, '', undefined);
  } finally {
    await r.close();
  }

  // 3. 20 train → activate cycles in one server process (a child, so its RSS is its own).
  const cyc = path.join(tmp, 'serve-cycles');
  subset(gestures, path.join(cyc, 'dataset'), 8);
  for (const c of fs.readdirSync(path.join(cyc, 'dataset'))) if (!['0', '1'].includes(c)) fs.rmSync(path.join(cyc, 'dataset', c), { recursive: true });
  // MALLOC_ARENA_MAX=2: when inference and training ran in worker threads, each thread's glibc
  // malloc arena kept the server's RSS creeping up (40 cycles: 247 → 262 MB without, 202 → 212 MB
  // with). They now run in child processes, which take their memory with them; the setting stays so
  // the figure does not depend on the allocator's mood.
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--camera', 'none', '--data', cyc, '--models', models], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d) => {
        err += d;
        const m = /open (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
    });
    const fast = { base: 'mobilenet_v1_0.25_128', epochs: 5, heads: 1, 'aug-views': 1 };
    for (let i = 0; i < 3; i++) await trainOnce(url, fast); // warm-up: caches, workers, allocator arenas
    const memory = async () => (await (await fetch(`${url}/api/health`)).json() as any).memory as { rssMb: number; heapMb: number };
    const before = rssMb(child.pid!);
    const heapBefore = (await memory()).heapMb;
    const tensors: number[] = [];
    for (let i = 0; i < 20; i++) {
      await trainOnce(url, fast);
      tensors.push((await (await fetch(`${url}/api/train`)).json() as any).job.tensors);
    }
    await new Promise((res) => setTimeout(res, 1000));
    const after = rssMb(child.pid!);
    const heapAfter = (await memory()).heapMb;
    const models = (await (await fetch(`${url}/api/models`)).json() as any).models.length;
    row('serve: 20 train → activate cycles, server RSS before / after', `${before.toFixed(0)} / ${after.toFixed(0)} MB (${models - 1} versions)`, '≤ +10%', after <= before * 1.1);
    row('  JavaScript heap in use before / after', `${heapBefore} / ${heapAfter} MB`, '', undefined);
    row('  tensors left by each training worker', `max ${Math.max(...tensors)}`, '0', Math.max(...tensors) === 0);
  } finally {
    child.kill('SIGTERM');
  }
}
