import * as path from 'node:path';
import type { FileContents, ModelMetadata, SetMetrics } from '../artifact';
import { classificationReport, confusionMatrixSvg, svgToPng } from '../eval';
import { formatLabelsFile } from '../dataset';
import type { EpochRecord } from '../head';
import { classBalance, type Sample } from '../dataset';
import { IMBALANCE_RATIO, type TrainOptions } from '../options';
import type { Reporter } from './report';

/**
 * Rules the training pipelines share (the head's in train.ts, the CNN's in train-cnn.ts), kept
 * apart so neither pipeline imports the other.
 */

/** Photos every class keeps in validation and in test (when it is big enough for both). */
export const MIN_PER_CLASS = 3;

/** Accuracy, per-class metrics and confusion of predictions (class indices) against the truth. */
export function setMetrics(truth: number[], predicted: number[], labels: string[]): SetMetrics {
  const { labels: _l, ...rep } = classificationReport(truth, predicted, labels);
  return { n: truth.length, ...rep };
}

/**
 * Says how many photos form groups of identical or near-identical photos (kept on one side of every
 * split) and warns about each group spanning classes (a conflict), naming its files.
 * @param root the dataset folder (paths are shown relative to it).
 * @param kept the photos the groups index.
 */
export function reportDuplicates(r: Reporter, root: string, kept: readonly Sample[], dups: { groups: number[][]; conflicts: number[][] }): void {
  if (dups.groups.length) {
    const n = dups.groups.reduce((a, g) => a + g.length, 0);
    r.info(`${n} photos form ${dups.groups.length} group${dups.groups.length === 1 ? '' : 's'} of identical or near-identical photos: each group stays on one side of the split`);
  }
  for (const g of dups.conflicts) {
    r.warn(`conflict: ${g.map((i) => path.relative(root, kept[i].path)).join(', ')} are the same photo in different classes (${[...new Set(g.map((i) => kept[i].label))].join(', ')}): keep it in one class`);
  }
}

/**
 * The class weights in effect: warns with the counts when the largest class has more than
 * `IMBALANCE_RATIO` times the photos of the smallest; `classWeights: 'auto'` then becomes balanced.
 */
export function chooseClassWeights(r: Reporter, labels: readonly string[], kept: readonly Sample[], o: TrainOptions): 'none' | 'balanced' {
  const bal = classBalance(kept as Sample[], labels.length);
  let classWeights: 'none' | 'balanced' = o.head.classWeights === 'balanced' ? 'balanced' : 'none';
  if (bal.ratio > IMBALANCE_RATIO) {
    const counts = labels.map((l, c) => `${l} ${bal.counts[c]}`).join(', ');
    r.warn(`classes are imbalanced (${counts}: largest/smallest ${bal.ratio.toFixed(1)}× > ${IMBALANCE_RATIO}×)${o.head.classWeights === 'auto' ? ': using balanced class weights (--class-weights none to turn off)' : ''}; add photos to the small classes`);
    if (o.head.classWeights === 'auto') classWeights = 'balanced';
  }
  return classWeights;
}

/**
 * The files every trained model folder holds (src/artifact's layout): model.tflite, labels.txt,
 * metadata.json, history.json, the curves, and the confusion matrix when there is an estimate.
 * The caller adds its network's own files (head/ or cnn/, model_edgetpu.tflite).
 * @param curvesSvg the training curves (historyCurvesSvg); drawn also as PNG here.
 */
export async function modelFolderFiles(model: Uint8Array, metadata: ModelMetadata, history: EpochRecord[], curvesSvg: string, estimate?: SetMetrics): Promise<Record<string, FileContents>> {
  const folder: Record<string, FileContents> = {
    'model.tflite': model,
    'labels.txt': formatLabelsFile(metadata.labels),
    'metadata.json': JSON.stringify(metadata, null, 2) + '\n',
    'history.json': JSON.stringify(history, null, 2) + '\n',
    'curves.svg': curvesSvg,
    'curves.png': await svgToPng(curvesSvg),
  };
  if (estimate) {
    const svg = await confusionMatrixSvg({ ...estimate, labels: metadata.labels });
    folder['confusion.svg'] = svg;
    folder['confusion.png'] = await svgToPng(svg);
  }
  return folder;
}
