/**
 * The express app: thin routes over the server's services (store, versions, inference, trainer,
 * camera, live loop). Every route answers JSON; every error is `{error, code}` with the status of
 * `HTTP_STATUS`. The table of routes is in the README (section 'Web UI: edgetune serve').
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import express, { type Request, type Response, type NextFunction } from 'express';
import helmet from 'helmet';
import multer from 'multer';
import { EdgeTuneError, HTTP_STATUS, fail } from '../errors';
import { OPTION_SPECS, formatDefault, optionsFromFlags } from '../options';
import { sniffImage, type ImageFormat } from '../image';
import { listEdgeTpus } from '../runtime';
import { listBases } from '../models';
import type { Camera } from '../camera/types';
import {
  listClasses, addClass, renameClass, deleteClass, listSamples, resolveSample, deleteSample, addSample,
  checkUpload, thumbnail, type DataPaths, type UploadLimits,
} from './store';
import { listVersions, findVersion, STOCK_ID, VERSION_FILES, type VersionInfo } from './versions';
import { listReview, reviewImage, removeReview, labelReview } from './review';
import { eventStream, mjpegStream, requireToken, sameSecret, TOKEN_COOKIE } from './http';
import type { Inference } from './inference';
import type { Trainer, TrainEvent } from './training';
import type { Live, LiveResult } from './live';

/** Everything the routes use. */
export interface AppContext {
  version: string;
  paths: DataPaths;
  /** Where the pretrained bases are installed. */
  modelsDir: string;
  camera: Camera;
  inference: Inference;
  trainer: Trainer;
  live: Live;
  limits: UploadLimits;
  token?: string;
  /** Classes returned by predictions (top-k). */
  top: number;
  /** Review threshold (0 = off). */
  reviewBelow: number;
  threads: { inference: number; training: number };
  startedAt: number;
  /** Makes a version (or STOCK_ID) the active one: loads it, then moves the pointer. */
  activate(id: string): Promise<void>;
  /** Subscribes to training events; returns the unsubscribe function. */
  onTrainEvent(cb: (e: TrainEvent) => void): () => void;
  log(line: string): void;
}

/** Photos per upload request. */
export const MAX_FILES = 20;
/** Upload requests read at once (the others wait). */
export const MAX_CONCURRENT_UPLOADS = 2;

/** The last frame captured from each camera (its seq), so one frame is never stored twice. */
const captured = new WeakMap<Camera, number>();

/**
 * A frame for a capture: the latest one if it is fresh (under 1 s old) and not captured yet — the
 * browser camera posts a frame, then asks to capture it —, else the next one the camera delivers.
 * @throws EdgeTuneError UNAVAILABLE when none comes within 5 s.
 */
async function captureFrame(camera: Camera): Promise<{ jpeg: Buffer; seq: number }> {
  const last = camera.latest();
  if (last && Date.now() - last.time < 1000 && (captured.get(camera) ?? 0) < last.seq) {
    captured.set(camera, last.seq);
    return last;
  }
  try {
    const f = await camera.capture(5000);
    captured.set(camera, f.seq);
    return f;
  } catch (e) {
    const hint = camera.kind === 'browser' ? 'open the page and allow its camera (it sends the frames)' : `check the camera (${camera.status().error ?? camera.spec})`;
    throw fail('UNAVAILABLE', `no camera frame within 5 s: ${hint}`, e);
  }
}

/** Folder of the page (web/ at the package root). */
export const WEB_DIR = path.resolve(__dirname, '..', '..', '..', 'web');

/** Builds the express app. */
export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(helmet({
    // Served over plain HTTP on a LAN: no HSTS, and no upgrade of sub-requests to https (the Pi has none).
    strictTransportSecurity: false,
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'img-src': ["'self'", 'data:', 'blob:'],
        'media-src': ["'self'", 'blob:'],
        'style-src': ["'self'", "'unsafe-inline'"],
        'upgrade-insecure-requests': null,
      },
    },
  }));

  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: ctx.limits.maxBytes, files: MAX_FILES, fields: 20 },
  });
  // Uploads are held in memory: bound each request (MAX_FILES files, REQUEST_FILES_BYTES in all)
  // and how many are read at once, so a burst of big uploads cannot exhaust a 2 GB Pi.
  const requestBytes = ctx.limits.maxBytes * 5;
  let uploading = 0;
  const waiting: (() => void)[] = [];
  const uploadSlot = async (req: Request, res: Response, next: NextFunction) => {
    if (!req.is('multipart/form-data')) return next();
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > requestBytes) {
      return next(fail('TOO_LARGE', `upload of ${len} bytes refused: one request carries at most ${requestBytes} bytes (${MAX_FILES} photos of at most ${ctx.limits.maxBytes} bytes each); send the photos in smaller batches`));
    }
    if (uploading >= MAX_CONCURRENT_UPLOADS) await new Promise<void>((resolve) => waiting.push(resolve));
    uploading++;
    res.on('close', () => {
      uploading--;
      waiting.shift()?.();
    });
    next();
  };
  const json = express.json({ limit: '1mb' });
  const raw = express.raw({ type: ['image/*', 'application/octet-stream'], limit: ctx.limits.maxBytes });
  const auth = requireToken(ctx.token);

  // --- login (no token needed to reach it) ---
  app.post('/login', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const t = typeof req.body?.token === 'string' ? req.body.token : '';
    if (!ctx.token || !sameSecret(t, ctx.token)) {
      res.status(401).redirect(303, '/login.html?failed=1');
      return;
    }
    res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(t)}; HttpOnly; SameSite=Strict; Path=/`);
    res.redirect(303, '/');
  });

  app.use('/api', auth);
  app.use(['/stream.mjpg', '/frame.jpg'], auth);

  // --- health and options ---
  app.get('/api/health', (_req, res) => {
    const m = ctx.inference.current();
    res.json({
      version: ctx.version,
      device: m?.device ?? null,
      deviceName: m?.deviceName ?? null,
      edgeTpus: listEdgeTpus().map((d) => ({ type: d.type, path: d.path })),
      modelId: m?.id ?? null,
      labels: m?.labels.length ?? 0,
      camera: ctx.camera.status(),
      training: ctx.trainer.job()?.state === 'running' ? ctx.trainer.job()!.id : null,
      threads: ctx.threads,
      // Process memory, MB (resident set; the JavaScript heap in use): to watch a long-running device.
      memory: { rssMb: Math.round(process.memoryUsage().rss / 1048576), heapMb: Math.round(process.memoryUsage().heapUsed / 1048576) },
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    });
  });
  app.get('/api/options', (_req, res) => {
    res.json({
      // The base is a choice among the bases installed here (a free name on the command line).
      options: OPTION_SPECS.map((s) => ({
        flag: s.flag, value: s.value, help: s.help, default: formatDefault(s),
        kind: s.flag === 'base' ? { type: 'choice', choices: listBases(ctx.modelsDir).filter((b) => b.installed).map((b) => b.name) } : s.kind,
      })),
    });
  });

  // --- classes and samples ---
  const classJson = (c: { label: string; count: number; latest: string | null }) => ({
    label: c.label, count: c.count, thumbnail: c.latest ? `/api/samples/${c.latest}/thumbnail` : null,
  });
  app.get('/api/classes', (_req, res) => {
    res.json({ classes: listClasses(ctx.paths).map(classJson) });
  });
  app.post('/api/classes', json, (req, res) => {
    const label = req.body?.label;
    if (typeof label !== 'string') throw fail('BAD_LABEL', 'send JSON {"label": "name"} to create a class');
    res.status(201).json(classJson(addClass(ctx.paths, label)));
  });
  const notWhileTraining = (what: string) => {
    const id = ctx.trainer.running();
    if (id) throw Object.assign(fail('CONFLICT', `cannot ${what} while training ${id} reads the dataset: wait for it or cancel it (DELETE /api/train)`), { jobId: id });
  };
  app.patch('/api/classes/:label', json, (req, res) => {
    notWhileTraining('rename a class');
    const to = req.body?.label;
    if (typeof to !== 'string') throw fail('BAD_LABEL', 'send JSON {"label": "new name"} to rename a class');
    res.json(classJson(renameClass(ctx.paths, param(req, 'label'), to)));
  });
  app.delete('/api/classes/:label', (req, res) => {
    notWhileTraining('delete a class');
    const label = param(req, 'label');
    res.json({ label, deleted: deleteClass(ctx.paths, label) });
  });
  app.get('/api/classes/:label/samples', (req, res) => {
    const label = param(req, 'label');
    res.json({
      label,
      samples: listSamples(ctx.paths, label).map((s) => ({ id: s.id, file: s.file, bytes: s.bytes, thumbnail: `/api/samples/${s.id}/thumbnail` })),
    });
  });
  app.post('/api/classes/:label/samples', json, uploadSlot, upload.array('image', MAX_FILES), async (req, res) => {
    const label = param(req, 'label');
    listSamples(ctx.paths, label); // 404 / 400 before any capture
    const added: { id: string; file: string }[] = [];
    const files = (req.files as Express.Multer.File[] | undefined) ?? [];
    if (files.length > 0) {
      // Check them all before storing any: one bad file leaves the class as it was.
      const formats: ImageFormat[] = [];
      for (const f of files) formats.push(await checkUpload(f.buffer, f.originalname || 'image', ctx.limits));
      files.forEach((f, i) => {
        const s = addSample(ctx.paths, label, f.buffer, formats[i]);
        added.push({ id: s.id, file: s.file });
      });
    } else if (req.is('application/json') && req.body?.fromCamera === true) {
      const count = req.body.count ?? 1;
      if (!Number.isInteger(count) || count < 1 || count > 50) throw fail('BAD_OPTION', `count must be an integer from 1 to 50 (got ${JSON.stringify(count)})`);
      if (ctx.camera.kind === 'none') throw fail('UNAVAILABLE', 'there is no camera (serve --camera none): upload photos instead, or start serve with a camera');
      for (let i = 0; i < count; i++) {
        const frame = await captureFrame(ctx.camera);
        const s = sniffImage(frame.jpeg);
        if (s.kind !== 'image') throw fail('BAD_IMAGE', `camera ${ctx.camera.spec} sent a frame that is not an image: check the camera`);
        const sample = addSample(ctx.paths, label, frame.jpeg, s.format);
        added.push({ id: sample.id, file: sample.file });
      }
    } else {
      throw fail('BAD_IMAGE', 'send the photos as multipart field "image", or JSON {"fromCamera": true, "count": N}');
    }
    res.status(201).json({ label, added, count: listSamples(ctx.paths, label).length });
  });
  app.get('/api/samples/:id/thumbnail', async (req, res) => {
    const s = resolveSample(ctx.paths, param(req, 'id'));
    const jpeg = await thumbnail(s.abs);
    res.type('image/jpeg').setHeader('Cache-Control', 'private, max-age=3600');
    res.send(jpeg);
  });
  app.get('/api/samples/:id/image', (req, res) => {
    const s = resolveSample(ctx.paths, param(req, 'id'));
    res.sendFile(s.abs, { dotfiles: 'allow' });
  });
  app.delete('/api/samples/:id', (req, res) => {
    notWhileTraining('delete a photo');
    const id = param(req, 'id');
    deleteSample(ctx.paths, id);
    res.json({ id, deleted: true });
  });

  // --- prediction and the camera ---
  const imageBody = async (req: Request): Promise<Uint8Array> => {
    const f = req.file;
    const bytes = f ? f.buffer : Buffer.isBuffer(req.body) ? req.body : null;
    if (!bytes || bytes.length === 0) throw fail('BAD_IMAGE', 'send the photo as multipart field "image" or as a raw image/jpeg body');
    await checkUpload(bytes, f?.originalname || 'image', ctx.limits);
    return bytes;
  };
  app.post('/api/predict', raw, uploadSlot, upload.single('image'), async (req, res) => {
    const bytes = await imageBody(req);
    const r = await ctx.inference.predict(bytes, topOf(req, ctx.top));
    res.json(r);
  });
  app.post('/api/camera/frame', raw, async (req, res) => {
    if (!ctx.camera.push) throw fail('CONFLICT', `the server camera is ${ctx.camera.spec}, not the page's: start serve with --camera browser to send frames`);
    const bytes = Buffer.isBuffer(req.body) ? req.body : null;
    if (!bytes || bytes.length === 0) throw fail('BAD_IMAGE', 'send the frame as a raw image/jpeg body');
    if (bytes.length > ctx.limits.maxBytes) throw fail('TOO_LARGE', `frame is ${bytes.length} bytes; the limit is ${ctx.limits.maxBytes}`);
    const frame = ctx.camera.push(bytes);
    res.json(await ctx.live.resultFor(frame.seq, 10000));
  });
  app.get('/api/live', (_req, res) => {
    const r = ctx.live.latest();
    if (!r) res.status(204).end();
    else res.json(r);
  });
  app.get('/api/live/events', (req, res) => {
    const s = eventStream(req, res);
    const last = ctx.live.latest();
    if (last) s.send('prediction', last);
    s.onClose(ctx.live.subscribe((r: LiveResult) => s.send('prediction', r)));
  });
  app.get('/frame.jpg', (_req, res) => {
    const f = ctx.camera.latest();
    if (!f) throw fail('UNAVAILABLE', `camera ${ctx.camera.spec} has no frame yet${ctx.camera.status().error ? `: ${ctx.camera.status().error}` : ''}`);
    res.type('image/jpeg').setHeader('Cache-Control', 'no-store');
    res.send(f.jpeg);
  });
  app.get('/stream.mjpg', (req, res) => {
    if (ctx.camera.kind === 'none') throw fail('UNAVAILABLE', 'there is no camera to stream (serve --camera none): start serve with --camera auto, v4l2:/dev/videoN, rpicam or file:DIR');
    mjpegStream(req, res, ctx.camera);
  });

  // --- training ---
  app.post('/api/train', json, (req, res) => {
    const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body as Record<string, unknown> : {};
    const job = ctx.trainer.start(optionsFromFlags(body));
    res.status(202).json({ jobId: job.id, modelId: job.modelId });
  });
  app.get('/api/train', (_req, res) => {
    res.json({ job: ctx.trainer.job() });
  });
  app.delete('/api/train', (_req, res) => {
    const job = ctx.trainer.cancel();
    res.json({ jobId: job.id, state: 'cancelling' });
  });
  app.get('/api/train/events', (req, res) => {
    const s = eventStream(req, res);
    for (const e of ctx.trainer.history()) s.send(e.type, e);
    s.onClose(ctx.onTrainEvent((e) => s.send(e.type, e)));
  });

  // --- model versions ---
  const versionJson = (v: VersionInfo, active: string) => ({
    id: v.id,
    createdAt: v.metadata.created,
    labels: v.metadata.labels,
    base: v.metadata.base?.name ?? null,
    arch: v.metadata.arch ?? 'head',
    metrics: { estimate: v.metadata.metrics.estimate ?? null, validation: { accuracy: v.metadata.metrics.val_accuracy, loss: v.metadata.metrics.val_loss } },
    active: v.id === active,
    files: v.files,
  });
  app.get('/api/models', (_req, res) => {
    const active = ctx.inference.current()?.id ?? STOCK_ID;
    const stock = ctx.inference.current()?.id === STOCK_ID ? ctx.inference.current() : null;
    res.json({
      active,
      models: [
        ...listVersions(ctx.paths, ctx.log).map((v) => versionJson(v, active)),
        { id: STOCK_ID, createdAt: null, labels: stock ? stock.labels.length : null, base: 'mobilenet_v2_1.0_224', metrics: {}, active: active === STOCK_ID, files: [] },
      ],
    });
  });
  app.post('/api/models/:id/activate', async (req, res) => {
    const id = param(req, 'id');
    if (id !== STOCK_ID) findVersion(ctx.paths, id);
    await ctx.activate(id);
    res.json({ active: id });
  });
  app.get('/api/models/:id/files/:name', (req, res) => {
    if (param(req, 'id') === STOCK_ID) throw fail('NOT_FOUND', 'the stock classifier is not a trained version: its files are the installed bases (edgetune models list); download the files of a trained version instead');
    const v = findVersion(ctx.paths, param(req, 'id'));
    const name = param(req, 'name');
    if (!(VERSION_FILES as readonly string[]).includes(name) || !v.files.includes(name)) {
      throw fail('NOT_FOUND', `model ${v.id} has no file '${name.slice(0, 60)}': it has ${v.files.join(', ')}`);
    }
    res.download(path.join(v.dir, name), `${v.id}-${name}`, { dotfiles: 'allow' });
  });

  // --- active learning ---
  app.get('/api/review', (_req, res) => {
    res.json({
      threshold: ctx.reviewBelow,
      items: listReview(ctx.paths).map((i) => ({ ...i, image: `/api/review/${i.id}/image` })),
    });
  });
  app.get('/api/review/:id/image', (req, res) => {
    const file = reviewImage(ctx.paths, param(req, 'id'));
    res.type('image/jpeg').sendFile(file, { dotfiles: 'allow' });
  });
  app.post('/api/review/:id', json, (req, res) => {
    const label = req.body?.label;
    if (typeof label !== 'string') throw fail('BAD_LABEL', 'send JSON {"label": "class"} to label a review item');
    const id = param(req, 'id');
    const s = labelReview(ctx.paths, id, label);
    res.json({ id, sample: { id: s.id, file: s.file } });
  });
  app.delete('/api/review/:id', (req, res) => {
    const id = param(req, 'id');
    removeReview(ctx.paths, id);
    res.json({ id, deleted: true });
  });

  app.use('/api', (req) => {
    throw fail('NOT_FOUND', `no API route ${req.method} ${req.originalUrl.split('?')[0].slice(0, 100)}: see the API table in the README`);
  });

  // --- the page ---
  app.use('/vendor/uplot', express.static(path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js')), { index: false }));
  if (fs.existsSync(WEB_DIR)) app.use(express.static(WEB_DIR, { index: 'index.html' }));

  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const { status, body } = errorBody(err, ctx.limits);
    if (status >= 500 && status !== 501 && status !== 503) ctx.log(`${req.method} ${req.originalUrl}: ${body.error}`);
    res.status(status).json(body);
  });
  return app;
}

/** Maps any thrown value to a status and `{error, code}` (multer and body-parser errors included). */
export function errorBody(err: unknown, limits: UploadLimits): { status: number; body: { error: string; code: string; jobId?: string } } {
  if (err instanceof EdgeTuneError) {
    const jobId = (err as EdgeTuneError & { jobId?: string }).jobId;
    return { status: HTTP_STATUS[err.code], body: { error: err.message, code: err.code, ...(jobId ? { jobId } : {}) } };
  }
  if (err instanceof multer.MulterError) {
    const why: Partial<Record<string, [number, string, string]>> = {
      LIMIT_FILE_SIZE: [413, 'TOO_LARGE', `a photo is larger than ${limits.maxBytes} bytes: send a smaller one (or start serve with a larger --max-upload-mb)`],
      LIMIT_FILE_COUNT: [413, 'TOO_LARGE', `at most ${MAX_FILES} photos per request: send them in smaller batches`],
      LIMIT_UNEXPECTED_FILE: [400, 'BAD_IMAGE', `unexpected file field '${err.field ?? ''}': send photos in the field "image"${err.field === 'image' ? ' (this route takes one)' : ''}`],
    };
    const [status, code, error] = why[err.code] ?? [400, 'BAD_IMAGE', `upload refused (${err.message.toLowerCase()}): send photos in the multipart field "image"`];
    return { status, body: { error, code } };
  }
  const e = err as { type?: string; status?: number; message?: string };
  // busboy's own errors for a body that is not valid multipart/form-data
  if (typeof e?.message === 'string' && /^(Unexpected end of form|Multipart: Boundary not found|Malformed part header|Unexpected end of file)/.test(e.message)) {
    return { status: 400, body: { error: `the upload is not valid multipart/form-data (${e.message}): send the photos as multipart field "image"`, code: 'BAD_IMAGE' } };
  }
  if (err instanceof URIError || (typeof e?.message === 'string' && e.message.startsWith('Failed to decode param'))) {
    return { status: 400, body: { error: 'the URL holds an invalid percent-encoding: encode names as UTF-8 (encodeURIComponent)', code: 'BAD_LABEL' } };
  }
  if (e?.type === 'entity.too.large') return { status: 413, body: { error: 'request body too large: JSON bodies are at most 1 MB, photos at most the upload limit', code: 'TOO_LARGE' } };
  if (e?.type === 'encoding.unsupported' || e?.type === 'request.aborted' || (typeof e?.status === 'number' && e.status === 400 && /header check|unexpected end/i.test(String(e.message)))) {
    return { status: 400, body: { error: `the request body could not be read (${e.message}): send it uncompressed`, code: 'BAD_OPTION' } };
  }
  if (e?.type === 'entity.parse.failed') return { status: 400, body: { error: 'request body is not valid JSON: send a JSON object', code: 'BAD_OPTION' } };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return { status: e.status, body: { error: String(e.message), code: 'BAD_OPTION' } };
  return { status: 500, body: { error: `internal error: ${(err as Error)?.message ?? String(err)}`, code: 'IO' } };
}

function param(req: Request, name: string): string {
  const v = req.params[name];
  return typeof v === 'string' ? v : '';
}

function topOf(req: Request, dflt: number): number {
  const q = req.query.top;
  if (q === undefined) return dflt;
  const n = Number(q);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw fail('BAD_OPTION', `top must be an integer from 1 to 1000 (got '${String(q)}')`);
  return n;
}
