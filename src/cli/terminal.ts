import * as cliProgress from 'cli-progress';
import type { Progress, Reporter } from '../pipeline/report';

/**
 * The CLI's reporter, on stderr so that `--json` output on stdout stays clean: a progress bar with
 * ETA on a TTY; on a pipe or in CI, plain lines at every 10% (and the last step).
 * @param quiet report warnings only (for --json).
 */
export function terminalReporter(quiet = false): Reporter {
  const tty = !!process.stderr.isTTY;
  return {
    info: (m) => { if (!quiet) process.stderr.write(`${m}\n`); },
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
    progress: (title, total) => (quiet ? { update: () => undefined, stop: () => undefined } : tty ? bar(title, total) : lines(title, total)),
  };
}

function bar(title: string, total: number): Progress {
  const b = new cliProgress.SingleBar({
    format: `${title} [{bar}] {value}/{total} {percentage}% ETA {eta_formatted} {status}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  b.start(total, 0, { status: '' });
  return {
    update: (done, status) => b.update(done, { status: status ?? '' }),
    stop: () => b.stop(),
  };
}

function lines(title: string, total: number): Progress {
  const t0 = Date.now();
  let lastDecile = -1;
  let last = 0;
  return {
    update: (done, status) => {
      last = done;
      const decile = Math.floor((done / Math.max(1, total)) * 10);
      if (decile === lastDecile && done !== total) return;
      lastDecile = decile;
      const s = (Date.now() - t0) / 1000;
      const eta = done > 0 ? (s / done) * (total - done) : 0;
      process.stderr.write(`${title}: ${done}/${total} (${s.toFixed(0)} s, ETA ${eta.toFixed(0)} s)${status ? ` ${status}` : ''}\n`);
    },
    stop: () => { if (last !== total && last > 0) process.stderr.write(`${title}: stopped at ${last}/${total}\n`); },
  };
}
