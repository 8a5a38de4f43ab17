/**
 * Reading a TensorFlow.js LayersModel into EdgeTune's layer list (types.ts), layer by layer from
 * each layer's class name, config and weights (tfjs-layers `getClassName`, `getConfig`,
 * `getWeights`; weight order as tfjs creates them: kernel then bias; BatchNormalization gamma,
 * beta, moving mean, moving variance, without gamma/beta when scale/center are off).
 */
import type * as tf from '@tensorflow/tfjs';
import { fail } from '../errors';
import type { Activation, Layer, Padding } from './types';

/** Options of layersFromTfjs. */
export interface FromTfjsOptions {
  /** Input rescaling x = raw · inputScale + inputOffset when the model has no Rescaling layer. Default 1. */
  inputScale?: number;
  /** See inputScale. Default 0. */
  inputOffset?: number;
}

type Config = Record<string, unknown>;

function label(l: tf.layers.Layer): string {
  return `layer '${l.name}' (${l.getClassName()})`;
}

function pair(v: unknown, what: string, l: tf.layers.Layer): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x) && x > 0)) throw fail('UNSUPPORTED', `${label(l)} has ${what} ${JSON.stringify(v)}; expected two positive integers`);
  return [a[0], a[1]];
}

function padding(c: Config, l: tf.layers.Layer): Padding {
  if (c.padding !== 'same' && c.padding !== 'valid') throw fail('UNSUPPORTED', `${label(l)} has padding '${String(c.padding)}'; the converter writes 'same' and 'valid' only`);
  return c.padding;
}

function channelsLast(c: Config, l: tf.layers.Layer): void {
  if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') throw fail('UNSUPPORTED', `${label(l)} uses dataFormat '${String(c.dataFormat)}'; rebuild it with channelsLast (NHWC), as TFLite needs`);
}

function noDilation(c: Config, l: tf.layers.Layer): void {
  const d = c.dilationRate;
  const ok = d === undefined || d === 1 || (Array.isArray(d) && d.every((x) => x === 1));
  if (!ok) throw fail('UNSUPPORTED', `${label(l)} has dilation ${JSON.stringify(d)}; the converter writes dilation 1 only`);
}

/** Keras activation name → the layer list's activation, or 'softmax' (Dense only). */
function activation(c: Config, l: tf.layers.Layer, allowSoftmax: boolean): Activation | 'softmax' {
  const a = c.activation ?? 'linear';
  if (a === 'linear' || a === 'relu' || a === 'relu6') return a;
  if (a === 'softmax' && allowSoftmax) return 'softmax';
  throw fail('UNSUPPORTED', `${label(l)} has activation '${String(a)}'; the converter supports linear, relu, relu6${allowSoftmax ? ' and softmax' : ''}`);
}

function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync());
}

function nameOf(l: tf.layers.Layer): { name: string } {
  return { name: l.name };
}

/**
 * The layers of a sequential chain (a tf.Sequential, or a functional model whose every layer
 * takes the previous one's output) as EdgeTune's layer list, starting with an input layer.
 *
 * Supported: InputLayer, Rescaling (first only: becomes the input layer's scale/offset), Conv2D,
 * DepthwiseConv2D, BatchNormalization (last axis), ReLU (maxValue none or 6), Activation
 * ('relu' | 'relu6' | 'linear' | 'softmax'), Softmax, MaxPooling2D, AveragePooling2D,
 * GlobalAveragePooling2D, Flatten, Dense (activation linear/relu/relu6; softmax becomes a Dense
 * then a separate softmax layer), Dropout. Weights are copied (Keras layouts, float32).
 *
 * @param model a tfjs LayersModel with one [null, H, W, C] input and one output.
 * @param opts input rescaling when the model has no Rescaling layer.
 * @throws EdgeTuneError UNSUPPORTED naming the layer and its class for anything else (other
 *   layers, channelsFirst, dilation, non-chain topologies, other activations); BAD_OPTION when a
 *   Rescaling layer and inputScale/inputOffset are both given.
 */
export function layersFromTfjs(model: tf.LayersModel, opts: FromTfjsOptions = {}): Layer[] {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw fail('UNSUPPORTED', `model '${model.name}' has ${model.inputs.length} inputs and ${model.outputs.length} outputs; the converter takes a single-input, single-output chain`);
  }
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || !shape.slice(1).every((d) => typeof d === 'number' && d > 0)) {
    throw fail('UNSUPPORTED', `model '${model.name}' input shape [${shape.join(', ')}] is not [null, H, W, C] with known H, W, C`);
  }
  const input: Layer = { kind: 'input', shape: [shape[1]!, shape[2]!, shape[3]!], scale: opts.inputScale ?? 1, offset: opts.inputOffset ?? 0 };
  const out: Layer[] = [input];
  let prev: tf.layers.Layer | null = null;
  let rescaled = false;
  for (const l of model.layers) {
    const cls = l.getClassName();
    const c = l.getConfig() as Config;
    if (l.inboundNodes.length > 1) throw fail('UNSUPPORTED', `${label(l)} is used ${l.inboundNodes.length} times; the converter takes a plain chain of layers`);
    const inbound = l.inboundNodes[0]?.inboundLayers ?? [];
    if (cls !== 'InputLayer' && prev && (inbound.length !== 1 || inbound[0] !== prev)) {
      throw fail('UNSUPPORTED', `${label(l)} does not take the output of '${prev.name}' alone; the converter takes a plain chain of layers`);
    }
    if (cls !== 'InputLayer') prev = l;
    const w = l.getWeights();
    switch (cls) {
      case 'InputLayer':
        prev = l;
        break;
      case 'Rescaling': {
        if (out.length !== 1 || rescaled) throw fail('UNSUPPORTED', `${label(l)} must directly follow the input; move the rescaling to the start of the model`);
        if (opts.inputScale !== undefined || opts.inputOffset !== undefined) throw fail('BAD_OPTION', `model '${model.name}' has a Rescaling layer; drop the inputScale/inputOffset options`);
        const s = Number(c.scale);
        const o = Number(c.offset ?? 0);
        if (!Number.isFinite(s) || !Number.isFinite(o)) throw fail('UNSUPPORTED', `${label(l)} has a per-channel scale or offset; the converter takes one scale and one offset`);
        out[0] = { ...input, scale: s, offset: o };
        rescaled = true;
        break;
      }
      case 'Conv2D': {
        channelsLast(c, l);
        noDilation(c, l);
        const kernel = w[0];
        const a = activation(c, l, false) as Activation;
        out.push({ kind: 'conv2d', kernel: values(kernel), kernelShape: kernel.shape as [number, number, number, number], bias: w[1] ? values(w[1]) : null, strides: pair(c.strides, 'strides', l), padding: padding(c, l), activation: a, ...nameOf(l) });
        break;
      }
      case 'DepthwiseConv2D': {
        channelsLast(c, l);
        noDilation(c, l);
        const kernel = w[0];
        const a = activation(c, l, false) as Activation;
        out.push({ kind: 'depthwise', kernel: values(kernel), kernelShape: kernel.shape as [number, number, number, number], bias: w[1] ? values(w[1]) : null, strides: pair(c.strides, 'strides', l), padding: padding(c, l), activation: a, ...nameOf(l) });
        break;
      }
      case 'BatchNormalization': {
        const axis = c.axis;
        if (axis !== -1 && axis !== 3 && !(Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3))) {
          throw fail('UNSUPPORTED', `${label(l)} normalizes axis ${JSON.stringify(axis)}; the converter folds batch normalization over the channel (last) axis only`);
        }
        let k = 0;
        const n = w[w.length - 1].shape[0];
        const gamma = c.scale === false ? new Float32Array(n).fill(1) : values(w[k++]);
        const beta = c.center === false ? new Float32Array(n) : values(w[k++]);
        out.push({ kind: 'batchnorm', gamma, beta, mean: values(w[k]), variance: values(w[k + 1]), epsilon: Number(c.epsilon), ...nameOf(l) });
        break;
      }
      case 'ReLU': {
        const max = c.maxValue;
        if (max !== null && max !== undefined && max !== 6) throw fail('UNSUPPORTED', `${label(l)} has maxValue ${String(max)}; the converter writes ReLU and ReLU6 only`);
        out.push({ kind: 'activation', activation: max === 6 ? 'relu6' : 'relu', ...nameOf(l) });
        break;
      }
      case 'Activation': {
        const a = activation(c, l, true);
        if (a === 'softmax') out.push({ kind: 'softmax', ...nameOf(l) });
        else if (a !== 'linear') out.push({ kind: 'activation', activation: a, ...nameOf(l) });
        break;
      }
      case 'Softmax': {
        if (c.axis !== undefined && c.axis !== -1 && !(Array.isArray(c.axis) && c.axis[0] === -1)) {
          // tfjs writes axis 1 for a [null, N] input: the last axis there too.
          const rank = l.inboundNodes[0]?.inputTensors[0]?.shape.length;
          if (!(typeof c.axis === 'number' && rank !== undefined && c.axis === rank - 1)) throw fail('UNSUPPORTED', `${label(l)} takes the softmax over axis ${JSON.stringify(c.axis)}; the converter supports the last axis only`);
        }
        out.push({ kind: 'softmax', ...nameOf(l) });
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        channelsLast(c, l);
        const pool = pair(c.poolSize, 'poolSize', l);
        out.push({ kind: cls === 'MaxPooling2D' ? 'maxpool' : 'avgpool', pool, strides: c.strides == null ? pool : pair(c.strides, 'strides', l), padding: padding(c, l), ...nameOf(l) });
        break;
      }
      case 'GlobalAveragePooling2D':
        channelsLast(c, l);
        out.push({ kind: 'gap', keepDims: c.keepDims === true, ...nameOf(l) });
        break;
      case 'Flatten':
        out.push({ kind: 'flatten', ...nameOf(l) });
        break;
      case 'Dense': {
        const a = activation(c, l, true);
        const kernel = w[0];
        out.push({ kind: 'dense', kernel: values(kernel), kernelShape: kernel.shape as [number, number], bias: w[1] ? values(w[1]) : null, activation: a === 'softmax' ? 'linear' : a, ...nameOf(l) });
        if (a === 'softmax') out.push({ kind: 'softmax', name: `${l.name}/softmax` });
        break;
      }
      case 'Dropout':
        out.push({ kind: 'dropout', rate: Number(c.rate), ...nameOf(l) });
        break;
      default:
        throw fail('UNSUPPORTED', `${label(l)} is not supported by the TFLite converter; use Conv2D, DepthwiseConv2D, BatchNormalization, ReLU, Activation, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Dense, Dropout or Softmax`);
    }
  }
  return out;
}
