import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fail, ioError } from '../errors';

/** What travels with the saved head besides its weights. */
export interface HeadMeta {
  /** Class names, index-aligned with the softmax outputs. */
  labels: string[];
  /** Calibrated float output range per Dense layer (representative dataset), for quantized export. */
  outputRanges: [number, number][];
}

/**
 * Serialises a tfjs head in the TensorFlow.js layers format: `model.json` (topology, weights
 * manifest, and `userDefinedMetadata.edgetune` = HeadMeta) and `weights.bin` (float32 little-endian),
 * the files `tf.loadLayersModel` reads.
 * @returns the two files' contents; the caller writes them (atomically, in the model folder).
 */
export async function serializeHead(model: tf.LayersModel, meta: HeadMeta): Promise<{ modelJson: string; weightsBin: Buffer }> {
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
    const data = a.weightData as ArrayBuffer;
    out = { modelJson: JSON.stringify(json), weightsBin: Buffer.from(data) };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return out!;
}

/**
 * Loads a head written by `serializeHead` from `dir/model.json` + `dir/weights.bin`.
 * @throws EdgeTuneError 'BAD_MODEL' naming the folder when the files are missing or not an
 *   EdgeTune head; 'IO'/'NOT_FOUND' when weights.bin cannot be read.
 */
export async function loadHead(dir: string): Promise<{ model: tf.LayersModel; meta: HeadMeta }> {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) throw fail('BAD_MODEL', `no trained head in ${dir} (model.json missing): train a model first with 'edgetune train'`);
  let json;
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    if (e instanceof SyntaxError) throw fail('BAD_MODEL', `${jsonPath} is not valid JSON: retrain the model`, e);
    throw ioError('read', jsonPath, e);
  }
  const meta = json.userDefinedMetadata?.edgetune as HeadMeta | undefined;
  if (!meta) throw fail('BAD_MODEL', `${jsonPath} is not an EdgeTune head (no userDefinedMetadata.edgetune): retrain or re-export the model`);
  const binPath = path.join(dir, 'weights.bin');
  let bin: Buffer;
  try {
    bin = fs.readFileSync(binPath);
  } catch (e) {
    throw ioError('read', binPath, e);
  }
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData,
  }));
  return { model, meta };
}
