import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fail, ioError } from '../errors';

/** What travels with a saved CNN besides its weights (model.json `userDefinedMetadata.edgetune`). */
export interface CnnMeta {
  /** Class names, index-aligned with the softmax outputs. */
  labels: string[];
  /** The input the network takes: height × width pixels, channels 1 (grey) or 3 (RGB). */
  input: { height: number; width: number; channels: 1 | 3 };
  /** Raw pixel × inputScale is what the network sees (1/255: the division is not a layer). */
  inputScale: number;
}

/**
 * Serialises a CNN in the TensorFlow.js layers format: `model.json` (topology, weights manifest,
 * `userDefinedMetadata.edgetune` = CnnMeta) and `weights.bin` (float32 little-endian, BatchNorm
 * moving statistics included), the files `tf.loadLayersModel` reads.
 * @returns both files' contents; the caller writes them (atomically, in the model folder).
 */
export async function serializeCnn(model: tf.LayersModel, meta: CnnMeta): Promise<{ modelJson: string; weightsBin: Buffer }> {
  let out: { modelJson: string; weightsBin: Buffer } | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    const json = {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
      convertedBy: null,
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['./weights.bin'], weights: a.weightSpecs }],
      userDefinedMetadata: { edgetune: meta },
    };
    out = { modelJson: JSON.stringify(json), weightsBin: Buffer.from(a.weightData as ArrayBuffer) };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return out!;
}

/**
 * Loads a CNN written by `serializeCnn` from `dir/model.json` + `dir/weights.bin`.
 * @throws EdgeTuneError BAD_MODEL naming the file when it is missing, not JSON or not an EdgeTune
 *   CNN; IO/NOT_FOUND when weights.bin cannot be read.
 */
export async function loadCnn(dir: string): Promise<{ model: tf.LayersModel; meta: CnnMeta }> {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) throw fail('BAD_MODEL', `no trained CNN in ${dir} (model.json missing): retrain the model with 'edgetune train --arch cnn'`);
  let json;
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    if (e instanceof SyntaxError) throw fail('BAD_MODEL', `${jsonPath} is not valid JSON: retrain the model`, e);
    throw ioError('read', jsonPath, e);
  }
  const meta = json.userDefinedMetadata?.edgetune as CnnMeta | undefined;
  if (!meta?.input || !Array.isArray(meta.labels)) throw fail('BAD_MODEL', `${jsonPath} is not an EdgeTune CNN (no userDefinedMetadata.edgetune input and labels): retrain the model`);
  const binPath = path.join(dir, 'weights.bin');
  let bin: Buffer;
  try {
    bin = fs.readFileSync(binPath);
  } catch (e) {
    throw ioError('read', binPath, e);
  }
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
  return { model, meta };
}
