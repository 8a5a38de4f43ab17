import { BuiltinOperator, type Model } from './schema';
import { builtinCodeOf, mainGraph, producerOf } from './graph';

/** How the base's last feature map becomes the embedding. */
export type Pooling = 'avg' | 'grid';

/**
 * Re-shapes the base's final global AVERAGE_POOL_2D (feature map [1, N, N, C] → [1, 1, 1, C]) into
 * a 2×2 grid of average pools ([1, 2, 2, C], embedding length 4·C): windows of N − ⌊N/2⌋ pixels
 * at stride ⌊N/2⌋, VALID padding (7×7 → 4×4 windows at stride 3, overlapping by one row/column).
 *
 * Why: a global average forgets where features are. For digits that is where the information is
 * (a 6 and a 9, a 2 and a 5 pool to similar vectors); on the shared meter-digit photos the 2×2 grid
 * raised validation accuracy from about 83% to about 91%. It is the same op with other
 * Pool2DOptions (schema.fbs table Pool2DOptions: filter_width/height, stride_w/h), so the uint8
 * quantization (same scale/zero point in and out, as TFLite's AVERAGE_POOL_2D requires) is kept.
 *
 * Coral's compiled extractor ends at the global pool inside its custom op, so a grid base has no
 * Edge TPU twin.
 *
 * @param model a base whose single output is produced by AVERAGE_POOL_2D over a square map.
 * @returns a new model (the input is not modified; unchanged parts are shared).
 * @throws Error naming the op or tensor when the output is not a global average pool of a square
 *   map of side ≥ 2.
 */
export function gridPool(model: Model): Model {
  const sg = mainGraph(model);
  const out = sg.outputs[0];
  const pi = producerOf(model, out);
  const op = sg.operators[pi];
  if (sg.outputs.length !== 1 || !op || model.operatorCodes[op.opcodeIndex].customCode !== null
    || builtinCodeOf(model.operatorCodes[op.opcodeIndex]) !== BuiltinOperator.AVERAGE_POOL_2D || !op.builtinOptions) {
    throw new Error(`grid pooling needs a base ending in AVERAGE_POOL_2D (output '${sg.tensors[out]?.name}' is produced otherwise); use pooling 'avg'`);
  }
  const map = sg.tensors[op.inputs[0]].shape;
  const n = map[1];
  if (map.length !== 4 || map[2] !== n || n < 2) {
    throw new Error(`grid pooling needs a square feature map [1, N, N, C] with N ≥ 2; tensor '${sg.tensors[op.inputs[0]].name}' is [${map.join(', ')}]`);
  }
  const stride = Math.floor(n / 2);
  const filter = n - stride;
  const operators = [...sg.operators];
  operators[pi] = {
    ...op,
    builtinOptions: {
      ...op.builtinOptions,
      fields: { ...op.builtinOptions.fields, padding: 1 /* VALID */, filter_width: filter, filter_height: filter, stride_w: stride, stride_h: stride },
    },
  };
  const tensors = [...sg.tensors];
  tensors[out] = { ...tensors[out], shape: [1, 2, 2, map[3]], shapeSignature: null };
  const subgraphs = [...model.subgraphs];
  subgraphs[0] = { ...sg, operators, tensors };
  return { ...model, subgraphs };
}
