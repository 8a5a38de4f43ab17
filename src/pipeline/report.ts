/** A long step's progress: `update` with the count done so far (and an optional status text). */
export interface Progress {
  update(done: number, status?: string): void;
  stop(): void;
}

/**
 * Where the pipeline reports what it does. The library stays silent unless given one; the CLI
 * passes a terminal reporter (progress bars with ETA on a TTY, plain lines otherwise).
 */
export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  progress(title: string, total: number): Progress;
}

/** The reporter that reports nothing: the library default. */
export const silentReporter: Reporter = {
  info: () => undefined,
  warn: () => undefined,
  progress: () => ({ update: () => undefined, stop: () => undefined }),
};
