/**
 * `train --fine-tune N`: the stage after the head has converged. The base's last N blocks are read
 * from the quantized base (dequantized), trained with the head at a 10× lower learning rate on
 * cached activations at the cut, quantized again as uint8 (calibrated on the training views, input
 * bound to the cut tensor's scale and zero point) and appended to the base cut at that tensor; the
 * head is then grafted as for a frozen base.
 */
import * as tf from '@tensorflow/tfjs';
import { presetParams } from '../augment';
import { registerWasmDepthwiseGrad, calibrateHead, headModel, type EpochRecord, type HeadSpec } from '../head';
import { appendOps, cutAtEmbedding, embeddingInfo, type HeadWeights, type Model } from '../tflite';
import { layersToFragment, type Layer } from '../convert';
import { readTopBlocks, type TopBlocks } from '../finetune/blocks';
import { cutActivations, openCutBase, type CutActivations } from '../finetune/activations';
import { buildNet, disposeNet, netHead, netLayers } from '../finetune/model';
import { regridFragment } from '../finetune/regrid';
import {
  embedNet, fineTuneNet, predictNet, FINE_TUNE_LR_FACTOR, FINE_TUNE_MAX_EPOCHS, FINE_TUNE_PATIENCE,
  type ActivationSet, type CutGeometry,
} from '../finetune/train';
import type { TrainOptions } from '../options';
import { fail } from '../errors';
import type { FineTuneRecord } from '../artifact';
import { phaseProgress, type Reporter } from './report';
import type { Prepared } from './prepared';

/** The fine-tuned model, ready to export. */
export interface FineTuned {
  /** The base cut at the cut tensor with the fine-tuned blocks and average pool appended (uint8). */
  base: Model;
  /** The fine-tuned head, calibrated on fine-tuned embeddings of the training views. */
  weights: HeadWeights;
  /** The fine-tuned head as a tfjs model (softmax), for saving. */
  headModel: tf.LayersModel;
  /** Class probabilities of the fine-tuned float network for photos (indices into p.all.kept), `[n, classes]`. */
  probs(idx: number[]): Float32Array;
  history: EpochRecord[];
  record: FineTuneRecord;
  dispose(): void;
}

/** Training views used as the representative dataset of the blocks' quantization. */
const CALIBRATION_VIEWS = 400;

/**
 * Checks, before any embedding, that `--fine-tune` can run with these options.
 * @throws EdgeTuneError('BAD_OPTION') for a base other than MobileNet v1, grid pooling, or
 *   --edgetpu (the compiled extractor cannot hold fine-tuned blocks).
 */
export function checkFineTuneOptions(o: TrainOptions): void {
  if (o.fineTune === 0) return;
  if (!o.base.startsWith('mobilenet_v1_')) throw fail('BAD_OPTION', `--fine-tune works on MobileNet v1 bases (its 13 blocks); ${o.base} is not one: use --base mobilenet_v1_1.0_224 or drop --fine-tune`);
  if (o.pooling !== 'avg') throw fail('BAD_OPTION', `--fine-tune needs --pooling avg (the base's own global average); drop --pooling ${o.pooling} or --fine-tune`);
  if (o.edgetpu === true) throw fail('BAD_OPTION', "--edgetpu cannot be combined with --fine-tune: the compiled extractor holds the original blocks; use edgetune export --compile on the fine-tuned model.tflite instead");
}

/**
 * Fine-tunes the base's last `o.fineTune` blocks with the trained head.
 * @param p the prepared dataset (single head: a validation split exists).
 * @param head the converged head in TFLite layout (the start point of the head's layers).
 * @param spec the head's spec (the learning rate is scaled by FINE_TUNE_LR_FACTOR).
 * @param headEpochs the head's history length (fine-tuning epochs are numbered after it).
 * @throws EdgeTuneError UNSUPPORTED (not a MobileNet v1 graph), CANCELLED, BAD_IMAGE.
 */
export async function fineTuneStage(
  p: Prepared, o: TrainOptions, head: HeadWeights, spec: HeadSpec, headEpochs: number,
  run: { reporter: Reporter; signal?: AbortSignal; threads?: number },
): Promise<FineTuned> {
  const r = run.reporter;
  registerWasmDepthwiseGrad();
  const tb = readTopBlocks(p.base.model, o.fineTune);
  const g: CutGeometry = { shape: tb.cut.shape.slice(1) as [number, number, number], scale: tb.cut.scale, zeroPoint: tb.cut.zeroPoint };
  const size = g.shape[0] * g.shape[1] * g.shape[2];
  const { train: trainIdx, val: valIdx } = p.split;
  const nViews = p.all.kept.length + trainIdx.length * o.augViews;
  r.info(`fine-tuning ${tb.blocks === 1 ? 'block 13' : `blocks ${tb.first}–13`} (${tb.layers.map((l) => l.name).join(', ')}): activations at ${tb.cut.name.split(';')[0]} [${g.shape.join('×')}] uint8, ${nViews} views, ${(nViews * size / 1e6).toFixed(0)} MB in memory`);

  const t0 = performance.now();
  const session = openCutBase(p.base, tb.cut, run.threads);
  let acts: CutActivations;
  const bar = phaseProgress(r, 'embed', 'computing activations at the cut', p.all.kept.length);
  try {
    acts = await cutActivations(p.base, session, tb.cut, p.all.kept.map((s, i) => ({ path: s.path, sha: p.all.sha[i] })), trainIdx, {
      k: o.augViews, augment: presetParams(o.preset), seed: o.seed, fit: o.fit, cache: p.cache, signal: run.signal, onProgress: (d) => bar.update(d),
    });
  } finally {
    bar.stop();
    await session.close();
  }
  const tActs = (performance.now() - t0) / 1000;

  const trainSet = activationRows(acts, p, trainIdx, true);
  const valSet = activationRows(acts, p, valIdx, false);
  const ftSpec = {
    ...spec,
    lr: spec.lr * FINE_TUNE_LR_FACTOR,
    epochs: Math.min(FINE_TUNE_MAX_EPOCHS, spec.epochs),
    patience: Math.min(FINE_TUNE_PATIENCE, spec.patience),
  };
  // Quantization-aware: the forward pass sees the weights on the base's uint8 grid and uint8 block
  // outputs, as the export will; updates below one grid step accumulate instead of being rounded
  // away at export (without it, one epoch of blocks 12–13 on gestures exported at 96% agreement).
  const net = buildNet(tb.layers, head, { weights: tb.weightQuant, activations: tb.cut.scale });
  try {
    const t1 = performance.now();
    const ebar = phaseProgress(r, 'train', `fine-tuning (lr ${ftSpec.lr})`, ftSpec.epochs);
    let res;
    try {
      res = await fineTuneNet(trainSet, valSet, g, p.ds.labels.length, net, ftSpec, {
        signal: run.signal, epochOffset: headEpochs,
        onEpoch: (e) => ebar.step(e.epoch - headEpochs, e, `loss ${e.loss.toFixed(3)} acc ${e.accuracy.toFixed(3)} val_loss ${e.val_loss.toFixed(3)} val_acc ${e.val_accuracy.toFixed(3)}`),
      });
    } finally {
      ebar.stop();
    }
    const tTrain = (performance.now() - t1) / 1000;
    const kept = res.history.find((h) => h.epoch === res.bestEpoch);
    const after = kept ? { val_loss: kept.val_loss, val_accuracy: kept.val_accuracy } : res.before;
    r.info(kept
      ? `fine-tuning kept epoch ${res.bestEpoch} of ${headEpochs + res.history.length}: val_accuracy ${pct(res.before.val_accuracy)} → ${pct(after.val_accuracy)}, val_loss ${res.before.val_loss.toFixed(4)} → ${after.val_loss.toFixed(4)}`
      : `fine-tuning did not lower val_loss (${res.before.val_loss.toFixed(4)}) in ${res.history.length} epochs: the converged head and the base's blocks are kept as they were`);

    // Export: the blocks quantized as uint8 after the base cut at the same tensor.
    const calib = spread(trainSet.n, CALIBRATION_VIEWS);
    const lut = Float32Array.from({ length: 256 }, (_, q) => g.scale * (q - g.zeroPoint));
    const representative = calib.map((row) => Float32Array.from(trainSet.x.subarray(row * size, (row + 1) * size), (q) => lut[q]));
    const tuned = netLayers(net);
    const layers: Layer[] = [...tuned, { kind: 'gap', keepDims: true, name: 'global_average' }];
    const frag = layersToFragment(layers, { input: { shape: tb.cut.shape, type: 'uint8', scale: tb.cut.scale, zeroPoint: tb.cut.zeroPoint }, representative, scheme: 'uint8' });
    // The weights go back on the base's own grid (regrid.ts says why).
    const grid = regridFragment(frag.fragment, tuned, tb.weightQuant);
    if (grid.clamped > 0) r.warn(`${grid.clamped} fine-tuned weights left the base's quantization range and were clamped to it`);
    const cut = cutAtEmbedding(p.base.model, tb.cut.name).model;
    const base = appendOps(cut, grid.fragment, [embeddingInfo(cut).tensorIndex]).model;

    const weights = netHead(net);
    const embTrain = embedNet(trainSet, g, net);
    calibrateHead(weights.layers, { x: embTrain, y: trainSet.y, n: trainSet.n, dim: embTrain.length / Math.max(1, trainSet.n) });
    const hm = headModel(weights);
    const record: FineTuneRecord = {
      blocks: tb.blocks, cut: tb.cut.name, cutShape: tb.cut.shape, layers: tb.layers.map((l) => l.name ?? l.kind),
      lr: ftSpec.lr, maxEpochs: ftSpec.epochs, patience: ftSpec.patience,
      epochs: res.history.length, bestEpoch: res.bestEpoch, stoppedEarly: res.stoppedEarly,
      before: res.before, after,
      activations: { views: nViews, bytes: acts.clean.length + acts.views.length },
      seconds: { activations: round(tActs), train: round(tTrain) },
    };
    return {
      base, weights, headModel: hm, history: res.history, record,
      probs: (idx) => predictNet(activationRows(acts, p, idx, false), g, net),
      dispose: () => { disposeNet(net); hm.dispose(); },
    };
  } catch (e) {
    disposeNet(net);
    throw e;
  }
}

/** Clean activation rows of photos (indices into p.all.kept), plus their augmented views when `views`. */
function activationRows(acts: CutActivations, p: Prepared, idx: number[], views: boolean): ActivationSet {
  const pos = new Map(p.split.train.map((i, j) => [i, j]));
  const withViews = views ? idx.filter((i) => pos.has(i)) : [];
  const n = idx.length + withViews.length * acts.k;
  const x = new Uint8Array(n * acts.size);
  const y = new Int32Array(n);
  let row = 0;
  for (const i of idx) {
    x.set(acts.clean.subarray(i * acts.size, (i + 1) * acts.size), row * acts.size);
    y[row++] = p.all.kept[i].labelIndex;
  }
  for (const i of withViews) {
    const j = pos.get(i)!;
    for (let v = 0; v < acts.k; v++) {
      const at = (j * acts.k + v) * acts.size;
      x.set(acts.views.subarray(at, at + acts.size), row * acts.size);
      y[row++] = p.all.kept[i].labelIndex;
    }
  }
  return { x, y, n };
}

/** Up to `k` row indices spread evenly over 0 … n − 1. */
function spread(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function round(s: number): number {
  return Math.round(s * 10) / 10;
}

export type { TopBlocks };
