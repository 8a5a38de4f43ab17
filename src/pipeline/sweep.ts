import { initBackend, trainHead, type HeadSpec } from '../head';
import { resolveOptions, prepareEmbeddings, type TrainOptions } from './train';

/** The hyperparameter grid of a sweep: every combination is trained. */
export interface SweepGrid {
  epochs: number[];
  /** Hidden-layer lists; `[]` = softmax regression. */
  hidden: number[][];
  dropout: number[];
}

/** One trained combination. */
export interface SweepRow {
  epochs: number;
  hidden: number[];
  dropout: number;
  /** Validation accuracy (0..1) and loss at the restored best epoch. */
  val_accuracy: number;
  val_loss: number;
  bestEpoch: number;
  /** Training time of the head, s. */
  seconds: number;
}

/**
 * Trains every combination of the grid on one set of cached embeddings (the dataset is embedded,
 * with its augmented views, once) and ranks them by validation accuracy, then val_loss.
 * @throws Error on an empty grid axis or a bad dataset.
 */
export async function sweep(
  datasetDir: string, grid: SweepGrid, options: Partial<TrainOptions> & { modelsDir: string },
  onRow?: (row: SweepRow, index: number, total: number) => void,
): Promise<SweepRow[]> {
  for (const [k, v] of Object.entries(grid)) if (!v.length) throw new Error(`sweep --${k} is empty: give at least one value`);
  const o: TrainOptions = resolveOptions(options);
  await initBackend(o.backend);
  const p = await prepareEmbeddings(datasetDir, o);
  p.base.session.close();
  const combos: HeadSpec[] = [];
  for (const epochs of grid.epochs) for (const hidden of grid.hidden) for (const dropout of grid.dropout) {
    combos.push({ ...o.head, epochs, hidden, dropout });
  }
  const rows: SweepRow[] = [];
  for (const [i, spec] of combos.entries()) {
    const t0 = performance.now();
    const t = await trainHead(p.trainSet, p.valSet, p.ds.labels.length, spec);
    const best = t.history[t.bestEpoch - 1];
    const row: SweepRow = {
      epochs: spec.epochs, hidden: spec.hidden, dropout: spec.dropout,
      val_accuracy: best.val_accuracy, val_loss: best.val_loss, bestEpoch: t.bestEpoch,
      seconds: (performance.now() - t0) / 1000,
    };
    t.model.dispose();
    rows.push(row);
    onRow?.(row, i, combos.length);
  }
  return rows.sort((a, b) => b.val_accuracy - a.val_accuracy || a.val_loss - b.val_loss);
}
