import * as tf from '@tensorflow/tfjs';
import { fail } from '../errors';

/**
 * Kernels the WASM backend lacks for training convolutions, built from kernels it has.
 *
 * tfjs-backend-wasm 4.22 registers `Conv2D` and `Conv2DBackpropInput` (the input gradient) but no
 * `Conv2DBackpropFilter` (the kernel gradient), so `fit`/`minimize` of any model with a Conv2D layer
 * fails at its first step with "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'"
 * (../shared/TFLITE-FACTS.md). It does register `Conv3DBackpropFilterV2`. A 2-D convolution is a
 * 3-D one with depth 1: x [N,H,W,C] → [N,1,H,W,C], dy [N,OH,OW,F] → [N,1,OH,OW,F], strides
 * [1,sh,sw], filter [1,fh,fw,C,F]; with depth 1 and a depth-1 filter, 'same' and 'valid' pad
 * nothing along depth, and H/W are padded exactly as the 2-D op pads them (both compute the pads
 * with tfjs' `computeConv*Info`, TensorFlow's rule: total = max((ceil(in/s)−1)·s + f − in, 0),
 * the odd pixel at the bottom/right). The result [1,fh,fw,C,F] is reshaped to [fh,fw,C,F].
 * The reshapes are the backend's own (they share the data, no copy).
 *
 * tfjs-backend-wasm 4.22's Conv3DBackpropFilterV2 is wrong for strides above 1 (measured: its
 * result differs from the 'cpu' backend's in every entry but the first), so a strided convolution
 * takes a stride-1 detour: the kernel gradient of a stride-s convolution equals the stride-1
 * 'valid' one of the explicitly padded x with dy spread out (s−1 zeros between its entries, zeros
 * at the end up to the stride-1 output size). Those two arrays are built on the host; EdgeTune's
 * CNN convolves with stride 1 only, so this path serves other models.
 */

/** Names of the kernels `registerWasmTrainingKernels` adds. */
export const WASM_BRIDGED_KERNELS: readonly string[] = ['Conv2DBackpropFilter'];

interface TensorInfo { dataId: object; shape: number[]; dtype: tf.DataType }
interface WasmBackendLike { disposeData(dataId: object, force?: boolean): boolean }

/**
 * Conv2DBackpropFilter for 'wasm' through Conv3DBackpropFilterV2 (see the module comment).
 * Inputs x float32 [N,H,W,C] and dy float32 [N,OH,OW,F]; attrs strides [sh,sw] (or one number),
 * pad 'same' | 'valid', dataFormat 'NHWC', filterShape [fh,fw,C,F]. Returns dW float32 [fh,fw,C,F].
 * @throws EdgeTuneError UNSUPPORTED for explicit/numeric padding, NCHW, or a dimRoundingMode
 *   (tfjs-layers never uses them; the 3-D kernel cannot express them).
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
  if (sh !== 1 || sw !== 1) return stridedDetour(backend as Parameters<typeof stridedDetour>[0], x, dy, [sh, sw], pad, filterShape);
  return viaConv3D(backend, x, dy, pad, filterShape);
}

/** dW through the 3-D kernel with stride 1 (the case it computes right). */
function viaConv3D(backend: WasmBackendLike, x: TensorInfo, dy: TensorInfo, pad: 'same' | 'valid', filterShape: [number, number, number, number]): TensorInfo {
  const [n, h, w, c] = x.shape;
  const [, oh, ow, f] = dy.shape;
  const reshape = tf.getKernel('Reshape', 'wasm')!.kernelFunc;
  const conv3dFilter = tf.getKernel('Conv3DBackpropFilterV2', 'wasm')!.kernelFunc;
  const x5 = reshape({ inputs: { x: x as never }, backend: backend as never, attrs: { shape: [n, 1, h, w, c] } }) as TensorInfo;
  const dy5 = reshape({ inputs: { x: dy as never }, backend: backend as never, attrs: { shape: [n, 1, oh, ow, f] } }) as TensorInfo;
  let dw5: TensorInfo | undefined;
  try {
    dw5 = conv3dFilter({
      inputs: { x: x5 as never, dy: dy5 as never }, backend: backend as never,
      attrs: { strides: [1, 1, 1], pad, filterShape: [1, ...filterShape] },
    }) as TensorInfo;
    return reshape({ inputs: { x: dw5 as never }, backend: backend as never, attrs: { shape: filterShape } }) as TensorInfo;
  } finally {
    // Each reshape took a reference on shared data: give back the intermediates' references.
    backend.disposeData(x5.dataId);
    backend.disposeData(dy5.dataId);
    if (dw5) backend.disposeData(dw5.dataId);
  }
}

/**
 * dW of a strided convolution as a stride-1 'valid' one (see the module comment): x padded as the
 * strided op pads it (TensorFlow's 'same' rule via tfjs' computeConv2DInfo), dy spread out to
 * [n, hp − fh + 1, wp − fw + 1, f] with dy[i, j] at (i·sh, j·sw).
 */
function stridedDetour(
  backend: WasmBackendLike & { readSync(id: object): ArrayLike<number>; write(v: Float32Array, shape: number[], dtype: tf.DataType): object },
  x: TensorInfo, dy: TensorInfo, [sh, sw]: [number, number], pad: 'same' | 'valid', filterShape: [number, number, number, number],
): TensorInfo {
  const [n, h, w, c] = x.shape;
  const [, oh, ow, f] = dy.shape;
  const [fh, fw] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, [sh, sw], 1, pad);
  const { top, bottom, left, right } = info.padInfo;
  const hp = h + top + bottom;
  const wp = w + left + right;
  const xv = backend.readSync(x.dataId);
  const xp = new Float32Array(n * hp * wp * c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      const src = ((b * h + i) * w) * c;
      xp.set((xv as Float32Array).subarray(src, src + w * c), ((b * hp + i + top) * wp + left) * c);
    }
  }
  const dh = hp - fh + 1;
  const dwid = wp - fw + 1;
  const dv = backend.readSync(dy.dataId);
  const dd = new Float32Array(n * dh * dwid * f);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const src = ((b * oh + i) * ow + j) * f;
        dd.set((dv as Float32Array).subarray(src, src + f), ((b * dh + i * sh) * dwid + j * sw) * f);
      }
    }
  }
  const xpInfo: TensorInfo = { dataId: backend.write(xp, [n, hp, wp, c], 'float32'), shape: [n, hp, wp, c], dtype: 'float32' };
  const ddInfo: TensorInfo = { dataId: backend.write(dd, [n, dh, dwid, f], 'float32'), shape: [n, dh, dwid, f], dtype: 'float32' };
  try {
    return viaConv3D(backend, xpInfo, ddInfo, 'valid', filterShape);
  } finally {
    backend.disposeData(xpInfo.dataId);
    backend.disposeData(ddInfo.dataId);
  }
}

/**
 * Registers the bridged training kernels (`WASM_BRIDGED_KERNELS`) for the 'wasm' backend, once;
 * a kernel already registered (a later tfjs that ships its own) is left alone.
 * Call after `@tensorflow/tfjs-backend-wasm` is loaded (before or after `setBackend('wasm')`).
 */
export function registerWasmTrainingKernels(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
  });
}
