// Model versions: each training's model folder, newest first, the stock ImageNet classifier last.
// Activate one, roll back to the one before the active one, download its files.
import { api, guarded, toast } from './api.js';
import { byTest, h, pct } from './dom.js';

/** The files a user may want to take to a device, in this order. */
const DOWNLOADS = ['model.tflite', 'model_edgetpu.tflite', 'labels.txt', 'metadata.json'];

let models = [];
/** What the list shows now: redrawing an unchanged list would only risk swallowing a tap. */
let shown = '';

/** Fetches /api/models and redraws. */
export async function loadModels() {
  ({ models } = await api('/api/models'));
  render();
}

/** Wires the roll-back button (once). */
export function initModels() {
  byTest('rollback').addEventListener('click', guarded(async () => {
    const prev = previous();
    if (!prev) return;
    await activate(prev.id);
  }));
  document.addEventListener('models', () => loadModels().catch((e) => toast(e.message)));
}

/** The model just older than the active one (the list is newest first), or undefined. */
function previous() {
  const i = models.findIndex((m) => m.active);
  return i >= 0 ? models[i + 1] : undefined;
}

async function activate(id) {
  const r = await api(`/api/models/${encodeURIComponent(id)}/activate`, { method: 'POST' });
  toast(`Model ${r.active} is active`, 'info');
  await loadModels();
  document.dispatchEvent(new CustomEvent('health'));
}

function accuracy(m) {
  const e = m.metrics?.estimate?.accuracy;
  const v = m.metrics?.validation;
  const va = typeof v === 'number' ? v : v?.accuracy ?? v?.val_accuracy;
  return [pct(e), pct(va)];
}

/** "2 classes (cardboard, glass)"; the stock model gives only a count (or null before it loads). */
function classesText(labels) {
  if (Array.isArray(labels)) return `${labels.length} classes${labels.length <= 6 ? ` (${labels.join(', ')})` : ''}`;
  return typeof labels === 'number' ? `${labels} classes` : null;
}

function render() {
  const key = JSON.stringify(models);
  if (key === shown) return;
  shown = key;
  const prev = previous();
  const rb = byTest('rollback');
  rb.disabled = !prev;
  rb.textContent = prev ? `Roll back to ${prev.id}` : 'Roll back';
  byTest('model-list').replaceChildren(...models.map((m) => {
    const [est, val] = accuracy(m);
    const files = DOWNLOADS.filter((f) => m.files?.includes(f));
    return h('li', { class: `model${m.active ? ' active' : ''}`, test: 'model', dataset: { id: m.id, active: String(Boolean(m.active)) } },
      h('div', { class: 'model-head' },
        h('strong', { class: 'id', text: m.id }),
        m.active ? h('span', { class: 'badge', test: 'model-active', text: 'active' }) : null,
        h('span', { class: 'when', text: m.createdAt ? new Date(m.createdAt).toLocaleString() : '' })),
      h('div', { class: 'model-info', text: [
        m.base ? `base ${m.base}` : m.arch === 'cnn' ? 'CNN trained from scratch' : null,
        classesText(m.labels),
        m.id === 'stock' ? null : `estimate ${est}`,
        m.id === 'stock' ? null : `validation ${val}`,
      ].filter(Boolean).join(' · ') }),
      h('div', { class: 'model-actions' },
        m.active ? null : h('button', { type: 'button', test: 'activate', onclick: guarded(() => activate(m.id)) }, 'Activate'),
        ...files.map((f) => h('a', { class: 'button', href: `/api/models/${encodeURIComponent(m.id)}/files/${f}`, download: `${m.id}-${f}`, test: 'download' }, f))));
  }));
}
