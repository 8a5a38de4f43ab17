/**
 * A camera fed by a child process writing MJPEG to its stdout (ffmpeg, rpicam-vid): spawning,
 * splitting the stream into frames, keeping the child's last stderr lines for the error line,
 * restarting with backoff when it dies, and killing it on close and when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { TOOLS, type Tool } from './tools';
import { createMjpegSplitter } from './mjpeg';
import type { CameraCore } from './core';

/** How one run of the child ended. */
export interface RunEnd {
  /** Frames it delivered. */
  frames: number;
  /** Its last non-empty stderr line, or a description of how it ended when it printed none. */
  lastLine: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** How long it ran (ms). */
  ms: number;
}

export interface ChildSourceOptions {
  core: CameraCore;
  command: Tool;
  /** What the child reads, for messages: "/dev/video0", "clip.mp4", "camera 0". */
  what: string;
  /** Arguments of the next run (called at every start). */
  args: () => string[];
  /**
   * Called when a run ends (not by close); returning a note (logged) starts the next run at once
   * instead of after the backoff delay, e.g. ffmpeg re-encoding when a device has no MJPEG mode.
   */
  retryNow?: (end: RunEnd) => string | null;
  /** Restart after the child dies (devices: a USB camera replugged); else stay in 'error'. */
  restart: boolean;
  /** Restart delays (ms): `initialMs` doubling up to `maxMs`; back to `initialMs` after a run that delivered frames. Default 1000 / 30000. */
  backoff?: { initialMs: number; maxMs: number };
  log: (line: string) => void;
  maxFrameBytes?: number;
}

export interface ChildSource {
  /** The running child's pid (undefined between runs). */
  pid(): number | undefined;
  /** Kills the child (SIGTERM, SIGKILL after 2 s) and resolves once it has exited. Idempotent. */
  close(): Promise<void>;
}

/** Children still running, killed when this process exits (they would otherwise outlive a crashed server). */
const LIVE = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Only 'exit' (not SIGINT/SIGTERM handlers: the library leaves signal handling to the host).
    // A child left behind by a signal-killed host dies of EPIPE on its next write to the closed pipe.
    process.on('exit', () => {
      for (const c of LIVE) c.kill('SIGKILL');
    });
  }
  LIVE.add(child);
}

const KILL_GRACE_MS = 2000;
const STDERR_LINES = 20;

/**
 * Starts the child and feeds its frames to `opts.core`. Never throws: a missing program or a
 * dying child puts the core in 'error' with one line (and schedules a restart when asked).
 */
export function startChildSource(opts: ChildSourceOptions): ChildSource {
  const { core, command, what, log } = opts;
  const backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30000 };
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let restartTimer: NodeJS.Timeout | undefined;
  let delay = backoff.initialMs;
  let closing: Promise<void> | undefined;
  let lastFailure = ''; // a device that keeps failing the same way is logged once, not every restart

  function run(): void {
    restartTimer = undefined;
    if (closing) return;
    const started = Date.now();
    let frames = 0;
    const stderr: string[] = [];
    let partial = '';
    const splitter = createMjpegSplitter(
      (jpeg) => {
        frames++;
        if (frames === 1 && lastFailure) log(`camera ${core.spec}: ${command} delivers frames again`);
        core.publish(jpeg);
      },
      { maxFrameBytes: opts.maxFrameBytes, source: `${command} ${what}` },
    );
    const c = spawn(command, opts.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    if (c.pid !== undefined) track(c);
    let ended = false;
    let resolveExited!: () => void;
    exited = new Promise<void>((r) => (resolveExited = r));

    c.stdout!.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk);
      } catch (e) {
        log(`camera ${core.spec}: ${(e as Error).message}`);
      }
    });
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (text: string) => {
      const lines = (partial + text).split(/\r?\n|\r/);
      partial = (lines.pop() ?? '').slice(-4096); // a line without an end stays bounded
      for (const l of lines) if (l.trim()) stderr.push(l.trim());
      if (stderr.length > STDERR_LINES) stderr.splice(0, stderr.length - STDERR_LINES);
    });

    const end = (code: number | null, signal: NodeJS.Signals | null, spawnError?: NodeJS.ErrnoException) => {
      if (ended) return;
      ended = true;
      LIVE.delete(c);
      if (child === c) child = undefined;
      resolveExited();
      if (closing) return;
      if (partial.trim()) stderr.push(partial.trim());
      const said = stderr[stderr.length - 1] ?? '';
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      const lastLine = said || how;
      const info: RunEnd = { frames, lastLine, code, signal, ms: Date.now() - started };
      const note = !spawnError && opts.retryNow ? opts.retryNow(info) : null;
      if (note) {
        log(`camera ${core.spec}: ${note} (${command}: ${lastLine})`);
        core.setState('starting');
        run();
        return;
      }
      const message = !spawnError
        ? `${command} stopped reading ${what} (${how})${said ? `: ${said}` : ''}`
        : spawnError.code === 'ENOENT'
          ? `${command} is not installed (not found on PATH): ${TOOLS[command]}`
          : `cannot run ${command}: ${spawnError.message.split('\n')[0]}`;
      if (frames > 0) {
        delay = backoff.initialMs;
        lastFailure = '';
      }
      if (opts.restart && !spawnError) {
        core.fail(`${message}; restarting in ${Math.round(delay / 100) / 10} s`);
        if (message !== lastFailure) log(`camera ${core.spec}: ${message}; restarting in ${Math.round(delay / 100) / 10} s`);
        lastFailure = message;
        restartTimer = setTimeout(() => {
          core.setState('starting');
          run();
        }, delay);
        delay = Math.min(delay * 2, backoff.maxMs);
      } else {
        core.fail(message);
        log(`camera ${core.spec}: ${message}`);
      }
    };
    c.on('error', (e: NodeJS.ErrnoException) => {
      // A failed spawn (ENOENT, EACCES) gets no 'exit'; an error after the start (a failed kill) is not an end.
      if (c.pid === undefined) end(null, null, e);
    });
    c.on('exit', (code, signal) => end(code, signal));
  }

  run();

  return {
    pid: () => child?.pid,
    close(): Promise<void> {
      if (closing) return closing;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = undefined;
      const c = child;
      const gone = exited;
      core.stop(); // no frame is published after close() begins
      closing = (async () => {
        if (c && c.exitCode === null && c.signalCode === null) {
          c.kill('SIGTERM');
          const force = setTimeout(() => c.kill('SIGKILL'), KILL_GRACE_MS);
          await gone;
          clearTimeout(force);
        }
      })();
      return closing;
    },
  };
}
