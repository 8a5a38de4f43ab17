import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { detectFormat, loadImage, preprocess, toInput, type RgbImage } from '../../src/image';
import { shared } from '../helpers';

/** Rows of a dataset manifest (../shared/datasets/<name>.manifest.tsv) as records. */
function manifest(name: string): Record<string, string>[] {
  const [head, ...rows] = fs.readFileSync(shared('datasets', `${name}.manifest.tsv`), 'utf8').trim().split('\n');
  const cols = head.split('\t');
  return rows.map((r) => Object.fromEntries(r.split('\t').map((v, i) => [cols[i], v])));
}

function sizeOf(row: Record<string, string>): [number, number] {
  const [w, h] = row.size_wxh.split('x').map(Number);
  return [w, h];
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

async function assertPreprocessMatches(input: string | Uint8Array, size: number): Promise<void> {
  const fast = await preprocess(input, size);
  const slow = await toInput(await loadImage(input), size);
  assert.equal(fast.length, size * size * 3);
  assert.ok(Buffer.from(fast).equals(Buffer.from(slow)), `preprocess differs from loadImage+toInput for ${typeof input === 'string' ? input : 'bytes'}`);
}

describe('image: detectFormat', () => {
  it('matches the manifest format of every digits-photo file (BMPs named .jpg, one PNG)', () => {
    const rows = manifest('digits-photo');
    const counts: Record<string, number> = {};
    for (const row of rows) {
      const got = detectFormat(fs.readFileSync(shared('datasets', row.file)));
      assert.equal(got, row.format.toLowerCase(), row.file);
      counts[row.format] = (counts[row.format] ?? 0) + 1;
    }
    assert.ok(counts.BMP > 0 && counts.PNG === 1, JSON.stringify(counts));
    assert.ok(rows.filter((r) => r.format === 'BMP').every((r) => r.file.endsWith('.jpg')));
  });
});

describe('image: BMP decoding (bmp-ts) gives RGB in the right order', () => {
  it('real 24-bit files (cat.bmp, a digits BMP named .jpg) match the pixel bytes read straight from the file', async () => {
    const bmps = [shared('images', 'cat.bmp'), shared('images', 'grace_hopper.bmp')];
    const digitBmp = manifest('digits-photo').find((r) => r.format === 'BMP');
    assert.ok(digitBmp);
    bmps.push(shared('datasets', digitBmp.file));
    for (const file of bmps) {
      const raw = fs.readFileSync(file);
      assert.equal(raw.readUInt16LE(28), 24, `${file} is expected to be 24-bit`);
      const offset = raw.readUInt32LE(10);
      const w = raw.readInt32LE(18);
      const h = raw.readInt32LE(22);
      const stride = Math.ceil((w * 3) / 4) * 4;
      const img = await loadImage(file);
      assert.deepEqual([img.width, img.height], [w, Math.abs(h)]);
      for (const [x, y] of [[0, 0], [w - 1, 0], [0, Math.abs(h) - 1], [w >> 1, Math.abs(h) >> 1], [w - 1, Math.abs(h) - 1]]) {
        const o = offset + (h > 0 ? h - 1 - y : y) * stride + x * 3;
        assert.deepEqual(pixel(img, x, y), [raw[o + 2], raw[o + 1], raw[o]], `${file} (${x},${y})`);
      }
    }
  });

  it('an 8-bit greyscale BMP (mnist_nine.bmp) decodes to 3 equal channels', async () => {
    const img = await loadImage(shared('images', 'mnist_nine.bmp'));
    assert.equal(img.data.length, img.width * img.height * 3);
    for (let i = 0; i < img.data.length; i += 3) {
      assert.ok(img.data[i] === img.data[i + 1] && img.data[i] === img.data[i + 2]);
    }
  });
});

describe('image: loadImage with sharp', () => {
  it('decodes every digits-photo BMP-named-.jpg and the RGBA PNG at the manifest size', async () => {
    for (const row of manifest('digits-photo').filter((r) => r.format !== 'JPEG')) {
      const img = await loadImage(shared('datasets', row.file));
      assert.deepEqual([img.width, img.height], sizeOf(row), row.file);
      assert.equal(img.data.length, img.width * img.height * 3, row.file);
    }
  });

  it('decodes gestures .JPG files (including the 3024x3024 ones) at the manifest size', async () => {
    const rows = manifest('gestures');
    const picks = [rows[0], rows[rows.length - 1], ...rows.filter((r) => r.size_wxh !== '100x100')];
    for (const row of picks) {
      const img = await loadImage(shared('datasets', row.file));
      assert.deepEqual([img.width, img.height], sizeOf(row), row.file);
    }
  });
});

describe('image: toInput and preprocess', () => {
  it('preprocess is byte-identical to toInput(loadImage()) on real JPEG, BMP and RGBA PNG files', async function () {
    const files: string[] = [];
    const objects = manifest('objects-small');
    for (let i = 0; i < objects.length; i += 67) files.push(shared('datasets', objects[i].file));
    const gestures = manifest('gestures');
    files.push(shared('datasets', gestures[5].file));
    files.push(...gestures.filter((r) => r.size_wxh === '3024x3024').map((r) => shared('datasets', r.file)));
    const digits = manifest('digits-photo');
    files.push(...digits.filter((r) => r.format !== 'JPEG').slice(0, 5).map((r) => shared('datasets', r.file)));
    files.push(...digits.filter((r) => r.format === 'JPEG').slice(0, 5).map((r) => shared('datasets', r.file)));
    files.push(shared('images', 'cat.bmp'), shared('images', 'mnist_nine.bmp'));
    for (const f of files) for (const size of [224, 96]) await assertPreprocessMatches(f, size);
  });
});
