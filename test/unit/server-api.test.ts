import { strict as assert } from 'node:assert';
import { OPTION_SPECS } from '../../src/options';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { spawnSync } from 'node:child_process';
import { startServer, type RunningServer } from '../../src/server';
import { addReview } from '../../src/server/review';
import { sampleId } from '../../src/server/store';
import { tmpDir } from '../helpers';

/** A real JPEG of one colour, w×h pixels. */
async function jpeg(r: number, g: number, b: number, w = 64, h = 48): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } }).jpeg().toBuffer();
}

function form(files: { name: string; bytes: Uint8Array; type?: string }[], field = 'image'): FormData {
  const f = new FormData();
  for (const x of files) f.append(field, new Blob([x.bytes], { type: x.type ?? 'image/jpeg' }), x.name);
  return f;
}

/**
 * The API against a real server on loopback, without bases (the unit tier has no ../shared): every
 * route that does not need a model, and bad input. Prediction, training and hot swap with real
 * models are in test/data/server.test.ts.
 */
describe('serve API (no bases installed)', function () {
  this.timeout(30000);
  let s: RunningServer;
  let base: string;
  let data: string;
  const logs: string[] = [];
  const api = (p: string, init?: RequestInit) => fetch(base + p, init);
  const post = (p: string, body: unknown) => api(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    data = path.join(tmpDir(), 'data');
    s = await startServer({ port: 0, camera: 'browser', data, modelsDir: tmpDir(), log: (l) => logs.push(l), maxUploadBytes: 200_000, maxUploadPixels: 4_000_000 });
    base = s.url;
  });
  after(() => s?.close());

  it('starts without bases and says why predictions are unavailable', async () => {
    const h = await (await api('/api/health')).json() as any;
    assert.equal(h.modelId, null);
    assert.equal(h.camera.kind, 'browser');
    assert.equal(h.training, null);
    assert.ok(logs.some((l) => /cannot open model stock/.test(l)), logs.join('\n'));
    const r = await api('/api/predict', { method: 'POST', body: form([{ name: 'a.jpg', bytes: await jpeg(200, 0, 0) }]) });
    assert.equal(r.status, 503);
    const body = await r.json() as any;
    assert.equal(body.code, 'UNAVAILABLE');
    assert.match(body.error, /edgetune models fetch/);
  });

  it('creates, lists, renames and deletes classes (deleted ones go to the trash)', async () => {
    let r = await post('/api/classes', { label: 'red' });
    assert.equal(r.status, 201);
    assert.deepEqual(await r.json(), { label: 'red', count: 0, thumbnail: null });
    assert.equal((await post('/api/classes', { label: 'red' })).status, 409);
    assert.equal((await post('/api/classes', { label: 'blue' })).status, 201);
    r = await api('/api/classes/blue', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: 'navy' }) });
    assert.equal(r.status, 200);
    const list = await (await api('/api/classes')).json() as any;
    assert.deepEqual(list.classes.map((c: { label: string }) => c.label), ['navy', 'red']);
    r = await api('/api/classes/navy', { method: 'DELETE' });
    assert.deepEqual(await r.json(), { label: 'navy', deleted: 0 });
    assert.ok(!fs.existsSync(path.join(data, 'dataset', 'navy')));
    assert.equal(fs.readdirSync(path.join(data, 'trash')).filter((n) => n.endsWith('-navy')).length, 1);
  });

  it('refuses bad labels with one line and 400, unknown classes with 404', async () => {
    for (const label of ['', '../x', '.hidden', 'a/b', ' padded', 'x'.repeat(65)]) {
      const r = await post('/api/classes', { label });
      assert.equal(r.status, 400, label);
      const b = await r.json() as any;
      assert.equal(b.code, 'BAD_LABEL');
      assert.doesNotMatch(b.error, /\n/);
    }
    assert.equal((await post('/api/classes', { nolabel: 1 })).status, 400);
    assert.equal((await api('/api/classes/nosuch/samples')).status, 404);
    assert.equal((await api('/api/classes/..%2Fx/samples')).status, 400);
    assert.equal((await api('/api/classes/nosuch', { method: 'DELETE' })).status, 404);
    const bad = await api('/api/classes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"label": ' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json() as any).code, 'BAD_OPTION');
  });

  it('stores uploads atomically under new names, lists them, serves thumbnails and deletes to the trash', async () => {
    await post('/api/classes', { label: 'green' });
    const r = await api('/api/classes/green/samples', { method: 'POST', body: form([{ name: 'a.jpg', bytes: await jpeg(0, 200, 0) }, { name: 'b.png', bytes: await sharp(await jpeg(0, 180, 0)).png().toBuffer() }]) });
    assert.equal(r.status, 201);
    const body = await r.json() as any;
    assert.equal(body.count, 2);
    assert.equal(body.added.length, 2);
    assert.match(body.added[0].file, /^\d+-[0-9a-f]{8}\.jpg$/);
    assert.match(body.added[1].file, /\.png$/);
    assert.deepEqual(fs.readdirSync(path.join(data, 'tmp')), []);
    const samples = (await (await api('/api/classes/green/samples')).json() as any).samples;
    assert.deepEqual(samples.map((x: { id: string }) => x.id).sort(), body.added.map((x: { id: string }) => x.id).sort());
    const th = await api(samples[0].thumbnail);
    assert.equal(th.headers.get('content-type'), 'image/jpeg');
    const meta = await sharp(Buffer.from(await th.arrayBuffer())).metadata();
    assert.deepEqual([meta.width, meta.height], [96, 96]);
    const orig = await api(`/api/samples/${samples[0].id}/image`);
    assert.equal(orig.status, 200);
    const del = await api(`/api/samples/${samples[0].id}`, { method: 'DELETE' });
    assert.deepEqual(await del.json(), { id: samples[0].id, deleted: true });
    assert.equal((await (await api('/api/classes')).json() as any).classes.find((c: { label: string }) => c.label === 'green').count, 1);
    assert.equal((await api(`/api/samples/${samples[0].id}`, { method: 'DELETE' })).status, 404);
  });

  it('never resolves a sample id outside its class folder', async () => {
    fs.writeFileSync(path.join(data, 'secret.txt'), 'x');
    for (const id of [sampleId('green', '../../secret.txt'), sampleId('green', '../red'), sampleId('..', 'x'), 'not base64!', sampleId('green', '')]) {
      const r = await api(`/api/samples/${encodeURIComponent(id)}/image`);
      assert.equal(r.status, 404, id);
      assert.equal((await r.json() as any).code, 'NOT_FOUND');
    }
  });

  it('refuses non-images, oversized files and decompression bombs, storing nothing', async () => {
    const before = fs.readdirSync(path.join(data, 'dataset', 'red')).length;
    let r = await api('/api/classes/red/samples', { method: 'POST', body: form([{ name: 'notes.txt', bytes: Buffer.from('hello'), type: 'text/plain' }]) });
    assert.equal(r.status, 415);
    assert.match((await r.json() as any).error, /notes\.txt: not an image/);
    // One good and one bad file: neither is stored.
    r = await api('/api/classes/red/samples', { method: 'POST', body: form([{ name: 'ok.jpg', bytes: await jpeg(200, 0, 0) }, { name: 'bad.jpg', bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]) }]) });
    assert.equal(r.status, 415);
    const big = Buffer.alloc(300_000, 1);
    r = await api('/api/classes/red/samples', { method: 'POST', body: form([{ name: 'big.jpg', bytes: big }]) });
    assert.equal(r.status, 413);
    assert.equal((await r.json() as any).code, 'TOO_LARGE');
    // 3000×3000 of one colour: a few KB as PNG, 9 megapixels decoded (limit here: 4).
    const bomb = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#000' } }).png().toBuffer();
    assert.ok(bomb.length < 200_000);
    r = await api('/api/classes/red/samples', { method: 'POST', body: form([{ name: 'bomb.png', bytes: bomb }]) });
    assert.equal(r.status, 413);
    assert.match((await r.json() as any).error, /3000×3000 pixels/);
    r = await api('/api/classes/red/samples', { method: 'POST' });
    assert.equal(r.status, 415);
    assert.equal(fs.readdirSync(path.join(data, 'dataset', 'red')).length, before);
  });

  it('captures from the browser camera: a pushed frame becomes a sample', async () => {
    const capture = post('/api/classes/red/samples', { fromCamera: true, count: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const frame = await jpeg(250, 10, 10);
    const fr = await api('/api/camera/frame', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: frame });
    assert.equal(fr.status, 503); // the frame is taken, but there is no model to classify it
    const r = await capture;
    assert.equal(r.status, 201);
    const body = await r.json() as any;
    const img = await api(`/api/samples/${body.added[0].id}/image`);
    assert.deepEqual(Buffer.from(await img.arrayBuffer()), frame);
    assert.equal((await post('/api/classes/red/samples', { fromCamera: true, count: 51 })).status, 400);
  });

  it('refuses training a dataset with one usable class, and cancelling when nothing runs', async () => {
    for (const c of ['green', 'red']) await api(`/api/classes/${c}`, { method: 'DELETE' });
    await post('/api/classes', { label: 'only' });
    await api('/api/classes/only/samples', { method: 'POST', body: form([{ name: 'a.jpg', bytes: await jpeg(1, 2, 3) }]) });
    let r = await post('/api/train', {});
    assert.equal(r.status, 422);
    assert.equal((await r.json() as any).code, 'BAD_DATASET');
    r = await post('/api/train', { epochs: 0 });
    assert.equal(r.status, 400);
    assert.match((await r.json() as any).error, /--epochs must be an integer/);
    r = await post('/api/train', { nosuch: 1 });
    assert.match((await r.json() as any).error, /unknown training option 'nosuch'/);
    assert.equal((await api('/api/train', { method: 'DELETE' })).status, 404);
    assert.deepEqual(await (await api('/api/train')).json(), { job: null });
  });

  it('lists the training options with the CLI defaults', async () => {
    const o = (await (await api('/api/options')).json() as any).options;
    const epochs = o.find((x: { flag: string }) => x.flag === 'epochs');
    assert.equal(epochs.default, '150');
    assert.deepEqual(o.map((x: { flag: string }) => x.flag), OPTION_SPECS.map((s) => s.flag));
    assert.equal(o.find((x: { flag: string }) => x.flag === 'input').default, '32x20 for --preset digits, else 64x64');
  });

  it('knows no versions but the stock one, and refuses unknown ones and their files', async () => {
    const m = await (await api('/api/models')).json() as any;
    assert.deepEqual(m.models.map((x: { id: string }) => x.id), ['stock']);
    assert.equal((await api('/api/models/v9/activate', { method: 'POST' })).status, 404);
    assert.equal((await api('/api/models/..%2F..%2Fdataset/activate', { method: 'POST' })).status, 404);
    assert.equal((await api('/api/models/v1/files/model.tflite')).status, 404);
    assert.equal((await api('/api/nosuch')).status, 404);
  });

  it('keeps review items, labels one into a class and discards another', async () => {
    const a = addReview(s.paths, await jpeg(9, 9, 9), { predictions: [{ label: 'only', score: 0.3 }], modelId: 'v1', time: Date.now() });
    const b = addReview(s.paths, await jpeg(8, 8, 8), { predictions: [{ label: 'only', score: 0.2 }], modelId: 'v1', time: Date.now() + 1 });
    const list = await (await api('/api/review')).json() as any;
    assert.equal(list.threshold, 0.5);
    assert.deepEqual(list.items.map((i: { id: string }) => i.id), [b.id, a.id]);
    assert.equal((await api(list.items[0].image)).status, 200);
    const r = await post(`/api/review/${a.id}`, { label: 'only' });
    assert.equal(r.status, 200);
    assert.equal((await (await api('/api/classes/only/samples')).json() as any).samples.length, 2);
    assert.equal((await api(`/api/review/${b.id}`, { method: 'DELETE' })).status, 200);
    assert.deepEqual((await (await api('/api/review')).json() as any).items, []);
    assert.equal((await post('/api/review/r0000000', { label: 'only' })).status, 404);
    assert.equal((await post('/api/review/..%2Fx', { label: 'only' })).status, 404);
  });

  it('bounds uploads per request and answers malformed ones with 400, naming the limit', async () => {
    await post('/api/classes', { label: 'many' });
    const tiny = await jpeg(1, 1, 1, 16, 16);
    let r = await api('/api/classes/many/samples', { method: 'POST', body: form(Array.from({ length: 21 }, (_, i) => ({ name: `${i}.jpg`, bytes: tiny }))) });
    assert.equal(r.status, 413);
    assert.equal((await r.json() as any).error, 'at most 20 photos per request: send them in smaller batches');
    r = await api('/api/classes/many/samples', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=xx' }, body: 'garbage' });
    assert.equal(r.status, 400);
    assert.match((await r.json() as any).error, /^the upload is not valid multipart\/form-data/);
    r = await api('/api/predict', { method: 'POST', body: form([{ name: 'a.jpg', bytes: tiny }, { name: 'b.jpg', bytes: tiny }]) });
    assert.equal(r.status, 400);
    assert.match((await r.json() as any).error, /^unexpected file field 'image': send photos in the field "image" \(this route takes one\)/);
    r = await api('/api/classes/%E0%A4%A/samples');
    assert.equal(r.status, 400);
    assert.match((await r.json() as any).error, /invalid percent-encoding/);
    assert.equal((await post('/api/classes', { label: '\ud800' })).status, 400);
  });

  it('says what a class needs before training, checks the base, and takes the browser frame it was just sent', async () => {
    // 'many' has no photos yet: named, with what to do.
    let r = await post('/api/train', {});
    assert.equal(r.status, 422);
    assert.match((await r.json() as any).error, /'many' \(0 photos\) needs at least 2 photos: capture or upload more/);
    await api('/api/classes/many', { method: 'DELETE' });
    for (const label of ['x1', 'x2']) {
      await post('/api/classes', { label });
      await api(`/api/classes/${label}/samples`, { method: 'POST', body: form([{ name: 'a.jpg', bytes: await jpeg(label === 'x1' ? 200 : 0, 9, 9) }, { name: 'b.jpg', bytes: await jpeg(label === 'x1' ? 190 : 10, 9, 9) }]) });
    }
    await api('/api/classes/only', { method: 'DELETE' });
    r = await post('/api/train', { base: 'nope' });
    assert.equal(r.status, 400);
    assert.match((await r.json() as any).error, /^unknown base nope; known: mobilenet_v1_1\.0_224/);
    // A frame posted, then captured: the capture takes that frame, not the next one.
    const frame = await jpeg(5, 250, 5);
    await api('/api/camera/frame', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: frame });
    r = await post('/api/classes/x1/samples', { fromCamera: true, count: 1 });
    assert.equal(r.status, 201);
    const id = (await r.json() as any).added[0].id;
    assert.deepEqual(Buffer.from(await (await api(`/api/samples/${id}/image`)).arrayBuffer()), frame);
  });

  it('answers JSON (not an image type) for a missing review image, and explains the stock model has no files', async () => {
    const r = await api('/api/review/r0000000/image');
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const st = await api('/api/models/stock/files/labels.txt');
    assert.equal(st.status, 404);
    assert.match((await st.json() as any).error, /^the stock classifier is not a trained version/);
  });

  it('sends security headers and serves uPlot from node_modules', async () => {
    const r = await api('/api/health');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.doesNotMatch(r.headers.get('content-security-policy') ?? '', /upgrade-insecure-requests/);
    assert.equal(r.headers.get('x-powered-by'), null);
    const u = await api('/vendor/uplot/uPlot.iife.min.js');
    assert.equal(u.status, 200);
  });
});

describe('serve access token', function () {
  this.timeout(30000);
  let s: RunningServer;
  const token = 'correct horse battery';

  before(async () => {
    s = await startServer({ port: 0, camera: 'none', data: path.join(tmpDir(), 'd'), modelsDir: tmpDir(), token, log: () => undefined });
  });
  after(() => s?.close());

  it('needs the token on every API route and the stream, by header or by the login cookie', async () => {
    for (const p of ['/api/health', '/api/classes', '/api/models', '/stream.mjpg', '/frame.jpg', '/api/train/events']) {
      const r = await fetch(s.url + p);
      assert.equal(r.status, 401, p);
      assert.equal((await r.json() as any).code, 'UNAUTHORIZED');
    }
    const wrong = await fetch(`${s.url}/api/health`, { headers: { authorization: 'Bearer nope-nope-nope' } });
    assert.equal(wrong.status, 401);
    assert.match((await wrong.json() as any).error, /wrong access token/);
    assert.equal((await fetch(`${s.url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    // The scheme name is case-insensitive.
    assert.equal((await fetch(`${s.url}/api/health`, { headers: { authorization: `bearer ${token}` } })).status, 200);
    // No camera: the stream and captures say so (503), with a token that is right.
    const auth = { authorization: `Bearer ${token}` };
    const st = await fetch(`${s.url}/stream.mjpg`, { headers: auth });
    assert.equal(st.status, 503);
    assert.match((await st.json() as any).error, /^there is no camera to stream \(serve --camera none\)/);

    const bad = await fetch(`${s.url}/login`, { method: 'POST', body: new URLSearchParams({ token: 'guess' }), redirect: 'manual' });
    assert.equal(bad.status, 303);
    assert.equal(bad.headers.get('set-cookie'), null);
    const login = await fetch(`${s.url}/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
    assert.equal(login.status, 303);
    const cookie = login.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const r = await fetch(`${s.url}/api/health`, { headers: { cookie: cookie.split(';')[0] } });
    assert.equal(r.status, 200);
  });

  it('refuses to bind a non-loopback address without a token, and short tokens', async () => {
    const saved = process.env.EDGETUNE_TOKEN;
    delete process.env.EDGETUNE_TOKEN;
    try {
      await assert.rejects(startServer({ host: '0.0.0.0', port: 0, camera: 'none', data: path.join(tmpDir(), 'd'), modelsDir: tmpDir(), log: () => undefined }),
        /refusing to listen on 0\.0\.0\.0 without an access token: pass --token/);
      await assert.rejects(startServer({ port: 0, camera: 'none', data: path.join(tmpDir(), 'd'), modelsDir: tmpDir(), token: 'short', log: () => undefined }),
        /too short/);
    } finally {
      if (saved !== undefined) process.env.EDGETUNE_TOKEN = saved;
    }
  });
});

describe('edgetune serve (command line)', function () {
  this.timeout(30000);
  const CLI = path.join(__dirname, '..', '..', 'src', 'cli', 'index.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--data', path.join(tmpDir(), 'd'), ...args], { encoding: 'utf8', env: { ...process.env, EDGETUNE_TOKEN: '' } });

  it('refuses bad starts with one line and exit code 1', () => {
    for (const [args, msg] of [
      [['--host', '0.0.0.0'], /^edgetune: refusing to listen on 0\.0\.0\.0 without an access token: pass --token T/],
      [['--camera', 'v4l2:/dev/video97'], /^edgetune: .*\/dev\/video97/],
      [['--camera', 'nonsense'], /^edgetune: .*auto, none, browser/],
      [['--review-below', '2'], /^edgetune: .*--review-below must be a score from 0 to 1/],
    ] as const) {
      const r = run(...args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
