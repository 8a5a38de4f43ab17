/**
 * Registry of the pinned pretrained bases (MobileNet without its top) and the one way to install
 * them: `fetchBases`, which copies (offline) or downloads each file, checks its SHA-256 against the
 * pinned value, and renames it into place atomically.
 *
 * Files come from Coral's test-data repository: https://github.com/google-coral/test_data
 * (raw URL pattern `https://github.com/google-coral/test_data/raw/master/<file>`).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors';

/** Where `fetchBases` downloads from: `${CORAL_TEST_DATA_URL}/<file>` (GitHub redirects to raw content). */
export const CORAL_TEST_DATA_URL = 'https://github.com/google-coral/test_data/raw/master';

/** The 1001 ImageNet labels (index 0 = `background`) that line up with the classifier outputs. */
export const LABELS_FILE = 'imagenet_labels.txt';

/** Environment variable naming the models folder, read by `defaultModelsDir` (CLI and library alike). */
export const MODELS_ENV = 'EDGETUNE_MODELS';

/** Environment variable naming a local folder of the pinned files, read by `fetchBases` when `from` is not given. */
export const MODELS_FROM_ENV = 'EDGETUNE_MODELS_FROM';

/**
 * The one models folder the CLI (`--models-dir` default) and every library function (`modelsDir`
 * option default) use: `$EDGETUNE_MODELS` when set and non-empty (resolved against the working
 * directory), else the `models/` folder of the installed edgetune package.
 *
 * Why the package's folder and not a per-user one: the admin who runs `edgetune models fetch` and
 * the service account that later trains (a Pi service) are different users with different homes,
 * but they run the same installation, so both find the same bases without configuration. A
 * service that keeps its data elsewhere sets the variable once (e.g.
 * `Environment=EDGETUNE_MODELS=/var/lib/edgetune/models` in its systemd unit) and runs
 * `models fetch` with the same environment. Read on every call, so a changed variable counts.
 * @returns an absolute path (the folder may not exist yet: `fetchBases` creates it).
 */
export function defaultModelsDir(): string {
  const env = process.env[MODELS_ENV];
  if (env !== undefined && env.trim() !== '') return path.resolve(env);
  // This file is dist/src/models/index.js: the package root is three levels up.
  return path.resolve(__dirname, '..', '..', '..', 'models');
}

/** The base used when none is named: Coral's own embedding extractor, the only graftable Edge TPU twin. */
export const DEFAULT_BASE = 'mobilenet_v1_1.0_224';

/**
 * Pinned SHA-256 (hex) of every file the registry installs.
 * Source: /work/shared/models/SHA256SUMS (computed over the files fetched from
 * https://github.com/google-coral/test_data/raw/master/<file>). A changed upstream file fails
 * `fetchBases` on purpose: the rest of EdgeTune (cut points, quant params) was checked against these.
 */
export const PINNED_SHA256: Readonly<Record<string, string>> = Object.freeze({
  'imagenet_labels.txt': 'b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1',
  'mobilenet_v1_0.25_128_quant.tflite': 'cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785',
  'mobilenet_v1_0.25_128_quant_edgetpu.tflite': 'a4cb1e493346542248687939fbd7421ab92d74c58b1f0a0018b8f1bdddfcef7e',
  'mobilenet_v1_0.5_160_quant.tflite': '3cc6d2ca460abd2e0f699a6d0d2550c6b61c6e3b0e27a3616e384ea74cb86f43',
  'mobilenet_v1_0.5_160_quant_edgetpu.tflite': 'e8fc376452b2134637da71016e3d22a6013550bf40d032854c2cb5699da7c16e',
  'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite': 'f409ef4f73fcbb9667841965623c5c8524aac33d41b9bf5f3667161fb4a76319',
  'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite': '33a249155302975d7e28f72a5250903cdf7f7afb7bd1ceec3d2cd8ca9ce6a609',
  'mobilenet_v2_1.0_224_quant.tflite': '7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776',
});

/** One pretrained base as pinned by EdgeTune. */
export interface BaseSpec {
  /** Registry name, e.g. `mobilenet_v1_1.0_224` (MobileNet version, depth multiplier, input pixels). */
  name: string;
  /** CPU `.tflite` file name inside the models directory. */
  file: string;
  /** SHA-256 (hex) of `file`, from PINNED_SHA256. */
  sha256: string;
  /** Edge TPU-compiled twin published by Coral, when one is pinned. */
  edgetpuFile?: string;
  /** SHA-256 (hex) of `edgetpuFile`. */
  edgetpuSha256?: string;
  /**
   * Whether a head can be grafted after the twin's `edgetpu-custom-op`: true only when the twin's
   * single custom op ends at the embedding (the extractor). The compiled classifiers end at the
   * 1001-way softmax inside the custom op, so there is nothing to cut.
   */
  edgetpuGraftable: boolean;
  /** Square input side in pixels; input tensor is [1, inputSize, inputSize, 3]. */
  inputSize: number;
  /** Input tensor dtype (all pinned bases are uint8-quantized, scale 1/128, zero point 128). */
  inputDtype: 'uint8';
  /** Embedding width D: the pooled feature vector [1,1,1,D] the head is trained on. */
  embeddingDim: number;
  /**
   * 'extractor': the file already ends at the embedding. 'classifier': a full ImageNet classifier
   * that must be cut at its last AVERAGE_POOL_2D (include_top=False) when loaded as a base.
   */
  kind: 'extractor' | 'classifier';
  /** Labels of the uncut classifier's 1001 outputs (classifiers only). */
  labelsFile?: string;
}

/** A BaseSpec plus what is present in one models directory. */
export interface BaseRecord extends BaseSpec {
  /** `file` exists in the models directory (presence only; `fetchBases` verifies hashes). */
  installed: boolean;
  /** `edgetpuFile` exists in the models directory (false when there is no twin). */
  edgetpuInstalled: boolean;
  /** This is DEFAULT_BASE. */
  isDefault: boolean;
}

/** Paths of one installed base. */
export interface ResolvedBase {
  spec: BaseSpec;
  /** Absolute path of the CPU `.tflite`. */
  path: string;
  /** Absolute path of the Edge TPU twin, when the spec has one and it is installed. */
  edgetpuPath?: string;
  /** Absolute path of the labels file, when the spec has one and it is installed. */
  labelsPath?: string;
}

function spec(s: Omit<BaseSpec, 'sha256' | 'edgetpuSha256' | 'inputDtype'>): BaseSpec {
  return Object.freeze({
    ...s,
    inputDtype: 'uint8' as const,
    sha256: PINNED_SHA256[s.file],
    ...(s.edgetpuFile ? { edgetpuSha256: PINNED_SHA256[s.edgetpuFile] } : {}),
  });
}

/**
 * The pinned bases. Input sizes and embedding widths follow the MobileNet names (v1 width
 * 1024 × depth multiplier; v2 1.0 ends in a 1280-wide pooled layer) and were checked against the
 * files' tensors (see TFLITE-FACTS.md).
 */
export const BASES: readonly BaseSpec[] = Object.freeze([
  spec({
    name: 'mobilenet_v1_1.0_224', file: 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite',
    edgetpuFile: 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite', edgetpuGraftable: true,
    inputSize: 224, embeddingDim: 1024, kind: 'extractor',
  }),
  spec({
    // Coral pins no Edge TPU twin of v2 in this set.
    name: 'mobilenet_v2_1.0_224', file: 'mobilenet_v2_1.0_224_quant.tflite', edgetpuGraftable: false,
    inputSize: 224, embeddingDim: 1280, kind: 'classifier', labelsFile: LABELS_FILE,
  }),
  spec({
    name: 'mobilenet_v1_0.25_128', file: 'mobilenet_v1_0.25_128_quant.tflite',
    edgetpuFile: 'mobilenet_v1_0.25_128_quant_edgetpu.tflite', edgetpuGraftable: false,
    inputSize: 128, embeddingDim: 256, kind: 'classifier', labelsFile: LABELS_FILE,
  }),
  spec({
    name: 'mobilenet_v1_0.5_160', file: 'mobilenet_v1_0.5_160_quant.tflite',
    edgetpuFile: 'mobilenet_v1_0.5_160_quant_edgetpu.tflite', edgetpuGraftable: false,
    inputSize: 160, embeddingDim: 512, kind: 'classifier', labelsFile: LABELS_FILE,
  }),
]);

/** The classifier `edgetune predict` uses when no --model is given (1001 ImageNet classes). */
export const STOCK_CLASSIFIER_BASE = 'mobilenet_v2_1.0_224';

function findSpec(name: string): BaseSpec {
  const s = BASES.find((b) => b.name === name);
  if (!s) throw fail('BAD_OPTION', `unknown base ${name}; known: ${BASES.map((b) => b.name).join(', ')}`);
  return s;
}

/**
 * Every pinned base with its install state in `modelsDir` (file presence only, no hashing).
 * Order as in BASES (DEFAULT_BASE first). Never throws for a missing directory.
 * @param modelsDir default `defaultModelsDir()`.
 */
export function listBases(modelsDir: string = defaultModelsDir()): BaseRecord[] {
  return BASES.map((s) => ({
    ...s,
    installed: fs.existsSync(path.join(modelsDir, s.file)),
    edgetpuInstalled: s.edgetpuFile !== undefined && fs.existsSync(path.join(modelsDir, s.edgetpuFile)),
    isDefault: s.name === DEFAULT_BASE,
  }));
}

/**
 * Absolute paths of one installed base.
 * Throws "unknown base X; known: ..." for a name not in BASES, and
 * EdgeTuneError BASE_MISSING "base X is not installed in DIR; run: edgetune models fetch (…)" when
 * its CPU file is missing.
 * The Edge TPU twin and labels are optional here (returned only when present).
 */
export function resolveBase(name: string, modelsDir: string): ResolvedBase {
  const s = findSpec(name);
  const dir = path.resolve(modelsDir);
  const p = path.join(dir, s.file);
  if (!fs.existsSync(p)) {
    throw fail('BASE_MISSING', `base ${name} is not installed in ${dir}; run: edgetune models fetch (or set ${MODELS_ENV} to the folder that has it)`);
  }
  const out: ResolvedBase = { spec: s, path: p };
  if (s.edgetpuFile && fs.existsSync(path.join(dir, s.edgetpuFile))) out.edgetpuPath = path.join(dir, s.edgetpuFile);
  if (s.labelsFile && fs.existsSync(path.join(dir, s.labelsFile))) out.labelsPath = path.join(dir, s.labelsFile);
  return out;
}

/**
 * The stock ImageNet classifier (mobilenet_v2_1.0_224_quant.tflite, uncut: input [1,224,224,3]
 * uint8, output [1,1001] uint8 softmax scale 1/256) and its labels file, as absolute paths.
 * Throws the resolveBase "not installed" error when either file is missing.
 */
export function stockClassifier(modelsDir: string): { modelPath: string; labelsPath: string } {
  const r = resolveBase(STOCK_CLASSIFIER_BASE, modelsDir);
  if (!r.labelsPath) {
    throw new Error(`${LABELS_FILE} is not installed in ${path.resolve(modelsDir)}; run: edgetune models fetch`);
  }
  return { modelPath: r.path, labelsPath: r.labelsPath };
}

/**
 * File names needed for the named bases (default: all): each base's file, its Edge TPU twin,
 * and imagenet_labels.txt. Throws "unknown base X; known: ..." for an unknown name.
 */
export function filesFor(names?: string[]): string[] {
  const specs = (names ?? BASES.map((b) => b.name)).map(findSpec);
  const files = new Set<string>();
  for (const s of specs) {
    files.add(s.file);
    if (s.edgetpuFile) files.add(s.edgetpuFile);
  }
  files.add(LABELS_FILE);
  return [...files];
}

/** Progress of one file in `fetchBases`. `bytes`/`totalBytes` in bytes; totalBytes unknown → undefined. */
export interface FetchProgress {
  file: string;
  phase: 'skip' | 'copy' | 'download' | 'done';
  bytes: number;
  totalBytes?: number;
}

/** The subset of WHATWG fetch that fetchBases uses (global `fetch` fits). */
export type FetchImpl = (url: string, init?: { redirect?: 'follow' }) => Promise<{
  ok: boolean; status: number; statusText?: string;
  headers: { get(name: string): string | null };
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | null;
}>;

/** Options of `fetchBases`. */
export interface FetchOptions {
  /** Directory to install into (created when missing); default `defaultModelsDir()`. */
  modelsDir?: string;
  /**
   * Copy from this directory instead of downloading (offline devices, CI). When neither `from`
   * nor `fetchImpl` is given, `$EDGETUNE_MODELS_FROM` is used if set and non-empty; else the
   * files are downloaded.
   */
  from?: string;
  /** Bases to install (default: all in BASES). */
  names?: string[];
  /** Called per chunk and per state change. */
  onProgress?: (p: FetchProgress) => void;
  /** Replaces global fetch (tests, proxies). Must follow redirects. */
  fetchImpl?: FetchImpl;
}

/** What `fetchBases` did: file names installed (copied/downloaded) or skipped (already correct). */
export interface FetchResult {
  modelsDir: string;
  installed: string[];
  skipped: string[];
}

async function sha256OfFile(p: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Stream `source` into a temp file next to `dest`, hashing as it goes; rename into place only when
 * the SHA-256 matches. Any failure (read error, mismatch) deletes the temp file, so `dest` is either
 * the previous file or the verified new one — never a partial one.
 */
async function installVerified(
  source: AsyncIterable<Uint8Array>, dest: string, file: string, expected: string,
  report: (bytes: number) => void,
): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.part`);
  const h = crypto.createHash('sha256');
  let bytes = 0;
  const fh = await fs.promises.open(tmp, 'wx');
  try {
    try {
      for await (const chunk of source) {
        h.update(chunk);
        await fh.write(chunk);
        bytes += chunk.byteLength;
        report(bytes);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const got = h.digest('hex');
    if (got !== expected) {
      throw new Error(`checksum mismatch for ${file}: expected ${expected}, got ${got} (${bytes} bytes); the download is corrupt or the pinned file changed`);
    }
    await fs.promises.rename(tmp, dest);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

function asAsyncIterable(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  if (Symbol.asyncIterator in body) return body as AsyncIterable<Uint8Array>;
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    },
  };
}

/**
 * Install the files of the named bases (default: all) into `modelsDir` (default
 * `defaultModelsDir()`): each base's `.tflite`, its Edge TPU twin, and imagenet_labels.txt (see
 * `filesFor`). The source is `from`, else `$EDGETUNE_MODELS_FROM` (a local folder of the pinned
 * files, for offline installs), else Coral's repository.
 * Per file: already present with the pinned SHA-256 → skipped; otherwise copied from `from/<file>`
 * or downloaded from `${CORAL_TEST_DATA_URL}/<file>` (redirects followed), streamed to a temp file
 * in `modelsDir`, verified against PINNED_SHA256 and renamed into place atomically.
 * With `from`, every needed file is checked to exist before anything is copied. Files are then
 * processed in order; files installed before a later failure stay (they are verified).
 * Throws: "unknown base X; known: ..."; EdgeTuneError NOT_FOUND "<file>[, <file>…] not found in
 * --from directory D; ..." (or "… in EDGETUNE_MODELS_FROM folder D; …");
 * "download of <file> failed: HTTP <status> ..."; "checksum mismatch for <file>: expected …, got …;
 * the download is corrupt or the pinned file changed". A failure never leaves a partial file.
 */
export async function fetchBases(options: FetchOptions = {}): Promise<FetchResult> {
  const files = filesFor(options.names);
  const envFrom = process.env[MODELS_FROM_ENV];
  // A caller passing its own fetch means to download: the variable must not divert it.
  const fromEnv = options.from === undefined && options.fetchImpl === undefined && envFrom !== undefined && envFrom.trim() !== '';
  const opts = { ...options, from: fromEnv ? envFrom : options.from };
  if (opts.from !== undefined && !(fs.existsSync(opts.from) && fs.statSync(opts.from).isDirectory())) {
    throw fromEnv
      ? fail('NOT_FOUND', `${MODELS_FROM_ENV}=${opts.from} is not a folder: point it at the folder holding the pinned .tflite files, or unset it to download`)
      : fail('NOT_FOUND', `--from ${opts.from} is not a folder: pass the folder holding the pinned .tflite files (e.g. a copy of Coral's test_data)`);
  }
  const dir = path.resolve(opts.modelsDir ?? defaultModelsDir());
  await fs.promises.mkdir(dir, { recursive: true });
  const progress = opts.onProgress ?? (() => undefined);
  const result: FetchResult = { modelsDir: dir, installed: [], skipped: [] };

  const needed: string[] = [];
  for (const file of files) {
    const dest = path.join(dir, file);
    if (fs.existsSync(dest) && (await sha256OfFile(dest)) === PINNED_SHA256[file]) {
      progress({ file, phase: 'skip', bytes: fs.statSync(dest).size });
      result.skipped.push(file);
    } else {
      needed.push(file);
    }
  }
  // Check the whole --from set before copying anything, so a wrong directory installs nothing.
  if (opts.from !== undefined) {
    const fromDir = path.resolve(opts.from);
    const missing = needed.filter((f) => !fs.existsSync(path.join(fromDir, f)));
    if (missing.length > 0) {
      const source = fromEnv ? `${MODELS_FROM_ENV} folder` : '--from directory';
      const omit = fromEnv ? `unset ${MODELS_FROM_ENV}` : 'omit --from';
      throw fail('NOT_FOUND', `${missing.join(', ')} not found in ${source} ${fromDir}; copy ${missing.length === 1 ? 'it' : 'them'} there or ${omit} to download from ${CORAL_TEST_DATA_URL}`);
    }
  }

  for (const file of needed) {
    const expected = PINNED_SHA256[file];
    const dest = path.join(dir, file);
    if (opts.from !== undefined) {
      const src = path.join(path.resolve(opts.from), file);
      const totalBytes = fs.statSync(src).size;
      await installVerified(fs.createReadStream(src), dest, file, expected,
        (bytes) => progress({ file, phase: 'copy', bytes, totalBytes }));
    } else {
      const url = `${CORAL_TEST_DATA_URL}/${file}`;
      const doFetch: FetchImpl = opts.fetchImpl ?? (globalThis.fetch as unknown as FetchImpl);
      let res: Awaited<ReturnType<FetchImpl>>;
      try {
        res = await doFetch(url, { redirect: 'follow' });
      } catch (e) {
        throw new Error(`download of ${file} from ${url} failed: ${(e as Error).message}; check the network or use --from DIR`);
      }
      if (!res.ok || !res.body) {
        throw new Error(`download of ${file} failed: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} from ${url}; check the network or use --from DIR`);
      }
      const len = Number(res.headers.get('content-length'));
      const totalBytes = Number.isFinite(len) && len > 0 ? len : undefined;
      await installVerified(asAsyncIterable(res.body), dest, file, expected,
        (bytes) => progress({ file, phase: 'download', bytes, totalBytes }));
    }
    progress({ file, phase: 'done', bytes: fs.statSync(dest).size });
    result.installed.push(file);
  }
  return result;
}
