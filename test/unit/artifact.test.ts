import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkModelFolder, writeModelFolder, isInside, edgeTpuBlocker, edgeTpuPlan, readModelFolder, checkVerification, MODEL_FORMAT,
} from '../../src/artifact';
import { EdgeTuneError } from '../../src/errors';
import { tmpDir } from '../helpers';

const code = (c: string) => (e: unknown) => e instanceof EdgeTuneError && e.code === c;

describe('artifact: the model folder contract', () => {
  it('refuses an empty --out, the working directory and its parents, and non-model folders', () => {
    assert.throws(() => checkModelFolder(''), /output folder is empty/);
    assert.throws(() => checkModelFolder('.'), /working directory/);
    assert.throws(() => checkModelFolder(path.dirname(process.cwd())), /working directory/);
    assert.throws(() => checkModelFolder('/'), /working directory or one of its parents/);
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'mine.txt'), 'x');
    assert.throws(() => checkModelFolder(d), code('CONFLICT'));
    assert.throws(() => checkModelFolder(path.join(d, 'mine.txt')), /is a file/);
    assert.throws(() => checkModelFolder(path.join(d, 'mine.txt', 'sub')), /not a writable folder/);
    checkModelFolder(path.join(d, 'new', 'deeper'));   // may be created
  });

  it('replaces a model folder as a whole and leaves no temporary folder', () => {
    const parent = tmpDir();
    const dir = path.join(parent, 'm');
    writeModelFolder(dir, { 'metadata.json': '{}', 'a.txt': 'one', 'head/x.bin': new Uint8Array([1, 2]) });
    writeModelFolder(dir, { 'metadata.json': '{"v":2}', 'b.txt': 'two' });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['b.txt', 'metadata.json']);
    assert.deepEqual(fs.readdirSync(parent), ['m']);
  });

  it('creates folders with the umask like any other folder (not 0700)', () => {
    const old = process.umask(0o022);
    try {
      const dir = path.join(tmpDir(), 'm');
      writeModelFolder(dir, { 'metadata.json': '{}', 'head/w.bin': 'x' });
      assert.equal(fs.statSync(dir).mode & 0o777, 0o755);
      assert.equal(fs.statSync(path.join(dir, 'head')).mode & 0o777, 0o755);
      assert.equal(fs.statSync(path.join(dir, 'metadata.json')).mode & 0o777, 0o644);
    } finally {
      process.umask(old);
    }
  });

  it('knows which paths lie inside others', () => {
    assert.ok(isInside('/a/b/c', '/a/b'));
    assert.ok(isInside('/a/b', '/a/b'));
    assert.ok(!isInside('/a/bc', '/a/b'));
  });

  it('has one Edge TPU eligibility rule, and says why not', () => {
    assert.equal(edgeTpuBlocker('mobilenet_v1_1.0_224', true, 'avg', false), undefined);
    assert.match(edgeTpuBlocker('mobilenet_v1_1.0_224', true, 'avg', true)!, /drop --float/);
    assert.match(edgeTpuBlocker('mobilenet_v1_1.0_224', true, 'grid', false)!, /--pooling avg/);
    assert.match(edgeTpuBlocker('mobilenet_v2_1.0_224', false, 'avg', false)!, /no Edge TPU-compiled embedding extractor/);
    assert.deepEqual(edgeTpuPlan('auto', 'mobilenet_v1_1.0_224', true, true, 'avg', false), { write: true });
    assert.equal(edgeTpuPlan('auto', 'mobilenet_v1_1.0_224', true, true, 'avg', true).write, false);
    assert.equal(edgeTpuPlan(false, 'mobilenet_v1_1.0_224', true, true, 'avg', false).write, false);
    assert.throws(() => edgeTpuPlan(true, 'mobilenet_v2_1.0_224', false, false, 'avg', false), code('EDGETPU_UNAVAILABLE'));
    assert.throws(() => edgeTpuPlan(true, 'mobilenet_v1_1.0_224', true, false, 'avg', false), /not installed/);
  });

  it('reads a model folder only in a format it knows, naming what is wrong', () => {
    const dir = tmpDir();
    assert.throws(() => readModelFolder(path.join(dir, 'nope')), code('NOT_FOUND'));
    assert.throws(() => readModelFolder(dir), /no metadata.json/);
    fs.writeFileSync(path.join(dir, 'metadata.json'), '{"format":"edgetune-model/9"}');
    assert.throws(() => readModelFolder(dir), (e: unknown) => code('BAD_MODEL')(e) && /edgetune-model\/9.*upgrade EdgeTune/.test((e as Error).message));
    fs.writeFileSync(path.join(dir, 'metadata.json'), '{not json');
    assert.throws(() => readModelFolder(dir), /not valid JSON/);
    const meta = { format: MODEL_FORMAT, files: { model: 'model.tflite', labels: 'labels.txt', head: 'head/model.json' } };
    fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify(meta));
    assert.throws(() => readModelFolder(dir), /has no model.tflite/);
    fs.writeFileSync(path.join(dir, 'model.tflite'), 'x');
    assert.throws(() => readModelFolder(dir), /has no labels.txt/);
    fs.writeFileSync(path.join(dir, 'labels.txt'), 'a\nb\n');
    assert.equal(readModelFolder(dir).paths.model, path.join(dir, 'model.tflite'));
  });

  it('gates an export below 98% agreement', () => {
    checkVerification({ n: 100, agreement: 0.98, accuracy: 0.9, msPerImage: 1 }, 'x');
    assert.throws(() => checkVerification({ n: 100, agreement: 0.97, accuracy: 0.9, msPerImage: 1 }, 'try --float'),
      (e: unknown) => code('EXPORT_CHECK_FAILED')(e) && /97.0% of 100 photos.*try --float/.test((e as Error).message));
  });
});
