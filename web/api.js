// The page's only way to the server: the JSON API (README, "JSON API"). Errors become ApiError with the
// API's one-line `error` and `code`; the caller shows them with `toast` (never swallowed).
import { h } from './dom.js';

/** An error answer of the API (or the network), message already one line. */
export class ApiError extends Error {
  /** @param {string} message @param {string} code EdgeTuneError code or 'NETWORK' @param {number} status HTTP status, 0 for network */
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** The path of a class route: labels may hold any Unicode letter, '/' never. */
export const classPath = (label) => `/api/classes/${encodeURIComponent(label)}`;

/**
 * Calls the API.
 * @param {string} path e.g. '/api/classes'
 * @param {{method?: string, json?: unknown, body?: BodyInit, type?: string, signal?: AbortSignal}} [o]
 *   `json` is sent as application/json; `body` as is with content type `type` (a FormData sets its own).
 * @returns {Promise<any>} the parsed JSON answer, or null for 204 / an empty body.
 * @throws {ApiError} with the API's `error` line, or code 'NETWORK' when the server cannot be reached.
 */
export async function api(path, o = {}) {
  const headers = {};
  let body = o.body;
  if (o.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.type) headers['Content-Type'] = o.type;
  let res;
  try {
    res = await fetch(path, { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal: o.signal, credentials: 'same-origin' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(`${o.method ?? 'GET'} ${path}: the server does not answer; check that edgetune serve is running`, 'NETWORK', 0);
  }
  if (res.status === 401) {
    // The token is missing or wrong: the login form sets the cookie, then comes back here.
    location.assign('login.html');
    throw new ApiError('This server needs its access token: enter it on the login page', 'UNAUTHORIZED', 401);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const line = data && typeof data.error === 'string' ? data.error : `${o.method ?? 'GET'} ${path}: HTTP ${res.status} ${res.statusText}`;
    throw new ApiError(line.split('\n')[0], data && data.code ? data.code : `HTTP_${res.status}`, res.status);
  }
  return data;
}

/**
 * Shows one line at the bottom of the screen for a few seconds.
 * @param {string} message one line (only the first line is shown)
 * @param {'error'|'info'} [kind]
 */
export function toast(message, kind = 'error') {
  const box = document.querySelector('[data-test="toasts"]');
  const line = String(message).split('\n')[0];
  // Logged too, with a fixed prefix, so the end-to-end test (and a developer) sees every error shown.
  if (kind === 'error') console.warn(`edgetune toast: ${line}`);
  if (!box) return;
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', test: kind === 'error' ? 'toast-error' : 'toast-info', text: line });
  t.addEventListener('click', () => t.remove());
  box.append(t);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** The message of any thrown value, one line. */
export function messageOf(e) {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/**
 * Wraps an async handler: a thrown error becomes a toast, so no failure passes unseen.
 * @template {unknown[]} A
 * @param {(...args: A) => Promise<unknown> | unknown} fn
 * @returns {(...args: A) => Promise<void>}
 */
export function guarded(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      toast(messageOf(e));
    }
  };
}

/**
 * Subscribes to a Server-Sent Events route. EventSource reconnects by itself; `onState` hears
 * 'open' / 'lost' so the page can say the live link is down instead of going quiet.
 * @param {string} path
 * @param {Record<string, (data: any) => void>} handlers by event name; data is the parsed JSON
 * @param {(state: 'open'|'lost') => void} [onState]
 * @returns {() => void} closes the subscription
 */
export function subscribe(path, handlers, onState) {
  const es = new EventSource(path, { withCredentials: true });
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        toast(`${path}: the server sent a ${name} event that is not JSON; reload the page`);
        return;
      }
      fn(data);
    });
  }
  es.addEventListener('open', () => onState?.('open'));
  es.addEventListener('error', () => onState?.('lost'));
  return () => es.close();
}
