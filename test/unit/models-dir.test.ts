import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BASES, defaultModelsDir, fetchBases, listBases } from '../../src/models';
import { predict } from '../../src/pipeline/predict';
import { ROOT, tmpDir } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

/** Runs `fn` with these environment variables (undefined = unset), restoring the previous values. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) if (x === undefined) delete process.env[k]; else process.env[k] = x;
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** The CLI with this environment and no --models-dir. */
function cli(env: Record<string, string>, ...args: string[]) {
  const clean = { ...process.env };
  delete clean.EDGETUNE_MODELS;
  delete clean.EDGETUNE_MODELS_FROM;
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...clean, ...env } });
}

/** A models folder holding only the (empty) CPU file of BASES[index]: presence is all listBases checks. */
function folderWith(index: number): string {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, BASES[index].file), '');
  return dir;
}

describe('the default models folder', () => {
  it("is $EDGETUNE_MODELS (resolved) when set and non-empty, else the package's models/", async () => {
    const pkg = path.join(ROOT, 'models');
    await withEnv({ EDGETUNE_MODELS: undefined }, () => assert.equal(defaultModelsDir(), pkg));
    await withEnv({ EDGETUNE_MODELS: '' }, () => assert.equal(defaultModelsDir(), pkg));
    await withEnv({ EDGETUNE_MODELS: 'var/models' }, () => assert.equal(defaultModelsDir(), path.join(process.cwd(), 'var', 'models')));
    await withEnv({ EDGETUNE_MODELS: '/var/lib/edgetune/models' }, () => assert.equal(defaultModelsDir(), '/var/lib/edgetune/models'));
  });

  it('is what listBases and predict read when no modelsDir is given', async () => {
    const dir = folderWith(2);
    await withEnv({ EDGETUNE_MODELS: dir }, async () => {
      assert.deepEqual(listBases().map((b) => b.installed), BASES.map((_, i) => i === 2));
      // The stock classifier (BASES[1]) is missing there, though the package's models/ has it.
      await assert.rejects(predict(['photo.jpg']), {
        code: 'BASE_MISSING',
        message: `base ${BASES[1].name} is not installed in ${dir}; run: edgetune models fetch (or set EDGETUNE_MODELS to the folder that has it)`,
      });
    });
  });

  it("is the CLI's --models-dir default", () => {
    const dir = folderWith(3);
    const list = cli({ EDGETUNE_MODELS: dir }, 'models', 'list', '--json');
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((b: { installed: boolean }) => b.installed), BASES.map((_, i) => i === 3));
    const help = cli({ EDGETUNE_MODELS: dir }, '--help');
    assert.ok(help.stdout.replace(/\s+/g, ' ').includes(`(env EDGETUNE_MODELS) (default: "${dir}")`), help.stdout);
    // An explicit --models-dir still wins.
    const explicit = cli({ EDGETUNE_MODELS: dir }, '--models-dir', folderWith(0), 'models', 'list', '--json');
    assert.deepEqual(JSON.parse(explicit.stdout).map((b: { installed: boolean }) => b.installed), BASES.map((_, i) => i === 0));
  });
});

describe('EDGETUNE_MODELS_FROM', () => {
  it('is the source of fetchBases when no from is given, checked before anything is copied', async () => {
    const from = tmpDir();
    const models = tmpDir();
    await withEnv({ EDGETUNE_MODELS_FROM: from, EDGETUNE_MODELS: models }, async () => {
      await assert.rejects(fetchBases({ names: [BASES[1].name] }), {
        code: 'NOT_FOUND',
        message: `${BASES[1].file}, imagenet_labels.txt not found in EDGETUNE_MODELS_FROM folder ${from}; copy them there or unset EDGETUNE_MODELS_FROM to download from https://github.com/google-coral/test_data/raw/master`,
      });
      await assert.rejects(fetchBases({ names: [BASES[1].name], from: path.join(from, 'nothing') }), {
        message: `--from ${path.join(from, 'nothing')} is not a folder: pass the folder holding the pinned .tflite files (e.g. a copy of Coral's test_data)`,
      });
    });
    await withEnv({ EDGETUNE_MODELS_FROM: path.join(from, 'gone') }, async () => {
      await assert.rejects(fetchBases({ modelsDir: models }), {
        code: 'NOT_FOUND',
        message: `EDGETUNE_MODELS_FROM=${path.join(from, 'gone')} is not a folder: point it at the folder holding the pinned .tflite files, or unset it to download`,
      });
    });
    assert.deepEqual(fs.readdirSync(models), []);
  });

  it('is not used when the caller passes its own fetch (it means to download)', async () => {
    const urls: string[] = [];
    const notFound = async (url: string) => {
      urls.push(url);
      return { ok: false, status: 404, statusText: 'Not Found', headers: { get: () => null }, body: null };
    };
    await withEnv({ EDGETUNE_MODELS_FROM: tmpDir() }, async () => {
      await assert.rejects(fetchBases({ modelsDir: tmpDir(), names: [BASES[1].name], fetchImpl: notFound }), /^Error: download of .* failed: HTTP 404/);
    });
    assert.deepEqual(urls, [`https://github.com/google-coral/test_data/raw/master/${BASES[1].file}`]);
  });
});
