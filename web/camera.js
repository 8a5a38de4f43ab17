// The live preview. The server's camera kind decides the source:
//   a device or file (v4l2, rpicam, webcam, file): the server's MJPEG stream and its SSE predictions;
//   browser: this page's own camera (getUserMedia), one JPEG at a time to /api/camera/frame, the next
//     only when the answer arrived, so the server always classifies the latest frame and never queues;
//   none: a note, and a photo upload to /api/predict.
import { api, guarded, messageOf, subscribe, toast } from './api.js';
import { byTest, h, pct } from './dom.js';

/** Longest side of the frames the page sends, pixels: the bases read 128–224 px, so more is waste. */
const SEND_MAX_SIDE = 640;
/** JPEG quality of the sent frames (0..1). */
const SEND_QUALITY = 0.85;
/** Least time between two frame posts, ms: about 8 frames/s, leaving the CPU to the interpreter. */
const SEND_MIN_INTERVAL_MS = 120;
/** How many predictions the top-k list shows. */
const TOP_K = 5;

/**
 * Draws the top-k of a prediction record ({predictions: [{label, score}], modelId, ms}).
 * @param {{predictions?: {label: string, score: number}[], modelId?: string, ms?: number, latencyMs?: number}} p
 */
export function renderTopK(p) {
  const list = byTest('topk');
  const preds = (p.predictions ?? []).slice(0, TOP_K);
  list.replaceChildren(
    ...preds.map((q, i) =>
      h('li', { class: i === 0 ? 'top' : '', test: 'topk-item', dataset: { label: q.label } },
        h('span', { class: 'label', test: i === 0 ? 'topk-label' : 'topk-other', text: q.label, title: q.label }),
        h('span', { class: 'bar' }, barFill(q.score)),
        h('span', { class: 'score', text: pct(q.score) }))));
  byTest('active-model').textContent = p.modelId ?? '–';
  const t = [];
  if (typeof p.ms === 'number') t.push(`interpreter ${p.ms.toFixed(0)} ms`);
  if (typeof p.latencyMs === 'number') t.push(`frame to answer ${p.latencyMs.toFixed(0)} ms`);
  byTest('preview-timing').textContent = t.join(' · ');
}

function barFill(score) {
  const fill = h('span', { class: 'fill' });
  fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
  return fill;
}

/**
 * Starts the preview for a camera kind; returns the function that stops it.
 * @param {string} kind /api/health camera.kind
 * @returns {() => void}
 */
export function startPreview(kind) {
  const box = byTest('preview');
  box.dataset.kind = kind;
  if (kind === 'browser') return startBrowserCamera(box);
  if (kind === 'none') return startNoCamera(box);
  return startServerCamera(box);
}

function startServerCamera(box) {
  const img = h('img', { src: '/stream.mjpg', alt: 'live view of the server camera', test: 'preview-stream' });
  img.addEventListener('error', () => toast('The camera stream /stream.mjpg stopped; check the camera in the status line, then reload'));
  box.replaceChildren(img);
  const status = byTest('preview-status');
  const stop = subscribe('/api/live/events', { prediction: renderTopK }, (s) => {
    status.textContent = s === 'open' ? '' : 'live predictions lost, reconnecting…';
  });
  return () => {
    stop();
    img.src = '';
  };
}

function startNoCamera(box) {
  const input = h('input', { type: 'file', accept: 'image/*', test: 'predict-file' });
  input.addEventListener('change', guarded(async () => {
    const file = input.files?.[0];
    if (!file) return;
    const form = new FormData();
    form.append('image', file, file.name);
    renderTopK(await api('/api/predict', { body: form }));
    input.value = '';
  }));
  box.replaceChildren(
    h('p', { class: 'note', test: 'no-camera', text: 'This server has no camera (--camera none). Classify a photo instead:' }),
    h('label', { class: 'button file' }, 'Choose a photo…', input));
  return () => undefined;
}

function startBrowserCamera(box) {
  const video = h('video', { autoplay: true, muted: true, playsinline: true, test: 'preview-video' });
  const canvas = h('canvas', { hidden: true });
  const status = byTest('preview-status');
  box.replaceChildren(video, canvas);
  let stopped = false;
  let stream = null;
  let lastError = '';
  let sent = 0;
  let since = performance.now();

  const fail = (msg) => {
    // The same failure every frame would flood the screen: show it when it changes.
    if (msg !== lastError) toast(msg);
    lastError = msg;
    status.textContent = msg;
  };

  const loop = async () => {
    while (!stopped) {
      const started = performance.now();
      try {
        const jpeg = await grab(video, canvas);
        if (jpeg) {
          const p = await api('/api/camera/frame', { body: jpeg, type: 'image/jpeg' });
          if (stopped) break;
          if (p) renderTopK(p);
          sent++;
          lastError = '';
          const s = (performance.now() - since) / 1000;
          if (s >= 2) {
            status.textContent = `sending ${(sent / s).toFixed(1)} frames/s`;
            sent = 0;
            since = performance.now();
          }
        }
      } catch (e) {
        fail(messageOf(e));
        await sleep(2000);
      }
      await sleep(Math.max(0, SEND_MIN_INTERVAL_MS - (performance.now() - started)));
    }
  };

  (async () => {
    if (!navigator.mediaDevices?.getUserMedia) {
      fail('This browser gives no camera here: open the page on http://localhost or over HTTPS, or use a device camera (--camera v4l2)');
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (e) {
      fail(`The camera could not be opened (${messageOf(e)}): allow camera access for this page and reload`);
      return;
    }
    if (stopped) {
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => undefined);
    loop();
  })();

  return () => {
    stopped = true;
    stream?.getTracks().forEach((t) => t.stop());
  };
}

/** The current video frame as a JPEG Blob, or null before the first frame. */
async function grab(video, canvas) {
  if (video.readyState < 2 || !video.videoWidth) {
    await sleep(100);
    return null;
  }
  const scale = Math.min(1, SEND_MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', SEND_QUALITY));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
