import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { probeEdgeTpu } from '../../src/runtime';
import { ROOT, MODELS_DIR, shared, tmpDir } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--models-dir', MODELS_DIR, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A failed command: exit code 1 and exactly one error line on stderr, `edgetune: …` or commander's
 * `error: …`, matching `re` (progress lines before it are allowed).
 */
function failsWith(r: ReturnType<typeof run>, re: RegExp): void {
  assert.equal(r.code, 1, `exit code ${r.code}; stderr: ${r.stderr}`);
  const errors = r.stderr.trim().split('\n').filter((l) => /^(edgetune|error):/.test(l));
  assert.equal(errors.length, 1, `expected one error line, got:\n${r.stderr}`);
  assert.match(errors[0], re);
}

describe('edgetune CLI', () => {
  it('predict --json prints one {file, predictions, ms} record per image with the stock classifier', () => {
    const r = run('predict', shared('images', 'cat.bmp'), shared('images', 'grace_hopper.bmp'), '--top', '2', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.length, 2);
    assert.deepEqual(Object.keys(out[0]).sort(), ['file', 'ms', 'predictions']);
    assert.equal(out[0].predictions.length, 2);
    assert.match(out[0].predictions[0].label, /cat/i);
    assert.ok(out[0].predictions[0].score <= 1 && out[0].predictions[0].score >= out[0].predictions[1].score);
  });

  it('models list --json reports every base as installed', () => {
    const r = run('models', 'list', '--json');
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    assert.deepEqual(rows.map((b: { name: string }) => b.name).sort(),
      ['mobilenet_v1_0.25_128', 'mobilenet_v1_0.5_160', 'mobilenet_v1_1.0_224', 'mobilenet_v2_1.0_224']);
    assert.ok(rows.every((b: { installed: boolean }) => b.installed));
  });

  it('fails with one line and exit code 1 on bad input', () => {
    failsWith(run('predict', '/nonexistent/x.jpg'), /x\.jpg/);
    failsWith(run('train', shared('datasets', 'gestures'), '--out', path.join(tmpDir(), 'm'), '--dropout', '2'), /--dropout must be a number in \[0, 1\) \(got 2\)/);
    failsWith(run('train', shared('datasets', 'gestures'), '--out', path.join(tmpDir(), 'm'), '--preset', 'faces'), /preset/);
    failsWith(run('train', shared('datasets', 'gestures'), '--out', path.join(tmpDir(), 'm'), '--base', 'resnet50'), /unknown base resnet50/);
    const one = tmpDir();
    fs.mkdirSync(path.join(one, 'only'));
    failsWith(run('train', one, '--out', path.join(tmpDir(), 'm')), /1 class/);
    failsWith(run('export', tmpDir()), /not an EdgeTune model folder/);
    // The no-runtime error path (test/unit/runtime.test.ts checks the probe itself).
    if (!probeEdgeTpu().library) failsWith(run('predict', shared('images', 'cat.bmp'), '--model', path.join(MODELS_DIR, 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite')), /Edge TPU runtime \(libedgetpu\.so\.1\)/);
    // A fresh models folder and a --from folder without the pinned files: nothing installed.
    const fresh = tmpDir();
    failsWith(run('--models-dir', fresh, 'models', 'fetch', '--from', tmpDir()), /missing|not found|no such/i);
    assert.deepEqual(fs.readdirSync(fresh), []);
  });

  it('imports a folder of photos into a class, then a tree', () => {
    const ds = path.join(tmpDir(), 'ds');
    const r = run('import', shared('datasets', 'digits-photo', '7'), ds, '--label', 'seven', '--json');
    assert.equal(r.code, 0, r.stderr);
    const n = fs.readdirSync(shared('datasets', 'digits-photo', '7')).length;
    assert.equal(JSON.parse(r.stdout).copied.length, n);
    assert.equal(fs.readdirSync(path.join(ds, 'seven')).length, n);
    failsWith(run('import', shared('datasets', 'digits-photo', '7'), ds, '--label', '../evil'), /label/);
  });

  it('import: a re-import prints one summary line, --verbose the files; a photo in another class is a warning', () => {
    const src = shared('datasets', 'digits-photo', '7');
    const n = fs.readdirSync(src).length;
    const ds = path.join(tmpDir(), 'ds');
    assert.equal(run('import', src, ds, '--label', 'seven').code, 0);
    const again = run('import', src, ds, '--label', 'seven');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stderr.trim().split('\n'), [`skipped ${n} duplicates of files already in the dataset (same SHA-256)`]);
    assert.equal(again.stdout.trim(), `copied 0 image(s) into ${ds}, skipped ${n}`);
    const verbose = run('import', src, ds, '--label', 'seven', '--verbose');
    assert.equal(verbose.stderr.trim().split('\n').length, 1 + n);
    assert.match(verbose.stderr.split('\n')[1], /^ {2}.*: duplicate of seven\/.* \(same SHA-256\)$/);
    const other = run('import', src, ds, '--label', 'other', '--no-near-duplicates');
    assert.equal(other.code, 0, other.stderr);
    const warnings = other.stderr.trim().split('\n').filter((l) => l.startsWith('warning: '));
    assert.equal(warnings.length, n);
    assert.match(warnings[0], /^warning: .* \(class 'other'\) is identical to .*seven.* in class 'seven': check which class is right$/);
    assert.equal(other.stdout.trim(), `copied ${n} image(s) into ${ds}, skipped 0, ${n} already in another class (see warnings)`);
    failsWith(run('import', tmpDir(), ds, '--label', 'x'), /^edgetune: import source .* has no images; supported: /);
  });
});
