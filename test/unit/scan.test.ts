import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { EdgeTuneError } from '../../src/errors';
import { scanDataset, summarizeSkips, type IgnoredFile } from '../../src/dataset';
import { tmpDir } from '../helpers';

/** A small JPEG of one colour (distinct colours make distinct files). */
async function jpeg(rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width: 24, height: 24, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).jpeg().toBuffer();
}

function put(file: string, bytes: Buffer | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

const rel = (root: string, list: IgnoredFile[]) => list.map((i) => [path.relative(root, i.path), i.kind]);

describe('dataset scan: recursive classes, every ignored file reported', () => {
  it('includes class subfolders recursively and lists each unused entry with its kind and reason', async () => {
    const root = tmpDir();
    const img = await jpeg([200, 10, 10]);
    put(path.join(root, '5', 'a.jpg'), img);
    put(path.join(root, '5', 'more', 'x.jpg'), await jpeg([10, 200, 10]));
    put(path.join(root, '5', 'more', 'deeper', 'y.png'), await sharp(img).png().toBuffer());
    put(path.join(root, '5', '.DS_Store'), Buffer.alloc(16));
    put(path.join(root, '5', '.thumbs', 'z.jpg'), img);
    put(path.join(root, '5', 'notes.txt'), 'shot on Tuesday');
    put(path.join(root, '5', 'edit.psd'), Buffer.concat([Buffer.from('8BPS'), Buffer.alloc(30)]));
    put(path.join(root, '7', 'b.jpg'), await jpeg([10, 10, 200]));
    put(path.join(root, '7', 'c.jpg'), await jpeg([100, 10, 200]));
    fs.symlinkSync(path.join(root, '7'), path.join(root, '7', 'loop'));
    fs.symlinkSync(path.join(root, 'nowhere.jpg'), path.join(root, '7', 'broken.jpg'));
    put(path.join(root, 'README.txt'), 'top-level note');
    put(path.join(root, '.git', 'HEAD'), 'ref');
    const ds = scanDataset(root);
    assert.deepEqual(ds.labels, ['5', '7']);
    assert.deepEqual(ds.samples.map((s) => [path.relative(root, s.path), s.label]), [
      [path.join('5', 'a.jpg'), '5'], [path.join('5', 'more', 'deeper', 'y.png'), '5'], [path.join('5', 'more', 'x.jpg'), '5'],
      [path.join('7', 'b.jpg'), '7'], [path.join('7', 'c.jpg'), '7'],
    ]);
    assert.deepEqual(rel(root, ds.ignored), [
      ['.git', 'hidden'], ['README.txt', 'outside-class'],
      [path.join('5', '.DS_Store'), 'hidden'], [path.join('5', '.thumbs'), 'hidden'],
      [path.join('5', 'edit.psd'), 'unsupported-format'], [path.join('5', 'notes.txt'), 'not-image'],
      [path.join('7', 'broken.jpg'), 'broken-link'], [path.join('7', 'loop'), 'symlink-loop'],
    ]);
    const reason = (name: string) => ds.ignored.find((i) => path.basename(i.path) === name)!.reason;
    assert.equal(reason('edit.psd'), 'unsupported format PSD (Photoshop document): save or export it as PNG or JPEG (Photoshop, GIMP, Krita)');
    assert.equal(reason('notes.txt'), 'not an image (a text file); supported: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF');
    assert.equal(reason('loop'), 'a symbolic link to a folder that contains it (a loop); remove the link');
    assert.match(reason('README.txt'), /outside any class folder/);
    assert.deepEqual(summarizeSkips(ds.ignored).map((g) => g.summary), [
      '3 hidden files or folders', '1 file that is not an image', '1 image in a format EdgeTune does not read',
      '1 file outside any class folder', '1 symbolic link loop', '1 broken symbolic link',
    ]);
  });

  it('a folder reached twice through links is used once; a FIFO is reported, not opened', async () => {
    const root = tmpDir();
    put(path.join(root, 'a', 'x.jpg'), await jpeg([1, 2, 3]));
    put(path.join(root, 'a', 'y.jpg'), await jpeg([9, 2, 3]));
    put(path.join(root, 'b', 'z.jpg'), await jpeg([1, 90, 3]));
    put(path.join(root, 'b', 'w.jpg'), await jpeg([1, 2, 90]));
    fs.symlinkSync(path.join(root, 'a'), path.join(root, 'b', 'also-a'));
    execFileSync('mkfifo', [path.join(root, 'b', 'pipe.jpg')]);
    const ds = scanDataset(root);
    assert.equal(ds.samples.length, 4);
    assert.deepEqual(rel(root, ds.ignored), [[path.join('b', 'also-a'), 'already-included'], [path.join('b', 'pipe.jpg'), 'special-file']]);
    assert.equal(ds.ignored[0].reason, `the same folder as ${path.join(root, 'a')} (through a symbolic link); its photos are used once`);
  });

  it('refuses class folders that differ only by Unicode normalisation, and a label with trailing space', async () => {
    const root = tmpDir();
    const img = await jpeg([5, 5, 5]);
    for (const l of ['caf\u00e9', 'cafe\u0301']) for (const f of ['1.jpg', '2.jpg']) put(path.join(root, l, f), img);
    assert.throws(() => scanDataset(root), (e: Error) => {
      assert.ok(e instanceof EdgeTuneError && e.code === 'BAD_LABEL');
      assert.equal(e.message, `dataset ${root}: class folders 'cafe\u0301' (NFD: c a f e U+0301) and 'caf\u00e9' (NFC: c a f U+00E9) differ only in Unicode normalisation (e.g. copied from macOS); merge them into one folder`);
      return true;
    });
    const other = tmpDir();
    for (const l of ['50 cent ', 'b']) for (const f of ['1.jpg', '2.jpg']) put(path.join(other, l, f), img);
    assert.throws(() => scanDataset(other), /^EdgeTuneError: dataset .*: class folder label '50 cent ': it starts or ends with whitespace.*; rename the folder$/);
  });

  it('counts recursive images towards the 2-per-class minimum; errors carry codes', async () => {
    const root = tmpDir();
    put(path.join(root, 'a', 'sub', '1.jpg'), await jpeg([1, 1, 1]));
    put(path.join(root, 'a', 'sub', 'deeper', '2.jpg'), await jpeg([2, 1, 1]));
    put(path.join(root, 'b', '1.jpg'), await jpeg([3, 1, 1]));
    assert.throws(() => scanDataset(root), (e: Error) => e instanceof EdgeTuneError && e.code === 'BAD_DATASET' && e.message === `dataset ${root}: class 'b' has 1 image; need at least 2 images per class — add images or remove the folder`);
    assert.throws(() => scanDataset(path.join(root, 'missing')), (e: Error) => e instanceof EdgeTuneError && e.code === 'NOT_FOUND');
  });
});
