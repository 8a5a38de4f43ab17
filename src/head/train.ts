import * as tf from '@tensorflow/tfjs';
import { DEFAULTS, type HeadOptions } from '../options';
import { fail } from '../errors';
import { dropoutMask, permutation, streamSeed, STREAM } from './streams';

/**
 * Everything `trainHead` needs: the user-facing head options (src/options, where each field is
 * documented once) with the class weights resolved and the seed of the run. The seed drives the
 * weight initialisers, the per-epoch shuffle and every dropout mask: training is a pure function
 * of (data, spec) on a given backend.
 */
export type HeadSpec = Omit<HeadOptions, 'classWeights' | 'labelSmoothing'> & {
  /** 'balanced' weights each class by n / (classes · n_class) in the loss, for imbalanced datasets. */
  classWeights: 'none' | 'balanced';
  seed: number;
  /** Label smoothing ε of the training targets (default 0; see HeadOptions.labelSmoothing). */
  labelSmoothing?: number;
};

/**
 * The head defaults as a full HeadSpec: the user-facing defaults of src/options (the one place they
 * are defined, with their measurements) plus no class weights and seed 1, for callers of this
 * module that train a head directly.
 */
export const DEFAULT_HEAD: Readonly<HeadSpec> = Object.freeze({
  ...DEFAULTS.head, hidden: [...DEFAULTS.head.hidden], classWeights: 'none' as const, seed: DEFAULTS.seed,
});

/** Embeddings with labels: `x` is float32 `[n, dim]` row-major, `y` int32 `[n]` class indices. */
export interface EmbeddingSet {
  x: Float32Array;
  y: Int32Array;
  n: number;
  dim: number;
}

/** One epoch of training history (Keras' names; accuracy in 0..1). */
export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
}

/** The outcome of `trainHead`. */
export interface TrainedHead {
  /**
   * The trained head for inference: plain Dense layers (ReLU hidden, softmax last; dropout acts
   * only inside training), input float32 `[batch, dim]`, output softmax float32 `[batch, classes]`.
   */
  model: tf.LayersModel;
  history: EpochRecord[];
  /** 1-based epoch whose weights were restored (lowest val_loss). */
  bestEpoch: number;
  stoppedEarly: boolean;
  spec: HeadSpec;
}

/** Optional progress callbacks and cancellation of `trainHead`. */
export interface TrainHooks {
  /** Called after each epoch with its record (e.g. for a progress bar or a live curve). */
  onEpoch?(r: EpochRecord): void;
  /** Called after each mini-batch step: `done` of `total` steps of the current 1-based `epoch`. */
  onBatch?(done: number, total: number, epoch: number): void;
  /**
   * Checked before training and between mini-batches; when aborted, training stops, frees its
   * tensors (the head too) and throws EdgeTuneError 'CANCELLED'.
   */
  signal?: AbortSignal;
}

/** Keras' backend epsilon: probabilities are clipped to [ε, 1 − ε] in the cross-entropy. */
const EPSILON = 1e-7;

/** Rows per forward pass when evaluating the validation set. */
const EVAL_CHUNK = 512;

/**
 * Builds the untrained head for inference: `[dim]` → Dense ReLU (hidden widths)… → Dense softmax.
 * Kernels are Glorot-uniform seeded with spec.seed, spec.seed + 1, … per layer; biases are zero.
 * Dropout and the L2 penalty are applied by `trainHead`'s training step, not by layers, so the
 * model is plain Dense layers (what `headWeights` and `serializeHead` read).
 */
export function buildHead(dim: number, numClasses: number, spec: HeadSpec): tf.Sequential {
  const model = tf.sequential();
  let seed = spec.seed;
  const widths = [...spec.hidden, numClasses];
  widths.forEach((units, i) => {
    model.add(tf.layers.dense({
      units,
      activation: i < widths.length - 1 ? 'relu' : 'softmax',
      inputShape: i === 0 ? [dim] : undefined,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
    }));
  });
  return model;
}

/** A Dense layer's trainable variables: kernel float32 `[inDim, units]`, bias `[units]`. */
interface DenseVars { kernel: tf.Variable; bias: tf.Variable }

/**
 * Trains the head on embeddings with Adam, validation every epoch, and early stopping on
 * val_loss that restores the best weights (Keras `EarlyStopping(restore_best_weights=True)`).
 *
 * The training step is EdgeTune's own (`optimizer.minimize` on the Dense variables), with Keras'
 * semantics: inverted dropout after each hidden ReLU (or on the embedding when there is no hidden
 * layer); loss = mean over the batch of class-weighted categorical cross-entropy (probabilities
 * clipped to [1e-7, 1 − 1e-7]) + λ·Σw² over the kernels (Keras l2); `loss`/`accuracy` are the
 * batch-size-weighted means over the epoch's steps (training mode, dropout on), `val_loss` is the
 * unweighted cross-entropy on the validation set plus the same penalty (as Keras reports it;
 * tfjs' `evaluate` would leave the penalty out), `val_accuracy` the top-1 accuracy.
 *
 * Reproducible: each epoch's shuffle comes from (seed, epoch) and each dropout mask from (seed,
 * epoch, batch, layer) via mulberry32, so the same data, spec and backend give bit-identical
 * weights and history (checked on 'wasm' and 'cpu'; across processes too). The WASM backend is
 * single-threaded under Node: tfjs-backend-wasm 4.22 reports WASM_HAS_MULTITHREAD_SUPPORT false
 * in Node (tfjs issue #3830) and loads its SIMD binary with one XNNPACK thread, so there is no
 * thread-order nondeterminism to switch off. 'tensorflow' (tfjs-node) was not checked.
 *
 * @param train training embeddings (the clean ones plus any augmented views).
 * @param val validation embeddings (clean images only); must be non-empty.
 * @param numClasses number of classes (≥ 2); labels are 0..numClasses−1.
 * @param hooks progress callbacks and an AbortSignal, or just the per-epoch callback.
 * @throws EdgeTuneError 'BAD_OPTION' on invalid hyperparameters, 'BAD_DATASET' on empty or
 *   mismatched sets, 'CANCELLED' when `hooks.signal` aborts (the partial head is disposed).
 */
export async function trainHead(
  train: EmbeddingSet, val: EmbeddingSet, numClasses: number, spec: HeadSpec,
  hooks?: TrainHooks | ((r: EpochRecord) => void),
): Promise<TrainedHead> {
  const h: TrainHooks = typeof hooks === 'function' ? { onEpoch: hooks } : hooks ?? {};
  checkSpec(spec);
  checkSets(train, val, numClasses);
  if (h.signal?.aborted) throw cancelled('before the first epoch');
  const model = buildHead(train.dim, numClasses, spec);
  const vars: DenseVars[] = model.layers.map((l) => {
    const [kernel, bias] = l.trainableWeights.map((w) => w.read() as tf.Variable);
    return { kernel, bias };
  });
  const optimizer = tf.train.adam(spec.lr);
  const history: EpochRecord[] = [];
  let best: { loss: number; epoch: number; weights: tf.Tensor[] } | undefined;
  let stoppedEarly = false;
  let done = false;
  try {
    for (let epoch = 1; epoch <= spec.epochs; epoch++) {
      const fit = await trainEpoch(train, numClasses, spec, vars, optimizer, epoch, h);
      const ev = evaluate(val, numClasses, spec, vars);
      const rec: EpochRecord = { epoch, loss: fit.loss, accuracy: fit.accuracy, val_loss: ev.loss, val_accuracy: ev.accuracy };
      history.push(rec);
      h.onEpoch?.(rec);
      if (!best || rec.val_loss < best.loss) {
        best?.weights.forEach((w) => w.dispose());
        best = { loss: rec.val_loss, epoch, weights: vars.flatMap((v) => [v.kernel.clone(), v.bias.clone()]) };
      } else if (epoch - best.epoch >= spec.patience) {
        stoppedEarly = epoch < spec.epochs;
        break;
      }
    }
    const saved = best!.weights;
    vars.forEach((v, i) => { v.kernel.assign(saved[2 * i]); v.bias.assign(saved[2 * i + 1]); });
    done = true;
  } finally {
    best?.weights.forEach((w) => w.dispose());
    optimizer.dispose();
    if (!done) model.dispose();
  }
  return { model, history, bestEpoch: best!.epoch, stoppedEarly, spec };
}

/** One epoch of mini-batch steps in the seeded order; returns Keras' epoch loss and accuracy. */
async function trainEpoch(
  train: EmbeddingSet, numClasses: number, spec: HeadSpec, vars: DenseVars[], optimizer: tf.Optimizer,
  epoch: number, h: TrainHooks,
): Promise<{ loss: number; accuracy: number }> {
  const { n, dim } = train;
  const order = permutation(n, streamSeed(spec.seed, STREAM.shuffle, epoch));
  const classWeight = spec.classWeights === 'balanced' ? balancedWeights(train.y, numClasses) : undefined;
  // Widths of the activations dropout multiplies: each hidden output, or the embedding itself.
  const dropWidths = spec.dropout > 0 ? (spec.hidden.length ? spec.hidden : [dim]) : [];
  const steps = Math.ceil(n / spec.batch);
  const tally: EpochTally = { lossSum: 0, correct: 0 };
  for (let s = 0; s < steps; s++) {
    const rows = order.subarray(s * spec.batch, Math.min(n, (s + 1) * spec.batch));
    const b = rows.length;
    const xb = new Float32Array(b * dim);
    const yb = new Int32Array(b);
    const wb = classWeight ? new Float32Array(b) : undefined;
    rows.forEach((r, i) => {
      xb.set(train.x.subarray(r * dim, (r + 1) * dim), i * dim);
      yb[i] = train.y[r];
      if (wb) wb[i] = classWeight![yb[i]];
    });
    const masks = dropWidths.map((w, pos) => dropoutMask(spec.dropout, b * w, streamSeed(spec.seed, STREAM.dropout, epoch, s, pos)));
    const [lossT, predT] = tf.tidy(() => {
      const x = tf.tensor2d(xb, [b, dim]);
      const hard = tf.oneHot(tf.tensor1d(yb, 'int32'), numClasses) as tf.Tensor2D;
      const eps = spec.labelSmoothing ?? 0;
      const y = eps > 0 ? tf.add(tf.mul(hard, 1 - eps), eps / numClasses) as tf.Tensor2D : hard;
      const w = wb ? tf.tensor1d(wb) : undefined;
      const m = masks.map((mk, i) => tf.tensor2d(mk, [b, dropWidths[i]]));
      let pred: tf.Tensor | undefined;
      const loss = optimizer.minimize(() => {
        const probs = tf.softmax(forward(x, vars, m, true));
        pred = tf.keep(tf.argMax(probs, 1));
        return objective(y, probs, w, vars, spec.l2);
      }, true, vars.flatMap((v) => [v.kernel, v.bias]))!;
      return [loss, pred!];
    });
    if (await tallyStep(tally, lossT, predT, yb, b, h, s, steps, epoch)) throw cancelled(`at epoch ${epoch}, batch ${s + 1} of ${steps}`);
  }
  return { loss: tally.lossSum / n, accuracy: tally.correct / n };
}

/**
 * Logits of the Dense stack: x·K + b, ReLU on hidden layers; `masks` (training only) multiply
 * the embedding when there is one layer, else each hidden layer's output. `train` routes the
 * products through `denseTrain`'s gradient.
 */
function forward(x: tf.Tensor2D, vars: DenseVars[], masks: tf.Tensor2D[], train: boolean): tf.Tensor2D {
  let a = x;
  if (vars.length === 1 && masks.length) a = tf.mul(a, masks[0]);
  vars.forEach((v, i) => {
    a = train ? denseTrain(a, v, i > 0) : tf.add(tf.matMul(a, v.kernel), v.bias);
    if (i < vars.length - 1) {
      a = tf.relu(a);
      if (masks.length) a = tf.mul(a, masks[i]);
    }
  });
  return a;
}

/**
 * x·K + b with a hand-written gradient: dK = xᵀ·dy, db = Σ_rows dy, dx = dy·Kᵀ (only when an
 * earlier layer needs it, so never for the embedding). The transposes are explicit because
 * tfjs-backend-wasm 4.22's matMul with transposeA/transposeB (what tfjs' own matMul gradient
 * uses) measured 10–30× slower than transpose + plain matMul on a 32×1024 × 1024×256 step
 * (29 ms vs 1.4 ms CPU for dK); the arithmetic is the same.
 */
function denseTrain(x: tf.Tensor2D, v: DenseVars, inputGrad: boolean): tf.Tensor2D {
  return matMulTrain(x, v.kernel as tf.Tensor2D, v.bias as tf.Tensor1D, inputGrad);
}

/**
 * x · K + b ([batch, in] · [in, out] + [out], float32) with the hand-written gradient of
 * `denseTrain`: dx = dy · Kᵀ (zeros when `inputGrad` is false: nothing upstream needs it),
 * dK = xᵀ · dy, db = Σ rows dy. Shared by the head and fine-tuning's pointwise convolutions.
 */
export function matMulTrain(x: tf.Tensor2D, k: tf.Tensor2D, b: tf.Tensor1D, inputGrad: boolean): tf.Tensor2D {
  const f = (a: tf.Tensor2D, kk: tf.Tensor2D, bb: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([a, kk]);
    return {
      value: tf.add(tf.matMul(a, kk), bb) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, [sa, sk]: tf.Tensor[]) => [
        // The embedding needs no gradient: zeros, which backprop does not follow further.
        inputGrad ? tf.matMul(dy, tf.transpose(sk as tf.Tensor2D)) : tf.zerosLike(sa),
        tf.matMul(tf.transpose(sa as tf.Tensor2D), dy),
        tf.sum(dy, 0),
      ],
    };
  };
  // customGrad's typing takes variadic inputs; this one has exactly (x, kernel, bias, save).
  const op = tf.customGrad(f as unknown as Parameters<typeof tf.customGrad<tf.Tensor2D>>[0]);
  return op(x, k, b);
}

/**
 * Keras' training objective: mean over the batch of (sample weight × categorical cross-entropy of
 * the clipped, renormalised probabilities) + λ·Σ‖kernel‖² (tf.keras.regularizers.l2).
 */
function objective(y: tf.Tensor2D, probs: tf.Tensor2D, w: tf.Tensor1D | undefined, vars: DenseVars[], l2: number): tf.Scalar {
  const p = tf.clipByValue(tf.div(probs, tf.sum(probs, -1, true)), EPSILON, 1 - EPSILON);
  let ce: tf.Tensor = tf.neg(tf.sum(tf.mul(y, tf.log(p)), -1));
  if (w) ce = tf.mul(ce, w);
  let loss = tf.mean(ce) as tf.Scalar;
  if (l2 > 0) loss = tf.add(loss, penalty(vars, l2));
  return loss;
}

/** λ·Σw² over the kernels (biases are not regularised, as kernel_regularizer). */
function penalty(vars: DenseVars[], l2: number): tf.Scalar {
  return tf.mul(l2, tf.addN(vars.map((v) => tf.sum(tf.square(v.kernel))))) as tf.Scalar;
}

/** val_loss (cross-entropy + penalty, no dropout, no class weights) and val_accuracy. */
function evaluate(val: EmbeddingSet, numClasses: number, spec: HeadSpec, vars: DenseVars[]): { loss: number; accuracy: number } {
  let ceSum = 0;
  let correct = 0;
  for (let start = 0; start < val.n; start += EVAL_CHUNK) {
    const b = Math.min(EVAL_CHUNK, val.n - start);
    const yb = val.y.subarray(start, start + b);
    const [ce, pred] = tf.tidy(() => {
      const x = tf.tensor2d(val.x.subarray(start * val.dim, (start + b) * val.dim), [b, val.dim]);
      const probs = tf.softmax(forward(x, vars, [], false));
      const y = tf.oneHot(tf.tensor1d(yb, 'int32'), numClasses) as tf.Tensor2D;
      const p = tf.clipByValue(tf.div(probs, tf.sum(probs, -1, true)), EPSILON, 1 - EPSILON);
      return [tf.neg(tf.sum(tf.mul(y, tf.log(p)))).dataSync()[0], tf.argMax(probs, 1).dataSync()];
    });
    ceSum += ce as number;
    const p = pred as ArrayLike<number>;
    for (let i = 0; i < b; i++) if (p[i] === yb[i]) correct++;
  }
  const reg = spec.l2 > 0 ? tf.tidy(() => penalty(vars, spec.l2).dataSync()[0]) : 0;
  return { loss: ceSum / val.n + reg, accuracy: correct / val.n };
}

function cancelled(when: string): Error {
  return fail('CANCELLED', `head training cancelled ${when}: nothing was kept; start the training again to get a head`);
}

/**
 * Runs the head on embeddings.
 * @param x float32 `[n, dim]`. @returns float32 `[n, classes]` softmax probabilities.
 */
export function predictHead(model: tf.LayersModel, x: Float32Array, n: number, dim: number): Float32Array {
  return tf.tidy(() => {
    const out = model.predict(tf.tensor2d(x, [n, dim]), { batchSize: 512 }) as tf.Tensor;
    return out.dataSync() as Float32Array;
  });
}

/** Index of the largest entry of each row of a `[n, k]` matrix (ties → lowest index). */
export function argmaxRows(p: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.length; i += k) {
    let b = 0;
    for (let j = 1; j < k; j++) if (p[i + j] > p[i + b]) b = j;
    out.push(b);
  }
  return out;
}

/** Keras' "balanced" class weights: n / (classes · count[c]); classes without samples get 1. */
export function balancedWeights(y: Int32Array, numClasses: number): Record<number, number> {
  const counts = new Array<number>(numClasses).fill(0);
  for (const c of y) counts[c]++;
  const w: Record<number, number> = {};
  counts.forEach((c, i) => { w[i] = c ? y.length / (numClasses * c) : 1; });
  return w;
}

function checkSpec(s: HeadSpec): void {
  const bad = (what: string) => { throw fail('BAD_OPTION', `invalid head option: ${what}`); };
  if (!s.hidden.every((u) => Number.isInteger(u) && u > 0)) bad(`--hidden ${s.hidden.join(',')} (positive integers)`);
  if (!(s.dropout >= 0 && s.dropout < 1)) bad(`--dropout ${s.dropout} (0 ≤ rate < 1)`);
  if (!(s.lr > 0)) bad(`--lr ${s.lr} (> 0)`);
  if (!(Number.isInteger(s.batch) && s.batch > 0)) bad(`--batch ${s.batch} (positive integer)`);
  if (!(Number.isInteger(s.epochs) && s.epochs > 0)) bad(`--epochs ${s.epochs} (positive integer)`);
  if (!(Number.isInteger(s.patience) && s.patience > 0)) bad(`--patience ${s.patience} (positive integer)`);
  if (!(s.l2 >= 0)) bad(`--l2 ${s.l2} (≥ 0)`);
  if (s.labelSmoothing !== undefined && !(s.labelSmoothing >= 0 && s.labelSmoothing < 1)) bad(`--label-smoothing ${s.labelSmoothing} (0 ≤ ε < 1)`);
}

function checkSets(train: EmbeddingSet, val: EmbeddingSet, numClasses: number): void {
  const bad = (what: string) => { throw fail('BAD_DATASET', what); };
  if (!(Number.isInteger(numClasses) && numClasses >= 2)) bad(`the head needs at least 2 classes, got ${numClasses}: add photos of another class`);
  if (train.n === 0 || val.n === 0) bad(`head training needs non-empty training and validation sets (got ${train.n} and ${val.n} embeddings): add photos`);
  if (train.dim !== val.dim) bad(`embedding sizes differ: train ${train.dim}, validation ${val.dim}; embed both with the same base and pooling`);
  for (const [name, set] of [['training', train], ['validation', val]] as const) {
    if (set.x.length !== set.n * set.dim || set.y.length !== set.n) bad(`${name} embeddings hold ${set.x.length} values and ${set.y.length} labels, expected n×dim = ${set.n * set.dim} and n = ${set.n}`);
    for (const c of set.y) if (!(c >= 0 && c < numClasses)) bad(`${name} label ${c} is outside 0..${numClasses - 1}: pass the number of classes the labels index`);
  }
}

/** Running loss and top-1 count of a training epoch, one mini-batch at a time (`tallyStep`). */
export interface EpochTally {
  /** Σ batch mean loss × batch size. */
  lossSum: number;
  /** Training examples whose top-1 was right. */
  correct: number;
}

/**
 * Books one training step of any EdgeTune training loop (head, CNN, fine-tuning): adds the batch's
 * mean loss × its size and its correct top-1 count to `t`, disposes both tensors, reports the batch,
 * then lets timers and I/O run (a server's abort request, progress events) before the next step.
 * @param lossT scalar mean loss; predT int32 [b] predicted classes; yb true classes [b].
 * @returns true when `hooks.signal` was aborted meanwhile (the caller throws its own CANCELLED).
 */
export async function tallyStep(
  t: EpochTally, lossT: tf.Tensor, predT: tf.Tensor, yb: ArrayLike<number>, b: number,
  hooks: { onBatch?: (batch: number, batches: number, epoch: number) => void; signal?: AbortSignal }, s: number, steps: number, epoch: number,
): Promise<boolean> {
  try {
    t.lossSum += lossT.dataSync()[0] * b;
    const p = predT.dataSync();
    for (let i = 0; i < b; i++) if (p[i] === yb[i]) t.correct++;
  } finally {
    lossT.dispose(); predT.dispose();
  }
  hooks.onBatch?.(s + 1, steps, epoch);
  await new Promise<void>((resolve) => setImmediate(resolve));
  return hooks.signal?.aborted === true;
}
