/**
 * `edgetune serve`: the device loop in a browser — live camera preview with predictions, classes
 * and capture, on-device retraining with live progress, model versions with hot swap — as a
 * second adapter beside the CLI. Routes are thin (app.ts); inference and training run in child
 * processes (inference.ts, training.ts; inference-worker.ts says why not worker threads) so the
 * HTTP event loop never blocks; the camera is any
 * source of src/camera.
 *
 * Thread budget: the interpreter that serves predictions gets half the cores (at least 1) and a
 * training run's interpreter the rest (at least 1), so preview and training share the machine
 * instead of fighting over it (on a 2-core box: 1 + 1; on a Pi 4/5: 2 + 2).
 */
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fail } from '../errors';
import { defaultModelsDir } from '../models';
import { openCamera } from '../camera';
import type { Camera } from '../camera/types';
import type { DeviceChoice } from '../runtime';
import { openDataRoot, DEFAULT_LIMITS, type DataPaths } from './store';
import { activeVersionId, cleanVersions, findVersion, setActiveVersion, STOCK_ID } from './versions';
import { startInference } from './inference';
import { createTrainer, type TrainEvent } from './training';
import { startLive } from './live';
import { addReview } from './review';
import { createApp } from './app';
import { isLoopback } from './http';

/** Options of `startServer`; every field has a default. */
export interface ServeOptions {
  /** TCP port (0 = any free port); default 8080. */
  port?: number;
  /** Address to bind; default 127.0.0.1. Any non-loopback address needs `token`. */
  host?: string;
  /** Camera spec for src/camera (`auto`, `none`, `browser`, `v4l2:/dev/video0`, `rpicam`, `file:DIR` …), or an open Camera; default 'auto'. */
  camera?: string | Camera;
  /** Data folder (dataset, versions, review, trash); default ./edgetune-data. */
  data?: string;
  /** Where the pretrained bases are installed; default `defaultModelsDir()`. */
  modelsDir?: string;
  /** Access token; default $EDGETUNE_TOKEN. */
  token?: string;
  /** Largest upload, bytes; default 10 MB. */
  maxUploadBytes?: number;
  /** Largest decoded upload, pixels; default 40 megapixels. */
  maxUploadPixels?: number;
  /** Frames whose top score is below this are kept for review (0 = off); default 0.5. */
  reviewBelow?: number;
  /** Classes per prediction (top-k); default 5. */
  top?: number;
  device?: DeviceChoice;
  /** Cores to plan threads for; default os.availableParallelism(). */
  cores?: number;
  /** Where log lines go; default stderr. */
  log?: (line: string) => void;
}

/** A running server. */
export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  paths: DataPaths;
  /** Stops training, inference, the camera and the HTTP server. */
  close(): Promise<void>;
}

/**
 * Starts the server. With no trained version it serves the stock ImageNet classifier; with no
 * bases installed it still starts (predictions then answer 503 with the install command).
 * @throws EdgeTuneError BAD_OPTION when binding a non-loopback address without a token, or for a
 *   bad option; the camera's errors (one line naming what to install); IO when the port is taken.
 */
export async function startServer(opts: ServeOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? (process.env.EDGETUNE_TOKEN || undefined);
  if (!isLoopback(host) && !token) {
    throw fail('BAD_OPTION', `refusing to listen on ${host} without an access token: pass --token T (or set EDGETUNE_TOKEN), or bind --host 127.0.0.1`);
  }
  if (token !== undefined && token.length < 8) throw fail('BAD_OPTION', 'the access token is too short: use at least 8 characters');
  const reviewBelow = opts.reviewBelow ?? 0.5;
  if (!(reviewBelow >= 0 && reviewBelow <= 1)) throw fail('BAD_OPTION', `--review-below must be a score from 0 to 1 (got ${reviewBelow})`);
  const top = opts.top ?? 5;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const modelsDir = opts.modelsDir ?? defaultModelsDir();
  const cores = opts.cores ?? os.availableParallelism();
  const threads = { inference: Math.max(1, Math.floor(cores / 2)), training: Math.max(1, cores - Math.floor(cores / 2)) };

  const paths = openDataRoot(opts.data ?? 'edgetune-data');
  for (const r of cleanVersions(paths)) log(`removed ${r}, left by an interrupted run`);
  const camera = typeof opts.camera === 'object' ? opts.camera : await openCamera(opts.camera ?? 'auto', { log });
  const inference = startInference({ modelsDir, threads: threads.inference, device: opts.device ?? 'auto' });

  const load = async (id: string): Promise<void> => {
    const m = await inference.load(id, id === STOCK_ID ? undefined : findVersion(paths, id).dir);
    m.warnings.forEach(log);
    log(`serving model ${m.id} (${m.labels.length} classes) on ${m.device === 'edgetpu' ? `the Edge TPU (${m.deviceName})` : `the CPU, ${threads.inference} thread(s)`} (--device ${opts.device ?? 'auto'})`);
  };
  // The active version, else the stock classifier; a start never fails for want of a model.
  const active = activeVersionId(paths, log);
  try {
    await load(active);
  } catch (e) {
    log(`cannot open model ${active}: ${(e as Error).message}`);
    if (active !== STOCK_ID) {
      try {
        await load(STOCK_ID);
      } catch (e2) {
        log(`cannot open the stock classifier: ${(e2 as Error).message}`);
      }
    }
  }

  // Switching is load-then-point: if the new model cannot open, the pointer still names the old one.
  let switching: Promise<unknown> = Promise.resolve();
  const activate = (id: string): Promise<void> => {
    const run = switching.then(async () => {
      await load(id);
      setActiveVersion(paths, id);
    });
    switching = run.catch(() => undefined);
    return run;
  };

  const trainSubs = new Set<(e: TrainEvent) => void>();
  const trainer = createTrainer({
    paths, modelsDir, threads: threads.training,
    onEvent: (e) => {
      if (e.type === 'done' || e.type === 'failed' || e.type === 'cancelled') log(`training ${e.jobId}: ${e.type}${e.type === 'failed' ? `: ${e.error}` : ''}`);
      trainSubs.forEach((cb) => cb(e));
    },
    onVersion: (id) => activate(id),
  });

  let lastReview = 0;
  const live = startLive(camera, inference, top, (r, f) => {
    // Keep unsure frames of a trained model for labelling, at most one every 2 s.
    if (reviewBelow > 0 && r.modelId !== STOCK_ID && (r.predictions[0]?.score ?? 0) < reviewBelow && f.time - lastReview > 2000) {
      lastReview = f.time;
      addReview(paths, f.jpeg, { predictions: r.predictions, modelId: r.modelId, time: f.time });
    }
  });

  const app = createApp({
    version: require(path.resolve(__dirname, '..', '..', '..', 'package.json')).version,
    paths, modelsDir, camera, inference, trainer, live, token, top, reviewBelow, threads,
    limits: { maxBytes: opts.maxUploadBytes ?? DEFAULT_LIMITS.maxBytes, maxPixels: opts.maxUploadPixels ?? DEFAULT_LIMITS.maxPixels },
    startedAt: Date.now(),
    activate,
    onTrainEvent: (cb) => {
      trainSubs.add(cb);
      return () => trainSubs.delete(cb);
    },
    log,
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? fail('IO', `port ${opts.port ?? 8080} on ${host} is in use: stop the other server or pass --port N`)
      : fail('IO', `cannot listen on ${host}:${opts.port ?? 8080}: ${e.message}`)));
    server.listen(opts.port ?? 8080, host, () => resolve());
  }).catch(async (e) => {
    live.stop();
    await Promise.all([inference.close(), camera.close()]);
    throw e;
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url, port, paths,
    close() {
      closing ??= (async () => {
        live.stop();
        await trainer.close();
        await Promise.all([inference.close(), camera.close()]);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections(); // SSE and MJPEG streams never end on their own
        });
      })();
      return closing;
    },
  };
}
