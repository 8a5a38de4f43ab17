/// <reference types="mocha" />
/**
 * PNG plots draw labels in any script: 'café', '数字' and '🙂' come out as glyphs, not as the
 * .notdef box ("tofu"), and a character no font has is spelled out as its code point. OCR-free:
 * the reference tofu is what the same renderer draws for U+10FFFD (private use, in no font).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import sharp from 'sharp';
import { bundledFontFiles, classificationReport, confusionMatrixSvg, svgToPng } from '../../src/eval';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const resvg = require('@resvg/resvg-js') as {
  renderAsync(svg: string, o: Record<string, unknown>): Promise<{ pixels: Buffer; width: number; height: number }>;
};

const TOFU = '\u{10FFFD}';
const FAMILY = 'DejaVu Sans, sans-serif'; // what the vega plots write on every <text>

function textSvg(text: string, size = 24): string {
  const esc = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size * 8}" height="${size * 2}">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="4" y="${size * 1.4}" font-size="${size}" font-family="${FAMILY}">${esc}</text></svg>`;
}

/** RGBA pixels of a PNG. */
async function pixels(png: Buffer): Promise<Buffer> {
  return (await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true })).data;
}

/** The same renderer and fonts as svgToPng, without its missing-glyph spelling: shows real tofu. */
async function rawPixels(svg: string): Promise<Buffer> {
  const img = await resvg.renderAsync(svg, {
    font: { loadSystemFonts: true, fontFiles: bundledFontFiles(), sansSerifFamily: 'DejaVu Sans', defaultFontFamily: 'Noto Sans S Chinese' },
    logLevel: 'off',
  });
  return img.pixels;
}

/**
 * Share of the ink bounding box's border that is inked: ≈ 1 for a missing-glyph box (resvg's
 * .notdef rectangle, or librsvg/pango's hex box), well below for '数', 'é' or '🙂'. Renderer-
 * independent, so the test catches tofu whichever library draws the PNG.
 */
function boxness(px: Buffer, width: number): number {
  const height = px.length / 4 / width;
  const ink = (x: number, y: number): number => {
    const i = (y * width + x) * 4;
    return px[i] < 200 || px[i + 1] < 200 || px[i + 2] < 200 ? 1 : 0;
  };
  let [x0, x1, y0, y1] = [width, -1, height, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink(x, y)) [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
    }
  }
  let inkedBorder = 0;
  let border = 0;
  for (let x = x0; x <= x1; x++, border += 2) inkedBorder += ink(x, y0) + ink(x, y1);
  for (let y = y0; y <= y1; y++, border += 2) inkedBorder += ink(x0, y) + ink(x1, y);
  return inkedBorder / border;
}

function inked(px: Buffer): number {
  let n = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] < 128 || px[i + 1] < 128 || px[i + 2] < 128) n++;
  return n;
}

describe('eval/plot: PNG labels in any script', () => {
  it('bundles a CJK font and an emoji font as TTF/OTF files', () => {
    const files = bundledFontFiles();
    assert.equal(files.length, 2);
    assert.match(files[0], /NotoSansHans-Regular\.otf$/);
    assert.match(files[1], /NotoEmoji_400Regular\.ttf$/);
    // OpenType magic: 'OTTO' (CFF outlines) or 0x00010000 (TrueType outlines); never WOFF.
    assert.equal(fs.readFileSync(files[0]).subarray(0, 4).toString('latin1'), 'OTTO');
    assert.deepEqual([...fs.readFileSync(files[1]).subarray(0, 4)], [0, 1, 0, 0]);
  });

  it("draws every grapheme of 'café', '数字', '🙂' as a glyph, not the .notdef box", async () => {
    const tofu = await rawPixels(textSvg(TOFU));
    const width = 24 * 8;
    assert.ok(inked(tofu) > 20, 'the reference .notdef box is drawn');
    assert.ok(boxness(tofu, width) > 0.85, `the detector sees the .notdef box as a box (${boxness(tofu, width)})`);
    for (const g of ['c', 'a', 'f', 'é', '数', '字', '🙂']) {
      const px = await pixels(await svgToPng(textSvg(g)));
      assert.equal(px.length, tofu.length);
      assert.ok(!px.equals(tofu), `'${g}' renders as the .notdef box`);
      assert.ok(inked(px) > 20, `'${g}' renders as nothing`);
      assert.ok(boxness(px, width) < 0.7, `'${g}' renders as a box (border ${boxness(px, width).toFixed(2)} inked)`);
    }
  });

  it('distinct labels render to distinct bitmaps, each different from the same count of tofu', async () => {
    const labels = ['café', '数字', '🙂'];
    const bitmaps = await Promise.all(labels.map(async (l) => pixels(await svgToPng(textSvg(l)))));
    for (let i = 0; i < labels.length; i++) {
      const tofu = await rawPixels(textSvg(TOFU.repeat([...new Intl.Segmenter().segment(labels[i])].length)));
      assert.ok(!bitmaps[i].equals(tofu), `'${labels[i]}' is tofu`);
      for (let j = i + 1; j < labels.length; j++) assert.ok(!bitmaps[i].equals(bitmaps[j]), `'${labels[i]}' and '${labels[j]}' look the same`);
    }
  });

  it('the confusion-matrix PNG differs from the same plot with tofu labels in many pixels', async () => {
    const labels = ['café', '数字', '🙂'];
    // Same UTF-16 length per label (U+10FFFD is a surrogate pair), so the layout is identical.
    const tofuLabels = [TOFU + TOFU, TOFU, TOFU];
    const report = classificationReport([0, 1, 2, 0], [0, 1, 2, 1], labels);
    const svg = await confusionMatrixSvg(report);
    assert.ok(svg.includes('>数字<') && svg.includes('>🙂<') && svg.includes('>café<'), 'the SVG keeps the real text');
    const png = await pixels(await svgToPng(svg));
    const tofuSvg = labels.reduce((s, l, i) => s.split(`>${l}<`).join(`>${tofuLabels[i]}<`), svg);
    const tofu = await rawPixels(tofuSvg);
    assert.equal(png.length, tofu.length);
    let differing = 0;
    for (let i = 0; i < png.length; i += 4) if (png[i] !== tofu[i] || png[i + 1] !== tofu[i + 1] || png[i + 2] !== tofu[i + 2]) differing++;
    // Six label occurrences (both axes) of glyphs instead of boxes.
    assert.ok(differing > 200, `only ${differing} pixels differ from the tofu plot`);
  });

  it('a character no font has is spelled out as its code point in the PNG, not drawn as a box', async () => {
    const spelled = await pixels(await svgToPng(textSvg(`a${TOFU}`, 12)));
    const expected = await pixels(await svgToPng(textSvg('a[U+10FFFD]', 12)));
    assert.ok(spelled.equals(expected));
    assert.ok(!spelled.equals(await rawPixels(textSvg(`a${TOFU}`, 12))));
    // Escaped XML survives the rewrite.
    const amp = await pixels(await svgToPng(textSvg(`a&b${TOFU}`, 12)));
    assert.ok(amp.equals(await pixels(await svgToPng(textSvg('a&b[U+10FFFD]', 12)))));
  });
});
