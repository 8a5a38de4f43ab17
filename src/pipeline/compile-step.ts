import { compileEdgeTpu } from '../export/compile';
import type { FileContents } from '../artifact';
import type { Reporter } from './report';

/**
 * `export --compile` for any full-integer model: Coral's Edge TPU Compiler on the model bytes,
 * its output and log as model-folder files, and one line saying how many operations it mapped.
 * @param bytes the full-integer model.tflite.
 * @param searchPath PATH to find `edgetpu_compiler` in (default process.env.PATH).
 * @returns the files to add to the folder (`model_edgetpu_compiled.tflite`, `edgetpu_compiler.log`)
 *   and what metadata.json records (`compiled`).
 * @throws EdgeTuneError as `compileEdgeTpu` (UNSUPPORTED without the compiler, EXPORT_CHECK_FAILED).
 */
export async function compileStep(bytes: Uint8Array, searchPath: string | undefined, r: Reporter): Promise<{
  files: Record<string, FileContents>; compiled: { version: string; edgetpuOps: number; cpuOps: number };
}> {
  const c = await compileEdgeTpu(bytes, searchPath);
  r.info(`${c.version}: ${c.edgetpuOps} operation(s) mapped to the Edge TPU, ${c.cpuOps} left to the CPU → model_edgetpu_compiled.tflite`);
  return {
    files: { 'model_edgetpu_compiled.tflite': c.model, 'edgetpu_compiler.log': c.log },
    compiled: { version: c.version, edgetpuOps: c.edgetpuOps, cpuOps: c.cpuOps },
  };
}
