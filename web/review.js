// Active learning: frames the live model was unsure about (below the server's threshold), each with
// its guess; one tap files it under a class (it becomes a training photo), or discards it.
import { api, guarded } from './api.js';
import { classes, loadClasses } from './classes.js';
import { byTest, h, pct } from './dom.js';

let items = [];
let threshold = null;
/** What the list shows now: redrawing an unchanged list would only risk swallowing a tap. */
let shown = '';

/** Fetches /api/review and redraws. */
export async function loadReview() {
  ({ items, threshold } = await api('/api/review'));
  render();
}

/** Wires the refresh button and follows the class list (once). */
export function initReview() {
  byTest('review-refresh').addEventListener('click', guarded(loadReview));
  document.addEventListener('classes', render);
}

function render() {
  const key = JSON.stringify([threshold, items.map((i) => i.id), classes.map((c) => c.label)]);
  if (key === shown) return;
  shown = key;
  byTest('review-threshold').textContent = typeof threshold === 'number' ? `Kept: frames under ${pct(threshold)} confidence.` : '';
  byTest('review-empty').hidden = items.length > 0;
  byTest('review-list').replaceChildren(...items.map((it) => {
    const guess = it.predictions?.[0];
    return h('li', { class: 'review-item', test: 'review-item', dataset: { id: it.id } },
      h('img', { src: it.image, alt: 'a frame to label', loading: 'lazy' }),
      h('div', { class: 'review-body' },
        h('div', { class: 'guess', text: guess ? `guess: ${guess.label} ${pct(guess.score)}` : 'no guess' }),
        h('div', { class: 'review-actions' },
          ...classes.map((c) => h('button', { type: 'button', test: 'review-label', dataset: { label: c.label }, onclick: guarded(async () => {
            await api(`/api/review/${encodeURIComponent(it.id)}`, { json: { label: c.label } });
            await Promise.all([loadReview(), loadClasses()]);
          }) }, c.label)),
          h('button', { type: 'button', class: 'danger', test: 'review-discard', onclick: guarded(async () => {
            await api(`/api/review/${encodeURIComponent(it.id)}`, { method: 'DELETE' });
            await loadReview();
          }) }, 'Discard'))));
  }));
}

