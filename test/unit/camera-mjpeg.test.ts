import { strict as assert } from 'node:assert';
import sharp from 'sharp';
import { EdgeTuneError } from '../../src/errors';
import { createMjpegSplitter } from '../../src/camera/mjpeg';
import { makeRng } from '../../src/augment';

/** Seeded PRNG (the project's own, mulberry32), so a failing chunking can be replayed. */
const rng = makeRng;

/** A JPEG of Gaussian noise (plenty of 0xFF bytes in its entropy-coded data, hence FF00 stuffing). */
async function noiseJpeg(width: number, height: number, progressive = false): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .jpeg({ quality: 90, progressive })
    .toBuffer();
}

/** Cuts `stream` into chunks of 1..maxChunk bytes at seeded random places. */
function chunk(stream: Buffer, seed: number, maxChunk: number): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length;) {
    const n = 1 + Math.floor(r() * maxChunk);
    out.push(stream.subarray(at, at + n));
    at += n;
  }
  return out;
}

function split(chunks: Buffer[], maxFrameBytes?: number): { frames: Buffer[]; splitter: ReturnType<typeof createMjpegSplitter> } {
  const frames: Buffer[] = [];
  const splitter = createMjpegSplitter((f) => frames.push(f), { maxFrameBytes });
  for (const c of chunks) splitter.push(c);
  return { frames, splitter };
}

/**
 * `jpeg` with an EXIF APP1 segment inserted after its SOI, holding `thumb` as the IFD1 thumbnail
 * (TIFF 6.0 big-endian header; JPEGInterchangeFormat 0x0201 / …Length 0x0202, EXIF 2.3 §4.5.8).
 */
function withExifThumbnail(jpeg: Buffer, thumb: Buffer): Buffer {
  const tiff = Buffer.alloc(8 + 6 + 30);
  tiff.write('MM\0*', 0, 'latin1');
  tiff.writeUInt32BE(8, 4); // IFD0 at 8
  tiff.writeUInt16BE(0, 8); // IFD0: no entries
  tiff.writeUInt32BE(14, 10); // next IFD (IFD1) at 14
  tiff.writeUInt16BE(2, 14);
  const entry = (at: number, tag: number, value: number) => {
    tiff.writeUInt16BE(tag, at);
    tiff.writeUInt16BE(4, at + 2); // LONG
    tiff.writeUInt32BE(1, at + 4);
    tiff.writeUInt32BE(value, at + 8);
  };
  entry(16, 0x0201, tiff.length);
  entry(28, 0x0202, thumb.length);
  tiff.writeUInt32BE(0, 40);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff, thumb]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, body, jpeg.subarray(2)]);
}

describe('camera: MJPEG splitter', () => {
  let jpegs: Buffer[];
  let exifJpeg: Buffer;
  before(async () => {
    jpegs = [
      await noiseJpeg(64, 48),
      await noiseJpeg(200, 150),
      await noiseJpeg(96, 96, true), // progressive: several SOS with DHT segments between the scans
      await noiseJpeg(17, 9),
    ];
    exifJpeg = withExifThumbnail(await noiseJpeg(120, 80), await noiseJpeg(16, 16));
  });

  it('returns every JPEG of a stream cut at random places, byte for byte (100 chunkings, 1-byte chunks included)', () => {
    const all = [...jpegs, exifJpeg, ...jpegs];
    const stream = Buffer.concat(all);
    for (let seed = 1; seed <= 100; seed++) {
      const { frames, splitter } = split(chunk(stream, seed, seed % 10 === 0 ? 3 : 4096));
      assert.equal(frames.length, all.length, `seed ${seed}`);
      frames.forEach((f, i) => assert.ok(f.equals(all[i]), `seed ${seed}: frame ${i} differs`));
      assert.deepEqual(splitter.stats(), { frames: all.length, skippedBytes: 0, droppedFrames: 0 });
      assert.equal(splitter.buffered(), 0);
    }
  });

  it('splits the stream one byte at a time too', () => {
    const { frames } = split(chunk(Buffer.concat(jpegs), 7, 1));
    assert.deepEqual(frames.map((f) => f.length), jpegs.map((j) => j.length));
  });

  it('keeps a JPEG whose EXIF thumbnail holds an EOI marker whole (a naive FFD9 search would cut it)', async () => {
    const eoi = Buffer.from([0xff, 0xd9]);
    assert.ok(exifJpeg.indexOf(eoi) < exifJpeg.length - 2, 'the thumbnail puts an FF D9 before the end');
    const meta = await sharp(exifJpeg).metadata();
    assert.equal(meta.width, 120); // still a valid JPEG to libjpeg
    assert.ok(meta.exif && meta.exif.length > 0);
    const { frames } = split(chunk(Buffer.concat([exifJpeg, exifJpeg]), 3, 500));
    assert.equal(frames.length, 2);
    assert.ok(frames[0].equals(exifJpeg) && frames[1].equals(exifJpeg));
    assert.equal((await sharp(frames[1]).metadata()).width, 120);
  });

  it('skips garbage between frames, a false SOI, a truncated frame and a tables-only stream', () => {
    const r = rng(42);
    const garbage = (n: number) => {
      const g = Buffer.alloc(n);
      for (let i = 0; i < n; i++) g[i] = Math.floor(r() * 256);
      for (let i = 0; i + 1 < n; i++) if (g[i] === 0xff && g[i + 1] === 0xd8) g[i + 1] = 0x00; // no SOI by chance
      return g;
    };
    const tablesOnly = Buffer.from([0xff, 0xd8, 0xff, 0xc4, 0x00, 0x04, 0x00, 0x00, 0xff, 0xd9]);
    const falseSoi = Buffer.from([0xff, 0xd8, 0x12, 0x34, 0xff, 0xff]);
    const truncated = jpegs[1].subarray(0, Math.floor(jpegs[1].length / 2)); // cut inside the entropy-coded data
    const stream = Buffer.concat([
      garbage(333), jpegs[0], garbage(1000), falseSoi, jpegs[1], Buffer.from([0xff, 0xff, 0xff]), truncated, jpegs[2],
      tablesOnly, garbage(77), jpegs[3], garbage(5),
    ]);
    for (const seed of [1, 2, 3]) {
      const { frames, splitter } = split(chunk(stream, seed, 700));
      assert.deepEqual(frames.map((f) => f.length), [jpegs[0], jpegs[1], jpegs[2], jpegs[3]].map((j) => j.length), `seed ${seed}`);
      frames.forEach((f, i) => assert.ok(f.equals(jpegs[i])));
      const s = splitter.stats();
      assert.equal(s.frames, 4);
      assert.equal(s.droppedFrames, 3); // the false SOI, the truncated frame, the tables-only stream
      assert.ok(s.skippedBytes >= 333 + 1000 + 77 + 5, `skipped ${s.skippedBytes}`);
    }
  });

  it('walks fill bytes, restart markers, stuffed zeros, TEM and an FFD9 inside an APPn segment', () => {
    const frame = Buffer.from([
      0xff, 0xd8, // SOI
      0xff, 0xff, 0xff, 0xe0, 0x00, 0x08, 0xff, 0xd9, 0xff, 0xd8, 0x00, 0x00, // fill bytes, APP0 holding FF D9 FF D8
      0xff, 0x01, // TEM
      0xff, 0xda, 0x00, 0x04, 0x01, 0x02, // SOS header
      0x11, 0xff, 0x00, 0x22, 0xff, 0xd0, 0x33, 0xff, 0xd7, 0x44, 0xff, 0xff, 0x00, // scan: stuffing, RST0, RST7, a fill byte
      0xff, 0xc4, 0x00, 0x03, 0x00, // DHT between scans
      0xff, 0xda, 0x00, 0x02, 0x55, 0xff, 0x00, // second scan
      0xff, 0xff, 0xd9, // fill byte, EOI
    ]);
    for (const size of [1, 2, 5, 100]) {
      const { frames } = split(chunk(Buffer.concat([frame, frame]), size, size));
      assert.equal(frames.length, 2, `chunks of up to ${size}`);
      assert.ok(frames[0].equals(frame) && frames[1].equals(frame));
    }
  });

  it('refuses a frame over the size limit with one line, then resumes at the next frame', () => {
    const big = jpegs[1]; // over the 5000-byte limit below
    assert.ok(big.length > 5000);
    const frames: Buffer[] = [];
    const splitter = createMjpegSplitter((f) => frames.push(f), { maxFrameBytes: 5000, source: 'ffmpeg /dev/video9' });
    let error: unknown;
    for (const c of chunk(Buffer.concat([jpegs[0], big, jpegs[3]]), 5, 1000)) {
      try {
        splitter.push(c);
      } catch (e) {
        error ??= e;
        assert.ok(splitter.buffered() <= 1000, 'the oversize frame was discarded');
      }
    }
    assert.ok(error instanceof EdgeTuneError);
    assert.equal(error.code, 'BAD_IMAGE');
    assert.match(error.message, /^ffmpeg \/dev\/video9: a JPEG frame grew past 5000 bytes \(\d+ so far\)/);
    assert.ok(!error.message.includes('\n'));
    assert.deepEqual(frames.map((f) => f.length), [jpegs[0].length, jpegs[3].length]);
    assert.equal(splitter.stats().droppedFrames, 1);
  });

  it('holds nothing while it skips garbage, and at most one frame (default limit 16 MB)', () => {
    const frames: Buffer[] = [];
    const splitter = createMjpegSplitter((f) => frames.push(f));
    const noSoi = Buffer.alloc(64 * 1024, 0x5a);
    for (let i = 0; i < 64; i++) splitter.push(noSoi); // 4 MB of garbage
    assert.equal(splitter.buffered(), 0);
    assert.equal(splitter.stats().skippedBytes, 64 * noSoi.length);
    const half = Math.floor(jpegs[1].length / 2);
    splitter.push(jpegs[1].subarray(0, half));
    assert.equal(splitter.buffered(), half);
    splitter.push(jpegs[1].subarray(half));
    assert.equal(splitter.buffered(), 0);
    assert.equal(frames.length, 1);
  });
});
