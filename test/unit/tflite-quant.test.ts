import * as assert from 'node:assert/strict';
import {
  biasScale, chooseQuantParams, DEGENERATE_SCALE, dequantize, minMax, quantizeBias, quantizeUint8, roundHalfAway,
} from '../../src/tflite';

describe('tflite quantization arithmetic (Coral rules)', () => {
  it('chooses scale = (max-min)/255 and zero point -min/scale for exact ranges', () => {
    // 63.75 / 255 = 0.25 exactly; zp = 32 / 0.25 = 128.
    assert.deepEqual(chooseQuantParams(-32, 31.75), { scale: 0.25, zeroPoint: 128 });
    // 255 / 255 = 1; zp = 64.
    assert.deepEqual(chooseQuantParams(-64, 191), { scale: 1, zeroPoint: 64 });
  });

  it('widens the range to include 0', () => {
    // [2, 63.75] → [0, 63.75]: scale 0.25, zp 0.
    assert.deepEqual(chooseQuantParams(2, 63.75), { scale: 0.25, zeroPoint: 0 });
    // [-63.75, -3] → [-63.75, 0]: scale 0.25, zp 255.
    assert.deepEqual(chooseQuantParams(-63.75, -3), { scale: 0.25, zeroPoint: 255 });
  });

  it('rounds the zero point half away from zero', () => {
    // [-10.125, 53.625]: scale 63.75/255 = 0.25, zp = 10.125/0.25 = 40.5 → 41.
    assert.deepEqual(chooseQuantParams(-10.125, 53.625), { scale: 0.25, zeroPoint: 41 });
    assert.equal(roundHalfAway(2.5), 3);
    assert.equal(roundHalfAway(-2.5), -3);
  });

  it('stores the scale as float32 and derives the zero point from it', () => {
    // 2/255 rounds up in float32 to 0.007843137718737125, so 1/scale = 127.4999925 → zp 127.
    const qp = chooseQuantParams(-1, 1);
    assert.equal(qp.scale, Math.fround(2 / 255));
    assert.equal(qp.scale, 0.007843137718737125);
    assert.equal(qp.zeroPoint, 127);
  });

  it('never returns scale 0 for a degenerate range', () => {
    assert.deepEqual(chooseQuantParams(0, 0), { scale: DEGENERATE_SCALE, zeroPoint: 0 });
    assert.ok(DEGENERATE_SCALE > 0 && DEGENERATE_SCALE === Math.fround(DEGENERATE_SCALE));
    assert.deepEqual([...quantizeUint8(new Float32Array(4), chooseQuantParams(0, 0))], [0, 0, 0, 0]);
  });

  it('rejects non-finite or inverted ranges', () => {
    assert.throws(() => chooseQuantParams(NaN, 1), /must be finite/);
    assert.throws(() => chooseQuantParams(1, Infinity), /must be finite/);
    assert.throws(() => chooseQuantParams(2, 1), /min > max/);
    assert.throws(() => minMax([1, NaN]), /value 1 is NaN/);
  });

  it('quantizes weights q = clamp(round(zp + w/scale))', () => {
    const qp = { scale: 0.25, zeroPoint: 128 };
    // 0 → 128; 0.25 → 129; -0.125 → 127.5 → 128; 0.125 → 128.5 → 129; 100 → 528 → 255; -100 → -272 → 0.
    assert.deepEqual([...quantizeUint8(Float32Array.of(0, 0.25, -0.125, 0.125, 100, -100, 31.75, -32), qp)], [128, 129, 128, 129, 255, 0, 255, 0]);
  });

  it('quantizes bias to int32 with scale in_scale*w_scale and zero point 0', () => {
    assert.equal(biasScale(0.5, 0.25), 0.125);
    // 1/0.125 = 8; -1 → -8; 0.0625 → 0.5 → 1; -0.0625 → -0.5 → -1; 1e12 → clamped to int32 max.
    assert.deepEqual([...quantizeBias(Float32Array.of(1, -1, 0.0625, -0.0625, 1e12, -1e12), 0.5, 0.25)], [8, -8, 1, -1, 2147483647, -2147483648]);
    // The bias scale is the float32 product, as TFLite's kernels compare it.
    const s = biasScale(0.023528477177023888, Math.fround(2 / 255));
    assert.equal(s, Math.fround(Math.fround(0.023528477177023888) * Math.fround(2 / 255)));
  });

  it('dequantizes real = scale * (q - zp)', () => {
    assert.deepEqual([...dequantize(Uint8Array.of(0, 128, 255), { scale: 0.25, zeroPoint: 128 })], [-32, 0, 31.75]);
    assert.deepEqual(minMax(Float32Array.of(3, -2, 5)), [-2, 5]);
    assert.deepEqual(minMax([]), [0, 0]);
  });
});
