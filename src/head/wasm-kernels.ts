import * as tf from '@tensorflow/tfjs';
import { fail } from '../errors';

/**
 * Kernels the WASM backend lacks for training convolutions, built from kernels it has.
 *
 * tfjs-backend-wasm 4.22 registers `Conv2D` and `Conv2DBackpropInput` (the input gradient) but no
 * `Conv2DBackpropFilter` (the kernel gradient), so `fit`/`minimize` of any model with a Conv2D layer
 * fails at its first step with "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'"
 * (../shared/TFLITE-FACTS.md).
 *
 * The bridge computes the kernel gradient as one matrix product:
 *   dW[kh, kw, c, f] = Σ_{n, oy, ox} x[n, oy·sh + kh − top, ox·sw + kw − left, c] · dy[n, oy, ox, f]
 * i.e. dW = colsᵀ · dy with colsᵀ [kh·kw·C, N·OH·OW] (im2col of x, zeros where the window
 * reaches into the padding) built on the host and dy viewed as [N·OH·OW, F], through the
 * backend's BatchMatMul (XNNPACK). Pads follow TensorFlow's rule via tfjs' `computeConv2DInfo`
 * ('same': total = max((ceil(in/s) − 1)·s + f − in, 0), the odd pixel at the bottom/right).
 *
 * Why not the route TFLITE-FACTS.md describes (a depth-1 Conv3DBackpropFilterV2): measured here,
 * that kernel is wrong for strides above 1 (every entry but the first differs from the 'cpu'
 * backend's) and took 458 ms of a 1007 ms training step of the seed CNN (batch 32, 32×20 grey,
 * filters 75/50/25, 2 shared x86 cores); see `registerWasmTrainingKernels` for this one's figure.
 * The transposed im2col is built directly because the WASM BatchMatMul with transposeA is many
 * times slower than without (src/head/train.ts, denseTrain).
 *
 * The backend's own `Conv2DBackpropInput` (the input gradient) is correct but slow: 192 ms of a
 * 578 ms step, against 21 ms for the forward Conv2D (XNNPACK). For stride 1 it is replaced by
 * that forward convolution: dx = 'valid' conv2d of dy padded by (fh − 1 − top, fh − 1 − bottom′)
 * rows and likewise columns, with the filter turned 180° and its in/out channels swapped
 * (W′[i, j, f, c] = W[fh−1−i, fw−1−j, c, f]). Strided convolutions keep the backend's kernel.
 */

/** Names of the kernels `registerWasmTrainingKernels` adds. */
export const WASM_BRIDGED_KERNELS: readonly string[] = ['Conv2DBackpropFilter', 'Conv2DBackpropInput'];

interface TensorInfo { dataId: object; shape: number[]; dtype: tf.DataType }
interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
  readSync(dataId: object): ArrayLike<number>;
  write(values: Float32Array, shape: number[], dtype: tf.DataType): object;
}

/**
 * Conv2DBackpropFilter for 'wasm' (see the module comment). Inputs x float32 [N,H,W,C] and dy
 * float32 [N,OH,OW,F]; attrs strides [sh,sw] (or one number), pad 'same' | 'valid', dataFormat
 * 'NHWC', filterShape [fh,fw,C,F]. Returns dW float32 [fh,fw,C,F]. Dilation is 1 (tfjs' conv2d
 * gradient refuses other dilations before it gets here).
 * @throws EdgeTuneError UNSUPPORTED for explicit/numeric padding, NCHW, or a dimRoundingMode
 *   (tfjs-layers never uses them).
 */
function conv2DBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { inputs, attrs = {} } = args;
  const backend = args.backend as WasmBackendLike;
  const x = inputs.x as unknown as TensorInfo;
  const dy = inputs.dy as unknown as TensorInfo;
  const pad = attrs.pad as unknown;
  const strides = attrs.strides as number | [number, number];
  const filterShape = attrs.filterShape as [number, number, number, number];
  const dataFormat = (attrs.dataFormat as string | undefined) ?? 'NHWC';
  if (pad !== 'same' && pad !== 'valid') {
    throw fail('UNSUPPORTED', `Conv2DBackpropFilter on the WASM backend handles 'same' and 'valid' padding only, got ${JSON.stringify(pad)}: use padding 'same' or 'valid' in the Conv2D layer`);
  }
  if (dataFormat !== 'NHWC') throw fail('UNSUPPORTED', `Conv2DBackpropFilter on the WASM backend handles NHWC only, got ${dataFormat}: use channels-last data`);
  if (attrs.dimRoundingMode != null) throw fail('UNSUPPORTED', 'Conv2DBackpropFilter on the WASM backend does not take a dimRoundingMode: leave it unset');
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const [n, h, w, c] = x.shape;
  const [, oh, ow, f] = dy.shape;
  const [fh, fw] = filterShape;
  const { top, left } = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, [sh, sw], 1, pad).padInfo;
  const xv = backend.readSync(x.dataId) as Float32Array;
  const k = fh * fw * c;
  const m = n * oh * ow;
  // colsT[(kh·fw + kw)·C + ch][(b·OH + oy)·OW + ox]; zero where the window is in the padding.
  const colsT = new Float32Array(k * m);
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const base = (kh * fw + kw) * c;
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh + kh - top;
          if (iy < 0 || iy >= h) continue;
          const col0 = (b * oh + oy) * ow;
          const rowX = (b * h + iy) * w;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * sw + kw - left;
            if (ix < 0 || ix >= w) continue;
            const src = (rowX + ix) * c;
            const col = col0 + ox;
            for (let ch = 0; ch < c; ch++) colsT[(base + ch) * m + col] = xv[src + ch];
          }
        }
      }
    }
  }
  const reshape = tf.getKernel('Reshape', 'wasm')!.kernelFunc;
  const matMul = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
  const a: TensorInfo = { dataId: backend.write(colsT, [1, k, m], 'float32'), shape: [1, k, m], dtype: 'float32' };
  const b3 = reshape({ inputs: { x: dy as never }, backend: backend as never, attrs: { shape: [1, m, f] } }) as TensorInfo;
  let prod: TensorInfo | undefined;
  try {
    prod = matMul({ inputs: { a: a as never, b: b3 as never }, backend: backend as never, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
    return reshape({ inputs: { x: prod as never }, backend: backend as never, attrs: { shape: filterShape } }) as TensorInfo;
  } finally {
    // The reshapes took references on shared data: give back the intermediates' references.
    backend.disposeData(a.dataId);
    backend.disposeData(b3.dataId);
    if (prod) backend.disposeData(prod.dataId);
  }
}

/**
 * Conv2DBackpropInput for stride 1 through the forward Conv2D (see the module comment).
 * Inputs dy float32 [N,OH,OW,F], filter [fh,fw,C,F]; attrs inputShape [N,H,W,C], pad.
 * @returns dx float32 [N,H,W,C].
 */
function conv2DBackpropInputStride1(backend: WasmBackendLike, dy: TensorInfo, filter: TensorInfo, inputShape: [number, number, number, number], pad: 'same' | 'valid'): TensorInfo {
  const [n, h, w, c] = inputShape;
  const [, oh, ow, f] = dy.shape;
  const [fh, fw] = filter.shape;
  const { top, left } = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], 1, 1, pad).padInfo;
  const pt = fh - 1 - top;
  const pl = fw - 1 - left;
  const hp = h + fh - 1;
  const wp = w + fw - 1;
  const dv = backend.readSync(dy.dataId) as Float32Array;
  const dyp = new Float32Array(n * hp * wp * f);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const src = (b * oh + oy) * ow * f;
      dyp.set(dv.subarray(src, src + ow * f), ((b * hp + oy + pt) * wp + pl) * f);
    }
  }
  const wv = backend.readSync(filter.dataId) as Float32Array;
  const wt = new Float32Array(fh * fw * f * c);
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      const to = (i * fw + j) * f * c;
      const from = ((fh - 1 - i) * fw + (fw - 1 - j)) * c * f;
      for (let ch = 0; ch < c; ch++) for (let k = 0; k < f; k++) wt[to + k * c + ch] = wv[from + ch * f + k];
    }
  }
  const conv = tf.getKernel('Conv2D', 'wasm')!.kernelFunc;
  const xIn: TensorInfo = { dataId: backend.write(dyp, [n, hp, wp, f], 'float32'), shape: [n, hp, wp, f], dtype: 'float32' };
  const wIn: TensorInfo = { dataId: backend.write(wt, [fh, fw, f, c], 'float32'), shape: [fh, fw, f, c], dtype: 'float32' };
  try {
    return conv({
      inputs: { x: xIn as never, filter: wIn as never }, backend: backend as never,
      attrs: { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined as never },
    }) as TensorInfo;
  } finally {
    backend.disposeData(xIn.dataId);
    backend.disposeData(wIn.dataId);
  }
}

/**
 * Registers the bridged training kernels (`WASM_BRIDGED_KERNELS`) for the 'wasm' backend, once;
 * a kernel already registered (a later tfjs that ships its own) is left alone.
 * Call after `@tensorflow/tfjs-backend-wasm` is loaded (before or after `setBackend('wasm')`).
 */
export function registerWasmTrainingKernels(): void {
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
    });
  }
  const own = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (own && !(own.kernelFunc as { edgetune?: boolean }).edgetune) {
    // Stride 1 goes through the forward Conv2D; everything else to the backend's own kernel,
    // whose setup (binding its WASM function) still runs when the backend starts.
    const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
      const a = args.attrs ?? {};
      const strides = a.strides as number | [number, number];
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      const dilations = (a.dilations ?? 1) as number | [number, number];
      const unitDilation = typeof dilations === 'number' ? dilations === 1 : dilations.every((d) => d === 1);
      if (sh === 1 && sw === 1 && unitDilation && (a.pad === 'same' || a.pad === 'valid') && (a.dataFormat ?? 'NHWC') === 'NHWC' && a.dimRoundingMode == null) {
        return conv2DBackpropInputStride1(args.backend as WasmBackendLike, args.inputs.dy as unknown as TensorInfo,
          args.inputs.filter as unknown as TensorInfo, a.inputShape as [number, number, number, number], a.pad as 'same' | 'valid');
      }
      return own.kernelFunc(args as never);
    };
    Object.assign(kernelFunc, { edgetune: true });
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({ ...own, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}
