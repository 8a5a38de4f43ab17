/**
 * `npm run accuracy`: the README's accuracy table. Trains each shared dataset with the defaults
 * and with two plain frozen-embedding heads (softmax regression and Dense 128, no augmentation,
 * one head), all with the same seed, so every configuration is scored on the SAME test photos
 * (held out from training and early stopping). Prints a Markdown table.
 *
 * Reads ../shared/datasets and the installed bases; embeddings come from the cache, so the plain
 * rows cost little after the default row. Takes about 15 minutes on a 2-core x86 machine.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { train, type TrainOptionsInput } from '../src';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = process.env.EDGETUNE_SHARED ?? path.resolve(ROOT, '..', 'shared');

const DATASETS: [string, TrainOptionsInput][] = [
  ['objects-small', {}],
  ['gestures', {}],
  ['digits-photo', { preset: 'digits' }],
];
const PLAIN: TrainOptionsInput = { augViews: 0, heads: 1, head: { lr: 3e-4, epochs: 60, patience: 10, labelSmoothing: 0, dropout: 0.5 } };
const CONFIGS: [string, TrainOptionsInput][] = [
  ['defaults', {}],
  ['plain softmax regression', { ...PLAIN, head: { ...PLAIN.head, hidden: [] } }],
  ['plain Dense 128', { ...PLAIN, head: { ...PLAIN.head, hidden: [128] } }],
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetune-accuracy-'));
  const rows: string[] = [];
  try {
    for (const [name, base] of DATASETS.filter(([n]) => only.length === 0 || only.includes(n))) {
      for (const [label, cfg] of CONFIGS) {
        const t0 = performance.now();
        const r = await train(path.join(SHARED, 'datasets', name), path.join(tmp, `${name}-${rows.length}`), { ...base, ...cfg, head: { ...cfg.head } });
        const e = r.metadata.metrics.estimate!;
        const s = (performance.now() - t0) / 1000;
        rows.push(`| ${name} | ${label} | ${(e.accuracy * 100).toFixed(1)}% (${Math.round(e.accuracy * e.n)}/${e.n}) | ${(r.metadata.metrics.val_accuracy * 100).toFixed(1)}% | ${s.toFixed(0)} s |`);
        console.log(rows[rows.length - 1]);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`\n${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores, node ${process.version}\n`);
  console.log('| dataset | head | test-split estimate | validation (optimistic) | time |\n|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((e) => {
  console.error(`accuracy: ${(e as Error).message}`);
  process.exitCode = 1;
});
