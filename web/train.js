// Training: the options form (built from GET /api/options, so it always matches `train --help`),
// Train / Cancel, the progress bar and live curves from SSE /api/train/events, and after `done` the
// confusion matrix and the accuracy estimate of the new model.
import { api, guarded, subscribe, toast } from './api.js';
import { byTest, duration, h, pct } from './dom.js';
import { TrainingCharts } from './charts.js';

/** The options shown first; the rest go under "More options". */
const MAIN = ['base', 'preset', 'epochs', 'hidden', 'dropout', 'lr'];
/** Log lines kept on screen. */
const LOG_LINES = 60;

/** @type {{flag: string, value: string, help: string, kind: any, default: unknown}[]} */
let options = [];
/** @type {TrainingCharts} */
let charts;
/** The job the progress and charts belong to. */
let jobId = null;

/** Builds the form from /api/options, reads the current job, opens the event stream. */
export async function initTraining() {
  charts = new TrainingCharts(byTest('chart-loss'), byTest('chart-accuracy'));
  ({ options } = await api('/api/options'));
  const main = byTest('train-main');
  const more = byTest('train-more');
  main.replaceChildren();
  more.replaceChildren();
  for (const name of MAIN) {
    const o = options.find((x) => x.flag === name);
    if (o) main.append(field(o));
  }
  for (const o of options) if (!MAIN.includes(o.flag)) more.append(field(o));

  byTest('train-form').addEventListener('submit', guarded(async (ev) => {
    ev.preventDefault();
    const body = collect();
    const r = await api('/api/train', { json: body });
    startJob(r.jobId);
    setState('running', `job ${r.jobId} started`);
  }));
  byTest('train-cancel').addEventListener('click', guarded(async () => {
    await api('/api/train', { method: 'DELETE' });
    setState('cancelling', 'cancelling…');
  }));

  const { job } = await api('/api/train');
  if (job) {
    jobId = job.id;
    if (job.state === 'running') {
      setState('running', `job ${job.id} running`);
      if (job.last) progress(job.last);
    } else if (job.state === 'done') {
      setState('done', `job ${job.id} done: model ${job.modelId}`);
      if (job.modelId) await showResult(job.modelId);
    } else {
      setState(job.state, job.state === 'failed' ? `job ${job.id} failed: ${job.error ?? ''}` : `job ${job.id} ${job.state}`);
    }
  } else setState('idle', 'no training yet');

  subscribe('/api/train/events', {
    progress: (e) => {
      if (e.jobId !== jobId) startJob(e.jobId);
      if (byTest('train-state').dataset.state !== 'cancelling') setState('running', `job ${e.jobId} running`);
      progress(e);
    },
    log: (e) => log(e.level, e.message),
    done: guarded(async (e) => {
      setState('done', `job ${e.jobId} done: model ${e.modelId}`);
      bar(1, 1);
      document.dispatchEvent(new CustomEvent('models'));
      document.dispatchEvent(new CustomEvent('health'));
      await showResult(e.modelId);
    }),
    failed: (e) => {
      setState('failed', `job ${e.jobId} failed: ${e.error}`);
      toast(`Training failed: ${e.error}`);
    },
    cancelled: (e) => setState('cancelled', `job ${e.jobId} cancelled`),
  }, (s) => {
    // After a (re)connect the server replays the running job's events: start the curves afresh.
    if (s === 'open') {
      charts.reset();
      byTest('train-charts').dataset.points = '0';
    }
    byTest('train-link').textContent = s === 'open' ? '' : 'training events lost, reconnecting…';
  });
}

function startJob(id) {
  jobId = id;
  charts.reset();
  byTest('train-charts').dataset.points = '0';
  byTest('train-log').replaceChildren();
  byTest('train-result').hidden = true;
  bar(0, 1);
}

/** The default as the user would type it: '256', '' for no hidden layer, or the preset rule's text. */
function defaultText(o) {
  const d = o.default;
  if (Array.isArray(d)) return d.join('x');
  if (d === "''") return '';
  if (d === undefined || d === null) return '';
  return String(d);
}

/** One labelled control for an option; its data-flag names it for `collect`. */
function field(o) {
  const k = o.kind ?? { type: 'string' };
  const def = defaultText(o);
  const id = `opt-${o.flag}`;
  let input;
  switch (k.type) {
    case 'int':
    case 'number':
      input = h('input', { type: 'number', inputmode: 'decimal', step: k.type === 'int' ? '1' : 'any', min: k.min, max: k.max, value: def });
      break;
    case 'choice': {
      const known = k.choices.includes(def);
      input = h('select', {},
        known ? null : h('option', { value: '', text: `default (${def})` }),
        ...k.choices.map((c) => h('option', { value: c, text: c })));
      input.value = known ? def : '';
      break;
    }
    case 'flag':
      input = h('input', { type: 'checkbox', checked: def === 'true' || def === 'on' });
      break;
    case 'auto-flag':
      input = h('select', {}, h('option', { value: 'auto', text: 'auto' }), h('option', { value: 'true', text: 'on' }), h('option', { value: 'false', text: 'off' }));
      input.value = def === 'true' || def === 'on' ? 'true' : def === 'false' || def === 'off' ? 'false' : 'auto';
      break;
    default:
      input = h('input', { type: 'text', value: def, autocapitalize: 'off', spellcheck: 'false' });
  }
  input.id = id;
  input.dataset.flag = o.flag;
  input.dataset.test = `opt-${o.flag}`;
  input.dataset.default = k.type === 'flag' ? String(input.checked) : input.value;
  return h('div', { class: `field ${k.type}` },
    h('label', { for: id }, h('span', { class: 'flag', text: o.flag }), h('span', { class: 'help', text: o.help })),
    input,
    h('small', { class: 'default', text: `default: ${def === '' ? "'' (none)" : def}` }));
}

/** The POST /api/train body: only the options changed from their defaults, typed as the API wants. */
function collect() {
  const body = {};
  for (const el of byTest('train-form').querySelectorAll('[data-flag]')) {
    const o = options.find((x) => x.flag === el.dataset.flag);
    const type = o?.kind?.type ?? 'string';
    const now = type === 'flag' ? String(el.checked) : el.value;
    if (now === el.dataset.default) continue;
    if (type === 'int' || type === 'number') {
      if (now.trim() === '') continue; // left empty: the default
      body[o.flag] = Number(now);
    } else if (type === 'flag') body[o.flag] = el.checked;
    else if (type === 'auto-flag') body[o.flag] = now === 'auto' ? 'auto' : now === 'true';
    else if (type === 'choice' && now === '') continue;
    else body[o.flag] = now;
  }
  return body;
}

function setState(state, text) {
  const el = byTest('train-state');
  el.dataset.state = state;
  el.textContent = text;
  const busy = state === 'running' || state === 'cancelling';
  byTest('train-start').disabled = busy;
  byTest('train-cancel').disabled = !busy || state === 'cancelling';
  // A finished, failed or cancelled job leaves no "… s left" behind.
  if (state === 'cancelled' || state === 'failed') byTest('train-phase').textContent = '';
}

function bar(done, total) {
  const p = byTest('train-progress');
  p.max = total > 0 ? total : 1;
  p.value = Math.min(done, p.max);
}

function progress(e) {
  bar(e.done, e.total);
  const eta = typeof e.etaSeconds === 'number' ? ` · about ${duration(e.etaSeconds)} left` : '';
  const ep = typeof e.epoch === 'number' && typeof e.loss === 'number'
    ? ` · loss ${e.loss.toFixed(3)} acc ${pct(e.accuracy)} val_loss ${fmt(e.val_loss)} val_acc ${pct(e.val_accuracy)}` : '';
  byTest('train-phase').textContent = `${e.phase} ${e.done}/${e.total}${eta}${ep}`;
  if (charts.add(e)) {
    byTest('train-charts').dataset.points = String(charts.points);
    if (charts.points === 1) charts.resize(); // the charts were hidden (display: none) until now
  }
}

const fmt = (x) => (typeof x === 'number' ? x.toFixed(3) : '–');

function log(level, message) {
  const box = byTest('train-log');
  box.append(h('li', { class: level, text: message }));
  while (box.children.length > LOG_LINES) box.firstElementChild.remove();
  box.scrollTop = box.scrollHeight;
}

/** Shows the confusion matrix and the estimate of a trained model. */
async function showResult(modelId) {
  const { models } = await api('/api/models');
  const m = models.find((x) => x.id === modelId);
  const box = byTest('train-result');
  if (!m) {
    toast(`Model ${modelId} is not in /api/models: reload the page`);
    return;
  }
  const img = byTest('confusion');
  if (m.files?.includes('confusion.svg')) {
    img.src = `/api/models/${encodeURIComponent(m.id)}/files/confusion.svg`;
    img.hidden = false;
  } else img.hidden = true;
  byTest('estimate').textContent = estimateText(m.metrics);
  box.hidden = false;
}

/**
 * One line about a model's accuracy: the honest estimate first, the validation (optimistic) after.
 * @param {{estimate?: {accuracy: number, n?: number, method?: string, folds?: number}, validation?: {accuracy?: number, val_accuracy?: number}}} [metrics]
 */
export function estimateText(metrics) {
  const e = metrics?.estimate;
  const parts = [];
  if (e && typeof e.accuracy === 'number') {
    const how = e.method === 'k-fold' ? `${e.folds ?? ''}-fold cross-validation` : 'held-out test photos';
    parts.push(`Estimated accuracy ${pct(e.accuracy)} (${how}${typeof e.n === 'number' ? `, ${e.n} photos` : ''})`);
  } else parts.push('No accuracy estimate (too few photos)');
  const v = metrics?.validation;
  const va = typeof v === 'number' ? v : v?.accuracy ?? v?.val_accuracy;
  if (typeof va === 'number') parts.push(`validation ${pct(va)} (optimistic: early stopping chose on it)`);
  return parts.join('; ');
}
