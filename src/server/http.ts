/**
 * Small HTTP pieces of the server: Server-Sent Events, an MJPEG stream, the access token check.
 */
import * as crypto from 'node:crypto';
import type { Request, Response, NextFunction } from 'express';
import { fail } from '../errors';
import type { Camera } from '../camera/types';

/** An open SSE connection: `send(event, data)` writes one event (data as JSON). */
export interface EventStream {
  send(event: string, data: unknown): void;
  /** Called once when the client goes away. */
  onClose(cb: () => void): void;
}

/**
 * Turns a response into a Server-Sent Events stream (text/event-stream, WHATWG HTML §9.2), with a
 * comment line every 15 s so proxies and phones keep the connection open.
 */
export function eventStream(req: Request, res: Response): EventStream {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const beat = setInterval(() => res.write(': keep-alive\n\n'), 15000);
  const closers: (() => void)[] = [() => clearInterval(beat)];
  req.on('close', () => closers.forEach((c) => c()));
  return {
    send(event, data) {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    onClose: (cb) => closers.push(cb),
  };
}

const BOUNDARY = 'edgetuneframe';

/**
 * Streams a camera as `multipart/x-mixed-replace` MJPEG (what an <img> shows as live video). A
 * client that cannot keep up skips frames: a frame is written only when the socket has drained, so
 * the stream shows the latest frame instead of building a backlog.
 */
export function mjpegStream(req: Request, res: Response, camera: Camera): void {
  res.writeHead(200, {
    'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
    'Cache-Control': 'no-cache, no-store',
    Connection: 'close',
    Pragma: 'no-cache',
  });
  const write = (jpeg: Buffer) => {
    if (res.writableNeedDrain) return;
    res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
    res.write(jpeg);
    res.write('\r\n');
  };
  const first = camera.latest();
  if (first) write(first.jpeg);
  const off = camera.onFrame((f) => write(f.jpeg));
  req.on('close', off);
}

/** Name of the cookie `POST /login` sets. */
export const TOKEN_COOKIE = 'edgetune_token';

/** Constant-time comparison of two secrets of any length (both hashed to 32 bytes first). */
export function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a, 'utf8').digest();
  const hb = crypto.createHash('sha256').update(b, 'utf8').digest();
  return crypto.timingSafeEqual(ha, hb);
}

/** The token a request carries: `Authorization: Bearer T`, else the login cookie, else null. */
export function requestToken(req: Request): string | null {
  const auth = req.headers.authorization;
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  if (auth && /^bearer /i.test(auth)) return auth.slice(7).trim();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Middleware: with a token set, refuses (401 UNAUTHORIZED) requests that do not carry it. */
export function requireToken(token: string | undefined) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!token) return next();
    const t = requestToken(req);
    if (t !== null && sameSecret(t, token)) return next();
    next(fail('UNAUTHORIZED', t === null
      ? 'this server needs its access token: send `Authorization: Bearer <token>` or log in at /login.html'
      : 'wrong access token: use the token the server was started with (--token or EDGETUNE_TOKEN)'));
  };
}

/** True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::ffff:127.0.0.1';
}
