import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileEdgeTpu, parseCompilerLog, requireCompiler } from '../../src/export/compile';
import { EdgeTuneError } from '../../src/errors';
import { tmpDir } from '../helpers';

/** An operation log in the layout the Edge TPU Compiler writes (header lines, then Operator / Count / Status rows). */
const LOG = [
  'Edge TPU Compiler version 16.0.384591198',
  'Input: model.tflite',
  'Output: model_edgetpu.tflite',
  '',
  'Operator                       Count      Status',
  '',
  'CONV_2D                        14         Mapped to Edge TPU',
  'DEPTHWISE_CONV_2D              13         Mapped to Edge TPU',
  'FULLY_CONNECTED                2          Mapped to Edge TPU',
  'SOFTMAX                        1          Operation is working on an unsupported data type',
  '',
].join('\n');

/**
 * A stand-in for edgetpu_compiler on PATH (the real one is not installed here): it follows the
 * compiler's interface (-s, -o DIR, the model; writes DIR/<name>_edgetpu.tflite and the log), so
 * what is tested is EdgeTune's side — finding, running, reading the log, reporting failures.
 */
function standIn(dir: string, body: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'edgetpu_compiler'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return bin;
}

describe('export --compile: the Edge TPU Compiler', () => {
  it('reads the operation log: per-op status and what runs where', () => {
    const ops = parseCompilerLog(LOG);
    assert.deepEqual(ops.map((o) => [o.op, o.count, o.onEdgeTpu]), [
      ['CONV_2D', 14, true], ['DEPTHWISE_CONV_2D', 13, true], ['FULLY_CONNECTED', 2, true], ['SOFTMAX', 1, false],
    ]);
    assert.equal(ops[3].status, 'Operation is working on an unsupported data type');
  });

  it('without the compiler on PATH: one line naming the install and the grafted file', () => {
    assert.throws(() => requireCompiler(tmpDir()), (e: Error) => e instanceof EdgeTuneError && e.code === 'UNSUPPORTED'
      && /^edgetpu_compiler is not on the PATH \(Coral publishes it for x86-64 Linux only: sudo apt-get install edgetpu-compiler/.test(e.message)
      && /model_edgetpu\.tflite/.test(e.message) && !e.message.includes('\n'));
  });

  it('runs the compiler, returns its model and counts the mapped operations', async () => {
    const dir = tmpDir();
    const model = path.join(dir, 'm.tflite');
    fs.writeFileSync(model, Buffer.from('TFL3 model bytes'));
    const logFile = path.join(dir, 'log.txt');
    fs.writeFileSync(logFile, LOG);
    const bin = standIn(dir, [
      'out=""; while [ $# -gt 1 ]; do case "$1" in -o) out="$2"; shift 2;; *) shift;; esac; done',
      'in="$1"; base=$(basename "$in" .tflite)',
      `echo "Edge TPU Compiler version 16.0.384591198"`,
      `cp "$in" "$out/\${base}_edgetpu.tflite"; printf 'compiled' >> "$out/\${base}_edgetpu.tflite"`,
      `cp ${JSON.stringify(logFile)} "$out/\${base}_edgetpu.log"`,
    ].join('\n'));
    const r = await compileEdgeTpu(model, bin);
    assert.equal(r.version, 'Edge TPU Compiler version 16.0.384591198');
    assert.equal(Buffer.from(r.model).toString(), 'TFL3 model bytescompiled');
    assert.equal(r.edgetpuOps, 29);
    assert.equal(r.cpuOps, 1);
    assert.equal(r.log, LOG);
  });

  it('a failing compiler or one that maps nothing is an export failure with its last line', async () => {
    const dir = tmpDir();
    const model = path.join(dir, 'm.tflite');
    fs.writeFileSync(model, 'x');
    let bin = standIn(dir, 'echo "Edge TPU Compiler version 16.0"; echo "Model not quantized" >&2; exit 1');
    await assert.rejects(compileEdgeTpu(model, bin), (e: Error) => e instanceof EdgeTuneError && e.code === 'EXPORT_CHECK_FAILED'
      && e.message === `edgetpu_compiler failed on ${model} (exit 1): Model not quantized`);
    const dir2 = tmpDir();
    bin = standIn(dir2, 'while [ $# -gt 1 ]; do case "$1" in -o) out="$2"; shift 2;; *) shift;; esac; done; cp "$1" "$out/model_edgetpu.tflite"; printf "SOFTMAX  1  Operation is otherwise unsupported\\n" > "$out/model_edgetpu.log"');
    await assert.rejects(compileEdgeTpu(model, bin), /mapped no operation of .* to the Edge TPU \(1 stay on the CPU\)/);
  });
});
