/**
 * The pinned bases in the models folder, each installed file hashed and compared with its pin
 * (PINNED_SHA256): what `edgetune models fetch` installs, checked the same way.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASES, DEFAULT_BASE, LABELS_FILE, PINNED_SHA256, type BaseSpec } from '../models';
import type { Check } from './types';

/** The command that installs or repairs the bases (replaces a file whose SHA-256 differs, keeps verified ones). */
export const FETCH_COMMAND = 'edgetune models fetch';

/** One pinned file in the models folder. */
export interface FileState {
  file: string;
  /** 'missing', 'ok' (SHA-256 equals the pin), 'mismatch' (differs), or 'unreadable'. */
  state: 'missing' | 'ok' | 'mismatch' | 'unreadable';
  /** The file's SHA-256 (hex) when it could be read. */
  sha256?: string;
  /** Why it could not be read. */
  error?: string;
}

/** One base: its CPU file and, when pinned, its Edge TPU twin. */
export interface BaseState {
  spec: BaseSpec;
  cpu: FileState;
  edgetpu?: FileState;
  /** Absolute path of the CPU file. */
  path: string;
}

/** Hashes one pinned file of `modelsDir` (SHA-256 of its bytes) and compares it with PINNED_SHA256. */
export function verifyFile(modelsDir: string, file: string): FileState {
  const p = path.join(modelsDir, file);
  if (!fs.existsSync(p)) return { file, state: 'missing' };
  try {
    const sha256 = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    return { file, state: sha256 === PINNED_SHA256[file] ? 'ok' : 'mismatch', sha256 };
  } catch (e) {
    return { file, state: 'unreadable', error: (e as Error).message.split('\n')[0] };
  }
}

/** Every base of BASES as installed in `modelsDir` (hashing each present file). */
export function verifyBases(modelsDir: string): BaseState[] {
  const dir = path.resolve(modelsDir);
  return BASES.map((spec) => ({
    spec,
    cpu: verifyFile(dir, spec.file),
    ...(spec.edgetpuFile ? { edgetpu: verifyFile(dir, spec.edgetpuFile) } : {}),
    path: path.join(dir, spec.file),
  }));
}

function describeBad(f: FileState): string {
  if (f.state === 'mismatch') return `${f.file}: SHA-256 ${f.sha256!.slice(0, 12)}… differs from the pinned ${PINNED_SHA256[f.file].slice(0, 12)}… (corrupt or replaced)`;
  return `${f.file}: unreadable (${f.error})`;
}

/**
 * One check per base (ok: installed and verified; warn: not installed, or its Edge TPU twin
 * missing; fail: a file whose SHA-256 differs from its pin, or that cannot be read), or a single
 * fail when no base is installed at all; then one for the ImageNet labels of the stock classifier.
 * Every fix is FETCH_COMMAND.
 */
export function checkBases(states: readonly BaseState[], modelsDir: string): Check[] {
  const dir = path.resolve(modelsDir);
  const checks: Check[] = [];
  if (states.every((s) => s.cpu.state === 'missing')) {
    checks.push({ name: 'bases', status: 'fail', detail: `none of the ${states.length} pinned bases is installed in ${dir}`, fix: FETCH_COMMAND });
  } else {
    for (const s of states) {
      const name = `base ${s.spec.name}`;
      const tag = s.spec.name === DEFAULT_BASE ? ' (the default base)' : '';
      const bad = [s.cpu, s.edgetpu].filter((f): f is FileState => f !== undefined && (f.state === 'mismatch' || f.state === 'unreadable'));
      if (bad.length > 0) {
        checks.push({ name, status: 'fail', detail: bad.map(describeBad).join('; '), fix: FETCH_COMMAND });
      } else if (s.cpu.state === 'missing') {
        checks.push({ name, status: 'warn', detail: `not installed in ${dir}${tag}`, fix: FETCH_COMMAND });
      } else if (s.edgetpu?.state === 'missing') {
        checks.push({ name, status: 'warn', detail: `${s.spec.file} verified${tag}; its Edge TPU twin ${s.spec.edgetpuFile} is not installed`, fix: FETCH_COMMAND });
      } else {
        checks.push({ name, status: 'ok', detail: `SHA-256 verified${s.edgetpu ? ': CPU file and Edge TPU twin' : ''}${tag}` });
      }
    }
  }
  const labels = verifyFile(dir, LABELS_FILE);
  if (labels.state === 'ok') checks.push({ name: 'imagenet labels', status: 'ok', detail: `${LABELS_FILE} SHA-256 verified` });
  else if (labels.state === 'missing') checks.push({ name: 'imagenet labels', status: 'warn', detail: `${LABELS_FILE} not installed: edgetune predict without --model needs it`, fix: FETCH_COMMAND });
  else checks.push({ name: 'imagenet labels', status: 'fail', detail: describeBad(labels), fix: FETCH_COMMAND });
  return checks;
}
