import * as path from 'node:path';
import * as fs from 'node:fs';

/** Project root (this file compiles to dist/test/helpers.js). */
export const ROOT = path.resolve(__dirname, '..', '..');

/** Read-only shared material: real images, datasets and the pinned bases (`../shared`). */
export const SHARED = process.env.EDGETUNE_SHARED ?? path.resolve(ROOT, '..', 'shared');

/** Where `edgetune models fetch` installs the bases for this checkout. */
export const MODELS_DIR = path.join(ROOT, 'models');

/**
 * Path of a file under ../shared; throws (never skips) when it is missing, so a CI without the
 * shared material fails loudly instead of passing on no data.
 */
export function shared(...parts: string[]): string {
  const p = path.join(SHARED, ...parts);
  if (!fs.existsSync(p)) throw new Error(`test data missing: ${p} (the tests read real data from ../shared)`);
  return p;
}

/** Sample photos shipped in the repository (samples/README.md): the unit tests' real images. */
export const SAMPLES = path.join(ROOT, 'samples');

/** Path of a file under samples/; throws when it is missing (a broken checkout, not a skip). */
export function sample(...parts: string[]): string {
  const p = path.join(SAMPLES, ...parts);
  if (!fs.existsSync(p)) throw new Error(`sample missing: ${p} (samples/ is part of the repository)`);
  return p;
}

/** Temporary directories made by `tmpDir`; the global teardown (fixtures.ts) removes them. */
export const TMP_DIRS: string[] = [];

/** A fresh temporary directory for one test, removed after the run. */
export function tmpDir(prefix = 'edgetune-test-'): string {
  const d = fs.mkdtempSync(path.join(require('node:os').tmpdir(), prefix));
  TMP_DIRS.push(d);
  return d;
}

/**
 * Every file `edgetune models fetch` installs, sorted: written out here (not read from the
 * registry) so the tests check the registry against an independent list.
 */
export const PINNED_FILES = [
  'imagenet_labels.txt',
  'mobilenet_v1_0.25_128_quant.tflite',
  'mobilenet_v1_0.25_128_quant_edgetpu.tflite',
  'mobilenet_v1_0.5_160_quant.tflite',
  'mobilenet_v1_0.5_160_quant_edgetpu.tflite',
  'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite',
  'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite',
  'mobilenet_v2_1.0_224_quant.tflite',
];
