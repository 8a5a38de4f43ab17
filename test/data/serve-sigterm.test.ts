/**
 * `systemctl stop edgetune` sends SIGTERM to `edgetune serve`. During a training that must end the
 * process cleanly and soon (exit code 0, well inside the unit's TimeoutStopSec), cancel the run
 * without leaving a partial model version, and keep the dataset and the active model as they were.
 * The server is started the way the service starts it: `serve --config FILE`.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { MODELS_DIR, ROOT, shared, tmpDir } from '../helpers';
import { readEvents } from '../sse';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
const FAST = { base: 'mobilenet_v1_0.25_128', epochs: 15, heads: 1, 'aug-views': 1 };
const CLASSES = ['0', '5'];

function form(label: string, n: number): FormData {
  const dir = shared('datasets', 'gestures', label);
  const f = new FormData();
  for (const name of fs.readdirSync(dir).sort().slice(0, n)) {
    f.append('image', new Blob([fs.readFileSync(path.join(dir, name))], { type: 'image/jpeg' }), name);
  }
  return f;
}

/** Every file under a folder (relative paths, sorted) with its size: what "intact" is compared on. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort()
    .map((f) => { const st = fs.lstatSync(path.join(dir, f)); return `${f} ${st.isFile() ? st.size : st.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(dir, f))}` : 'dir'}`; });
}

describe('serve stops cleanly on SIGTERM during a training', function () {
  this.timeout(10 * 60 * 1000);
  let child: ChildProcess | null = null;
  let stderr = '';
  afterEach(() => { child?.kill('SIGKILL'); child = null; });

  function serve(config: string): Promise<string> {
    stderr = '';
    child = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EDGETUNE_TOKEN: '' } });
    return new Promise((resolve, reject) => {
      child!.stderr!.on('data', (d) => {
        stderr += d;
        const m = /open (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
  }

  it('exits 0 within seconds, leaves no partial version, keeps the dataset and the active model, and starts again', async () => {
    const dir = tmpDir();
    const data = path.join(dir, 'data');
    const config = path.join(dir, 'edgetune.conf');
    fs.writeFileSync(config, `# as the service has it\nport=0\ncamera=browser\ndata=${data}\nmodels=${MODELS_DIR}\n`);
    let url = await serve(config);
    const post = (p: string, body: unknown) => fetch(url + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const c of CLASSES) {
      assert.equal((await post('/api/classes', { label: c })).status, 201);
      assert.equal((await fetch(`${url}/api/classes/${c}/samples`, { method: 'POST', body: form(c, 8) })).status, 201);
    }
    assert.equal((await post('/api/train', FAST)).status, 202);
    const first = await readEvents(`${url}/api/train/events`, (t) => t === 'done' || t === 'failed', 5 * 60 * 1000);
    assert.equal(first.at(-1)!.type, 'done', JSON.stringify(first.at(-1)));
    const dataset = tree(path.join(data, 'dataset'));
    const v1 = fs.readFileSync(path.join(data, 'versions', 'v1', 'model.tflite'));

    // A second training with 100 augmented views per photo: seconds of embedding, stopped midway.
    const r = await post('/api/train', { ...FAST, 'aug-views': 100 });
    assert.equal(r.status, 202);
    assert.equal((await r.json() as { modelId: string }).modelId, 'v2');
    await readEvents(`${url}/api/train/events`, (t, d) => t === 'progress' && d.done > 0, 5 * 60 * 1000);
    const t0 = Date.now();
    child!.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child!.once('exit', (c, s) => resolve([c, s])));
    const seconds = (Date.now() - t0) / 1000;
    child = null;
    assert.deepEqual([code, signal], [0, null], stderr);
    assert.ok(seconds < 10, `took ${seconds} s to stop`);
    assert.match(stderr, /training t\w+: cancelled\n/);
    assert.match(stderr, /edgetune serve: stopped\n$/);

    assert.deepEqual(fs.readdirSync(path.join(data, 'versions')).sort(), ['current', 'v1']);
    assert.equal(fs.readlinkSync(path.join(data, 'versions', 'current')), 'v1');
    assert.deepEqual(fs.readFileSync(path.join(data, 'versions', 'v1', 'model.tflite')), v1);
    assert.deepEqual(tree(path.join(data, 'dataset')), dataset);
    assert.deepEqual(fs.readdirSync(path.join(data, 'tmp')), []);

    url = await serve(config);
    assert.doesNotMatch(stderr, /left by an interrupted run/);
    const h = await (await fetch(`${url}/api/health`)).json() as { modelId: string; training: string | null };
    assert.equal(h.modelId, 'v1');
    assert.equal(h.training, null);
    const m = await (await fetch(`${url}/api/models`)).json() as { active: string; models: { id: string }[] };
    assert.equal(m.active, 'v1');
    assert.deepEqual(m.models.map((x) => x.id), ['v1', 'stock']);
    child!.kill('SIGTERM');
    assert.equal(await new Promise((resolve) => child!.once('exit', resolve)), 0);
    child = null;
  });
});
