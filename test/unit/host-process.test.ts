import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, tmpDir } from '../helpers';

const BACKEND = path.join(ROOT, 'dist', 'src', 'head', 'backend.js');

/** Runs `code` as a CommonJS script in a fresh Node process; returns its exit code, output and path. */
function child(code: string): { status: number | null; stdout: string; stderr: string; script: string } {
  const script = path.join(tmpDir(), 'host.js');
  fs.writeFileSync(script, code);
  // The script lives in a temporary folder, so its bare requires resolve through NODE_PATH.
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, script };
}

/** Node's own report of an uncaught error thrown at `script`'s line `line`: no tfjs source line or frame. */
function assertNodeOwnReport(r: ReturnType<typeof child>, line: number, message: string): void {
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.split('\n')[0], `${r.script}:${line}`, r.stderr);
  assert.ok(r.stderr.includes(`\nError: ${message}\n    at `), r.stderr);
  assert.doesNotMatch(r.stderr, /tfjs|tf-backend-wasm/);
}

/**
 * The library must not change the host process: after it starts the WASM backend, an unrelated
 * error still ends the process the way Node does. tfjs-backend-wasm's Emscripten module installs
 * rethrowing `uncaughtException`/`unhandledRejection` listeners (exit code 7, a tfjs source line).
 */
describe('host process after the WASM backend starts', function () {
  this.timeout(60_000);

  it('without EdgeTune, tfjs-backend-wasm turns an unrelated error into exit code 7 (the behaviour removed)', () => {
    const r = child(`
      const tf = require('@tensorflow/tfjs');
      require('@tensorflow/tfjs-backend-wasm');
      tf.setBackend('wasm').then(() => tf.ready()).then(() => setTimeout(() => { throw new Error('unrelated boom'); }, 1));
    `);
    assert.equal(r.status, 7, r.stderr);
    assert.match(r.stderr.split('\n')[0], /tf-backend-wasm\.node\.js:\d+$/);
  });

  it('an unrelated uncaught error exits 1 with the host stack', () => {
    const r = child([
      `require(${JSON.stringify(BACKEND)}).initBackend('wasm').then((name) => {`,
      `  if (name !== 'wasm') throw new Error('backend ' + name);`,
      `  setTimeout(() => { throw new Error('unrelated boom'); }, 1);`,
      `});`,
    ].join('\n'));
    assertNodeOwnReport(r, 3, 'unrelated boom');
  });

  it('an unrelated unhandled rejection exits 1 with the host stack', () => {
    const r = child([
      `require(${JSON.stringify(BACKEND)}).initBackend('wasm').then((name) => {`,
      `  if (name !== 'wasm') throw new Error('backend ' + name);`,
      `  setTimeout(() => { Promise.reject(new Error('unrelated rejection')); }, 1);`,
      `});`,
    ].join('\n'));
    assertNodeOwnReport(r, 3, 'unrelated rejection');
  });

  it("keeps the host's own listeners, added before and during the start, and the backend computes", () => {
    const r = child(`
      const tf = require('@tensorflow/tfjs');
      const before = () => undefined, during = () => undefined, rejected = () => undefined;
      const newListeners = process.listeners('newListener');
      process.on('uncaughtException', before);
      const started = require(${JSON.stringify(BACKEND)}).initBackend('wasm');
      // Added while the backend starts (its init awaits between steps).
      setImmediate(() => { process.on('uncaughtException', during); process.on('unhandledRejection', rejected); });
      started.then(async (name) => {
        const sum = Array.from(await tf.tensor1d([1, 2, 3]).add(tf.scalar(10)).data());
        console.log(JSON.stringify({
          name, backend: tf.getBackend(), sum, exitCode: process.exitCode ?? null,
          uncaught: process.listeners('uncaughtException').map((l) => l === before ? 'before' : l === during ? 'during' : 'other'),
          rejection: process.listeners('unhandledRejection').map((l) => l === rejected ? 'during' : 'other'),
          newListenerUnchanged: process.listeners('newListener').every((l, i) => l === newListeners[i]) && process.listenerCount('newListener') === newListeners.length,
        }));
      });
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      name: 'wasm', backend: 'wasm', sum: [11, 12, 13], exitCode: null,
      uncaught: ['before', 'during'], rejection: ['during'], newListenerUnchanged: true,
    });
  });
});
