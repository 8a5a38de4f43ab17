/**
 * `npm run bench -- --arch`: head vs CNN vs fine-tune on the three shared datasets, one table.
 *
 * Every configuration of a dataset trains with the same seed, so it is split the same way and scored
 * on the SAME test photos (held out from training and early stopping); the validation accuracy is
 * the one early stopping chose on (optimistic). ms per image is the exported model.tflite alone on
 * an already preprocessed input, one interpreter thread, timed side by side in this process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { train, type TrainOptionsInput } from '../src';
import { openModel } from '../src/runtime';

/** One row of the table. */
export interface ArchRow {
  dataset: string;
  config: string;
  /** 0..1, chosen on (optimistic). */
  val: number;
  /** 0..1 on the test split, with its size; undefined when the run made no estimate. */
  estimate?: { accuracy: number; n: number };
  /** model.tflite, bytes. */
  bytes: number;
  /** ms per image, model.tflite, 1 thread. */
  ms: number;
  /** Wall time of train() (embedding, training, export and its check), s. */
  seconds: number;
}

/** The configurations compared, per dataset (the dataset's preset is added to each). */
export const ARCH_CONFIGS: readonly [string, TrainOptionsInput][] = [
  ['head (defaults)', {}],
  ['head + fine-tune 2 blocks', { fineTune: 2 }],
  ['CNN from scratch', { arch: 'cnn' }],
];

export const ARCH_DATASETS: readonly [string, TrainOptionsInput][] = [
  ['objects-small', {}],
  ['gestures', {}],
  ['digits-photo', { preset: 'digits' }],
];

/** Mean ms of `reps` inferences of a .tflite on one thread after `warm` unmeasured ones. */
export async function msPerImage(file: string, reps = 50, warm = 5): Promise<number> {
  const s = openModel(file, { threads: 1, device: 'cpu' });
  try {
    for (let i = 0; i < s.inputBuffer.length; i++) s.inputBuffer[i] = (i * 37) % 256;
    for (let i = 0; i < warm; i++) s.runRaw();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) s.runRaw();
    return (performance.now() - t0) / reps;
  } finally {
    await s.close();
  }
}

/**
 * Trains every configuration on every dataset (those named in `only`, or all) into `tmp` and
 * prints the rows as they come, then the Markdown table.
 * @param shared the ../shared folder (datasets/).
 */
export async function benchArch(tmp: string, shared: string, modelsDir: string, only: readonly string[] = []): Promise<ArchRow[]> {
  const rows: ArchRow[] = [];
  for (const [dataset, preset] of ARCH_DATASETS.filter(([d]) => only.length === 0 || only.includes(d))) {
    for (const [config, cfg] of ARCH_CONFIGS) {
      const out = path.join(tmp, `arch-${dataset}-${config.replace(/\W+/g, '-')}`);
      const t0 = performance.now();
      let r;
      try {
        r = await train(path.join(shared, 'datasets', dataset), out, { ...preset, ...cfg, modelsDir });
      } catch (e) {
        // A configuration that cannot ship (e.g. its export check failed) is a result, not the end of the table.
        console.log(`| ${dataset} | ${config} | ${(e as Error).message} |`);
        continue;
      }
      const seconds = (performance.now() - t0) / 1000;
      const file = path.join(out, 'model.tflite');
      const e = r.metadata.metrics.estimate;
      const row: ArchRow = {
        dataset, config, val: r.metadata.metrics.val_accuracy, estimate: e ? { accuracy: e.accuracy, n: e.n } : undefined,
        bytes: fs.statSync(file).size, ms: await msPerImage(file), seconds,
      };
      rows.push(row);
      console.log(formatArchRow(row));
      fs.rmSync(out, { recursive: true, force: true });
    }
  }
  console.log('\n| dataset | model | test-split estimate | validation (optimistic) | model.tflite | ms/image (1 thread) | train + export |\n|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(formatArchRow(r));
  return rows;
}

/** A Markdown table row. */
export function formatArchRow(r: ArchRow): string {
  const est = r.estimate ? `${(r.estimate.accuracy * 100).toFixed(1)}% (${Math.round(r.estimate.accuracy * r.estimate.n)}/${r.estimate.n})` : '–';
  const size = r.bytes >= 1 << 20 ? `${(r.bytes / (1 << 20)).toFixed(1)} MB` : `${Math.round(r.bytes / 1024)} KB`;
  return `| ${r.dataset} | ${r.config} | ${est} | ${(r.val * 100).toFixed(1)}% | ${size} | ${r.ms.toFixed(2)} | ${r.seconds.toFixed(0)} s |`;
}
