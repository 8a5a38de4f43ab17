/**
 * Ensembles of heads: K heads trained on K folds, merged into ONE Dense head whose logits are the
 * mean of the K heads' logits, so the ensemble exports and runs on the Edge TPU as a single
 * FULLY_CONNECTED chain (src/tflite/graft.ts) at the cost of K× wider hidden layers.
 */
import { fail } from '../errors';
import type { DenseLayer, HeadWeights } from '../tflite';
import { streamSeed, STREAM } from './streams';
import { trainHead, type EmbeddingSet, type HeadSpec, type TrainedHead, type TrainHooks } from './train';
import { calibrate } from './weights';

/** One fold of an ensemble: row indices into the training and validation sets given to `trainHeads`. */
export interface Fold {
  train: ArrayLike<number>;
  val: ArrayLike<number>;
}

/** `trainHeads`' hooks: `trainHead`'s, applied to each fold, plus the start of each fold. */
export interface EnsembleHooks extends TrainHooks {
  /** Called before fold `fold` (0-based) of `total` starts training. */
  onFold?(fold: number, total: number): void;
}

/**
 * Trains one head per fold with the same spec, one after the other. Fold k trains on
 * `train` rows `folds[k].train` and validates (early stopping) on `val` rows `folds[k].val`; pass
 * the same set twice for plain k-fold on one set, or an augmented training set and its clean
 * validation set (keep every view of a photo on one side). Fold k's seed is
 * `streamSeed(spec.seed, STREAM.fold, k)` and is recorded in its `spec`, so `trainHead` on that
 * fold's rows with that spec reproduces the head bit for bit.
 *
 * @returns the K trained heads in fold order (each owns its tfjs model; dispose them).
 * @throws EdgeTuneError 'BAD_OPTION' for no folds or a fold with no or out-of-range rows; and
 *   whatever `trainHead` throws ('CANCELLED' included); heads already trained are then disposed.
 */
export async function trainHeads(
  train: EmbeddingSet, val: EmbeddingSet, folds: Fold[], numClasses: number, spec: HeadSpec,
  hooks: EnsembleHooks = {},
): Promise<TrainedHead[]> {
  if (folds.length === 0) throw fail('BAD_OPTION', 'an ensemble needs at least one fold: pass train/val row lists');
  const sets = folds.map((f, k) => ({
    train: rows(train, f.train, `fold ${k} training`),
    val: rows(val, f.val, `fold ${k} validation`),
  }));
  const heads: TrainedHead[] = [];
  try {
    for (const [k, s] of sets.entries()) {
      hooks.onFold?.(k, folds.length);
      heads.push(await trainHead(s.train, s.val, numClasses, { ...spec, seed: streamSeed(spec.seed, STREAM.fold, k) }, hooks));
    }
  } catch (e) {
    heads.forEach((h) => h.model.dispose());
    throw e;
  }
  return heads;
}

/** The rows `idx` of `set`, copied. */
function rows(set: EmbeddingSet, idx: ArrayLike<number>, what: string): EmbeddingSet {
  if (idx.length === 0) throw fail('BAD_OPTION', `${what} rows are empty: give every fold at least one row on each side`);
  const x = new Float32Array(idx.length * set.dim);
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (!(Number.isInteger(r) && r >= 0 && r < set.n)) throw fail('BAD_OPTION', `${what} row ${r} is outside 0..${set.n - 1}: fold rows index the set passed to trainHeads`);
    x.set(set.x.subarray(r * set.dim, (r + 1) * set.dim), i * set.dim);
    y[i] = set.y[r];
  }
  return { x, y, n: idx.length, dim: set.dim };
}

/**
 * Merges K heads of the same depth into one plain Dense head whose logits are exactly the mean of
 * theirs (up to float32 rounding): the first layers' rows are stacked (all read the embedding),
 * deeper hidden layers are block-diagonal (head k's units read only head k's units), and the last
 * layer places each head's weights side by side divided by K, with the mean of the biases. A
 * softmax-regression head (one layer) merges to the mean of the weights and biases.
 *
 * Output ranges (for quantization): hidden layers take the union of the heads' ranges (exact: the
 * merged layer outputs exactly their values); the logits take [mean of mins, mean of maxes], a
 * bound that always covers the mean; with `representative` every range is recalibrated exactly.
 *
 * @param heads from `headWeights` of each trained head: same embedding size, depth and classes;
 *   hidden widths may differ.
 * @param representative optional embeddings float32 `[n, dim]` to recalibrate the ranges on.
 * @returns HeadWeights with hidden widths Σ_k width_k, as `graftHead` consumes them.
 * @throws EdgeTuneError 'BAD_OPTION' for no heads or heads that cannot be merged.
 */
export function mergeHeads(heads: HeadWeights[], representative?: EmbeddingSet): HeadWeights {
  if (heads.length === 0) throw fail('BAD_OPTION', 'mergeHeads needs at least one head');
  const K = heads.length;
  const first = heads[0].layers;
  const depth = first.length;
  heads.forEach((h, k) => {
    const l = h.layers;
    const why = l.length !== depth ? `${l.length} layers, head 0 has ${depth}`
      : l[0].inDim !== first[0].inDim ? `embedding size ${l[0].inDim}, head 0 has ${first[0].inDim}`
        : l[depth - 1].units !== first[depth - 1].units ? `${l[depth - 1].units} classes, head 0 has ${first[depth - 1].units}`
          : l[depth - 1].activation !== 'linear' ? 'a non-linear last layer' : undefined;
    if (why) throw fail('BAD_OPTION', `cannot merge head ${k}: it has ${why}; merge heads trained with the same base and depth`);
  });
  const layers: DenseLayer[] = [];
  for (let i = 0; i < depth; i++) {
    const parts = heads.map((h) => h.layers[i]);
    const last = i === depth - 1;
    if (depth === 1) layers.push(meanLayer(parts));
    else if (i === 0) layers.push(stackedLayer(parts));
    else layers.push(blockLayer(parts, last ? K : 1, last));
  }
  if (representative) calibrate(layers, representative);
  return { layers };
}

/** Same input, same outputs: the element-wise mean (softmax regression). */
function meanLayer(parts: DenseLayer[]): DenseLayer {
  const K = parts.length;
  const p = parts[0];
  const weights = new Float32Array(p.weights.length);
  const bias = new Float32Array(p.units);
  for (let j = 0; j < weights.length; j++) weights[j] = parts.reduce((s, l) => s + l.weights[j], 0) / K;
  for (let u = 0; u < p.units; u++) bias[u] = parts.reduce((s, l) => s + l.bias[u], 0) / K;
  const range: [number, number] = [parts.reduce((s, l) => s + l.outputRange[0], 0) / K, parts.reduce((s, l) => s + l.outputRange[1], 0) / K];
  return { weights, bias, units: p.units, inDim: p.inDim, activation: p.activation, outputRange: range };
}

/** Same input, outputs side by side: the heads' weight rows one after another. */
function stackedLayer(parts: DenseLayer[]): DenseLayer {
  const units = parts.reduce((s, l) => s + l.units, 0);
  const inDim = parts[0].inDim;
  const weights = new Float32Array(units * inDim);
  const bias = new Float32Array(units);
  let row = 0;
  for (const l of parts) {
    weights.set(l.weights, row * inDim);
    bias.set(l.bias, row);
    row += l.units;
  }
  return { weights, bias, units, inDim, activation: parts[0].activation, outputRange: unionRange(parts) };
}

/**
 * Inputs side by side. Hidden (`sumOutputs` false): block-diagonal, outputs side by side.
 * Last (`sumOutputs` true): one shared output row, each head's block scaled by 1/`div`, mean bias.
 */
function blockLayer(parts: DenseLayer[], div: number, sumOutputs: boolean): DenseLayer {
  const inDim = parts.reduce((s, l) => s + l.inDim, 0);
  const units = sumOutputs ? parts[0].units : parts.reduce((s, l) => s + l.units, 0);
  const weights = new Float32Array(units * inDim);
  const bias = new Float32Array(units);
  let row0 = 0;
  let col0 = 0;
  for (const l of parts) {
    for (let r = 0; r < l.units; r++) {
      const dst = (row0 + r) * inDim + col0;
      for (let c = 0; c < l.inDim; c++) weights[dst + c] = l.weights[r * l.inDim + c] / div;
      bias[row0 + r] += l.bias[r] / div;
    }
    col0 += l.inDim;
    if (!sumOutputs) row0 += l.units;
  }
  const outputRange: [number, number] = sumOutputs
    ? [parts.reduce((s, l) => s + l.outputRange[0], 0) / div, parts.reduce((s, l) => s + l.outputRange[1], 0) / div]
    : unionRange(parts);
  return { weights, bias, units, inDim, activation: parts[0].activation, outputRange };
}

function unionRange(parts: DenseLayer[]): [number, number] {
  return [Math.min(...parts.map((l) => l.outputRange[0])), Math.max(...parts.map((l) => l.outputRange[1]))];
}
