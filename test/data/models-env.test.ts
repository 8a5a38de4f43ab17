import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fetchBases, listBases } from '../../src/models';
import { ROOT, shared, tmpDir } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
const SMALL = 'mobilenet_v1_0.25_128';
/** In install order: the base, its Edge TPU twin, the labels (`filesFor`). */
const SMALL_FILES = ['mobilenet_v1_0.25_128_quant.tflite', 'mobilenet_v1_0.25_128_quant_edgetpu.tflite', 'imagenet_labels.txt'];

/**
 * An offline install through the environment alone: EDGETUNE_MODELS_FROM names the pinned files,
 * EDGETUNE_MODELS the models folder, for the library and the CLI alike.
 */
describe('offline install through EDGETUNE_MODELS_FROM and EDGETUNE_MODELS', () => {
  it('fetchBases() copies from $EDGETUNE_MODELS_FROM into $EDGETUNE_MODELS', async () => {
    const models = tmpDir();
    const saved = { from: process.env.EDGETUNE_MODELS_FROM, models: process.env.EDGETUNE_MODELS };
    process.env.EDGETUNE_MODELS_FROM = shared('models');
    process.env.EDGETUNE_MODELS = models;
    try {
      const r = await fetchBases({ names: [SMALL] });
      assert.deepEqual(r, { modelsDir: models, installed: SMALL_FILES, skipped: [] });
      assert.deepEqual(listBases().filter((b) => b.installed).map((b) => b.name), [SMALL]);
    } finally {
      for (const [k, v] of [['EDGETUNE_MODELS_FROM', saved.from], ['EDGETUNE_MODELS', saved.models]] as const) {
        if (v === undefined) delete process.env[k]; else process.env[k] = v;
      }
    }
    assert.deepEqual(fs.readdirSync(models).sort(), [...SMALL_FILES].sort());
  });

  it('edgetune models fetch without --from or --models-dir does the same', () => {
    const models = tmpDir();
    const env = { ...process.env, EDGETUNE_MODELS_FROM: shared('models'), EDGETUNE_MODELS: models };
    const r = spawnSync(process.execPath, [CLI, 'models', 'fetch', '--base', SMALL, '--json'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { modelsDir: models, installed: SMALL_FILES, skipped: [] });
    for (const f of SMALL_FILES) assert.ok(fs.readFileSync(path.join(models, f)).equals(fs.readFileSync(shared('models', f))), f);
  });
});
