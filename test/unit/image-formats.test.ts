import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { EdgeTuneError } from '../../src/errors';
import {
  loadImage, preprocess, preprocessImage, sniffImage, detectFormat, toInput, truncationReason, isBelowMinSize, tooSmallReason,
  MIN_IMAGE_SIDE, FITS, type Sniffed,
} from '../../src/image';
import { ROOT, tmpDir } from '../helpers';

const HEIC = path.join(ROOT, 'test', 'fixtures', 'quadrants.heic');

const b = (...xs: (number | string)[]) => new Uint8Array(xs.flatMap((x) => (typeof x === 'string' ? [...Buffer.from(x, 'latin1')] : [x])));

/** An ISO-BMFF ftyp box: size, 'ftyp', major brand, minor version 0, compatible brands. */
function ftyp(major: string, ...compatible: string[]): Uint8Array {
  const size = 16 + 4 * compatible.length;
  return b(0, 0, 0, size, 'ftyp', major, 0, 0, 0, 0, ...compatible);
}

/** A little-endian TIFF header whose IFD0 (at offset 8) holds the given (tag, type, value) entries. */
function tiffWith(entries: [number, number, number][], at8 = ''): Uint8Array {
  const buf = Buffer.alloc(8 + 2 + entries.length * 12 + 4);
  buf.write('II', 0, 'latin1');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(8, 4);
  buf.writeUInt16LE(entries.length, 8);
  entries.forEach(([tag, type, value], i) => {
    const e = 10 + i * 12;
    buf.writeUInt16LE(tag, e);
    buf.writeUInt16LE(type, e + 2);
    buf.writeUInt32LE(1, e + 4);
    if (type === 3) buf.writeUInt16LE(value, e + 8);
    else buf.writeUInt32LE(value, e + 8);
  });
  if (at8) buf.write(at8, 8, 'latin1');
  return new Uint8Array(buf);
}

/** Deterministic noise image (so a JPEG of it has plenty of scan data). */
function noise(width: number, height: number, seed = 1): Buffer {
  const d = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    d[i] = s >>> 24;
  }
  return d;
}

async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof EdgeTuneError, `EdgeTuneError expected, got ${e}`);
    assert.equal(e.code, 'BAD_IMAGE');
    assert.equal(e.message, message);
    return true;
  });
}

describe('image formats: sniffImage', () => {
  it('names every recognised format, decodable or not, and never shows hex for them', () => {
    const image = (format: string): Sniffed => ({ kind: 'image', format } as Sniffed);
    const table: [Uint8Array, Sniffed | string][] = [
      [ftyp('heic', 'mif1', 'heic', 'miaf'), image('heic')],
      [ftyp('heix', 'mif1'), image('heic')],
      [ftyp('mif1', 'heic'), image('heic')],
      [ftyp('msf1', 'hevc'), image('heic')],
      [ftyp('avif', 'mif1', 'miaf'), image('avif')],
      [ftyp('mif1', 'avif'), image('avif')],
      [ftyp('avis', 'msf1', 'avis'), 'AVIF image sequence (animated AVIF)'],
      [ftyp('heim', 'heim'), 'HEIC with layered (multi-layer or scalable) HEVC'],
      [ftyp('crx ', 'crx '), 'Canon CR3 camera raw'],
      [ftyp('isom', 'isom', 'mp41'), 'video (MP4/QuickTime)'],
      [ftyp('qt  ', 'qt  '), 'video (MP4/QuickTime)'],
      [ftyp('abcd'), "ISO media file (brand 'abcd')"],
      [b(0, 0, 0, 0x0c, 'jP  ', 0x0d, 0x0a, 0x87, 0x0a), 'JPEG 2000'],
      [b(0xff, 0x4f, 0xff, 0x51, 0), 'JPEG 2000'],
      [b(0xff, 0x0a, 0x10, 0x20), 'JPEG XL'],
      [b(0, 0, 0, 0x0c, 'JXL ', 0x0d, 0x0a, 0x87, 0x0a), 'JPEG XL'],
      [b('8BPS', 0, 1, 0, 0, 0, 0, 0, 0), 'PSD (Photoshop document)'],
      [b('%PDF-1.7\n'), 'PDF document'],
      [b('PK', 3, 4, 20, 0), 'ZIP archive'],
      [b(0, 0, 1, 0, 1, 0, 16, 16), 'ICO (Windows icon)'],
      [b('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'), 'SVG (vector drawing)'],
      [b('IIRO', 8, 0, 0, 0), 'Olympus ORF camera raw'],
      [b('FUJIFILMCCD-RAW 0201'), 'Fujifilm RAF camera raw'],
      [tiffWith([], 'CR'), 'Canon CR2 camera raw'],
      [tiffWith([[256, 3, 100], [0xc612, 1, 0x01040000]]), 'DNG camera raw'],
      [tiffWith([[254, 4, 1], [256, 3, 160]]), 'TIFF whose first image is a reduced-resolution preview (a camera raw such as NEF or ARW)'],
      [tiffWith([[254, 4, 0], [256, 3, 160]]), image('tiff')],
      [b(), { kind: 'unknown', what: 'empty file' }],
      [b('hello world\n'), { kind: 'unknown', what: 'a text file' }],
      [b(0x00, 0x01, 0x02, 0x03, 0xfe), { kind: 'unknown', what: 'unknown content (first bytes 00 01 02 03 fe)' }],
    ];
    for (const [bytes, want] of table) {
      const got = sniffImage(bytes);
      if (typeof want === 'string') {
        assert.equal(got.kind, 'unsupported', want);
        assert.equal((got as { name: string }).name, want);
        assert.ok((got as { hint: string }).hint.length > 10, want);
      } else {
        assert.deepEqual(got, want, Buffer.from(bytes).toString('latin1'));
      }
    }
    assert.equal(detectFormat(ftyp('heic', 'mif1')), 'heic');
    assert.equal(detectFormat(b('8BPS')), null);
  });

  it('real files sharp writes: AVIF is avif, TIFF is tiff', async () => {
    const s = () => sharp({ create: { width: 20, height: 12, channels: 3, background: { r: 9, g: 99, b: 199 } } });
    assert.equal(detectFormat(new Uint8Array(await s().avif().toBuffer())), 'avif');
    assert.equal(detectFormat(new Uint8Array(await s().tiff().toBuffer())), 'tiff');
    assert.equal(detectFormat(new Uint8Array(fs.readFileSync(HEIC))), 'heic');
  });

  it('an unsupported format is refused by name with how to convert, on every path', async () => {
    const psd = b('8BPS', 0, 1, ...new Array(40).fill(0));
    const want = `cannot read image <${psd.length}-byte buffer>: unsupported format PSD (Photoshop document): save or export it as PNG or JPEG (Photoshop, GIMP, Krita)`;
    await rejectsWith(loadImage(psd), want);
    await rejectsWith(preprocess(psd, 32), want);
    const file = path.join(tmpDir(), 'photo.jpg');
    fs.writeFileSync(file, b(0xff, 0x0a, ...new Array(30).fill(7)));
    await rejectsWith(loadImage(file), `cannot read image ${file}: unsupported format JPEG XL: convert it to PNG, e.g. 'djxl in.jxl out.png' (Debian package libjxl-tools)`);
  });
});

describe('image formats: HEIC and AVIF', () => {
  it('decodes the HEIC fixture: size, quadrant colours (lossy, ±12), same pixels via preprocess and loadImage', async () => {
    const img = await loadImage(HEIC);
    assert.deepEqual([img.width, img.height], [48, 32]);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * 48 + x) * 3, (y * 48 + x) * 3 + 3));
    const near = (got: number[], want: number[]) => got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 12, `${got} vs ${want}`));
    near(px(6, 8), [230, 200, Math.round((6 * 255) / 47)]);
    near(px(40, 8), [20, 200, Math.round((40 * 255) / 47)]);
    near(px(6, 24), [230, 40, Math.round((6 * 255) / 47)]);
    near(px(40, 24), [20, 40, Math.round((40 * 255) / 47)]);
    const p = await preprocessImage(HEIC, 32, 'squash');
    assert.deepEqual([p.width, p.height, p.format], [48, 32, 'heic']);
    assert.ok(Buffer.from(p.pixels).equals(Buffer.from(await toInput(img, 32, 'squash'))));
  });

  it('keeps libheif messages off stdout and turns them into the reason', async () => {
    const heic = Buffer.from(fs.readFileSync(HEIC));
    heic.write('xxxx', 36, 'latin1'); // the meta box's version/flags: libheif refuses it
    const logged: unknown[][] = [];
    const original = console.log;
    console.log = (...a: unknown[]) => { logged.push(a); };
    try {
      await assert.rejects(loadImage(heic), (e: Error) => {
        assert.ok(e instanceof EdgeTuneError && e.code === 'BAD_IMAGE');
        assert.match(e.message, /^cannot read image <595-byte buffer>: HEIC decode failed \(.*meta box data version 120 is not implemented yet\)$/);
        return true;
      });
      console.log('other output passes through');
    } finally {
      console.log = original;
    }
    assert.deepEqual(logged, [['other output passes through']]);
  });

  it('a truncated HEIC is refused as truncated at every cut', async () => {
    const heic = fs.readFileSync(HEIC);
    for (const cut of [12, 40, 300, heic.length - 1]) {
      await rejectsWith(loadImage(heic.subarray(0, cut)), `cannot read image <${cut}-byte buffer>: the HEIC file is truncated (its last box runs past the end of the file)`);
    }
  });

  it('decodes AVIF through sharp', async () => {
    const avif = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 10 } } }).avif({ quality: 90 }).toBuffer();
    const img = await loadImage(new Uint8Array(avif));
    assert.deepEqual([img.width, img.height], [40, 30]);
    Array.from(img.data.subarray(0, 3)).forEach((v, i) => assert.ok(Math.abs(v - [200, 10, 10][i]) <= 6));
  });
});

describe('image formats: one error path', () => {
  it('a truncated JPEG gives one message on every path and fit, wherever it is cut', async () => {
    // Portrait, so a centre crop never reads the bottom rows: the lazy decoder alone would accept a cut there.
    const jpeg = await sharp(noise(96, 160), { raw: { width: 96, height: 160, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    const dir = tmpDir();
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    assert.ok(sos > 200);
    for (const cut of [3, 200, jpeg.length >> 1, jpeg.length - 400, jpeg.length - 1]) {
      const file = path.join(dir, `cut-${cut}.jpg`);
      fs.writeFileSync(file, jpeg.subarray(0, cut));
      const header = cut < sos + 4;
      const want = `cannot read image ${file}: the JPEG file is truncated (${header ? 'it ends inside its header' : 'no end-of-image marker after the image data'})`;
      await rejectsWith(loadImage(file), want);
      for (const fit of FITS) {
        await rejectsWith(preprocess(file, 64, fit), want);
        await rejectsWith(preprocessImage(file, 64, fit), want);
      }
    }
    assert.equal(truncationReason(new Uint8Array(jpeg), 'jpeg'), null);
  });

  it('a truncated PNG gives one message on every path', async () => {
    const png = await sharp(noise(64, 128), { raw: { width: 64, height: 128, channels: 3 } }).png().toBuffer();
    for (const cut of [100, png.length - 13, png.length - 1]) {
      const want = `cannot read image <${cut}-byte buffer>: the PNG file is truncated (no IEND chunk)`;
      await rejectsWith(loadImage(png.subarray(0, cut)), want);
      for (const fit of FITS) await rejectsWith(preprocess(png.subarray(0, cut), 32, fit), want);
    }
    assert.equal(truncationReason(new Uint8Array(png), 'png'), null);
  });

  it('system errors become one line, never a raw "EISDIR … read"', async () => {
    const dir = tmpDir();
    await rejectsWith(loadImage(dir), `cannot read image ${dir}: it is a folder, not a file (EISDIR)`);
    const missing = path.join(dir, 'missing.jpg');
    await rejectsWith(preprocess(missing, 32), `cannot read image ${missing}: it does not exist (ENOENT)`);
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x');
    const under = path.join(file, 'x.jpg');
    await rejectsWith(loadImage(under), `cannot read image ${under}: a part of the path is a file, not a folder (ENOTDIR)`);
  });
});

describe('image formats: minimum size', () => {
  it('MIN_IMAGE_SIDE is 16 px; below it on either side is too small', () => {
    assert.equal(MIN_IMAGE_SIDE, 16);
    assert.deepEqual([[1, 1], [15, 400], [400, 15], [16, 16], [17, 29]].map(([w, h]) => isBelowMinSize(w, h)), [true, true, true, false, false]);
    assert.equal(tooSmallReason(1, 1), 'too small (1x1 pixels); a photo needs at least 16 px on each side');
    assert.equal(tooSmallReason(16, 300), null);
  });

  it('preprocessImage reports the decoded, oriented size (1×1 PNG; EXIF-rotated JPEG; BMP path)', async () => {
    const one = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
    const p1 = await preprocessImage(one, 32);
    assert.deepEqual([p1.width, p1.height, p1.format, p1.pixels.length], [1, 1, 'png', 32 * 32 * 3]);
    assert.equal(isBelowMinSize(p1.width, p1.height), true);
    // 40 wide × 10 high stored, EXIF orientation 6 (rotate 90°): displayed 10 × 40.
    const rotated = await sharp(noise(40, 10), { raw: { width: 40, height: 10, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    for (const fit of FITS) {
      const p = await preprocessImage(rotated, 24, fit);
      assert.deepEqual([p.width, p.height], [10, 40], fit);
      assert.ok(Buffer.from(p.pixels).equals(Buffer.from(await preprocess(rotated, 24, fit))));
    }
  });
});
