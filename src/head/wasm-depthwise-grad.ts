/**
 * The depthwise-convolution gradients TensorFlow.js' WASM backend lacks, registered as WASM kernels
 * so that a DepthwiseConv2D layer (MobileNet's 3×3 depthwise convolutions, when fine-tuning the top
 * of the base) trains on WASM.
 *
 * tfjs-backend-wasm 4.22 has `DepthwiseConv2dNative` (forward) but neither
 * `DepthwiseConv2dNativeBackpropFilter` nor `DepthwiseConv2dNativeBackpropInput`
 * (../shared/TFLITE-FACTS.md, "Training convolutions with TensorFlow.js"): the first training step
 * fails with "Kernel '…' not registered for backend 'wasm'". The two kernels here compute the same
 * sums as tfjs' 'cpu' kernels, in plain JavaScript over the WASM heap: the arrays involved are small
 * (a 3×3 filter over a 7×7 or 14×14 map; about 15 M multiply-adds per step of 32 photos at 7×7×1024),
 * and the 1×1 pointwise convolutions around them, which dominate the cost, run as WASM matMuls.
 *
 * Layouts (tfjs, NHWC): x `[batch, inH, inW, inC]`, filter `[fH, fW, inC, multiplier]`, dy
 * `[batch, outH, outW, inC·multiplier]` (output channel c·multiplier + m reads input channel c).
 * Padding, strides and dilations come from `backend_util.computeConv2DInfo` with depthwise = true,
 * as the forward kernel uses them.
 */
import * as tf from '@tensorflow/tfjs';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** The slice of the WASM backend these kernels use (tfjs-backend-wasm 4.22 BackendWasm). */
interface WasmHeapBackend {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.backend_util.TypedArray;
}

/**
 * Gradient of a depthwise convolution with respect to its filter:
 * dW[i, j, c, m] = Σ_{b, y, x} xPadded[b, y·sH + i·dH, x·sW + j·dW, c] · dy[b, y, x, c·M + m].
 * @param x float32 `[batch·inH·inW·inC]` (NHWC, row-major) of shape `info.inShape`.
 * @param dy float32 of shape `info.outShape`.
 * @returns float32 `[fH, fW, inC, multiplier]` row-major.
 */
export function depthwiseFilterGrad(x: ArrayLike<number>, dy: ArrayLike<number>, info: Conv2DInfo): Float32Array {
  const { batchSize: nb, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC } = info;
  const { filterHeight: fH, filterWidth: fW, strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dWd } = info;
  const mult = outC / inC;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dw = new Float32Array(fH * fW * inC * mult);
  for (let i = 0; i < fH; i++) {
    for (let j = 0; j < fW; j++) {
      const base = (i * fW + j) * outC;
      for (let b = 0; b < nb; b++) {
        for (let y = 0; y < outH; y++) {
          const r = y * sH + i * dH - top;
          if (r < 0 || r >= inH) continue;
          for (let xo = 0; xo < outW; xo++) {
            const c0 = xo * sW + j * dWd - left;
            if (c0 < 0 || c0 >= inW) continue;
            const xAt = ((b * inH + r) * inW + c0) * inC;
            const dyAt = ((b * outH + y) * outW + xo) * outC;
            if (mult === 1) {
              for (let c = 0; c < inC; c++) dw[base + c] += x[xAt + c] * dy[dyAt + c];
            } else {
              for (let c = 0; c < inC; c++) {
                const xv = x[xAt + c];
                for (let m = 0; m < mult; m++) dw[base + c * mult + m] += xv * dy[dyAt + c * mult + m];
              }
            }
          }
        }
      }
    }
  }
  return dw;
}

/**
 * Gradient of a depthwise convolution with respect to its input:
 * dx[b, r, s, c] = Σ_{i, j, m} dy[b, y, x, c·M + m] · W[i, j, c, m] over the (y, x) whose window
 * places tap (i, j) on (r, s), i.e. r = y·sH + i·dH − top, s = x·sW + j·dW − left.
 * @param dy float32 of shape `info.outShape`; filter float32 `[fH, fW, inC, multiplier]`.
 * @returns float32 of shape `info.inShape`.
 */
export function depthwiseInputGrad(dy: ArrayLike<number>, filter: ArrayLike<number>, info: Conv2DInfo): Float32Array {
  const { batchSize: nb, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC } = info;
  const { filterHeight: fH, filterWidth: fW, strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dWd } = info;
  const mult = outC / inC;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = new Float32Array(nb * inH * inW * inC);
  for (let b = 0; b < nb; b++) {
    for (let y = 0; y < outH; y++) {
      for (let xo = 0; xo < outW; xo++) {
        const dyAt = ((b * outH + y) * outW + xo) * outC;
        for (let i = 0; i < fH; i++) {
          const r = y * sH + i * dH - top;
          if (r < 0 || r >= inH) continue;
          for (let j = 0; j < fW; j++) {
            const c0 = xo * sW + j * dWd - left;
            if (c0 < 0 || c0 >= inW) continue;
            const dxAt = ((b * inH + r) * inW + c0) * inC;
            const wAt = (i * fW + j) * outC;
            if (mult === 1) {
              for (let c = 0; c < inC; c++) dx[dxAt + c] += dy[dyAt + c] * filter[wAt + c];
            } else {
              for (let c = 0; c < inC; c++) {
                let s = 0;
                for (let m = 0; m < mult; m++) s += dy[dyAt + c * mult + m] * filter[wAt + c * mult + m];
                dx[dxAt + c] += s;
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

/** The forward pass's geometry, as tfjs' kernels compute it for a depthwise convolution. */
function convInfo(
  inShape: number[], filterShape: number[],
  attrs: { strides: [number, number] | number; dilations: [number, number] | number; pad: tf.backend_util.PadInfo['type'] | 'same' | 'valid' | number | tf.backend_util.ExplicitPadding; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, attrs.dilations, attrs.pad as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding, attrs.dimRoundingMode, true,
  );
}

/** A float32 output on the WASM heap filled from `values`. */
function output(backend: WasmHeapBackend, shape: number[], values: Float32Array): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(values);
  return out;
}

const FILTER_GRAD = 'DepthwiseConv2dNativeBackpropFilter';
const INPUT_GRAD = 'DepthwiseConv2dNativeBackpropInput';

/**
 * Registers the two depthwise gradient kernels for the 'wasm' backend, once per process. A kernel
 * the backend already has (a later tfjs-backend-wasm) is left alone.
 * @returns the kernel names registered by this call (empty when already present).
 */
export function registerWasmDepthwiseGrad(): string[] {
  const added: string[] = [];
  if (!tf.getKernel(FILTER_GRAD, 'wasm')) {
    tf.registerKernel({
      kernelName: FILTER_GRAD,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
        const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
        const b = backend as unknown as WasmHeapBackend;
        const info = convInfo(x.shape, a.filterShape, a);
        return output(b, [...a.filterShape], depthwiseFilterGrad(b.readSync(x.dataId) as Float32Array, b.readSync(dy.dataId) as Float32Array, info));
      },
    });
    added.push(FILTER_GRAD);
  }
  if (!tf.getKernel(INPUT_GRAD, 'wasm')) {
    tf.registerKernel({
      kernelName: INPUT_GRAD,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
        const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
        const b = backend as unknown as WasmHeapBackend;
        const info = convInfo(a.inputShape, filter.shape, a);
        return output(b, [...a.inputShape], depthwiseInputGrad(b.readSync(dy.dataId) as Float32Array, b.readSync(filter.dataId) as Float32Array, info));
      },
    });
    added.push(INPUT_GRAD);
  }
  return added;
}
