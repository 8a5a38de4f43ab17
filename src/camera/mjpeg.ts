/**
 * MJPEG splitter: turns a byte stream of concatenated JPEG images (ffmpeg `-f mjpeg`, rpicam-vid
 * `--codec mjpeg`), cut into chunks anywhere, back into whole JPEG frames.
 *
 * It walks the JPEG marker structure instead of searching for the first FF D9 after an FF D8: an
 * EXIF APP1 segment usually carries a thumbnail, itself a complete JPEG with its own SOI and EOI,
 * and a naive search would cut the frame at the thumbnail's EOI.
 *
 * Marker facts (ITU-T T.81 | ISO/IEC 10918-1, Annex B.1):
 * - B.1.1.2: a marker is 0xFF followed by a byte that is neither 0x00 nor 0xFF; any marker may be
 *   preceded by any number of 0xFF fill bytes.
 * - B.1.1.3 and Table B.1: SOI (D8), EOI (D9), RSTm (D0–D7) and TEM (01) stand alone; every other
 *   marker starts a segment whose first two bytes (big-endian) give its length, the two length
 *   bytes included, so the smallest valid length is 2.
 * - B.1.1.5: entropy-coded data follows the SOS segment header; inside it a 0xFF data byte is
 *   followed by a stuffed 0x00, and RSTm markers may interleave it; any other marker ends it.
 * - B.2.1: an image is SOI, frame, EOI; a frame holds one scan (baseline) or several (progressive),
 *   each opened by SOS, with tables (DHT, DQT, DRI…) or DNL segments allowed between scans.
 */
import { EdgeTuneError } from '../errors';

/** The largest JPEG frame the splitter accepts (bytes): 16 MB, far above any camera frame. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const RST0 = 0xd0;
const RST7 = 0xd7;

/** Counters of what the splitter has seen, for logs and tests. */
export interface MjpegStats {
  /** Whole frames delivered. */
  frames: number;
  /** Bytes discarded outside any frame (garbage between frames). */
  skippedBytes: number;
  /** Frames started (SOI seen) but abandoned: truncated, corrupt marker structure, no scan, or oversize. */
  droppedFrames: number;
}

/** A streaming splitter; see `createMjpegSplitter`. */
export interface MjpegSplitter {
  /**
   * Feeds the next chunk of the stream. Each frame completed by it is passed to `onFrame`
   * (synchronously, in stream order) as its own copy, SOI … EOI inclusive.
   * @throws EdgeTuneError BAD_IMAGE when the frame being assembled exceeds `maxFrameBytes`; the
   *   splitter has then discarded it and resumes at the next SOI with the next chunk (frames
   *   completed earlier in the same chunk were already delivered).
   */
  push(chunk: Uint8Array): void;
  /** Bytes held for an incomplete frame (≤ maxFrameBytes + the last chunk's size). */
  buffered(): number;
  stats(): MjpegStats;
  /** Forgets any partial frame (e.g. when the producing process restarts). */
  reset(): void;
}

type State = 'seek' | 'marker' | 'ecs';

/**
 * A splitter for one MJPEG byte stream.
 *
 * Frames are delivered only when complete and well formed at the marker level: SOI, marker
 * segments whose lengths are consistent, at least one SOS with its entropy-coded data, EOI. Bytes
 * between frames are skipped. A frame whose structure breaks (a byte where a marker must be, a
 * length below 2, a new SOI before EOI) is dropped and the search for an SOI resumes two bytes
 * after its start, so a false SOI in garbage cannot hide the real one. The pixels are not
 * decoded: a frame with corrupt entropy-coded data is still delivered.
 *
 * @param onFrame receives each whole JPEG (a fresh Buffer the caller owns).
 * @param opts.maxFrameBytes upper bound of one frame in bytes (default `MAX_FRAME_BYTES`, 16 MB).
 * @param opts.source what the stream is, for the oversize error message (e.g. "ffmpeg /dev/video0").
 */
export function createMjpegSplitter(
  onFrame: (jpeg: Buffer) => void,
  opts: { maxFrameBytes?: number; source?: string } = {},
): MjpegSplitter {
  const maxFrameBytes = opts.maxFrameBytes ?? MAX_FRAME_BYTES;
  const source = opts.source ?? 'MJPEG stream';
  let buf = Buffer.alloc(0);
  let len = 0;
  let state: State = 'seek';
  let pos = 0; // next byte to examine
  let start = -1; // SOI of the frame being assembled, or -1 while seeking
  let sawScan = false;
  const stats: MjpegStats = { frames: 0, skippedBytes: 0, droppedFrames: 0 };

  /** Everything before this index is no longer needed. */
  const live = () => (start >= 0 ? start : Math.min(pos, len));

  function append(chunk: Uint8Array): void {
    const dead = live();
    if (dead > 0) {
      buf.copy(buf, 0, dead, len);
      len -= dead;
      pos -= dead;
      if (start >= 0) start -= dead;
    }
    if (len + chunk.length > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(64 * 1024, buf.length * 2, len + chunk.length));
      buf.copy(grown, 0, 0, len);
      buf = grown;
    }
    buf.set(chunk, len);
    len += chunk.length;
  }

  /** Abandon the frame at `start` and look for the next SOI just after it. */
  function drop(): void {
    stats.droppedFrames++;
    pos = start + 2;
    start = -1;
    state = 'seek';
  }

  function scan(): void {
    for (;;) {
      if (state === 'seek') {
        const i = buf.subarray(0, len).indexOf(0xff, pos);
        if (i < 0) {
          stats.skippedBytes += len - pos;
          pos = len;
          return;
        }
        if (i + 1 >= len) {
          stats.skippedBytes += i - pos;
          pos = i; // keep the 0xFF: the next chunk may start with D8
          return;
        }
        if (buf[i + 1] === SOI) {
          stats.skippedBytes += i - pos;
          start = i;
          pos = i + 2;
          sawScan = false;
          state = 'marker';
        } else {
          stats.skippedBytes += i + 1 - pos;
          pos = i + 1;
        }
      } else if (state === 'marker') {
        if (pos >= len) return; // inside a segment that has not fully arrived
        if (buf[pos] !== 0xff) {
          drop();
          continue;
        }
        while (pos + 1 < len && buf[pos + 1] === 0xff) pos++; // fill bytes (B.1.1.2)
        if (pos + 1 >= len) return;
        const m = buf[pos + 1];
        if (m === 0x00) {
          drop();
        } else if (m === SOI) {
          // A new image before this one ended: the previous frame was truncated.
          stats.droppedFrames++;
          start = pos;
          pos += 2;
          sawScan = false;
        } else if (m === EOI) {
          const end = pos + 2;
          if (sawScan) {
            const frame = Buffer.allocUnsafe(end - start);
            buf.copy(frame, 0, start, end);
            stats.frames++;
            start = -1;
            pos = end;
            state = 'seek';
            onFrame(frame);
          } else {
            // SOI … EOI without a scan: an abbreviated table-specification stream, not an image.
            stats.droppedFrames++;
            start = -1;
            pos = end;
            state = 'seek';
          }
        } else if ((m >= RST0 && m <= RST7) || m === TEM) {
          pos += 2;
        } else {
          if (pos + 4 > len) return;
          const length = buf.readUInt16BE(pos + 2);
          if (length < 2) {
            drop();
            continue;
          }
          pos += 2 + length;
          if (m === SOS) {
            sawScan = true;
            state = 'ecs';
          }
        }
      } else {
        // Entropy-coded data: only 0xFF needs a look.
        if (pos >= len) return; // the SOS header itself has not fully arrived
        const i = buf.subarray(0, len).indexOf(0xff, pos);
        if (i < 0) {
          pos = len;
          return;
        }
        if (i + 1 >= len) {
          pos = i;
          return;
        }
        const n = buf[i + 1];
        if (n === 0x00 || (n >= RST0 && n <= RST7)) {
          pos = i + 2; // stuffed zero or restart marker: still inside the scan
        } else if (n === 0xff) {
          pos = i + 1; // fill byte before a marker
        } else {
          pos = i;
          state = 'marker';
        }
      }
    }
  }

  return {
    push(chunk: Uint8Array): void {
      if (chunk.length === 0) return;
      append(chunk);
      scan();
      if (start >= 0 && len - start > maxFrameBytes) {
        const size = len - start;
        stats.droppedFrames++;
        start = -1;
        state = 'seek';
        pos = len;
        throw new EdgeTuneError(
          'BAD_IMAGE',
          `${source}: a JPEG frame grew past ${maxFrameBytes} bytes (${size} so far) without its end marker; it was dropped: lower the camera resolution or check the stream is MJPEG`,
        );
      }
    },
    buffered: () => (start >= 0 ? len - start : len - Math.min(pos, len)),
    stats: () => ({ ...stats }),
    reset(): void {
      len = 0;
      pos = 0;
      start = -1;
      state = 'seek';
      sawScan = false;
    },
  };
}
