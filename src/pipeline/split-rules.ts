import type { SetMetrics } from '../artifact';
import { classificationReport } from '../eval';

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
