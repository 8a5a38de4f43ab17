/**
 * Coral's Edge TPU Compiler (`edgetpu_compiler`) run on an exported `model.tflite` (already
 * full-integer uint8, as the compiler requires). The compiler is published for x86-64 Linux only
 * (coral.ai/docs/edgetpu/compiler: "no longer available for ARM64 systems, beginning with version
 * 2.1"), so on a Pi the grafted `model_edgetpu.tflite` (the head after Coral's compiled extractor)
 * is what runs on the Edge TPU; the compiler, where present, maps the head too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fail } from '../errors';
import { findOnPath } from '../host';

/** The compiler's executable name. */
export const EDGETPU_COMPILER = 'edgetpu_compiler';

/** One row of the compiler's operation log. */
export interface CompiledOp {
  /** TFLite builtin name, e.g. 'FULLY_CONNECTED'. */
  op: string;
  count: number;
  /** The compiler's status text, e.g. 'Mapped to Edge TPU'. */
  status: string;
  onEdgeTpu: boolean;
}

/** What a compilation produced. */
export interface CompileResult {
  /** The compiler's version line, e.g. 'Edge TPU Compiler version 16.0.384591198'. */
  version: string;
  /** The compiled model's bytes. */
  model: Uint8Array;
  /** The operation log's text. */
  log: string;
  ops: CompiledOp[];
  /** Operations mapped to the Edge TPU / left to the CPU (sums of `count`). */
  edgetpuOps: number;
  cpuOps: number;
}

/**
 * Parses the compiler's operation log (`<name>_edgetpu.log`): a table of "Operator  Count  Status"
 * rows, the status "Mapped to Edge TPU" for operations the Edge TPU runs and a reason otherwise
 * (format of Edge TPU Compiler 2.x–16.x logs, coral.ai/docs/edgetpu/compiler).
 */
export function parseCompilerLog(log: string): CompiledOp[] {
  const ops: CompiledOp[] = [];
  for (const line of log.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)\s+(\d+)\s+(\S.*?)\s*$/.exec(line);
    if (!m) continue;
    ops.push({ op: m[1], count: Number(m[2]), status: m[3], onEdgeTpu: /^Mapped to Edge TPU/.test(m[3]) });
  }
  return ops;
}

/**
 * The compiler's path.
 * @throws EdgeTuneError UNSUPPORTED (one line) when it is not on `searchPath`, pointing to the
 *   grafted model_edgetpu.tflite.
 */
export function requireCompiler(searchPath: string = process.env.PATH ?? ''): string {
  const compiler = findOnPath(EDGETPU_COMPILER, searchPath);
  if (!compiler) {
    throw fail('UNSUPPORTED', `${EDGETPU_COMPILER} is not on the PATH (Coral publishes it for x86-64 Linux only: sudo apt-get install edgetpu-compiler from Coral's apt repository); without it, a head model's model_edgetpu.tflite (the head grafted onto Coral's compiled extractor) is the file that runs on the Edge TPU, and other models run on the CPU`);
  }
  return compiler;
}

/**
 * Compiles a model (a .tflite path, or its bytes) with `edgetpu_compiler -s` in a temporary folder
 * (removed after).
 * @param searchPath PATH to find the compiler in (default process.env.PATH).
 * @throws EdgeTuneError UNSUPPORTED when the compiler is not on PATH (one line pointing to the
 *   grafted model_edgetpu.tflite); EXPORT_CHECK_FAILED when it fails (its last output line) or maps
 *   no operation to the Edge TPU.
 */
export async function compileEdgeTpu(model: string | Uint8Array, searchPath: string = process.env.PATH ?? ''): Promise<CompileResult> {
  const compiler = requireCompiler(searchPath);
  const modelPath = typeof model === 'string' ? model : 'model.tflite';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgetune-compile-'));
  try {
    const input = path.join(tmp, 'model.tflite');
    if (typeof model === 'string') fs.copyFileSync(model, input);
    else fs.writeFileSync(input, model);
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const c = spawn(compiler, ['-s', '-o', tmp, input], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      c.stdout.on('data', (d) => { text += d; });
      c.stderr.on('data', (d) => { text += d; });
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, out: text }));
    });
    const lines = out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const compiled = path.join(tmp, 'model_edgetpu.tflite');
    if (code !== 0 || !fs.existsSync(compiled)) {
      throw fail('EXPORT_CHECK_FAILED', `${EDGETPU_COMPILER} failed on ${modelPath} (exit ${code}): ${lines.at(-1) ?? 'no output'}`);
    }
    const logPath = path.join(tmp, 'model_edgetpu.log');
    const log = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : out;
    const ops = parseCompilerLog(log);
    const edgetpuOps = ops.filter((o) => o.onEdgeTpu).reduce((a, o) => a + o.count, 0);
    const cpuOps = ops.filter((o) => !o.onEdgeTpu).reduce((a, o) => a + o.count, 0);
    if (edgetpuOps === 0) {
      throw fail('EXPORT_CHECK_FAILED', `${EDGETPU_COMPILER} mapped no operation of ${modelPath} to the Edge TPU (${cpuOps} stay on the CPU): see its log`);
    }
    return {
      version: lines.find((l) => /^Edge TPU Compiler version/.test(l)) ?? 'Edge TPU Compiler (version not printed)',
      model: fs.readFileSync(compiled), log, ops, edgetpuOps, cpuOps,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
