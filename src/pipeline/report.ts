/** A long step's progress: `update` with the count done so far (and an optional status text). */
export interface Progress {
  update(done: number, status?: string): void;
  stop(): void;
}

/** The stages of a training run, in order. */
export type Phase = 'embed' | 'augment' | 'train' | 'estimate' | 'export';

/**
 * One structured progress event (for the web UI's Server-Sent Events and library callers): the
 * phase, how far it is (done/total), the estimated seconds left in the phase, and during head
 * training the epoch's Keras-named metrics.
 */
export interface ProgressEvent {
  phase: Phase;
  done: number;
  total: number;
  /** Seconds left in this phase at the current rate; undefined before the first step. */
  etaSeconds?: number;
  epoch?: number;
  loss?: number;
  accuracy?: number;
  val_loss?: number;
  val_accuracy?: number;
}

/**
 * Where the pipeline reports what it does. The library stays silent unless given one; the CLI
 * passes a terminal reporter (progress bars with ETA on a TTY, plain lines otherwise); the web
 * server forwards `event`s to the page.
 */
export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  progress(title: string, total: number): Progress;
  /** Structured progress, if the reporter wants it. */
  event?(e: ProgressEvent): void;
}

/** The reporter that reports nothing: the library default. */
export const silentReporter: Reporter = {
  info: () => undefined,
  warn: () => undefined,
  progress: () => ({ update: () => undefined, stop: () => undefined }),
};

/**
 * A progress bar that also emits structured events for `phase`, with an ETA from the rate so far.
 * @param title the bar's title. @param total steps in the phase.
 * @param extra per-update event fields (e.g. the epoch's metrics), given with each `update`.
 */
export function phaseProgress(r: Reporter, phase: Phase, title: string, total: number): Progress & { step(done: number, extra?: Partial<ProgressEvent>, status?: string): void } {
  const bar = r.progress(title, total);
  const t0 = performance.now();
  const step = (done: number, extra: Partial<ProgressEvent> = {}, status?: string) => {
    bar.update(done, status);
    if (r.event) {
      const s = (performance.now() - t0) / 1000;
      r.event({ phase, done, total, ...(done > 0 ? { etaSeconds: Math.round((s / done) * (total - done)) } : {}), ...extra });
    }
  };
  return { update: (done, status) => step(done, {}, status), step, stop: () => bar.stop() };
}
