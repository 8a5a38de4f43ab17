import { strict as assert } from 'node:assert';
import sharp from 'sharp';
import { preprocess, toInput, loadImage, parseFit } from '../../src/image';
import { sample } from '../helpers';

/** A 4×2 (W×H) image: left half red, right half blue. */
async function redBlue(): Promise<Buffer> {
  const px = Buffer.alloc(4 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) px.set(x < 2 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
  return sharp(px, { raw: { width: 4, height: 2, channels: 3 } }).png().toBuffer();
}

describe('image: fit modes', () => {
  it('crop keeps the centre, squash keeps everything, pad adds mid-grey bars', async () => {
    const png = await redBlue();
    const crop = await preprocess(png, 2, 'crop');
    assert.deepEqual([...crop.subarray(0, 3)], [255, 0, 0]);        // centre 2×2: left red,
    assert.deepEqual([...crop.subarray(3, 6)], [0, 0, 255]);        // right blue
    const squash = await preprocess(png, 4, 'squash');
    assert.deepEqual([...squash.subarray(0, 3)], [255, 0, 0]);
    assert.deepEqual([...squash.subarray(9, 12)], [0, 0, 255]);
    const pad = await preprocess(png, 4, 'pad');                     // 4×2 content in the middle rows
    assert.deepEqual([...pad.subarray(0, 3)], [128, 128, 128]);
    assert.deepEqual([...pad.subarray(4 * 3 * 3, 4 * 3 * 3 + 3)], [128, 128, 128]);
  });

  it('gives the same bytes through the one-pass and the two-step path for every fit', async () => {
    // A real non-square photo (512×600) as the shipped BMP and as a JPEG made from it here.
    const bmp = sample('images', 'grace_hopper.bmp');
    const rgb = await loadImage(bmp);
    const jpeg = new Uint8Array(await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } }).jpeg().toBuffer());
    for (const file of [bmp, jpeg]) {
      for (const fit of ['crop', 'squash', 'pad'] as const) {
        assert.deepEqual(await preprocess(file, 224, fit), await toInput(await loadImage(file), 224, fit), fit);
      }
    }
  });

  it('rejects an unknown fit by name', () => {
    assert.throws(() => parseFit('stretch'), /unknown fit 'stretch': use one of crop, squash, pad/);
  });
});
