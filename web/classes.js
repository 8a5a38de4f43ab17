// The dataset's classes: list with counts and thumbnails, add, rename, delete, samples, and the two
// ways to add photos: hold-to-capture from the camera and file upload.
import { api, classPath, guarded, messageOf, toast } from './api.js';
import { byTest, h } from './dom.js';

/** Least time between two captures while the button is held, ms (about 4 frames/s). */
const CAPTURE_INTERVAL_MS = 250;

/** The last class list, for other sections (review buttons). */
export let classes = [];
let cameraKind = 'none';
/** Labels whose sample grid is open, kept open across re-renders. */
const open = new Set();
/** What the list shows now (classes, counts, thumbnails, open grids, camera kind). */
let shown = '';

/** Fetches /api/classes and redraws; tells listeners through the 'classes' event on document. */
export async function loadClasses() {
  const { classes: list } = await api('/api/classes');
  classes = list;
  render();
  document.dispatchEvent(new CustomEvent('classes', { detail: list }));
}

/** Called when /api/health names the camera kind: capture needs a camera. */
export function setCameraKind(kind) {
  if (kind === cameraKind) return;
  cameraKind = kind;
  render();
}

/** Wires the add form (once). */
export function initClasses() {
  const form = byTest('add-class-form');
  const input = byTest('add-class-input');
  form.addEventListener('submit', guarded(async (ev) => {
    ev.preventDefault();
    const label = input.value;
    await api('/api/classes', { json: { label } });
    input.value = '';
    await loadClasses();
  }));
}

function render() {
  // Redraw only on a change: a redraw between a finger's down and up would swallow the tap.
  const key = JSON.stringify([cameraKind, classes, [...open]]);
  if (key === shown) return;
  shown = key;
  const list = byTest('class-list');
  byTest('class-empty').hidden = classes.length > 0;
  list.replaceChildren(...classes.map(card));
}

function card(c) {
  const count = h('span', { class: 'count', test: 'class-count', text: String(c.count) });
  const el = h('li', { class: 'class', test: 'class', dataset: { label: c.label } },
    h('div', { class: 'class-head' },
      c.thumbnail ? h('img', { class: 'thumb', src: c.thumbnail, alt: '', loading: 'lazy' }) : h('span', { class: 'thumb empty', 'aria-hidden': 'true' }),
      h('span', { class: 'name', test: 'class-label', text: c.label }),
      count),
    h('div', { class: 'class-actions' },
      captureButton(c, count),
      uploadButton(c),
      h('button', { type: 'button', test: 'samples-toggle', 'aria-expanded': String(open.has(c.label)), onclick: () => toggleSamples(c, el) }, 'Photos'),
      h('button', { type: 'button', test: 'rename', onclick: () => renameForm(c, el) }, 'Rename'),
      h('button', { type: 'button', class: 'danger', test: 'delete-class', onclick: guarded(() => deleteClass(c)) }, 'Delete')));
  if (open.has(c.label)) showSamples(c, el).catch((e) => toast(messageOf(e)));
  return el;
}

/**
 * The hold-to-capture button: while a pointer (or Space/Enter) holds it, one capture after another
 * (POST {fromCamera: true, count: 1}), at most one in flight, about 4 per second.
 */
function captureButton(c, countEl) {
  const counter = h('span', { class: 'counter', test: 'capture-counter', text: '' });
  const btn = h('button', { type: 'button', class: 'capture primary', test: 'capture', disabled: cameraKind === 'none', title: cameraKind === 'none' ? 'no camera: start the server with --camera' : 'hold to take photos' }, 'Hold to capture ', counter);
  let held = false;
  let running = false;
  let taken = 0;

  const run = async () => {
    if (running) return;
    running = true;
    taken = 0;
    counter.textContent = '0';
    btn.classList.add('held');
    try {
      while (held) {
        const started = performance.now();
        const r = await api(`${classPath(c.label)}/samples`, { json: { fromCamera: true, count: 1 } });
        taken += r.added?.length ?? 0;
        counter.textContent = String(taken);
        countEl.textContent = String(r.count);
        const wait = CAPTURE_INTERVAL_MS - (performance.now() - started);
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      }
    } catch (e) {
      held = false;
      toast(messageOf(e));
    } finally {
      running = false;
      btn.classList.remove('held');
      if (taken > 0) await loadClasses().catch((e) => toast(messageOf(e)));
    }
  };
  const press = (ev) => {
    if (btn.disabled) return;
    ev.preventDefault();
    if (ev.pointerId !== undefined) btn.setPointerCapture?.(ev.pointerId);
    held = true;
    run();
  };
  const release = () => {
    held = false;
  };
  btn.addEventListener('pointerdown', press);
  btn.addEventListener('pointerup', release);
  btn.addEventListener('pointercancel', release);
  btn.addEventListener('lostpointercapture', release);
  btn.addEventListener('contextmenu', (ev) => ev.preventDefault()); // a long press on a phone is not a menu
  btn.addEventListener('keydown', (ev) => {
    if ((ev.key === ' ' || ev.key === 'Enter') && !ev.repeat) press(ev);
  });
  btn.addEventListener('keyup', (ev) => {
    if (ev.key === ' ' || ev.key === 'Enter') release();
  });
  btn.addEventListener('blur', release);
  return btn;
}

function uploadButton(c) {
  const input = h('input', { type: 'file', accept: 'image/*', multiple: true, test: 'upload-input' });
  input.addEventListener('change', guarded(async () => {
    const files = [...(input.files ?? [])];
    input.value = '';
    if (files.length === 0) return;
    const form = new FormData();
    for (const f of files) form.append('image', f, f.name);
    try {
      const r = await api(`${classPath(c.label)}/samples`, { body: form });
      toast(`Added ${r.added.length} photo${r.added.length === 1 ? '' : 's'} to ${c.label}`, 'info');
    } finally {
      await loadClasses();
    }
  }));
  return h('label', { class: 'button file', test: 'upload' }, 'Upload', input);
}

function renameForm(c, el) {
  if (el.querySelector('form.rename')) return;
  const input = h('input', { type: 'text', value: c.label, required: true, maxlength: 64, 'aria-label': `new name for ${c.label}`, test: 'rename-input' });
  const form = h('form', { class: 'rename inline' }, input,
    h('button', { type: 'submit', class: 'primary', test: 'rename-save' }, 'Save'),
    h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel'));
  form.addEventListener('submit', guarded(async (ev) => {
    ev.preventDefault();
    const r = await api(classPath(c.label), { method: 'PATCH', json: { label: input.value } });
    if (open.delete(c.label)) open.add(r.label);
    await loadClasses();
  }));
  el.append(form);
  input.focus();
  input.select();
}

async function deleteClass(c) {
  if (!confirm(`Delete the class "${c.label}" and its ${c.count} photo${c.count === 1 ? '' : 's'}? (They are moved to the trash folder.)`)) return;
  const r = await api(classPath(c.label), { method: 'DELETE' });
  open.delete(c.label);
  toast(`Deleted ${r.label} (${r.deleted} photo${r.deleted === 1 ? '' : 's'} moved to trash)`, 'info');
  await loadClasses();
}

function toggleSamples(c, el) {
  if (open.has(c.label)) {
    open.delete(c.label);
    el.querySelector('.samples')?.remove();
    el.querySelector('[data-test="samples-toggle"]').setAttribute('aria-expanded', 'false');
  } else {
    open.add(c.label);
    el.querySelector('[data-test="samples-toggle"]').setAttribute('aria-expanded', 'true');
    showSamples(c, el).catch((e) => toast(messageOf(e)));
  }
}

async function showSamples(c, el) {
  const { samples } = await api(`${classPath(c.label)}/samples`);
  el.querySelector('.samples')?.remove();
  const grid = h('ul', { class: 'samples', test: 'samples' },
    ...samples.map((s) => h('li', { class: 'sample', test: 'sample', dataset: { id: s.id } },
      h('a', { href: `/api/samples/${encodeURIComponent(s.id)}/image`, target: '_blank', rel: 'noopener', title: s.file },
        h('img', { src: s.thumbnail, alt: s.file, loading: 'lazy', width: 96, height: 96 })),
      h('button', { type: 'button', class: 'x', title: `delete ${s.file}`, 'aria-label': `delete ${s.file}`, test: 'sample-delete',
        onclick: guarded(async () => {
          await api(`/api/samples/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
          await loadClasses();
        }) }, '×'))));
  if (samples.length === 0) grid.append(h('li', { class: 'note', text: 'No photos yet: hold Capture or Upload.' }));
  el.append(grid);
}
