/**
 * Running a program for the doctor: never throws, never waits past its timeout, and keeps what
 * the program printed, so that a crash (a segfaulting native addon) is a finding, not the end.
 */
import { execFile } from 'node:child_process';

/** What a program did. `code` null when it was killed (then `signal` names why). */
export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Set when it could not be started or ran past its timeout. */
  error?: string;
}

/**
 * Runs `file` with `args` (no shell), collecting stdout and stderr as UTF-8 text.
 * @param timeoutMs killed (SIGTERM) after this many ms.
 * @param env the child's environment (default: this process's).
 */
export function runProgram(file: string, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024, env: env ?? process.env }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string | null; killed?: boolean }) | null;
      const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      const signal = e?.signal ?? null;
      const result: RunResult = { code, signal, stdout: stdout ?? '', stderr: stderr ?? '' };
      if (e && typeof e.code === 'string') result.error = `${e.code}: ${e.message.split('\n')[0]}`;
      else if (e?.killed && signal) result.error = `no answer within ${timeoutMs} ms (stopped with ${signal})`;
      resolve(result);
    });
  });
}
