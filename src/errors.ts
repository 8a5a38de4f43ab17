/**
 * EdgeTune's one error type. Every error the library throws on purpose is an `EdgeTuneError` with
 * a stable `code`, so adapters map it without parsing messages: the CLI prints the one-line
 * message and exits 1; the web API (issue 6) maps `code` to an HTTP status (`HTTP_STATUS`).
 * Messages are one line: they name the input and say what to do.
 */

/** Stable error codes (never renamed; new ones may be added). */
export type ErrorCode =
  /** An option value is invalid (wrong type, out of range, impossible combination). */
  | 'BAD_OPTION'
  /** A dataset folder is unusable (missing, too few classes/images, bad class folder name). */
  | 'BAD_DATASET'
  /** A class label breaks the label rules (`validateLabel`). */
  | 'BAD_LABEL'
  /** An image cannot be read or decoded, or its format is unknown/unsupported. */
  | 'BAD_IMAGE'
  /** A model folder or .tflite file is missing, incomplete, of an unknown format version, or inconsistent. */
  | 'BAD_MODEL'
  /** A file or folder the caller named does not exist. */
  | 'NOT_FOUND'
  /** The target exists and would be overwritten or is in the way (e.g. --out is a non-model folder). */
  | 'CONFLICT'
  /** A pretrained base is unknown or not installed (`edgetune models fetch`). */
  | 'BASE_MISSING'
  /** Fetching or verifying the pinned bases failed (network, checksum). */
  | 'FETCH_FAILED'
  /** The exported model disagrees with the trained head beyond the allowed margin. */
  | 'EXPORT_CHECK_FAILED'
  /** The Edge TPU (runtime library, device, or a compiled model) is needed but unavailable. */
  | 'EDGETPU_UNAVAILABLE'
  /** The request is valid but this build cannot do it (e.g. an op or format EdgeTune does not handle). */
  | 'UNSUPPORTED'
  /** The operation was cancelled through its AbortSignal. */
  | 'CANCELLED'
  /** A file system operation failed (permissions, disk full); the message names the path. */
  | 'IO'
  /** A web API call lacks the access token (`edgetune serve --token`). */
  | 'UNAUTHORIZED'
  /** An upload exceeds a size limit (bytes or decoded pixels). */
  | 'TOO_LARGE'
  /** Something the request needs is not ready (no camera frame yet, no model loaded). */
  | 'UNAVAILABLE';

/** HTTP status for each code, for the web API. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  BAD_OPTION: 400,
  BAD_DATASET: 422,
  BAD_LABEL: 400,
  BAD_IMAGE: 415,
  BAD_MODEL: 422,
  NOT_FOUND: 404,
  CONFLICT: 409,
  BASE_MISSING: 503,
  FETCH_FAILED: 502,
  EXPORT_CHECK_FAILED: 422,
  EDGETPU_UNAVAILABLE: 503,
  UNSUPPORTED: 501,
  CANCELLED: 499,
  IO: 500,
  UNAUTHORIZED: 401,
  TOO_LARGE: 413,
  UNAVAILABLE: 503,
});

/** An error EdgeTune throws on purpose: one-line `message`, stable `code`. */
export class EdgeTuneError extends Error {
  override readonly name = 'EdgeTuneError';
  /**
   * @param code stable machine-readable code.
   * @param message one line naming the input and what to do.
   * @param options.cause the underlying error, if any (kept for debugging, not shown to users).
   */
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Shorthand: `throw fail('BAD_OPTION', '…')`. */
export function fail(code: ErrorCode, message: string, cause?: unknown): EdgeTuneError {
  return new EdgeTuneError(code, message, cause === undefined ? undefined : { cause });
}

/** The code of any thrown value: its own for an EdgeTuneError, 'IO' for a Node system error, else undefined. */
export function errorCode(e: unknown): ErrorCode | undefined {
  if (e instanceof EdgeTuneError) return e.code;
  if (e && typeof e === 'object' && typeof (e as NodeJS.ErrnoException).syscall === 'string') return 'IO';
  return undefined;
}

/**
 * A Node file-system error as one line a user can act on, e.g. "cannot write runs/x/model.tflite:
 * no space left on the device (ENOSPC)". Used wherever a raw `ENOTDIR … mkdir` would otherwise
 * reach the user.
 * @param action what was being done ("read", "write", "create folder", …).
 * @param file the path the user gave or the file involved.
 */
export function ioError(action: string, file: string, e: unknown): EdgeTuneError {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'it does not exist',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EISDIR: 'it is a folder, not a file',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOSPC: 'no space left on the device',
    EEXIST: 'it already exists',
    EROFS: 'the file system is read-only',
    ENAMETOOLONG: 'the name is too long',
  };
  const reason = err?.code && why[err.code] ? `${why[err.code]} (${err.code})` : String(err?.message ?? e).split('\n')[0];
  const code: ErrorCode = err?.code === 'ENOENT' ? 'NOT_FOUND' : err?.code === 'EEXIST' ? 'CONFLICT' : 'IO';
  return new EdgeTuneError(code, `cannot ${action} ${file}: ${reason}`, { cause: e });
}
