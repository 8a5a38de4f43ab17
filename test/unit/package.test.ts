import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BASES } from '../../src/models';
import { ROOT, tmpDir } from '../helpers';

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The ```ts blocks of README.md's `## Library` section, in order. */
function libraryBlocks(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = /^## Library\n([\s\S]*?)(?=^## )/m.exec(readme);
  assert.ok(section, 'README.md has no ## Library section');
  return [...section[1].matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout + r.stderr };
}

/**
 * A consumer project: `node_modules/edgetune` links to this checkout (dist/ built by the test run),
 * the way npm links a local dependency. `files` are written into it.
 */
function consumer(files: Record<string, string>): string {
  const dir = tmpDir('edgetune-consumer-');
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'edgetune'), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'commonjs' }));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** tsconfig of a consumer: `module` commonjs (classic node10 resolution) or nodenext (package "exports"). */
function tsconfig(module: 'commonjs' | 'nodenext', include: string[], outDir?: string): string {
  return JSON.stringify({
    compilerOptions: {
      module, target: 'es2022', strict: true, skipLibCheck: true, types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')], ...(outDir ? { outDir } : { noEmit: true }),
    },
    include,
  });
}

describe('package surface', () => {
  it('exports only the task functions, their types and the error API from the root', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const root = require('../../src');
    assert.deepEqual(Object.keys(root).sort(), [
      'DEFAULTS', 'EdgeTuneError', 'HTTP_STATUS', 'OPTION_SPECS', 'defaultModelsDir', 'errorCode', 'evaluate', 'fetchBases',
      'importImages', 'listBases', 'openPredictor', 'predict', 'readModelFolder', 'reexport', 'resolveTrainOptions', 'runDoctor', 'sweep', 'train',
    ]);
  });

  it('serves the package root, edgetune/tflite, edgetune/convert and package.json to require and import, and nothing deeper', () => {
    const dir = consumer({
      'check.cjs': `
        const root = require('edgetune'), tfl = require('edgetune/tflite'), conv = require('edgetune/convert');
        let deep; try { require('edgetune/dist/src/head'); } catch (e) { deep = e.code; }
        console.log(JSON.stringify({ train: typeof root.train, readModel: typeof root.readModel, tflite: typeof tfl.readModel,
          graftHead: typeof tfl.graftHead, convertLayers: typeof conv.convertLayers, version: require('edgetune/package.json').version, deep }));`,
      'check.mjs': `
        import { train, listBases } from 'edgetune';
        import { readModel, cutAtEmbedding, graftHead, gridPool, chooseQuantParams } from 'edgetune/tflite';
        import { convertLayers, layersFromTfjs } from 'edgetune/convert';
        console.log(JSON.stringify([train, listBases, readModel, cutAtEmbedding, graftHead, gridPool, chooseQuantParams, convertLayers, layersFromTfjs].map((f) => typeof f)));`,
    });
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    const cjs = run(process.execPath, ['check.cjs'], dir);
    assert.equal(cjs.code, 0, cjs.out);
    assert.deepEqual(JSON.parse(cjs.out), {
      train: 'function', readModel: 'undefined', tflite: 'function', graftHead: 'function', convertLayers: 'function', version, deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
    const esm = run(process.execPath, ['check.mjs'], dir);
    assert.equal(esm.code, 0, esm.out);
    assert.deepEqual(JSON.parse(esm.out), Array(9).fill('function'));
  });

  it("README's library examples type-check as CommonJS and as ESM, and the listing example runs in both", function () {
    this.timeout(120_000);
    const blocks = libraryBlocks();
    assert.ok(blocks.length >= 2, `expected the library examples in README.md, found ${blocks.length} block(s)`);
    const files: Record<string, string> = {};
    blocks.forEach((code, i) => {
      files[`readme${i}.ts`] = code;
      files[`readme${i}.mts`] = code;
    });
    // Not from the README: the subpath's types, in both module systems.
    files['tflite.ts'] = files['tflite.mts'] =
      `import { readModel, writeModel, type Model } from 'edgetune/tflite';\nexport const roundTrip = (b: Uint8Array): Uint8Array => writeModel(readModel(b) as Model);\n`;
    files['convert.ts'] = files['convert.mts'] =
      `import { convertLayers, type Layer } from 'edgetune/convert';\nexport const toTflite = (layers: Layer[]): Uint8Array => convertLayers(layers);\n`;
    files['tsconfig.cjs.json'] = tsconfig('commonjs', ['*.ts']);
    files['tsconfig.esm.json'] = tsconfig('nodenext', ['*.ts', '*.mts'], 'out');
    const dir = consumer(files);
    for (const config of ['tsconfig.cjs.json', 'tsconfig.esm.json']) {
      const r = run(process.execPath, [TSC, '-p', config], dir);
      assert.equal(r.code, 0, `${config}:\n${r.out}`);
    }

    const listing = blocks.findIndex((b) => /listBases\(\)/.test(b) && !/\btrain\(/.test(b));
    assert.ok(listing >= 0, 'README.md has no example that lists the bases');
    const models = tmpDir();
    fs.writeFileSync(path.join(models, BASES[1].file), '');
    const expected = [`bases in ${models}:`, ...BASES.map((b, i) => `${b.name} ${i === 1 ? 'installed' : 'missing'}`)].join('\n') + '\n';
    for (const js of [`out/readme${listing}.js`, `out/readme${listing}.mjs`]) {
      const r = spawnSync(process.execPath, [js], { cwd: dir, encoding: 'utf8', env: { ...process.env, EDGETUNE_MODELS: models } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, expected, js);
    }
  });

  it('keeps the TFLite tools out of the root: importing one from edgetune does not type-check', function () {
    this.timeout(60_000);
    const dir = consumer({
      'bad.mts': `import { readModel } from 'edgetune';\nconsole.log(readModel);\n`,
      'tsconfig.json': tsconfig('nodenext', ['*.mts']),
    });
    const r = run(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /bad\.mts\(1,10\): error TS2305: Module '"edgetune"' has no exported member 'readModel'\./);
  });
});
