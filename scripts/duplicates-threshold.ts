/**
 * Measures the near-duplicate threshold of `groupDuplicates` on ../shared/datasets: for each
 * photo, a re-encoded copy (JPEG quality 75) and a resized copy (×0.5, JPEG quality 90) must hash
 * within the threshold of the original; distinct photos of the same class should not.
 *
 *   node dist/scripts/duplicates-threshold.js [dataset …]
 *
 * Prints, per dataset and Hamming distance d: the share of copies within d (recall), the share of
 * distinct same-class pairs within d, and the false-group rate (share of photos that would be
 * grouped with at least one distinct photo of their class).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { hamming, perceptualHash, scanDataset } from '../src/dataset';
import { loadImage, preprocess } from '../src/image';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = process.env.EDGETUNE_SHARED ?? path.resolve(ROOT, '..', 'shared');
const SIZE = 224;

async function copies(file: string): Promise<Uint8Array[]> {
  const img = await loadImage(file);
  const raw = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  const q75 = await raw.clone().jpeg({ quality: 75 }).toBuffer();
  const half = await raw.clone().resize(Math.max(1, Math.round(img.width / 2)), Math.max(1, Math.round(img.height / 2))).jpeg({ quality: 90 }).toBuffer();
  return [new Uint8Array(q75), new Uint8Array(half)];
}

async function main(): Promise<void> {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ['objects-small', 'digits-photo', 'gestures'];
  const D = 16;
  for (const name of names) {
    const ds = scanDataset(path.join(SHARED, 'datasets', name));
    const hashes: bigint[] = [];
    const copyDist: number[] = [];
    const byKind: number[][] = [[], []];
    for (const s of ds.samples) {
      const h = perceptualHash(await preprocess(s.path, SIZE), SIZE);
      hashes.push(h);
      const cs = await copies(s.path);
      for (let k = 0; k < cs.length; k++) {
        const d = hamming(h, perceptualHash(await preprocess(cs[k], SIZE), SIZE));
        copyDist.push(d);
        byKind[k].push(d);
      }
    }
    const pairHist = new Array<number>(65).fill(0);
    const nearest = new Array<number>(ds.samples.length).fill(65);
    let pairs = 0;
    for (let i = 0; i < hashes.length; i++) {
      for (let j = i + 1; j < hashes.length; j++) {
        if (ds.samples[i].labelIndex !== ds.samples[j].labelIndex) continue;
        const d = hamming(hashes[i], hashes[j]);
        pairHist[d]++;
        pairs++;
        nearest[i] = Math.min(nearest[i], d);
        nearest[j] = Math.min(nearest[j], d);
      }
    }
    const copyHist = new Array<number>(65).fill(0);
    for (const d of copyDist) copyHist[d]++;
    console.log(`\n${name}: ${ds.samples.length} photos, ${copyDist.length} copies, ${pairs} distinct same-class pairs; copy distance max ${Math.max(...copyDist)} (JPEG q75 ${Math.max(...byKind[0])}, ×0.5 ${Math.max(...byKind[1])})`);
    console.log('d\tcopies≤d\tpairs≤d\tphotos grouped with a distinct photo');
    let c = 0;
    let p = 0;
    for (let d = 0; d <= D; d++) {
      c += copyHist[d];
      p += pairHist[d];
      const grouped = nearest.filter((x) => x <= d).length;
      console.log(`${d}\t${((100 * c) / copyDist.length).toFixed(2)}%\t${((100 * p) / pairs).toFixed(4)}%\t${grouped} (${((100 * grouped) / nearest.length).toFixed(2)}%)`);
    }
  }
}

void main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
