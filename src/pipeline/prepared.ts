import type { Dataset } from '../dataset';
import type { Base, EmbeddedSamples } from '../base';
import type { EmbeddingCache } from '../base/cache';

/** A dataset embedded by a base and split: what head training (and a sweep) starts from. */
export interface Prepared {
  ds: Dataset;
  base: Base;
  /** Clean embeddings of every readable photo (index = position in `all.kept`). */
  all: EmbeddedSamples;
  /** Indices into `all.kept` per set. */
  split: { train: number[]; val: number[]; test: number[] };
  /** Duplicate group id per kept photo (photos of one group share an id). */
  groupOf: Int32Array;
  /** Groups of ≥ 2 identical/near-identical photos, and those spanning classes. */
  duplicates: number[][];
  conflicts: number[][];
  /** Class weights in effect. */
  classWeights: 'none' | 'balanced';
  /** How the accuracy estimate is made: a test split, or k-fold when a class is too small for one. */
  estimate: 'test-split' | 'k-fold' | 'none';
  /** Augmented views of the training photos: rows i·K … i·K+K−1 belong to split.train[i]. */
  trainViews: Float32Array;
  cache: EmbeddingCache;
  /** Time spent embedding, s. */
  seconds: number;
}
