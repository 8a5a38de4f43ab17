/**
 * Puts fine-tuned weights back on the base's own quantization grid.
 *
 * The converter (`layersToFragment`) chooses each weight tensor's uint8 scale and zero point from
 * the weights' min/max. MobileNet's weights were trained with fake quantization and rarely reach
 * codes 0 and 255, so a fresh min/max gives a slightly different grid, every weight is rounded
 * again, and the errors add up block after block (measured on gestures photos, the base's own
 * blocks 12–13 re-quantized that way: 0.55 steps of the embedding's scale from the base's output
 * on average, 0.20 for block 13 alone). On the base's grid, unchanged weights get their exact codes
 * back and fine-tuned ones move by whole steps.
 */
import type { Conv2DLayer, DepthwiseConv2DLayer } from '../convert/types';
import { opName, roundHalfAway, TensorType, type OpFragment, type Model } from '../tflite';

/** What `regridFragment` changed. */
export interface RegridResult {
  fragment: OpFragment;
  /** Layers put on the base's grid (per-axis ones are left to the converter). */
  layers: string[];
  /** Weights outside the base's grid, clamped to codes 0 or 255. */
  clamped: number;
}

/**
 * Re-quantizes the conv/depthwise weights of a fragment from `layersToFragment` on the base's
 * per-tensor grid (`TopBlocks.weightQuant`), and their int32 biases with scale = input scale ×
 * weight scale (float32, as TFLite's kernels require). Ops are matched by position: the fragment's
 * CONV_2D/DEPTHWISE_CONV_2D ops in order correspond to `layers`.
 * @param frag the fragment (not modified; a copy is returned).
 * @param layers the fine-tuned float layers, Keras layouts (depthwise [kh, kw, C, 1], conv
 *   [1, 1, Cin, Cout]).
 * @param grids the base's weight quantization per layer.
 * @throws Error when the fragment's conv ops do not line up with `layers`.
 */
export function regridFragment(frag: OpFragment, layers: (DepthwiseConv2DLayer | Conv2DLayer)[], grids: { scale: number[]; zeroPoint: number[] }[]): RegridResult {
  const tensors = frag.tensors.map((t) => ({ ...t }));
  const buffers = [...frag.buffers];
  const probe = { operatorCodes: frag.operatorCodes } as unknown as Model;
  const convs = frag.operators.filter((op) => ['CONV_2D', 'DEPTHWISE_CONV_2D'].includes(opName(probe, op)));
  if (convs.length !== layers.length) throw new Error(`fragment has ${convs.length} convolutions for ${layers.length} layers`);
  const done: string[] = [];
  let clamped = 0;
  convs.forEach((op, i) => {
    const l = layers[i];
    const g = grids[i];
    if (g.scale.length !== 1) return;
    const w = tensors[op.inputs[1]];
    const b = op.inputs[2] >= 0 ? tensors[op.inputs[2]] : undefined;
    const x = tensors[op.inputs[0]];
    const kind = opName(probe, op) === 'DEPTHWISE_CONV_2D' ? 'depthwise' : 'conv2d';
    if (kind !== l.kind || w.type !== TensorType.UINT8) throw new Error(`fragment op ${i} (${kind}) does not match layer ${l.name ?? i} (${l.kind})`);
    const s = Math.fround(g.scale[0]);
    const z = g.zeroPoint[0] ?? 0;
    // TFLite layouts: DEPTHWISE [1, kh, kw, C] = Keras [kh, kw, C, 1] order; CONV [Cout, 1, 1, Cin].
    const [, , cin, cout] = l.kernelShape;
    const n = l.kernel.length;
    const codes = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const v = kind === 'depthwise' ? l.kernel[k] : l.kernel[(k % cin) * cout + Math.floor(k / cin)];
      const q = roundHalfAway(z + v / s);
      if (q < 0 || q > 255) clamped++;
      codes[k] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
    const wi = op.inputs[1];
    buffers[w.buffer] = { data: codes };
    tensors[wi] = { ...w, quantization: { ...w.quantization!, scale: [s], zeroPoint: [z] } };
    if (b && l.bias) {
      const bs = Math.fround(Math.fround(x.quantization!.scale![0]) * s);
      const bytes = new Uint8Array(l.bias.length * 4);
      const dv = new DataView(bytes.buffer);
      l.bias.forEach((v, c) => dv.setInt32(4 * c, Math.max(-2147483648, Math.min(2147483647, roundHalfAway(v / bs))), true));
      buffers[b.buffer] = { data: bytes };
      tensors[op.inputs[2]] = { ...b, quantization: { ...b.quantization!, scale: [bs], zeroPoint: [0] } };
    }
    done.push(l.name ?? `layer ${i}`);
  });
  return { fragment: { ...frag, tensors, buffers }, layers: done, clamped };
}

