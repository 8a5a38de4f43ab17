// The page's entry point: reads /api/health, starts the preview for the server's camera kind, loads
// every section, and keeps the status line fresh.
import { api, guarded, messageOf, toast } from './api.js';
import { byTest, duration } from './dom.js';
import { startPreview } from './camera.js';
import { initClasses, loadClasses, setCameraKind } from './classes.js';
import { initTraining } from './train.js';
import { initModels, loadModels } from './models.js';
import { initReview, loadReview } from './review.js';

/** How often the status line and the review list refresh, ms. */
const HEALTH_EVERY_MS = 5000;
const REVIEW_EVERY_MS = 15000;

let previewKind = null;
let stopPreview = () => undefined;
let healthFailing = false;

async function health() {
  let hl;
  try {
    hl = await api('/api/health');
  } catch (e) {
    // Say it once when the server goes away, not every 5 s.
    if (!healthFailing) toast(messageOf(e));
    healthFailing = true;
    byTest('status').dataset.state = 'down';
    byTest('status').textContent = messageOf(e);
    return;
  }
  healthFailing = false;
  const cam = hl.camera ?? { kind: 'none', state: 'stopped' };
  const parts = [
    `model ${hl.modelId ?? 'none loaded'}`,
    `camera ${cam.kind}${cam.kind === 'none' ? '' : ` ${cam.state}${typeof cam.fps === 'number' && cam.kind !== 'browser' ? ` ${cam.fps.toFixed(1)} fps` : ''}`}`,
    hl.device ? `on ${hl.deviceName ?? hl.device}` : null,
    hl.training ? `training ${hl.training}` : null,
    `up ${duration(hl.uptimeSeconds)}`,
    `EdgeTune ${hl.version}`,
  ];
  const status = byTest('status');
  status.dataset.state = cam.error ? 'warn' : 'ok';
  status.textContent = parts.filter(Boolean).join(' · ') + (cam.error ? ` · ${cam.error}` : '');
  byTest('active-model').textContent = hl.modelId ?? '–';
  document.body.dataset.camera = cam.kind;
  if (cam.kind !== previewKind) {
    stopPreview();
    previewKind = cam.kind;
    stopPreview = startPreview(cam.kind);
    setCameraKind(cam.kind);
  }
}

async function main() {
  initClasses();
  initModels();
  initReview();
  document.addEventListener('health', () => health());
  await health();
  // Each section loads on its own: one failing shows its error and leaves the others working.
  await Promise.all([
    guarded(loadClasses)(),
    guarded(initTraining)(),
    guarded(loadModels)(),
    guarded(loadReview)(),
  ]);
  setInterval(health, HEALTH_EVERY_MS);
  setInterval(() => {
    if (!document.hidden) loadReview().catch((e) => toast(messageOf(e)));
  }, REVIEW_EVERY_MS);
  document.body.dataset.ready = 'true';
}

if (typeof uPlot === 'undefined') toast('The chart library /vendor/uplot/uPlot.iife.min.js did not load: reinstall with npm ci');
main().catch((e) => toast(messageOf(e)));
