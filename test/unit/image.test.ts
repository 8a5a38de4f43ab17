import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { centreCropBox, detectFormat, loadImage, preprocess, toInput, type RgbImage } from '../../src/image';
import { sample, tmpDir } from '../helpers';

/**
 * A BMP file buffer with BITMAPFILEHEADER + BITMAPINFOHEADER filled in (uncompressed; height < 0
 * for top-down rows) and zeroed pixel storage of `pixelBytes` after `offset`.
 */
function bmpBuffer(width: number, height: number, bpp: number, offset: number, pixelBytes: number): Buffer {
  const buf = Buffer.alloc(offset + pixelBytes);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bpp, 28);
  return buf;
}

/**
 * A minimal uncompressed BMP writer written for this test (BITMAPFILEHEADER + BITMAPINFOHEADER,
 * pixels stored B,G,R[,A], rows padded to 4 bytes, bottom-up unless topDown). Pixels are given RGB.
 */
function makeBmp(width: number, height: number, rgb: number[][], opts: { bpp?: 24 | 32; topDown?: boolean } = {}): Uint8Array {
  const bpp = opts.bpp ?? 24;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  const offset = 14 + 40;
  const buf = bmpBuffer(width, opts.topDown ? -height : height, bpp, offset, stride * height);
  for (let y = 0; y < height; y++) {
    const row = opts.topDown ? y : height - 1 - y;
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb[y * width + x];
      const o = offset + row * stride + (x * bpp) / 8;
      buf[o] = b;
      buf[o + 1] = g;
      buf[o + 2] = r;
      if (bpp === 32) buf[o + 3] = 255;
    }
  }
  return new Uint8Array(buf);
}

/** An 8-bit palettised BMP (palette entries B,G,R,0). */
function makeBmp8(width: number, height: number, palette: number[][], indices: number[]): Uint8Array {
  const stride = Math.ceil(width / 4) * 4;
  const offset = 14 + 40 + palette.length * 4;
  const buf = bmpBuffer(width, height, 8, offset, stride * height);
  buf.writeUInt32LE(palette.length, 46);
  palette.forEach(([r, g, b], i) => {
    buf[54 + i * 4] = b;
    buf[54 + i * 4 + 1] = g;
    buf[54 + i * 4 + 2] = r;
  });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) buf[offset + (height - 1 - y) * stride + x] = indices[y * width + x];
  }
  return new Uint8Array(buf);
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

function randomImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { data, width, height };
}

async function assertPreprocessMatches(input: string | Uint8Array, size: number): Promise<void> {
  const fast = await preprocess(input, size);
  const slow = await toInput(await loadImage(input), size);
  assert.equal(fast.length, size * size * 3);
  assert.ok(Buffer.from(fast).equals(Buffer.from(slow)), `preprocess differs from loadImage+toInput for ${typeof input === 'string' ? input : 'bytes'}`);
}

const KNOWN = [
  [255, 0, 0], [0, 255, 0], [0, 0, 255],
  [255, 255, 255], [0, 0, 0], [10, 20, 30],
];

describe('image: detectFormat', () => {
  it('recognises each signature and nothing else', () => {
    const b = (...xs: (number | string)[]) =>
      new Uint8Array(xs.flatMap((x) => (typeof x === 'string' ? [...Buffer.from(x, 'latin1')] : [x])));
    const bmpHead = (dib: number) => {
      const a = new Uint8Array(18);
      a.set([0x42, 0x4d]);
      a[14] = dib;
      return a;
    };
    const table: [Uint8Array, string | null][] = [
      [b(0xff, 0xd8, 0xff, 0xe0), 'jpeg'],
      [b(0x89, 'PNG', 0x0d, 0x0a, 0x1a, 0x0a), 'png'],
      [b('GIF87a'), 'gif'],
      [b('GIF89a'), 'gif'],
      [b('GIF88a'), null],
      [b('RIFF', 0, 0, 0, 0, 'WEBP'), 'webp'],
      [b('RIFF', 0, 0, 0, 0, 'WAVE'), null],
      [b('II*', 0), 'tiff'],
      [b('MM', 0, '*'), 'tiff'],
      [bmpHead(40), 'bmp'],
      [bmpHead(124), 'bmp'],
      [b('BMW parts list, 2024 edition'), null],
      [b('hello'), null],
      [b(0xff, 0xd8), null],
      [new Uint8Array(0), null],
    ];
    for (const [bytes, want] of table) assert.equal(detectFormat(bytes), want, Buffer.from(bytes).toString('hex'));
  });
});

describe('image: BMP decoding (bmp-ts) gives RGB in the right order', () => {
  it('24-bit bottom-up with row padding: known red/green/blue/white/black/(10,20,30) pixels', async () => {
    const img = await loadImage(makeBmp(3, 2, KNOWN));
    assert.deepEqual([img.width, img.height], [3, 2]);
    assert.deepEqual(Array.from(img.data), KNOWN.flat());
  });

  it('24-bit top-down (negative height)', async () => {
    const img = await loadImage(makeBmp(3, 2, KNOWN, { topDown: true }));
    assert.deepEqual(Array.from(img.data), KNOWN.flat());
  });

  it('32-bit', async () => {
    const img = await loadImage(makeBmp(3, 2, KNOWN, { bpp: 32 }));
    assert.deepEqual(Array.from(img.data), KNOWN.flat());
  });

  it('8-bit palette', async () => {
    const palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]];
    const img = await loadImage(makeBmp8(3, 2, palette, [0, 1, 2, 3, 3, 0]));
    assert.deepEqual(Array.from(img.data), [0, 1, 2, 3, 3, 0].flatMap((i) => palette[i]));
  });

  it('the same pixels as BMP and as lossless PNG decode identically', async () => {
    const bmp = await loadImage(sample('images', 'grace_hopper.bmp'));
    const png = await sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: 3 } }).png().toBuffer();
    const fromPng = await loadImage(new Uint8Array(png));
    assert.ok(Buffer.from(fromPng.data).equals(Buffer.from(bmp.data)));
  });
});

describe('image: loadImage with sharp', () => {
  it('applies EXIF orientation (6 = rotate 90° clockwise for display)', async () => {
    // Stored 32x16: left half red, right half blue. Displayed upright it is 16x32, red on top.
    const w = 32, h = 16;
    const raw = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(x < w / 2 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
    const jpeg = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpeg).metadata()).orientation, 6);
    const img = await loadImage(new Uint8Array(jpeg));
    assert.deepEqual([img.width, img.height], [16, 32]);
    const top = pixel(img, 8, 4);
    const bottom = pixel(img, 8, 27);
    assert.ok(top[0] > 200 && top[2] < 60, `top ${top}`);
    assert.ok(bottom[2] > 200 && bottom[0] < 60, `bottom ${bottom}`);
  });

  it('greyscale and grey+alpha inputs come out as 3 equal channels; RGBA drops alpha', async () => {
    const grey = new Uint8Array(8 * 4).map((_, i) => i * 7);
    const greyPng = await sharp(grey, { raw: { width: 8, height: 4, channels: 1 } }).png().toBuffer();
    const g = await loadImage(new Uint8Array(greyPng));
    assert.deepEqual(Array.from(g.data), Array.from(grey).flatMap((v) => [v, v, v]));
    const ga = new Uint8Array(8 * 4 * 2).map((_, i) => (i % 2 ? 128 : i * 3));
    const gaPng = await sharp(ga, { raw: { width: 8, height: 4, channels: 2 } }).png().toBuffer();
    const gImg = await loadImage(new Uint8Array(gaPng));
    assert.equal(gImg.data.length, 8 * 4 * 3);
    assert.equal(gImg.data[3], 6); // pixel 1's grey value, alpha ignored (not composited)
    const rgba = new Uint8Array([255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 10, 20, 30, 7]);
    const rgbaPng = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    const c = await loadImage(new Uint8Array(rgbaPng));
    assert.deepEqual(Array.from(c.data), [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  });

  it('lossless WebP and TIFF, and GIF, decode to the source pixels / size', async () => {
    const src = randomImage(20, 12, 7);
    const s = () => sharp(src.data, { raw: { width: 20, height: 12, channels: 3 } });
    for (const bytes of [await s().webp({ lossless: true }).toBuffer(), await s().tiff({ compression: 'lzw' }).toBuffer()]) {
      const img = await loadImage(new Uint8Array(bytes));
      assert.ok(Buffer.from(img.data).equals(Buffer.from(src.data)));
    }
    const gif = await loadImage(new Uint8Array(await s().gif().toBuffer()));
    assert.deepEqual([gif.width, gif.height], [20, 12]);
  });

  it('errors name the file and the reason', async () => {
    const dir = tmpDir();
    const text = path.join(dir, 'hello.jpg');
    fs.writeFileSync(text, 'hello world');
    await assert.rejects(loadImage(text), (e: Error) => {
      assert.equal(e.message, `cannot read image ${text}: not an image (a text file); supported: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF`);
      return true;
    });
    const binary = path.join(dir, 'blob.jpg');
    fs.writeFileSync(binary, Buffer.from([0, 1, 2, 3, 0xfe, 0xfd, 0xfc, 0xfb, 9]));
    await assert.rejects(loadImage(binary), /cannot read image .*blob\.jpg: not an image \(unknown content \(first bytes 00 01 02 03 fe fd fc fb\)\)/);
    const empty = path.join(dir, 'empty.png');
    fs.writeFileSync(empty, '');
    await assert.rejects(loadImage(empty), /cannot read image .*empty\.png: not an image \(empty file\)/);
    await assert.rejects(loadImage(path.join(dir, 'missing.jpg')), /cannot read image .*missing\.jpg: it does not exist \(ENOENT\)$/);
    const header = path.join(dir, 'header.jpg');
    fs.writeFileSync(header, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    for (const p of [loadImage(header), preprocess(header, 224)]) {
      await assert.rejects(p, (e: Error) => e.message === `cannot read image ${header}: the JPEG file is truncated (it ends inside its header)`);
    }
    const broken = path.join(dir, 'broken.jpg');
    fs.writeFileSync(broken, Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9])); // a scan before any frame header
    for (const p of [loadImage(broken), preprocess(broken, 224)]) {
      await assert.rejects(p, (e: Error) => e.message === `cannot read image ${broken}: JPEG decode failed (VipsJpeg: Invalid JPEG file structure: SOS before SOF)`);
    }
    const truncated = path.join(dir, 'truncated.jpg');
    const hopper = await loadImage(sample('images', 'grace_hopper.bmp'));
    const whole = await sharp(hopper.data, { raw: { width: hopper.width, height: hopper.height, channels: 3 } }).jpeg().toBuffer();
    // Cut inside the scan data, and inside the last rows only (a centre crop never reads those).
    for (const cut of [whole.length >> 1, whole.length - 64]) {
      fs.writeFileSync(truncated, whole.subarray(0, cut));
      for (const p of [loadImage(truncated), preprocess(truncated, 224), preprocess(truncated, 224, 'squash')]) {
        await assert.rejects(p, (e: Error) => e.message === `cannot read image ${truncated}: the JPEG file is truncated (no end-of-image marker after the image data)`);
      }
    }
    const rle = makeBmp8(2, 2, [[0, 0, 0]], [0, 0, 0, 0]);
    rle[30] = 1; // biCompression = BI_RLE8
    await assert.rejects(loadImage(rle), /cannot read image <\d+-byte buffer>: RLE-compressed BMP is not supported/);
  });
});

describe('image: toInput and preprocess', () => {
  it('centreCropBox takes the centred square of the shorter side', () => {
    assert.deepEqual(centreCropBox(384, 512), { left: 0, top: 64, width: 384, height: 384 });
    assert.deepEqual(centreCropBox(512, 384), { left: 64, top: 0, width: 384, height: 384 });
    assert.deepEqual(centreCropBox(7, 4), { left: 1, top: 0, width: 4, height: 4 });
    assert.deepEqual(centreCropBox(5, 5), { left: 0, top: 0, width: 5, height: 5 });
    assert.throws(() => centreCropBox(0, 5), /positive integers/);
  });

  it('toInput at the crop size returns exactly the centre crop', async () => {
    const img = randomImage(7, 4, 3);
    const out = await toInput(img, 4);
    const want: number[] = [];
    for (let y = 0; y < 4; y++) for (let x = 1; x < 5; x++) want.push(...pixel(img, x, y));
    assert.deepEqual(Array.from(out), want);
  });

  it('toInput keeps a uniform colour uniform at any size, and checks its input', async () => {
    const img: RgbImage = { width: 30, height: 50, data: new Uint8Array(30 * 50 * 3).map((_, i) => [200, 100, 7][i % 3]) };
    for (const size of [1, 16, 224]) {
      const out = await toInput(img, size);
      assert.equal(out.length, size * size * 3);
      assert.ok(out.every((v, i) => v === [200, 100, 7][i % 3]));
    }
    await assert.rejects(toInput({ width: 2, height: 2, data: new Uint8Array(5) }, 4), /expected 2x2x3 = 12/);
    await assert.rejects(toInput(img, 0), /input size 0 is invalid/);
  });

  it('preprocess is byte-identical to toInput(loadImage()) on EXIF-rotated, grey, 16-bit and palette inputs', async () => {
    const src = randomImage(48, 30, 11);
    const s = () => sharp(src.data, { raw: { width: 48, height: 30, channels: 3 } });
    const inputs = [
      await s().jpeg().withMetadata({ orientation: 6 }).toBuffer(),
      await s().jpeg().withMetadata({ orientation: 3 }).toBuffer(),
      await s().greyscale().jpeg().toBuffer(),
      await s().greyscale().png().toBuffer(),
      await s().png({ palette: true }).toBuffer(),
      await s().toColourspace('rgb16').png().toBuffer(),
    ];
    assert.equal((await sharp(inputs[5]).metadata()).depth, 'ushort');
    for (const bytes of inputs) await assertPreprocessMatches(new Uint8Array(bytes), 24);
  });
});
