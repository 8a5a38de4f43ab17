import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importImages, scanDataset, stratifiedSplit } from '../../src/dataset';
import { shared, tmpDir } from '../helpers';

/** Label → number of rows in ../shared/datasets/<name>.manifest.tsv. */
function manifestCounts(name: string): Map<string, number> {
  const rows = fs.readFileSync(shared('datasets', `${name}.manifest.tsv`), 'utf8').trim().split('\n').slice(1);
  const counts = new Map<string, number>();
  for (const r of rows) {
    const label = r.split('\t')[1];
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return counts;
}

function copy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

const CAT = () => shared('images', 'cat.bmp');
const BIRD = () => shared('images', 'bird.bmp');
const HOPPER = () => shared('images', 'grace_hopper.bmp');
const objectFile = (label: string, i: number) => {
  const dir = shared('datasets', 'objects-small', label);
  return path.join(dir, fs.readdirSync(dir).sort()[i]);
};

describe('dataset: scanDataset', () => {
  it('objects-small: 6 sorted classes with the manifest counts, sorted samples, absolute paths', () => {
    const ds = scanDataset(shared('datasets', 'objects-small'));
    const counts = manifestCounts('objects-small');
    assert.deepEqual(ds.labels, ['cardboard', 'glass', 'metal', 'paper', 'plastic', 'trash']);
    assert.deepEqual(ds.labels, [...counts.keys()].sort());
    for (const [label, n] of counts) assert.equal(ds.samples.filter((s) => s.label === label).length, n, label);
    assert.equal(ds.samples.length, [...counts.values()].reduce((a, b) => a + b, 0));
    ds.samples.forEach((s, i) => {
      assert.ok(path.isAbsolute(s.path));
      assert.equal(ds.labels[s.labelIndex], s.label);
      assert.equal(path.basename(path.dirname(s.path)), s.label);
      if (i > 0) {
        const p = ds.samples[i - 1];
        assert.ok(p.labelIndex < s.labelIndex || (p.labelIndex === s.labelIndex && p.path < s.path));
      }
    });
    assert.deepEqual(scanDataset(shared('datasets', 'objects-small')), ds);
  });

  it('digits-photo: BMPs named .jpg and the PNG are included (sniffed by content)', () => {
    const ds = scanDataset(shared('datasets', 'digits-photo'));
    const counts = manifestCounts('digits-photo');
    assert.deepEqual(ds.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    for (const [label, n] of counts) assert.equal(ds.samples.filter((s) => s.label === label).length, n, label);
    assert.ok(ds.samples.some((s) => s.path.endsWith('3_3_pfried.png')));
  });

  it('skips hidden entries and non-images by content, not extension; accepts Unicode labels', () => {
    const dir = tmpDir();
    copy(CAT(), path.join(dir, 'café', 'a.bmp'));
    copy(BIRD(), path.join(dir, 'café', 'b.jpg')); // a BMP named .jpg is still an image
    copy(CAT(), path.join(dir, '数字', 'c.bmp'));
    copy(HOPPER(), path.join(dir, '数字', 'd'));
    fs.writeFileSync(path.join(dir, '数字', 'fake.jpg'), 'not really a jpeg');
    fs.writeFileSync(path.join(dir, '数字', 'desktop.ini'), '[.ShellClassInfo]');
    fs.writeFileSync(path.join(dir, '数字', '.DS_Store'), Buffer.alloc(64));
    copy(CAT(), path.join(dir, '数字', '.hidden.bmp'));
    copy(CAT(), path.join(dir, '.trash', 'x.bmp'));
    copy(CAT(), path.join(dir, '.trash', 'y.bmp'));
    fs.writeFileSync(path.join(dir, 'README.txt'), 'top-level files are ignored');
    const ds = scanDataset(dir);
    assert.deepEqual(ds.labels, ['café', '数字']);
    assert.deepEqual(ds.samples.map((s) => path.relative(dir, s.path)), [
      path.join('café', 'a.bmp'), path.join('café', 'b.jpg'), path.join('数字', 'c.bmp'), path.join('数字', 'd'),
    ]);
  });

  it('errors: missing folder, 0 or 1 class, a class with fewer than 2 images, an invalid folder name', () => {
    const dir = tmpDir();
    assert.throws(() => scanDataset(path.join(dir, 'nope')), /dataset .*nope does not exist; create it with one subfolder per class/);
    assert.throws(() => scanDataset(dir), /dataset .* has 0 classes \(none\); need at least 2 — add a folder per class/);
    copy(CAT(), path.join(dir, 'a', '1.bmp'));
    copy(BIRD(), path.join(dir, 'a', '2.bmp'));
    assert.throws(() => scanDataset(dir), (e: Error) => {
      assert.equal(e.message, `dataset ${dir} has 1 class (a); need at least 2 — add a folder per class`);
      return true;
    });
    copy(CAT(), path.join(dir, 'b', '1.bmp'));
    fs.mkdirSync(path.join(dir, 'c'));
    fs.writeFileSync(path.join(dir, 'c', 'notes.txt'), 'x');
    assert.throws(() => scanDataset(dir), (e: Error) => {
      assert.equal(e.message, `dataset ${dir}: class 'b' has 1 image, class 'c' has 0 images; need at least 2 images per class — add images or remove the folder`);
      return true;
    });
    const bad = tmpDir();
    copy(CAT(), path.join(bad, 'ok', '1.bmp'));
    copy(CAT(), path.join(bad, 'a..b', '1.bmp'));
    assert.throws(() => scanDataset(bad), /dataset .*: class folder label 'a\.\.b': it contains '\.\.'.*rename the folder/);
  });
});

describe('dataset: stratifiedSplit', () => {
  it('works on a real dataset scan and rejects bad fractions', () => {
    const ds = scanDataset(shared('datasets', 'objects-small'));
    const { train, val } = stratifiedSplit(ds.samples, 0.2, 42);
    const counts = manifestCounts('objects-small');
    for (const [label, n] of counts) assert.equal(val.filter((s) => s.label === label).length, Math.round(n * 0.2));
    assert.equal(train.length + val.length, ds.samples.length);
    assert.deepEqual(stratifiedSplit(ds.samples, 0, 1), { train: ds.samples, val: [] });
    for (const f of [-0.1, 1, 1.5, NaN]) assert.throws(() => stratifiedSplit(ds.samples, f, 1), /validation fraction .* is invalid; expected a number in \[0, 1\)/);
  });
});

describe('dataset: importImages', () => {
  it('label mode: copies images by content, reports hidden files and non-images, never touches the source', async () => {
    const src = tmpDir();
    const dest = path.join(tmpDir(), 'ds');
    copy(CAT(), path.join(src, 'cat.bmp'));
    copy(objectFile('glass', 0), path.join(src, 'photo.JPG'));
    copy(BIRD(), path.join(src, 'looks-like.jpg'));
    fs.writeFileSync(path.join(src, 'desktop.ini'), '[.ShellClassInfo]');
    fs.writeFileSync(path.join(src, '.DS_Store'), Buffer.alloc(32));
    fs.mkdirSync(path.join(src, 'sub'));
    const before = fs.readdirSync(src).sort();
    const r = await importImages(src, dest, { label: 'café' });
    assert.deepEqual(r.copied.map((c) => path.relative(dest, c.dest)), ['cat.bmp', 'looks-like.jpg', 'photo.JPG'].map((f) => path.join('café', f)));
    assert.ok(r.copied.every((c) => c.label === 'café'));
    for (const c of r.copied) assert.ok(fs.readFileSync(c.dest).equals(fs.readFileSync(c.source)));
    assert.deepEqual(r.skipped.map((s) => [path.basename(s.file), s.kind]), [['.DS_Store', 'hidden'], ['desktop.ini', 'not-image']]);
    assert.equal(r.skipped[1].reason, 'not an image (a text file); supported: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF');
    assert.deepEqual(fs.readdirSync(src).sort(), before);
    assert.deepEqual(fs.readdirSync(path.join(dest, 'café')).sort(), ['cat.bmp', 'looks-like.jpg', 'photo.JPG']);
  });

  it('collisions get a suffix, duplicates (same SHA-256) are skipped, nothing is overwritten', async () => {
    const dest = path.join(tmpDir(), 'ds');
    const src1 = tmpDir();
    copy(CAT(), path.join(src1, 'img.bmp'));
    await importImages(src1, dest, { label: 'pets' });
    const src2 = tmpDir();
    copy(BIRD(), path.join(src2, 'img.bmp')); // same name, other content
    copy(CAT(), path.join(src2, 'again.bmp')); // same content as pets/img.bmp
    copy(BIRD(), path.join(src2, 'z-bird-copy.bmp')); // duplicate within this import
    const r = await importImages(src2, dest, { label: 'pets' });
    assert.deepEqual(r.copied.map((c) => path.basename(c.dest)), ['img_1.bmp']);
    assert.deepEqual(r.skipped.map((s) => [path.basename(s.file), s.reason]), [
      ['again.bmp', `duplicate of ${path.join('pets', 'img.bmp')} (same SHA-256)`],
      ['z-bird-copy.bmp', `duplicate of ${path.join('pets', 'img_1.bmp')} (same SHA-256)`],
    ]);
    assert.ok(fs.readFileSync(path.join(dest, 'pets', 'img.bmp')).equals(fs.readFileSync(CAT())));
    assert.ok(fs.readFileSync(path.join(dest, 'pets', 'img_1.bmp')).equals(fs.readFileSync(BIRD())));
    assert.deepEqual(fs.readdirSync(path.join(dest, 'pets')).sort(), ['img.bmp', 'img_1.bmp']); // no temp files left
    const again = await importImages(src2, dest, { label: 'pets' });
    assert.equal(again.copied.length, 0);
    assert.equal(again.skipped.length, 3);
  });

  it('tree mode: one class per folder (subfolders included), top-level files skipped, result scans as a dataset', async () => {
    const src = tmpDir();
    const dest = path.join(tmpDir(), 'ds');
    for (let i = 0; i < 3; i++) copy(objectFile('metal', i), path.join(src, 'metal', `m${i}.jpg`));
    for (let i = 0; i < 2; i++) copy(objectFile('paper', i), path.join(src, '数字', `p${i}.jpg`));
    copy(CAT(), path.join(src, 'loose.bmp'));
    copy(CAT(), path.join(src, 'metal', 'nested', 'deep.bmp'));
    const r = await importImages(src, dest);
    assert.deepEqual(r.copied.map((c) => path.relative(dest, c.dest)), ['metal/m0.jpg', 'metal/m1.jpg', 'metal/m2.jpg', 'metal/nested/deep.bmp', '数字/p0.jpg', '数字/p1.jpg']);
    assert.deepEqual(r.skipped.map((s) => path.basename(s.file)), ['loose.bmp']);
    assert.match(r.skipped[0].reason, /not inside a class folder/);
    const ds = scanDataset(dest);
    assert.deepEqual(ds.labels, ['metal', '数字']);
    assert.equal(ds.samples.length, 6);
  });

  it('errors before copying anything: missing source, invalid label, no class folders', async () => {
    const dest = path.join(tmpDir(), 'ds');
    await assert.rejects(importImages(path.join(tmpDir(), 'missing'), dest), /import source .*missing does not exist/);
    const src = tmpDir();
    copy(CAT(), path.join(src, 'a.bmp'));
    await assert.rejects(importImages(src, dest, { label: 'a/b' }), /invalid class label 'a\/b': it contains a path separator/);
    await assert.rejects(importImages(src, dest), /has no class folders; put images in .*<label>\/ or pass a label/);
    copy(CAT(), path.join(src, 'ok', 'x.bmp'));
    copy(CAT(), path.join(src, 'bad..name', 'y.bmp'));
    await assert.rejects(importImages(src, dest), /folder label 'bad\.\.name': it contains '\.\.'/);
    assert.equal(fs.existsSync(dest), false);
  });
});
