import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { EdgeTuneError } from '../../src/errors';
import { importImages, scanDataset } from '../../src/dataset';
import { makeRng } from '../../src/augment/rng';
import { tmpDir } from '../helpers';

/** Raw RGB of a picture with random soft blobs: distinct seeds give perceptually distinct photos. */
function picture(seed: number, size = 96): Buffer {
  const rng = makeRng(seed);
  const blobs = Array.from({ length: 5 }, () => [rng() * size, rng() * size, 6 + rng() * 30, rng() * 255, rng() * 255, rng() * 255]);
  const d = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 30;
        for (const bl of blobs) v += bl[3 + c] * Math.exp(-((x - bl[0]) ** 2 + (y - bl[1]) ** 2) / (bl[2] * bl[2]));
        d[(y * size + x) * 3 + c] = Math.min(255, Math.round(v));
      }
    }
  }
  return d;
}

async function photo(seed: number, quality = 92): Promise<Buffer> {
  return sharp(picture(seed), { raw: { width: 96, height: 96, channels: 3 } }).jpeg({ quality }).toBuffer();
}

function put(file: string, bytes: Buffer | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

async function rejectsCode(p: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof EdgeTuneError, String(e));
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('dataset import: errors instead of "copied 0"', () => {
  it('an empty source, or one with no images, is an error that says what was found', async () => {
    const dest = path.join(tmpDir(), 'ds');
    const empty = tmpDir();
    await rejectsCode(importImages(empty, dest, { label: 'mug' }), 'BAD_DATASET', `import source ${empty} has no images; supported: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF`);
    const junk = tmpDir();
    put(path.join(junk, 'notes.txt'), 'hello');
    put(path.join(junk, '.DS_Store'), Buffer.alloc(8));
    put(path.join(junk, 'sub', 'a.psd'), Buffer.concat([Buffer.from('8BPS'), Buffer.alloc(20)]));
    await rejectsCode(importImages(junk, dest, { label: 'mug' }), 'BAD_DATASET',
      `import source ${junk} has no images (found 1 hidden file or folder, 1 file that is not an image, 1 image in a format EdgeTune does not read); supported: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF`);
    const tree = tmpDir();
    put(path.join(tree, 'mug', 'readme.txt'), 'x');
    await rejectsCode(importImages(tree, dest), 'BAD_DATASET', /^import source .* has no images \(found 1 file that is not an image\)/);
    assert.equal(fs.existsSync(dest), false);
  });

  it('a dataset path that is a file, or a class path blocked by a file, fails in one line (no raw ENOTDIR/EEXIST)', async () => {
    const src = tmpDir();
    put(path.join(src, 'a.jpg'), await photo(1));
    const file = path.join(tmpDir(), 'ds');
    fs.writeFileSync(file, 'x');
    await rejectsCode(importImages(src, file, { label: 'mug' }), 'BAD_DATASET', `dataset ${file} is a file, not a folder; choose a folder for the dataset`);
    const ds = tmpDir();
    fs.writeFileSync(path.join(ds, 'mug'), 'a file where the class folder should be');
    await assert.rejects(importImages(src, ds, { label: 'mug' }), (e: Error) => {
      assert.ok(e instanceof EdgeTuneError && (e.code === 'CONFLICT' || e.code === 'IO'), String(e));
      assert.match(e.message, new RegExp(`^cannot create folder ${path.join(ds, 'mug')}.*: (it already exists \\(EEXIST\\)|a part of the path is a file, not a folder \\(ENOTDIR\\))$`));
      return true;
    });
  });

  it('refuses a label equal after NFC to an existing class folder', async () => {
    const src = tmpDir();
    put(path.join(src, 'a.jpg'), await photo(2));
    const ds = tmpDir();
    fs.mkdirSync(path.join(ds, 'caf\u00e9'));
    await rejectsCode(importImages(src, ds, { label: 'cafe\u0301' }), 'BAD_LABEL', /^class 'cafe\u0301' \(NFD: .*\) and 'caf\u00e9' \(NFC: .*\) differ only in Unicode normalisation/);
  });
});

describe('dataset import: recursion, summary and conflicts', () => {
  it('copies class subfolders recursively, keeping them; the result scans with the same photos', async () => {
    const src = tmpDir();
    put(path.join(src, 'mug', 'a.jpg'), await photo(3));
    put(path.join(src, 'mug', '2024', 'b.jpg'), await photo(4));
    put(path.join(src, 'cup', 'c.jpg'), await photo(5));
    put(path.join(src, 'cup', 'x', 'y', 'd.jpg'), await photo(6));
    put(path.join(src, 'loose.jpg'), await photo(7));
    const ds = path.join(tmpDir(), 'ds');
    const r = await importImages(src, ds);
    assert.deepEqual(r.copied.map((c) => path.relative(ds, c.dest)), [path.join('cup', 'c.jpg'), path.join('cup', 'x', 'y', 'd.jpg'), path.join('mug', '2024', 'b.jpg'), path.join('mug', 'a.jpg')]);
    assert.deepEqual(r.skipped.map((s) => [path.basename(s.file), s.kind]), [['loose.jpg', 'outside-class']]);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(scanDataset(ds).samples.map((s) => path.relative(ds, s.path)), r.copied.map((c) => path.relative(ds, c.dest)));
  });

  it('re-importing gives one summary group of duplicates, not one line per file', async () => {
    const src = tmpDir();
    for (let i = 0; i < 12; i++) put(path.join(src, `p${i}.jpg`), await photo(100 + i));
    put(path.join(src, '.hidden.jpg'), await photo(99));
    const ds = path.join(tmpDir(), 'ds');
    const first = await importImages(src, ds, { label: 'mug' });
    assert.equal(first.copied.length, 12);
    const again = await importImages(src, ds, { label: 'mug' });
    assert.equal(again.copied.length, 0);
    assert.deepEqual(again.skippedGroups.map((g) => [g.kind, g.count, g.summary]), [
      ['hidden', 1, '1 hidden file or folder'],
      ['duplicate', 12, '12 duplicates of files already in the dataset (same SHA-256)'],
    ]);
    assert.equal(again.skipped.find((s) => s.kind === 'duplicate')!.reason, `duplicate of ${path.join('mug', 'p0.jpg')} (same SHA-256)`);
  });

  it('reports a photo already in ANOTHER class: identical bytes, or a re-encoded near-duplicate', async () => {
    const ds = path.join(tmpDir(), 'ds');
    const cups = tmpDir();
    put(path.join(cups, 'one.jpg'), await photo(10));
    put(path.join(cups, 'two.jpg'), await photo(11));
    await importImages(cups, ds, { label: 'cup' });
    const mugs = tmpDir();
    put(path.join(mugs, 'same.jpg'), await photo(10)); // byte-identical to cup/one.jpg
    put(path.join(mugs, 'reencoded.jpg'), await photo(11, 75)); // same picture, JPEG q75
    put(path.join(mugs, 'new.jpg'), await photo(12));
    const r = await importImages(mugs, ds, { label: 'mug' });
    assert.equal(r.copied.length, 3, 'conflicts are copied and reported, not dropped');
    assert.deepEqual(r.conflicts.map((c) => [path.basename(c.source), c.label, path.relative(ds, c.existing), c.existingLabel, c.match]), [
      ['reencoded.jpg', 'mug', path.join('cup', 'two.jpg'), 'cup', 'near-duplicate'],
      ['same.jpg', 'mug', path.join('cup', 'one.jpg'), 'cup', 'identical'],
    ]);
    assert.equal(r.conflicts[1].distance, 0);
    assert.ok(r.conflicts[0].distance <= 6);
    const bytesOnly = await importImages(mugs, path.join(tmpDir(), 'other'), { label: 'x', nearDuplicates: false });
    assert.deepEqual(bytesOnly.conflicts, []);
  });

  it('with decoding on, an undecodable or too-small image is skipped with its reason', async () => {
    const src = tmpDir();
    const good = await photo(20);
    put(path.join(src, 'ok.jpg'), good);
    put(path.join(src, 'cut.jpg'), good.subarray(0, good.length >> 1));
    put(path.join(src, 'pixel.png'), await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } }).png().toBuffer());
    const r = await importImages(src, path.join(tmpDir(), 'ds'), { label: 'mug' });
    assert.deepEqual(r.copied.map((c) => path.basename(c.dest)), ['ok.jpg']);
    assert.deepEqual(r.skipped.map((s) => [path.basename(s.file), s.kind, s.reason]), [
      ['cut.jpg', 'bad-image', 'the JPEG file is truncated (no end-of-image marker after the image data)'],
      ['pixel.png', 'too-small', 'too small (1x1 pixels); a photo needs at least 16 px on each side'],
    ]);
  });
});
