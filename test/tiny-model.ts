/**
 * Tiny TFLite models written with the repository's own writer, for unit tests that need a model
 * the interpreter can run but not a pretrained base (so no ../shared).
 */
import {
  BuiltinOperator, EDGETPU_CUSTOM_OP, makeOptions, TensorType, writeModel, type Model, type QuantizationParameters,
} from '../src/tflite';

/** Tensor names of the tiny softmax model. */
export const TINY_INPUT = 'tiny/logits';
export const TINY_OUTPUT = 'tiny/probabilities';

/** Input quantization of the tiny softmax model: real = 0.05 × q (so q = 0…255 ↦ 0…12.75). */
export const TINY_INPUT_SCALE = 0.05;

function quant(scale: number, zeroPoint: number): QuantizationParameters {
  return { min: null, max: null, scale: [scale], zeroPoint: [zeroPoint], details: null, quantizedDimension: 0 };
}

/**
 * A one-op model: uint8 `[1, n]` logits (scale TINY_INPUT_SCALE, zero point 0) → SOFTMAX (beta 1)
 * → uint8 `[1, n]` probabilities with scale 1/256, zero point 0, which TFLite requires of a uint8
 * softmax output (tensorflow/lite/kernels/activations.cc). With `edgetpu`, the operator-code table
 * also lists an (unused) `edgetpu-custom-op`, which is how EdgeTune recognises a compiled model.
 */
export function tinySoftmaxModel(n = 3, opts: { edgetpu?: boolean } = {}): Uint8Array {
  const model: Model = {
    version: 3,
    operatorCodes: [
      { deprecatedBuiltinCode: BuiltinOperator.SOFTMAX, customCode: null, version: 1, builtinCode: BuiltinOperator.SOFTMAX },
      ...(opts.edgetpu ? [{ deprecatedBuiltinCode: BuiltinOperator.CUSTOM, customCode: EDGETPU_CUSTOM_OP, version: 1, builtinCode: BuiltinOperator.CUSTOM }] : []),
    ],
    subgraphs: [{
      tensors: [
        { shape: [1, n], type: TensorType.UINT8, buffer: 1, name: TINY_INPUT, quantization: quant(TINY_INPUT_SCALE, 0), isVariable: false, shapeSignature: null, hasRank: false },
        { shape: [1, n], type: TensorType.UINT8, buffer: 2, name: TINY_OUTPUT, quantization: quant(1 / 256, 0), isVariable: false, shapeSignature: null, hasRank: false },
      ],
      inputs: [0],
      outputs: [1],
      operators: [{
        opcodeIndex: 0, inputs: [0], outputs: [1], builtinOptions: makeOptions('SoftmaxOptions', { beta: 1 }),
        customOptions: null, customOptionsFormat: 0, mutatingVariableInputs: null, intermediates: null,
      }],
      name: 'main',
    }],
    description: 'EdgeTune unit-test model',
    buffers: [{ data: new Uint8Array(0) }, { data: new Uint8Array(0) }, { data: new Uint8Array(0) }],
    metadataBuffer: null,
    metadata: [],
    signatureDefs: [],
  };
  return writeModel(model);
}
