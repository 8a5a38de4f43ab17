import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { startServer, type RunningServer } from '../../src/server';
import { predict } from '../../src/pipeline/predict';
import { MODELS_DIR, ROOT, shared, tmpDir } from '../helpers';
import { readEvents } from '../sse';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
/** The small base keeps each training to seconds. */
const FAST = { base: 'mobilenet_v1_0.25_128', epochs: 15, heads: 1, 'aug-views': 1 };
const CLASSES = ['0', '5'];

function photos(label: string, from: number, n: number): string[] {
  const dir = shared('datasets', 'gestures', label);
  return fs.readdirSync(dir).sort().slice(from, from + n).map((f) => path.join(dir, f));
}

function form(files: string[]): FormData {
  const f = new FormData();
  for (const p of files) f.append('image', new Blob([fs.readFileSync(p)], { type: 'image/jpeg' }), path.basename(p));
  return f;
}

describe('serve with real models: predict, train in the background, hot swap, versions', function () {
  this.timeout(10 * 60 * 1000);
  let s: RunningServer;
  const api = (p: string, init?: RequestInit) => fetch(s.url + p, init);
  const post = (p: string, body: unknown) => api(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    s = await startServer({ port: 0, camera: 'browser', data: path.join(tmpDir(), 'data'), modelsDir: MODELS_DIR, cores: 2, log: () => undefined });
  });
  after(() => s?.close());

  it('serves the stock ImageNet classifier before any training, with the library\'s exact answer', async () => {
    const h = await (await api('/api/health')).json() as any;
    assert.equal(h.modelId, 'stock');
    assert.equal(h.labels, 1001);
    const img = shared('images', 'grace_hopper.bmp');
    const r = await api('/api/predict?top=3', { method: 'POST', body: form([img]) });
    assert.equal(r.status, 200);
    const body = await r.json() as any;
    const [lib] = await predict([img], { modelsDir: MODELS_DIR, top: 3, threads: 1 });
    assert.deepEqual(body.predictions, lib.predictions);
    assert.equal(body.modelId, 'stock');
    assert.ok(body.ms > 0);
  });

  it('trains in a worker (structured events, 409 for a second run, health answers fast), then swaps the model in', async () => {
    for (const c of CLASSES) {
      assert.equal((await post('/api/classes', { label: c })).status, 201);
      assert.equal((await api(`/api/classes/${c}/samples`, { method: 'POST', body: form(photos(c, 0, 12)) })).status, 201);
    }
    const events = readEvents(`${s.url}/api/train/events`, (t) => t === 'done' || t === 'failed', 5 * 60 * 1000);
    const r = await post('/api/train', FAST);
    assert.equal(r.status, 202);
    const { jobId, modelId } = await r.json() as any;
    assert.equal(modelId, 'v1');
    const again = await post('/api/train', FAST);
    assert.equal(again.status, 409);
    assert.equal((await again.json() as any).jobId, jobId);

    // The event loop stays free while the worker embeds and trains.
    const times: number[] = [];
    while ((await (await api('/api/train')).json() as any).job.state === 'running') {
      const t0 = performance.now();
      const h = await api('/api/health');
      times.push(performance.now() - t0);
      assert.equal((await h.json() as any).training, jobId);
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(times.length >= 3, `only ${times.length} health checks during training`);
    assert.ok(Math.max(...times) < 200, `health took ${Math.max(...times).toFixed(0)} ms during training`);

    const seen = await events;
    const done = seen.at(-1)!;
    assert.equal(done.type, 'done', JSON.stringify(done.data));
    assert.equal(done.data.modelId, 'v1');
    const epochs = seen.filter((e) => e.type === 'progress' && e.data.phase === 'train');
    assert.ok(epochs.length >= 1);
    for (const k of ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'done', 'total']) assert.equal(typeof epochs[0].data[k], 'number', k);
    assert.ok(seen.some((e) => e.type === 'progress' && e.data.phase === 'embed'));
    assert.ok(seen.every((e) => e.data.jobId === jobId));

    const h = await (await api('/api/health')).json() as any;
    assert.equal(h.modelId, 'v1');
    assert.equal(h.training, null);
    const p = await (await api('/api/predict', { method: 'POST', body: form(photos('5', 0, 1)) })).json() as any;
    assert.equal(p.modelId, 'v1');
    assert.deepEqual(p.predictions.map((x: { label: string }) => x.label).sort(), CLASSES);
    assert.equal(p.predictions[0].label, '5');
  });

  it('lists versions with metrics, serves their files, activates and rolls back without a restart', async () => {
    const m = await (await api('/api/models')).json() as any;
    assert.equal(m.active, 'v1');
    assert.deepEqual(m.models.map((x: { id: string }) => x.id), ['v1', 'stock']);
    const v1 = m.models[0];
    assert.deepEqual(v1.labels, CLASSES);
    assert.equal(v1.active, true);
    assert.equal(typeof v1.metrics.validation.accuracy, 'number');
    for (const f of ['model.tflite', 'labels.txt', 'metadata.json']) assert.ok(v1.files.includes(f), f);
    const file = await api('/api/models/v1/files/model.tflite');
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), fs.readFileSync(path.join(s.paths.versions, 'v1', 'model.tflite')));
    assert.equal(await (await api('/api/models/v1/files/labels.txt')).text(), '0\n5\n');
    // No Coral here: --device auto embedded on the CPU, and metadata.json says so.
    const meta = await (await api('/api/models/v1/files/metadata.json')).json() as any;
    assert.deepEqual(meta.base.embedder, { device: 'cpu', deviceName: 'cpu', file: meta.base.file, sha256: meta.base.sha256 });
    assert.equal((await api('/api/models/v1/files/head.json')).status, 404);
    assert.equal(fs.readlinkSync(path.join(s.paths.versions, 'current')), 'v1');

    assert.deepEqual(await (await post('/api/models/stock/activate', {})).json(), { active: 'stock' });
    assert.ok(!fs.existsSync(path.join(s.paths.versions, 'current')));
    let p = await (await api('/api/predict', { method: 'POST', body: form(photos('5', 0, 1)) })).json() as any;
    assert.equal(p.modelId, 'stock');
    assert.ok(!CLASSES.includes(p.predictions[0].label));
    await post('/api/models/v1/activate', {});
    p = await (await api('/api/predict', { method: 'POST', body: form(photos('5', 0, 1)) })).json() as any;
    assert.equal(p.modelId, 'v1');
  });

  it('cancels a training: a cancelled event, no new version, the active one unchanged', async () => {
    await api('/api/classes/5/samples', { method: 'POST', body: form(photos('5', 12, 10)) });
    // Many augmented views: embedding takes seconds, time enough to cancel in the middle of it.
    const r = await post('/api/train', { ...FAST, base: 'mobilenet_v1_1.0_224', 'aug-views': 20 });
    assert.equal(r.status, 202);
    const { jobId } = await r.json() as any;
    // A new subscriber first gets the running job's events so far (not the last job's).
    await readEvents(`${s.url}/api/train/events`, (t, d) => t === 'progress' && d.done > 0 && d.jobId === jobId, 60000);
    const events = readEvents(`${s.url}/api/train/events`, (t) => t === 'cancelled' || t === 'done' || t === 'failed', 5 * 60 * 1000);
    // The dataset is not changed under a running training.
    const del = await api('/api/classes/5', { method: 'DELETE' });
    assert.equal(del.status, 409);
    assert.equal((await del.json() as any).jobId, jobId);
    const c = await api('/api/train', { method: 'DELETE' });
    assert.deepEqual(await c.json(), { jobId, state: 'cancelling' });
    const seen = await events;
    assert.equal(seen.at(-1)!.type, 'cancelled');
    assert.ok(seen.every((e) => e.data.jobId === jobId));
    assert.equal((await (await api('/api/train')).json() as any).job.state, 'cancelled');
    assert.deepEqual(fs.readdirSync(s.paths.versions).sort(), ['current', 'v1']);
    assert.equal((await (await api('/api/health')).json() as any).modelId, 'v1');
  });
});

describe('serve survives kill -9 during training', function () {
  this.timeout(10 * 60 * 1000);
  let child: ChildProcess | null = null;
  afterEach(() => { child?.kill('SIGKILL'); child = null; });

  /** Starts `edgetune serve` as a child; resolves with its URL from the start line. */
  function serve(data: string): Promise<string> {
    child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--camera', 'browser', '--data', data, '--models', MODELS_DIR], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Promise((resolve, reject) => {
      let err = '';
      child!.stderr!.on('data', (d) => {
        err += d;
        const m = /open (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]);
      });
      child!.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
  }

  it('keeps the dataset, the versions and the active model, and starts again', async () => {
    const data = path.join(tmpDir(), 'data');
    let url = await serve(data);
    const post = (p: string, body: unknown) => fetch(url + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const c of CLASSES) {
      await post('/api/classes', { label: c });
      await fetch(`${url}/api/classes/${c}/samples`, { method: 'POST', body: form(photos(c, 20, 8)) });
    }
    await post('/api/train', FAST);
    await readEvents(`${url}/api/train/events`, (t) => t === 'done' || t === 'failed', 5 * 60 * 1000);
    const before = fs.readFileSync(path.join(data, 'versions', 'v1', 'model.tflite'));
    const samples = fs.readdirSync(path.join(data, 'dataset', '5')).sort();

    // A second training, killed in the middle of its work.
    await post('/api/train', { ...FAST, base: 'mobilenet_v1_1.0_224', 'aug-views': 20 });
    await readEvents(`${url}/api/train/events`, (t, d) => t === 'progress' && d.done > 0, 5 * 60 * 1000);
    child!.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));

    url = await serve(data);
    const h = await (await fetch(`${url}/api/health`)).json() as any;
    assert.equal(h.modelId, 'v1');
    assert.deepEqual(fs.readFileSync(path.join(data, 'versions', 'v1', 'model.tflite')), before);
    assert.deepEqual(fs.readdirSync(path.join(data, 'dataset', '5')).sort(), samples);
    assert.deepEqual(fs.readdirSync(path.join(data, 'versions')).sort(), ['current', 'v1']);
    assert.deepEqual(fs.readdirSync(path.join(data, 'tmp')), []);
    const m = await (await fetch(`${url}/api/models`)).json() as any;
    assert.deepEqual(m.models.map((x: { id: string }) => x.id), ['v1', 'stock']);
  });
});

describe('serve with a camera (file: source replaying real photos)', function () {
  this.timeout(5 * 60 * 1000);
  let s: RunningServer;

  before(async () => {
    const frames = path.join(tmpDir(), 'frames');
    fs.mkdirSync(frames);
    for (const p of photos('5', 0, 3)) fs.copyFileSync(p, path.join(frames, path.basename(p)));
    s = await startServer({ port: 0, camera: `file:${frames}`, data: path.join(tmpDir(), 'data'), modelsDir: MODELS_DIR, cores: 2, reviewBelow: 1, log: () => undefined });
  });
  after(() => s?.close());

  it('streams MJPEG, classifies the latest frame live, and captures frames into a class', async () => {
    // Two whole JPEG parts of the multipart stream.
    const ac = new AbortController();
    const res = await fetch(`${s.url}/stream.mjpg`, { signal: ac.signal });
    assert.match(res.headers.get('content-type') ?? '', /^multipart\/x-mixed-replace; boundary=/);
    const reader = res.body!.getReader();
    let buf = Buffer.alloc(0);
    while ((buf.toString('latin1').match(/--edgetuneframe/g) ?? []).length < 3) buf = Buffer.concat([buf, Buffer.from((await reader.read()).value!)]);
    ac.abort();
    const part = buf.toString('latin1').split('--edgetuneframe')[1];
    const len = Number(/Content-Length: (\d+)/.exec(part)![1]);
    const body = Buffer.from(part.slice(part.indexOf('\r\n\r\n') + 4), 'latin1').subarray(0, len);
    assert.deepEqual([...body.subarray(0, 2)], [0xff, 0xd8]);
    assert.deepEqual([...body.subarray(len - 2)], [0xff, 0xd9]);

    const live = await readEvents(`${s.url}/api/live/events`, (_t, d) => d.frame > 2, 60000);
    const last = live.at(-1)!.data;
    assert.equal(last.modelId, 'stock');
    assert.equal(last.predictions.length, 5);
    assert.ok(last.latencyMs >= last.ms);

    await fetch(`${s.url}/api/classes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: 'hand' }) });
    const r = await fetch(`${s.url}/api/classes/hand/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fromCamera: true, count: 3 }) });
    assert.equal(r.status, 201);
    const added = (await r.json() as any).added;
    assert.equal(added.length, 3);
    for (const a of added) assert.match(a.file, /\.jpg$/);
    // Three captures are three different frames.
    const bytes = await Promise.all(added.map(async (a: { id: string }) => Buffer.from(await (await fetch(`${s.url}/api/samples/${a.id}/image`)).arrayBuffer()).toString('base64')));
    assert.equal(new Set(bytes).size, 3);
  });

  it('keeps frames a trained model is unsure about for review (never for the stock classifier)', async () => {
    assert.deepEqual((await (await fetch(`${s.url}/api/review`)).json() as any).items, []);
    await fetch(`${s.url}/api/classes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: 'other' }) });
    await fetch(`${s.url}/api/classes/other/samples`, { method: 'POST', body: form(photos('0', 0, 3)) });
    await fetch(`${s.url}/api/train`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(FAST) });
    await readEvents(`${s.url}/api/train/events`, (t) => t === 'done' || t === 'failed', 4 * 60 * 1000);
    // --review-below 1 here: every frame of the trained model counts as unsure (at most one per 2 s).
    let items: any[] = [];
    for (let i = 0; i < 50 && items.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 200));
      items = (await (await fetch(`${s.url}/api/review`)).json() as any).items;
    }
    assert.ok(items.length >= 1);
    assert.equal(items[0].modelId, 'v1');
    assert.deepEqual(items[0].predictions.map((p: { label: string }) => p.label).sort(), ['hand', 'other']);
  });
});
