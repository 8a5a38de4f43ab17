/**
 * Keras' fine-tuning step: after the head has converged on the frozen base, the base's top blocks
 * and the head train together at a learning rate 10× lower, with early stopping on the validation
 * photos and the best weights restored. Inputs are the cached uint8 activations at the cut,
 * dequantized per mini-batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { EpochRecord, HeadSpec } from '../head';
import { balancedWeights, tallyStep, type EpochTally } from '../head/train';
import { dropoutMask, permutation, streamSeed, STREAM } from '../head/streams';
import { fail } from '../errors';
import { embedForward, headForward, netVariables, type FineTuneNet } from './model';

/** Rows of uint8 activations at the cut with their labels: x `[n, size]`, y `[n]`. */
export interface ActivationSet { x: Uint8Array; y: Int32Array; n: number }

/** Geometry and quantization of the cut tensor. */
export interface CutGeometry {
  /** [H, W, C]. */
  shape: [number, number, number];
  /** real = scale · (q − zeroPoint). */
  scale: number;
  zeroPoint: number;
}

/** The fine-tuning hyperparameters: the head's, with the fine-tuning learning rate and epoch cap. */
export interface FineTuneSpec extends Omit<HeadSpec, 'hidden'> {
  /** Hidden Dense widths of the head (dropout acts after each, as in head training). */
  hidden: number[];
}

/** Learning rate of fine-tuning relative to the head's (Keras' transfer-learning guide uses 1/10 and lower). */
export const FINE_TUNE_LR_FACTOR = 0.1;
/**
 * At most this many fine-tuning epochs: the head has converged, and Keras' transfer-learning guide
 * runs 10. An epoch is expensive here (one 1×1 convolution of MobileNet v1's top block is 1.6 G
 * multiply-adds per batch of 32 at 7×7×1024; measured about 1 s per batch step on WASM, 2-core
 * x86 shared with other jobs).
 */
export const FINE_TUNE_MAX_EPOCHS = 10;
/** Early-stopping patience of fine-tuning, epochs. */
export const FINE_TUNE_PATIENCE = 3;

/** What `fineTuneNet` returns; the net holds the best weights. */
export interface FineTuneResult {
  /** One record per fine-tuning epoch, numbered after `epochOffset`. */
  history: EpochRecord[];
  /** Epoch (numbered like history) whose weights were kept; `epochOffset` = none improved on the head. */
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Validation loss and accuracy of the network before fine-tuning (the converged head). */
  before: { val_loss: number; val_accuracy: number };
}

/** Progress callbacks and cancellation. */
export interface FineTuneHooks {
  onEpoch?(r: EpochRecord): void;
  onBatch?(done: number, total: number, epoch: number): void;
  signal?: AbortSignal;
  /** Epoch numbers continue after the head's (its history length). */
  epochOffset?: number;
}

const EPSILON = 1e-7;
const EVAL_CHUNK = 64;

/** A mini-batch of rows dequantized into float32 `[b, H, W, C]`. */
function batchTensor(set: ActivationSet, rows: ArrayLike<number>, g: CutGeometry): tf.Tensor4D {
  const size = g.shape[0] * g.shape[1] * g.shape[2];
  const lut = new Float32Array(256);
  for (let q = 0; q < 256; q++) lut[q] = g.scale * (q - g.zeroPoint);
  const out = new Float32Array(rows.length * size);
  for (let i = 0; i < rows.length; i++) {
    const src = set.x.subarray(rows[i] * size, (rows[i] + 1) * size);
    const at = i * size;
    for (let k = 0; k < size; k++) out[at + k] = lut[src[k]];
  }
  return tf.tensor4d(out, [rows.length, ...g.shape]);
}

/**
 * Trains the blocks and head of `net` (in place) on activations with Adam at `spec.lr`
 * (the caller passes head lr × FINE_TUNE_LR_FACTOR), mini-batches of `spec.batch` in a seeded order,
 * dropout as the head's, Keras' loss (class-weighted cross-entropy with label smoothing + λ·Σw² on
 * the head's kernels). Validation after every epoch; stops after `spec.patience` epochs without a
 * lower val_loss and restores the best weights — including the starting point: when no epoch beats
 * the converged head, the net is left as it came.
 * @throws EdgeTuneError('BAD_DATASET') on empty sets, ('CANCELLED') when the signal aborts.
 */
export async function fineTuneNet(
  train: ActivationSet, val: ActivationSet, g: CutGeometry, classes: number, net: FineTuneNet, spec: FineTuneSpec, hooks: FineTuneHooks = {},
): Promise<FineTuneResult> {
  if (train.n === 0 || val.n === 0) throw fail('BAD_DATASET', `fine-tuning needs training and validation photos (got ${train.n} and ${val.n}): add photos`);
  const vars = netVariables(net);
  const offset = hooks.epochOffset ?? 0;
  const start = evaluateNet(val, g, classes, net, spec.l2);
  let best = { loss: start.loss, epoch: offset, weights: vars.map((v) => v.clone()) };
  const optimizer = tf.train.adam(spec.lr);
  const history: EpochRecord[] = [];
  const classWeight = spec.classWeights === 'balanced' ? balancedWeights(train.y, classes) : undefined;
  const emb = net.head[0].kernel.shape[0];
  const dropWidths = spec.dropout > 0 ? (spec.hidden.length ? spec.hidden : [emb]) : [];
  let stoppedEarly = false;
  try {
    for (let e = 1; e <= spec.epochs; e++) {
      const epoch = offset + e;
      const order = permutation(train.n, streamSeed(spec.seed, STREAM.shuffle, epoch));
      const steps = Math.ceil(train.n / spec.batch);
      const tally: EpochTally = { lossSum: 0, correct: 0 };
      for (let s = 0; s < steps; s++) {
        const rows = order.subarray(s * spec.batch, Math.min(train.n, (s + 1) * spec.batch));
        const b = rows.length;
        const yb = Int32Array.from(rows, (r) => train.y[r]);
        const masks = dropWidths.map((w, pos) => dropoutMask(spec.dropout, b * w, streamSeed(spec.seed, STREAM.dropout, epoch, s, pos)));
        const [lossT, predT] = tf.tidy(() => {
          const x = batchTensor(train, rows, g);
          const hard = tf.oneHot(tf.tensor1d(yb, 'int32'), classes) as tf.Tensor2D;
          const eps = spec.labelSmoothing ?? 0;
          const y = eps > 0 ? tf.add(tf.mul(hard, 1 - eps), eps / classes) as tf.Tensor2D : hard;
          const w = classWeight ? tf.tensor1d(Float32Array.from(yb, (c) => classWeight[c])) : undefined;
          const m = masks.map((mk, i) => tf.tensor2d(mk, [b, dropWidths[i]]));
          let pred: tf.Tensor | undefined;
          const loss = optimizer.minimize(() => {
            const probs = tf.softmax(headForward(embedForward(x, net, true), net, m, true));
            pred = tf.keep(tf.argMax(probs, 1));
            return objective(y, probs, w, net, spec.l2);
          }, true, vars)!;
          return [loss, pred!];
        });
        if (await tallyStep(tally, lossT, predT, yb, b, hooks, s, steps, epoch)) throw fail('CANCELLED', `fine-tuning cancelled at epoch ${epoch}: nothing was kept; start the training again`);
      }
      const ev = evaluateNet(val, g, classes, net, spec.l2);
      const rec: EpochRecord = { epoch, loss: tally.lossSum / train.n, accuracy: tally.correct / train.n, val_loss: ev.loss, val_accuracy: ev.accuracy };
      history.push(rec);
      hooks.onEpoch?.(rec);
      if (rec.val_loss < best.loss) {
        best.weights.forEach((w) => w.dispose());
        best = { loss: rec.val_loss, epoch, weights: vars.map((v) => v.clone()) };
      } else if (epoch - best.epoch >= spec.patience) {
        stoppedEarly = e < spec.epochs;
        break;
      }
    }
    vars.forEach((v, i) => v.assign(best.weights[i]));
  } finally {
    best.weights.forEach((w) => w.dispose());
    optimizer.dispose();
  }
  return { history, bestEpoch: best.epoch, stoppedEarly, before: { val_loss: start.loss, val_accuracy: start.accuracy } };
}

/** Mean class-weighted cross-entropy of clipped probabilities + λ·Σ‖head kernel‖² (as the head's objective). */
function objective(y: tf.Tensor2D, probs: tf.Tensor2D, w: tf.Tensor1D | undefined, net: FineTuneNet, l2: number): tf.Scalar {
  const p = tf.clipByValue(probs, EPSILON, 1 - EPSILON);
  let ce: tf.Tensor = tf.neg(tf.sum(tf.mul(y, tf.log(p)), -1));
  if (w) ce = tf.mul(ce, w);
  let loss = tf.mean(ce) as tf.Scalar;
  if (l2 > 0) loss = tf.add(loss, penalty(net, l2));
  return loss;
}

function penalty(net: FineTuneNet, l2: number): tf.Scalar {
  return tf.mul(l2, tf.addN(net.head.map((d) => tf.sum(tf.square(d.kernel))))) as tf.Scalar;
}

/** val_loss (cross-entropy + penalty, no dropout) and val_accuracy of the net on a set. */
export function evaluateNet(set: ActivationSet, g: CutGeometry, classes: number, net: FineTuneNet, l2: number): { loss: number; accuracy: number } {
  const probs = predictNet(set, g, net);
  let ce = 0, correct = 0;
  for (let i = 0; i < set.n; i++) {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    ce -= Math.log(Math.min(1 - EPSILON, Math.max(EPSILON, row[set.y[i]])));
    let top = 0;
    for (let c = 1; c < classes; c++) if (row[c] > row[top]) top = c;
    if (top === set.y[i]) correct++;
  }
  const reg = l2 > 0 ? tf.tidy(() => penalty(net, l2).dataSync()[0]) : 0;
  return { loss: ce / set.n + reg, accuracy: correct / set.n };
}

/**
 * The net's class probabilities on activation rows.
 * @returns float32 `[set.n, classes]` softmax.
 */
export function predictNet(set: ActivationSet, g: CutGeometry, net: FineTuneNet): Float32Array {
  const classes = net.head[net.head.length - 1].kernel.shape[1] as number;
  const out = new Float32Array(set.n * classes);
  for (let s = 0; s < set.n; s += EVAL_CHUNK) {
    const rows = Int32Array.from({ length: Math.min(EVAL_CHUNK, set.n - s) }, (_, i) => s + i);
    const p = tf.tidy(() => tf.softmax(headForward(embedForward(batchTensor(set, rows, g), net, false), net, [], false)).dataSync() as Float32Array);
    out.set(p, s * classes);
  }
  return out;
}

/**
 * The net's embeddings (after the blocks and the global average) on activation rows: the
 * representative data for calibrating the head's output ranges after fine-tuning.
 * @returns float32 `[set.n, D]`.
 */
export function embedNet(set: ActivationSet, g: CutGeometry, net: FineTuneNet): Float32Array {
  const dim = net.head[0].kernel.shape[0] as number;
  const out = new Float32Array(set.n * dim);
  for (let s = 0; s < set.n; s += EVAL_CHUNK) {
    const rows = Int32Array.from({ length: Math.min(EVAL_CHUNK, set.n - s) }, (_, i) => s + i);
    out.set(tf.tidy(() => embedForward(batchTensor(set, rows, g), net, false).dataSync() as Float32Array), s * dim);
  }
  return out;
}
