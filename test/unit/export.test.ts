import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkModelFolder, writeModelFolder, isInside, edgeTpuBlocker } from '../../src/export';
import { scanDataset } from '../../src/dataset';
import { importImages } from '../../src/dataset';
import { sample, tmpDir } from '../helpers';

describe('export: model folders', () => {
  it('refuses an empty --out, the working directory and its parents, and non-model folders', () => {
    assert.throws(() => checkModelFolder(''), /output folder is empty/);
    assert.throws(() => checkModelFolder('.'), /working directory/);
    assert.throws(() => checkModelFolder(path.dirname(process.cwd())), /working directory/);
    assert.throws(() => checkModelFolder('/'), /working directory or one of its parents/);
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'mine.txt'), 'x');
    assert.throws(() => checkModelFolder(d), /not an EdgeTune model folder/);
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

  it('knows which paths lie inside others', () => {
    assert.ok(isInside('/a/b/c', '/a/b'));
    assert.ok(isInside('/a/b', '/a/b'));
    assert.ok(!isInside('/a/bc', '/a/b'));
  });

  it('says why an Edge TPU export is impossible', () => {
    assert.equal(edgeTpuBlocker('mobilenet_v1_1.0_224', true, 'avg', false), undefined);
    assert.match(edgeTpuBlocker('mobilenet_v1_1.0_224', true, 'avg', true)!, /drop --float/);
    assert.match(edgeTpuBlocker('mobilenet_v1_1.0_224', true, 'grid', false)!, /--pooling avg/);
    assert.match(edgeTpuBlocker('mobilenet_v2_1.0_224', false, 'avg', false)!, /no Edge TPU-compiled embedding extractor/);
  });
});

describe('dataset: files that look like photos but are not', () => {
  it('are listed in Dataset.ignored, never as samples', () => {
    const root = tmpDir();
    for (const c of ['a', 'b']) {
      fs.mkdirSync(path.join(root, c));
      for (const f of fs.readdirSync(sample('gestures', c === 'a' ? '0' : '1')).slice(0, 2)) {
        fs.copyFileSync(sample('gestures', c === 'a' ? '0' : '1', f), path.join(root, c, f));
      }
    }
    fs.writeFileSync(path.join(root, 'a', 'x.jpg'), 'not a photo');
    fs.writeFileSync(path.join(root, 'a', 'notes.txt'), 'ignored quietly');
    const ds = scanDataset(root);
    assert.equal(ds.samples.length, 4);
    assert.deepEqual(ds.ignored.map((i) => path.basename(i.path)), ['x.jpg']);
  });

  it('import refuses a dataset inside its own source', async () => {
    const src = tmpDir();
    await assert.rejects(importImages(src, path.join(src, 'inner'), { label: 'x' }), /inside the import source/);
  });
});
