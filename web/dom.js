// Tiny DOM helpers. Every user-supplied string (labels, error messages) goes through textContent,
// never innerHTML, so a class named "<img onerror=…>" is just text.

/**
 * Creates an element.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs] attributes; `on*` keys with a function add listeners,
 *   `dataset` is an object of data-* values, `test` sets data-test, booleans set/omit the attribute.
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'test') el.dataset.test = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'value' || k === 'checked' || k === 'disabled') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** The element with this data-test value (throws when the page is broken, never returns null). */
export function byTest(name, root = document) {
  const el = root.querySelector(`[data-test="${name}"]`);
  if (!el) throw new Error(`page element data-test="${name}" is missing`);
  return el;
}

/** A fraction 0..1 as a percentage with one decimal ("87.5%"). */
export function pct(x) {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–';
}

/** Seconds as "1 min 05 s" / "42 s". */
export function duration(s) {
  if (typeof s !== 'number' || !Number.isFinite(s)) return '–';
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s` : `${s} s`;
}
