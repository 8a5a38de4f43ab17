import * as tf from '@tensorflow/tfjs';
import { applyTransformTo, sampleTransform, makeRng, type AugmentParams } from '../augment';
import type { CnnOptions, HeadOptions } from '../options';
import type { EpochRecord, TrainHooks } from '../head';
import { balancedWeights, tallyStep, type EpochTally } from '../head/train';
import { dropoutMask, permutation, streamSeed, STREAM } from '../head/streams';
import { fail } from '../errors';
import { buildCnn, cnnInputShape } from './model';

/**
 * Photos preprocessed to the CNN's input: `x` uint8 [n·H·W·C] HWC (pixels 0..255, `preprocessTo`),
 * `y` int32 [n] class indices, `shape` [H, W, C].
 */
export interface ImageSet {
  x: Uint8Array;
  y: Int32Array;
  n: number;
  shape: [number, number, number];
}

/**
 * Everything `trainCnn` needs: the network (src/options CnnOptions), the head options it reuses
 * (lr, batch, epochs, patience, labelSmoothing; `hidden`, `dropout` and `l2` belong to the head and
 * are not used: the CNN's dropout rates are the seed network's, and it has no L2), the resolved
 * class weights, the augmentation ranges redrawn every epoch, and the seed.
 */
export interface CnnSpec {
  cnn: CnnOptions;
  train: Pick<HeadOptions, 'lr' | 'batch' | 'epochs' | 'patience' | 'labelSmoothing'>;
  classWeights: 'none' | 'balanced';
  augment: AugmentParams;
  seed: number;
}

/** The outcome of `trainCnn`. */
export interface TrainedCnn {
  /** The CNN for inference: input float32 [n, H, W, C] = pixels / 255, output softmax [n, classes]. */
  model: tf.Sequential;
  history: EpochRecord[];
  /** 1-based epoch whose weights were restored (lowest val_loss). */
  bestEpoch: number;
  stoppedEarly: boolean;
}

/** Purpose tag of the augmentation stream (next to head/streams' shuffle, dropout, fold). */
const AUGMENT_STREAM = 0x41554731;
/** Keras' backend epsilon: probabilities are clipped to [ε, 1 − ε] in the cross-entropy. */
const EPSILON = 1e-7;
/** Photos per forward pass when evaluating. */
const EVAL_CHUNK = 128;

/**
 * Trains the CNN from scratch with Adam, a fresh augmented view of every training photo each
 * epoch, validation every epoch, and early stopping on val_loss that restores the best weights
 * (all of them, BatchNormalization's moving statistics too; Keras
 * `EarlyStopping(restore_best_weights=True)`).
 *
 * The step is EdgeTune's own (`optimizer.minimize` over the layers applied in training mode), so
 * that dropout masks come from EdgeTune's seeded streams (tfjs' Dropout layer is unseeded, or
 * reuses one mask when seeded) and the loss is Keras' categorical cross-entropy with label
 * smoothing and class weights, as the head's. Augmentation of photo i in epoch e is seeded by
 * (seed, e, i); the shuffle by (seed, e); so a run is a function of (data, spec, backend).
 * `loss`/`accuracy` are the batch-size-weighted means of the epoch's steps (augmented photos,
 * dropout on, BN on batch statistics); val_loss is the unsmoothed cross-entropy on the clean
 * validation photos in inference mode.
 *
 * @param train training photos (clean; augmented here). @param val validation photos, non-empty.
 * @param classes number of classes (≥ 2).
 * @throws EdgeTuneError BAD_OPTION (hyperparameters), BAD_DATASET (empty or mismatched sets),
 *   CANCELLED when `hooks.signal` aborts (the partial model is disposed).
 */
export async function trainCnn(train: ImageSet, val: ImageSet, classes: number, spec: CnnSpec, hooks: TrainHooks = {}): Promise<TrainedCnn> {
  checkSets(train, val, classes, cnnInputShape(spec.cnn));
  const t = spec.train;
  if (!(t.lr > 0) || !(t.batch >= 1) || !(t.epochs >= 1) || !(t.patience >= 1)) {
    throw fail('BAD_OPTION', `invalid CNN training option: lr ${t.lr}, batch ${t.batch}, epochs ${t.epochs}, patience ${t.patience} (all must be positive)`);
  }
  if (hooks.signal?.aborted) throw cancelled('before the first epoch');
  const model = buildCnn(spec.cnn, classes, spec.seed);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = tf.train.adam(t.lr);
  const history: EpochRecord[] = [];
  let best: { loss: number; epoch: number; weights: tf.Tensor[] } | undefined;
  let stoppedEarly = false;
  let done = false;
  try {
    for (let epoch = 1; epoch <= t.epochs; epoch++) {
      const fit = await trainEpoch(model, vars, optimizer, train, classes, spec, epoch, hooks);
      const ev = evaluateCnn(model, val, classes);
      const rec: EpochRecord = { epoch, loss: fit.loss, accuracy: fit.accuracy, val_loss: ev.loss, val_accuracy: ev.accuracy };
      history.push(rec);
      hooks.onEpoch?.(rec);
      if (!best || rec.val_loss < best.loss) {
        best?.weights.forEach((w) => w.dispose());
        best = { loss: rec.val_loss, epoch, weights: model.getWeights().map((w) => w.clone()) };
      } else if (epoch - best.epoch >= t.patience) {
        stoppedEarly = epoch < t.epochs;
        break;
      }
    }
    model.setWeights(best!.weights);
    done = true;
  } finally {
    best?.weights.forEach((w) => w.dispose());
    optimizer.dispose();
    if (!done) model.dispose();
  }
  return { model, history, bestEpoch: best!.epoch, stoppedEarly };
}

/** One epoch of mini-batch steps over freshly augmented photos in the seeded order. */
async function trainEpoch(
  model: tf.Sequential, vars: tf.Variable[], optimizer: tf.Optimizer, train: ImageSet, classes: number,
  spec: CnnSpec, epoch: number, h: TrainHooks,
): Promise<{ loss: number; accuracy: number }> {
  const { n, shape } = train;
  const [H, W, C] = shape;
  const px = H * W * C;
  const batch = spec.train.batch;
  const order = permutation(n, streamSeed(spec.seed, STREAM.shuffle, epoch));
  const classWeight = spec.classWeights === 'balanced' ? balancedWeights(train.y, classes) : undefined;
  const eps = spec.train.labelSmoothing;
  const steps = Math.ceil(n / batch);
  const tally: EpochTally = { lossSum: 0, correct: 0 };
  const stats: BatchStats[] = [];
  for (let s = 0; s < steps; s++) {
    const rows = order.subarray(s * batch, Math.min(n, (s + 1) * batch));
    const b = rows.length;
    const xb = new Float32Array(b * px);
    const yb = new Int32Array(b);
    const wb = classWeight ? new Float32Array(b) : undefined;
    rows.forEach((r, i) => {
      const rng = makeRng(streamSeed(spec.seed, AUGMENT_STREAM, epoch, r));
      const src = train.x.subarray(r * px, (r + 1) * px);
      const view = applyTransformTo(src, { height: H, width: W, channels: C }, sampleTransform(spec.augment, { height: H, width: W }, rng));
      for (let j = 0; j < px; j++) xb[i * px + j] = view[j] / 255;
      yb[i] = train.y[r];
      if (wb) wb[i] = classWeight![yb[i]];
    });
    const [lossT, predT] = tf.tidy(() => {
      const x = tf.tensor4d(xb, [b, H, W, C]);
      const hard = tf.oneHot(tf.tensor1d(yb, 'int32'), classes) as tf.Tensor2D;
      const y = eps > 0 ? tf.add(tf.mul(hard, 1 - eps), eps / classes) as tf.Tensor2D : hard;
      const w = wb ? tf.tensor1d(wb) : undefined;
      let pred: tf.Tensor | undefined;
      const loss = optimizer.minimize(() => {
        const probs = forwardTrain(model, x, spec.seed, epoch, s, stats);
        pred = tf.keep(tf.argMax(probs, 1));
        return crossEntropy(y, probs, w);
      }, true, vars)!;
      return [loss, pred!];
    });
    updateMovingStats(stats);
    if (await tallyStep(tally, lossT, predT, yb, b, h, s, steps, epoch)) throw cancelled(`at epoch ${epoch}, batch ${s + 1} of ${steps}`);
  }
  return { loss: tally.lossSum / n, accuracy: tally.correct / n };
}

/**
 * The model in training mode. Dropout is replaced by a seeded inverted mask keyed by (seed,
 * epoch, step, layer index). BatchNormalization normalises with the batch's statistics written
 * out in broadcasting ops (y = (x − mean)/sqrt(var + ε)·γ + β, biased variance over N, H, W as
 * Keras), because tfjs' batchNorm gradient tiles its per-channel factors to the full activation
 * size (measured: 'Tile' alone about 150 ms of a 640 ms step on WASM); the batch statistics are
 * returned so the caller updates the moving ones after the step (`updateMovingStats`). Every
 * other layer is applied with `training: true`.
 */
function forwardTrain(model: tf.Sequential, x: tf.Tensor, seed: number, epoch: number, step: number, stats: BatchStats[]): tf.Tensor2D {
  let a: tf.Tensor = x;
  model.layers.forEach((layer, li) => {
    const kind = layer.getClassName();
    if (kind === 'Dropout') {
      const rate = (layer.getConfig() as { rate: number }).rate;
      if (rate > 0) a = tf.mul(a, tf.tensor(dropoutMask(rate, a.size, streamSeed(seed, STREAM.dropout, epoch, step, li)), a.shape));
    } else if (kind === 'BatchNormalization') {
      const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
      const eps = (layer.getConfig() as { epsilon: number }).epsilon;
      const { mean, variance } = tf.moments(a, [0, 1, 2]);
      stats.push({ layer, mean: tf.keep(mean), variance: tf.keep(variance) });
      a = tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
    } else {
      a = layer.apply(a, { training: true }) as tf.Tensor;
    }
  });
  return a as tf.Tensor2D;
}

/** One BatchNormalization layer's batch statistics of a step (per channel). */
interface BatchStats { layer: tf.layers.Layer; mean: tf.Tensor; variance: tf.Tensor }

/**
 * Keras' moving-statistics update after a step: moving = moving·momentum + batch·(1 − momentum)
 * (biased batch variance, as tf.keras and tfjs-layers use it). Disposes the batch statistics.
 */
function updateMovingStats(stats: BatchStats[]): void {
  for (const { layer, mean, variance } of stats) {
    const momentum = (layer.getConfig() as { momentum: number }).momentum;
    const [movingMean, movingVar] = layer.nonTrainableWeights;
    tf.tidy(() => {
      movingMean.write(tf.add(tf.mul(movingMean.read(), momentum), tf.mul(mean, 1 - momentum)));
      movingVar.write(tf.add(tf.mul(movingVar.read(), momentum), tf.mul(variance, 1 - momentum)));
    });
    mean.dispose();
    variance.dispose();
  }
  stats.length = 0;
}

/** Mean over the batch of (sample weight ×) categorical cross-entropy of clipped probabilities. */
function crossEntropy(y: tf.Tensor2D, probs: tf.Tensor2D, w?: tf.Tensor1D): tf.Scalar {
  const p = tf.clipByValue(tf.div(probs, tf.sum(probs, -1, true)), EPSILON, 1 - EPSILON);
  let ce: tf.Tensor = tf.neg(tf.sum(tf.mul(y, tf.log(p)), -1));
  if (w) ce = tf.mul(ce, w);
  return tf.mean(ce) as tf.Scalar;
}

/**
 * Softmax outputs of the CNN in inference mode.
 * @param model from `trainCnn`/`loadCnn`. @param set photos (uint8 pixels, divided by 255 here).
 * @returns float32 [n·classes] row-major.
 */
export function predictCnn(model: tf.LayersModel, set: Pick<ImageSet, 'x' | 'n' | 'shape'>): Float32Array {
  const [H, W, C] = set.shape;
  const px = H * W * C;
  const classes = (model.outputs[0].shape[1] as number);
  const out = new Float32Array(set.n * classes);
  for (let start = 0; start < set.n; start += EVAL_CHUNK) {
    const b = Math.min(EVAL_CHUNK, set.n - start);
    const probs = tf.tidy(() => {
      const x = tf.div(tf.tensor4d(set.x.subarray(start * px, (start + b) * px), [b, H, W, C], 'float32'), 255);
      return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    });
    out.set(probs, start * classes);
  }
  return out;
}

/** val_loss (unsmoothed cross-entropy, inference mode) and val_accuracy. */
export function evaluateCnn(model: tf.LayersModel, set: ImageSet, classes: number): { loss: number; accuracy: number } {
  const probs = predictCnn(model, set);
  let ce = 0;
  let correct = 0;
  for (let i = 0; i < set.n; i++) {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    let sum = 0;
    let best = 0;
    for (let k = 0; k < classes; k++) {
      sum += row[k];
      if (row[k] > row[best]) best = k;
    }
    const p = Math.min(1 - EPSILON, Math.max(EPSILON, row[set.y[i]] / sum));
    ce -= Math.log(p);
    if (best === set.y[i]) correct++;
  }
  return { loss: ce / set.n, accuracy: correct / set.n };
}

function cancelled(when: string): Error {
  return fail('CANCELLED', `CNN training cancelled ${when}: nothing was kept; start the training again to get a model`);
}

function checkSets(train: ImageSet, val: ImageSet, classes: number, shape: [number, number, number]): void {
  const bad = (what: string): never => { throw fail('BAD_DATASET', what); };
  if (!(Number.isInteger(classes) && classes >= 2)) bad(`the CNN needs at least 2 classes, got ${classes}: add photos of another class`);
  if (train.n === 0 || val.n === 0) bad(`CNN training needs non-empty training and validation sets (got ${train.n} and ${val.n} photos): add photos`);
  for (const [name, set] of [['training', train], ['validation', val]] as const) {
    if (set.shape.join('x') !== shape.join('x')) bad(`${name} photos are ${set.shape.join('×')}, the CNN takes ${shape.join('×')}: preprocess them to --input and --channels`);
    if (set.x.length !== set.n * shape[0] * shape[1] * shape[2] || set.y.length !== set.n) bad(`${name} set holds ${set.x.length} bytes and ${set.y.length} labels, expected ${set.n}×${shape.join('×')} bytes and ${set.n} labels`);
    for (const c of set.y) if (!(c >= 0 && c < classes)) bad(`${name} label ${c} is outside 0..${classes - 1}`);
  }
}
