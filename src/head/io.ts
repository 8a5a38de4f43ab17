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
 * Serialises a tfjs layers model in the TensorFlow.js layers format: `model.json` (topology,
 * weights manifest, `userDefinedMetadata.edgetune` = `meta`) and `weights.bin` (float32
 * little-endian; BatchNorm moving statistics included), the files `tf.loadLayersModel` reads.
 * Shared by heads and CNNs.
 * @returns the two files' contents; the caller writes them (atomically, in the model folder).
 */
export async function serializeLayers<M>(model: tf.LayersModel, meta: M): Promise<{ modelJson: string; weightsBin: Buffer }> {
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

/** Serialises a tfjs head (`serializeLayers` with its HeadMeta). */
export function serializeHead(model: tf.LayersModel, meta: HeadMeta): Promise<{ modelJson: string; weightsBin: Buffer }> {
  return serializeLayers(model, meta);
}

/**
 * Loads a model written by `serializeLayers` from `dir/model.json` + `dir/weights.bin`.
 * @param what what the folder should hold, for messages ('head', 'CNN').
 * @param retrain the command that makes one, for messages.
 * @param isMeta whether `userDefinedMetadata.edgetune` is this kind's metadata.
 * @throws EdgeTuneError 'BAD_MODEL' naming the file when it is missing, not JSON or not this kind;
 *   'IO'/'NOT_FOUND' when weights.bin cannot be read.
 */
export async function loadLayers<M>(dir: string, what: string, retrain: string, isMeta: (m: unknown) => m is M): Promise<{ model: tf.LayersModel; meta: M }> {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) throw fail('BAD_MODEL', `no trained ${what} in ${dir} (model.json missing): ${retrain}`);
  let json;
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    if (e instanceof SyntaxError) throw fail('BAD_MODEL', `${jsonPath} is not valid JSON: retrain the model`, e);
    throw ioError('read', jsonPath, e);
  }
  const meta: unknown = json.userDefinedMetadata?.edgetune;
  if (!isMeta(meta)) throw fail('BAD_MODEL', `${jsonPath} is not an EdgeTune ${what} (no userDefinedMetadata.edgetune of that kind): retrain or re-export the model`);
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

/**
 * Loads a head written by `serializeHead` from `dir/model.json` + `dir/weights.bin`.
 * @throws EdgeTuneError as `loadLayers`.
 */
export function loadHead(dir: string): Promise<{ model: tf.LayersModel; meta: HeadMeta }> {
  return loadLayers(dir, 'head', "train a model first with 'edgetune train'", (m): m is HeadMeta => typeof m === 'object' && m !== null);
}
