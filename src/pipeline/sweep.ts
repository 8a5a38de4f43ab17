import { initBackend } from '../head';
import {
  OPTION_SPECS, getPath, setPath, resolveTrainOptions, trainCommand, type TrainOptions, type TrainOptionsInput, type OptionSpec,
} from '../options';
import { fail } from '../errors';
import { splitInput, prepare, crossValidate, headSpec, type RunOptions, type Prepared } from './train';

/** A sweep grid: option flag (as on the command line, e.g. 'dropout', 'hidden', 'aug-views') → values to try. */
export type SweepGrid = Record<string, unknown[]>;

/** One trained combination. */
export interface SweepRow {
  /** The values of the swept options in this combination, by flag. */
  values: Record<string, unknown>;
  /** Every option of this combination, defaults filled in. */
  options: TrainOptions;
  /** Out-of-fold accuracy of k-fold cross-validation (0..1) on the training + validation photos. */
  cv_accuracy: number;
  /** Photos scored and folds used. */
  n: number;
  folds: number;
  /** Time for this combination's cross-validation, s (embedding excluded). */
  seconds: number;
  /** The `edgetune train` command that trains this combination. */
  command: string;
}

/**
 * Trains every combination of the grid and ranks them by k-fold cross-validated accuracy (the test
 * split, when there is one, is left out of the sweep so that a later `train` can still estimate
 * honestly). Every training option can be swept or fixed; combinations that share how photos are
 * embedded (base, preset, fit, pooling, views, seed) share the embedding work, and embeddings come
 * from the cache when an earlier run made them.
 * @param grid flag → values, e.g. `{ dropout: [0.2, 0.5], hidden: [[], [256]] }`.
 * @param input the options every combination starts from, and the run settings.
 * @param onRow called after each combination (for progress).
 * @returns the rows, best first (ties: fewer seconds first).
 * @throws EdgeTuneError('BAD_OPTION') for an unknown or unsweepable flag or an empty value list.
 */
export async function sweep(
  datasetDir: string, grid: SweepGrid, input: TrainOptionsInput & RunOptions = {},
  onRow?: (row: SweepRow, index: number, total: number) => void,
): Promise<SweepRow[]> {
  const { o: start, run } = splitInput(input);
  const axes: [OptionSpec, unknown[]][] = Object.entries(grid).map(([flag, values]) => {
    const spec = OPTION_SPECS.find((s) => s.flag === flag);
    if (!spec) throw fail('BAD_OPTION', `sweep: unknown option --${flag}; sweepable: ${OPTION_SPECS.filter((s) => s.sweepable).map((s) => s.flag).join(', ')}`);
    if (!spec.sweepable) throw fail('BAD_OPTION', `sweep: --${flag} cannot be swept (it changes what is measured); give it one value`);
    if (!Array.isArray(values) || values.length === 0) throw fail('BAD_OPTION', `sweep: --${flag} has no values: give at least one`);
    return [spec, values];
  });
  // Every combination, each fully resolved (and so checked) before any work.
  let combos: { values: Record<string, unknown>; options: TrainOptions }[] = [{ values: {}, options: start }];
  for (const [spec, values] of axes) {
    combos = combos.flatMap((c) => values.map((v) => {
      const input = setPath(c.options as unknown as TrainOptionsInput, spec.path, v);
      return { values: { ...c.values, [spec.flag]: v }, options: resolveTrainOptions(preservePresetDefaults(input, c.options, start, spec)) };
    }));
  }
  // A sweep cross-validates heads on cached embeddings; a CNN from scratch would train k networks
  // per combination (minutes each): refused rather than silently sweeping heads instead.
  if (combos.some((c) => c.options.arch === 'cnn')) {
    throw fail('BAD_OPTION', "sweep ranks heads on cached embeddings and does not train CNNs: drop --arch cnn (train CNN variants with 'edgetune train --arch cnn' and compare their validation accuracy)");
  }
  // Cross-validation scores heads on the frozen base: a fine-tuned candidate would score as frozen.
  if (combos.some((c) => c.options.fineTune > 0)) {
    throw fail('BAD_OPTION', 'sweep: --fine-tune cannot be swept (sweep cross-validates heads on the frozen base); train with --fine-tune N and compare its test estimate');
  }
  await initBackend(run.backend);
  // Group by how photos are embedded, so each group embeds (or reads from the cache) once.
  const embedKey = (o: TrainOptions) => JSON.stringify([o.base, o.preset, o.fit, o.pooling, o.augViews, o.seed, o.valSplit, o.testSplit]);
  const order = combos.map((c, i) => ({ c, i })).sort((a, b) => embedKey(a.c.options).localeCompare(embedKey(b.c.options)));
  const rows: SweepRow[] = [];
  let prepared: { key: string; p: Prepared } | undefined;
  try {
    for (const { c } of order) {
      const key = embedKey(c.options);
      if (prepared?.key !== key) {
        await prepared?.p.base.session.close();
        prepared = { key, p: await prepare(datasetDir, c.options, run) };
      }
      const p = prepared.p;
      const t0 = performance.now();
      const cv = await crossValidate(p, c.options, headSpec(c.options, p.classWeights), run.reporter, run.signal);
      const correct = cv.truth.filter((t, i) => t === cv.predicted[i]).length;
      const row: SweepRow = {
        values: c.values, options: c.options, cv_accuracy: correct / cv.truth.length, n: cv.truth.length, folds: cv.folds,
        seconds: Math.round((performance.now() - t0) / 100) / 10,
        command: trainCommand(datasetDir, 'runs/best', c.options),
      };
      rows.push(row);
      onRow?.(row, rows.length - 1, combos.length);
    }
  } finally {
    await prepared?.p.base.session.close();
  }
  return rows.sort((a, b) => b.cv_accuracy - a.cv_accuracy || a.seconds - b.seconds);
}

/**
 * When the preset is swept, the options that follow the preset (fit, pooling) follow each swept
 * preset unless the user fixed them.
 */
function preservePresetDefaults(input: TrainOptionsInput, current: TrainOptions, start: TrainOptions, spec: OptionSpec): TrainOptionsInput {
  if (spec.flag !== 'preset') return input;
  const base = resolveTrainOptions({ preset: start.preset });
  const out: TrainOptionsInput = { ...input };
  for (const k of ['fit', 'pooling'] as const) {
    if (getPath(current, [k]) === getPath(base, [k])) delete out[k];
  }
  return out;
}
