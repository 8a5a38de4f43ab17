import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { EdgeTuneError } from '../../src/errors';
import { openModel, projectOf, tfliteAddonError, tfliteRebuildCommand } from '../../src/runtime';
import { tinySoftmaxModel } from '../tiny-model';

const PKG = '/srv/edgetune/node_modules/tfjs-tflite-node';
const REBUILD = 'sudo apt-get install -y build-essential python3 && cd /srv/edgetune && npm rebuild tfjs-tflite-node';
// What `bindings` throws when no build/Release/node_tflite_binding.node exists (several lines).
const NOT_BUILT = `Could not locate the bindings file. Tried:\n → ${PKG}/build/node_tflite_binding.node\n → ${PKG}/build/Release/node_tflite_binding.node`;

describe('runtime: tfjs-tflite-node addon that does not load', () => {
  it('names the 64-bit OS on 32-bit ARM Linux, whatever the linker said (tensorflow/tfjs#6796)', () => {
    const cause = new Error(`${PKG}/build/Release/node_tflite_binding.node: undefined symbol: TfLiteInterpreterGetInputTensor`);
    const e = tfliteAddonError(cause, PKG, 'arm', 'linux');
    assert.ok(e instanceof EdgeTuneError);
    assert.equal(e.code, 'UNSUPPORTED');
    assert.equal(e.message,
      'the TFLite runtime cannot run on 32-bit ARM (linux arm): tfjs-tflite-node publishes no 32-bit ARM TFLite library, so its addon links none ' +
      `(${PKG}/build/Release/node_tflite_binding.node: undefined symbol: TfLiteInterpreterGetInputTensor); ` +
      'install a 64-bit OS (64-bit Raspberry Pi OS, where node -p process.arch prints arm64) and run npm ci again');
    assert.equal(e.cause, cause);
    assert.equal(tfliteAddonError(new Error(NOT_BUILT), PKG, 'arm', 'linux').code, 'UNSUPPORTED');
  });

  it('refuses other Linux architectures than x64 and arm64', () => {
    const e = tfliteAddonError(new Error('x: undefined symbol: TfLiteModelCreate'), PKG, 'riscv64', 'linux');
    assert.equal(e.code, 'UNSUPPORTED');
    assert.equal(e.message,
      'the TFLite runtime cannot run on linux riscv64: tfjs-tflite-node publishes TFLite libraries for Linux x64 and arm64 only ' +
      '(x: undefined symbol: TfLiteModelCreate); run EdgeTune on a 64-bit x86 or ARM Linux machine');
  });

  it('gives the rebuild command, in one line, for an addon never built on x64 and arm64', () => {
    for (const arch of ['x64', 'arm64']) {
      const e = tfliteAddonError(new Error(NOT_BUILT), PKG, arch, 'linux');
      assert.equal(e.code, 'UNAVAILABLE');
      assert.equal(e.message,
        `the TFLite runtime is not built: tfjs-tflite-node's addon (build/Release/node_tflite_binding.node in ${PKG}) is missing, ` +
        `as its install script did not run; build it: ${REBUILD}`);
      assert.ok(!e.message.includes('\n'));
    }
  });

  it('gives the rebuild command for an addon built for another CPU', () => {
    const e = tfliteAddonError(new Error(`${PKG}/build/Release/node_tflite_binding.node: wrong ELF class: ELFCLASS32`), PKG, 'arm64', 'linux');
    assert.equal(e.code, 'UNAVAILABLE');
    assert.equal(e.message,
      `the TFLite runtime does not load on linux arm64 (${PKG}/build/Release/node_tflite_binding.node: wrong ELF class: ELFCLASS32); ` +
      `build tfjs-tflite-node's addon again for this machine: ${REBUILD} (edgetune doctor tells more)`);
  });

  it('finds the project folder to rebuild in', () => {
    assert.equal(projectOf(PKG), '/srv/edgetune');
    assert.equal(projectOf('/a/node_modules/edgetune/node_modules/tfjs-tflite-node'), '/a/node_modules/edgetune');
    assert.equal(projectOf('/opt/tfjs-tflite-node'), '/opt/tfjs-tflite-node');
    assert.equal(tfliteRebuildCommand(PKG), REBUILD);
  });

  it('openModel turns a failing addon load into that error', () => {
    // Replace what `require('bindings')` returns for the runtime (the same cached module) with the
    // loader's failure for a package whose addon was never built; the model itself is valid.
    const id = require.resolve('bindings', { paths: [path.join(__dirname, '..', '..', 'src', 'runtime')] });
    require(id);
    const mod = require.cache[id]!;
    const saved = mod.exports;
    mod.exports = () => { throw new Error(NOT_BUILT); };
    try {
      assert.throws(() => openModel(tinySoftmaxModel(3), { device: 'cpu', threads: 1 }), (e: unknown) => {
        assert.ok(e instanceof EdgeTuneError);
        assert.equal(e.code, 'UNAVAILABLE');
        const pkg = path.dirname(require.resolve('tfjs-tflite-node/package.json'));
        assert.equal(e.message,
          `the TFLite runtime is not built: tfjs-tflite-node's addon (build/Release/node_tflite_binding.node in ${pkg}) is missing, ` +
          `as its install script did not run; build it: ${tfliteRebuildCommand(pkg)}`);
        return true;
      });
    } finally {
      mod.exports = saved;
    }
    // …and the real addon loads again afterwards.
    openModel(tinySoftmaxModel(3), { device: 'cpu', threads: 1 }).close();
  });
});
