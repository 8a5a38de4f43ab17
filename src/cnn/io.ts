import type * as tf from '@tensorflow/tfjs';
import { serializeLayers, loadLayers } from '../head/io';

/** What travels with a saved CNN besides its weights (model.json `userDefinedMetadata.edgetune`). */
export interface CnnMeta {
  /** Class names, index-aligned with the softmax outputs. */
  labels: string[];
  /** The input the network takes: height × width pixels, channels 1 (grey) or 3 (RGB). */
  input: { height: number; width: number; channels: 1 | 3 };
  /** Raw pixel × inputScale is what the network sees (1/255: the division is not a layer). */
  inputScale: number;
}

/** Serialises a CNN in the TensorFlow.js layers format (`serializeLayers` with its CnnMeta). */
export function serializeCnn(model: tf.LayersModel, meta: CnnMeta): Promise<{ modelJson: string; weightsBin: Buffer }> {
  return serializeLayers(model, meta);
}

/**
 * Loads a CNN written by `serializeCnn` from `dir/model.json` + `dir/weights.bin`.
 * @throws EdgeTuneError BAD_MODEL naming the file when it is missing, not JSON or not an EdgeTune
 *   CNN (no input and labels); IO/NOT_FOUND when weights.bin cannot be read.
 */
export function loadCnn(dir: string): Promise<{ model: tf.LayersModel; meta: CnnMeta }> {
  return loadLayers(dir, 'CNN', "retrain the model with 'edgetune train --arch cnn'",
    (m): m is CnnMeta => typeof m === 'object' && m !== null && 'input' in m && Array.isArray((m as CnnMeta).labels));
}
