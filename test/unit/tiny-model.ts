/**
 * A tiny classifier built with EdgeTune's own TFLite writer, for unit tests that need a real
 * interpreter but no pretrained base: uint8 input [1, 2, 2, 3] → AVERAGE_POOL_2D 2×2 → uint8
 * output [1, 1, 1, 3], both quantized with scale 1/256, zero-point 0. The output is the mean of
 * each colour channel, so a red photo scores highest on class 0, green on 1, blue on 2.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { BuiltinOperator, makeOptions, TensorType, writeModel, type Model, type Tensor } from '../../src/tflite';

function uint8Tensor(name: string, shape: number[]): Tensor {
  return {
    shape, type: TensorType.UINT8, buffer: 0, name,
    quantization: { min: null, max: null, scale: [1 / 256], zeroPoint: [0], details: null, quantizedDimension: 0 },
    isVariable: false, shapeSignature: null, hasRank: false,
  };
}

/** The tiny RGB-mean classifier as .tflite bytes (3 outputs). */
export function tinyRgbModel(): Uint8Array {
  const model: Model = {
    version: 3,
    operatorCodes: [{ deprecatedBuiltinCode: BuiltinOperator.AVERAGE_POOL_2D, customCode: null, version: 1, builtinCode: BuiltinOperator.AVERAGE_POOL_2D }],
    subgraphs: [{
      tensors: [uint8Tensor('image', [1, 2, 2, 3]), uint8Tensor('scores', [1, 1, 1, 3])],
      inputs: [0],
      outputs: [1],
      operators: [{
        opcodeIndex: 0, inputs: [0], outputs: [1],
        builtinOptions: makeOptions('Pool2DOptions', { padding: 1, stride_w: 2, stride_h: 2, filter_width: 2, filter_height: 2 }),
        customOptions: null, customOptionsFormat: 0, mutatingVariableInputs: null, intermediates: null,
      }],
      name: 'main',
    }],
    description: 'edgetune test: RGB mean',
    buffers: [{ data: new Uint8Array(0) }],
    metadataBuffer: null,
    metadata: [],
    signatureDefs: [],
  };
  return writeModel(model);
}

/** Colour of each class of the tiny model, in output order. */
export const TINY_COLOURS: Record<string, [number, number, number]> = {
  red: [230, 20, 20],
  green: [20, 230, 20],
  blue: [20, 20, 230],
};

/** Writes a 16×16 PNG of one solid colour. */
export async function solidPng(file: string, rgb: [number, number, number]): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(file);
}
