import { EdgeTuneError } from '../errors';

/** Longest allowed class label, in Unicode code points (not UTF-16 units, not bytes). */
export const MAX_LABEL_CODE_POINTS = 64;

/** A label as JSON would show it, without the quotes: control characters escaped, the rest as is. */
export function showLabel(label: string): string {
  return JSON.stringify(label).slice(1, -1);
}

/**
 * The one label rule, used by scanning, importing, labels.txt and every other reader: a label can
 * be a folder name on every OS we target and one line of a labels file, and it round-trips exactly
 * (no reader trims or normalises it). Unicode letters are allowed ('café', '数字', 'Ziffer_7').
 *
 * Rules: non-empty; at most 64 code points; no leading or trailing whitespace (a folder
 * "50 cent " looks like "50 cent" everywhere it is shown); no '/' or '\\'; not '.' or '..' and no
 * '..' inside; does not start with '.' (such folders are hidden and scanning skips them); no
 * control characters (Unicode category Cc, e.g. newline, tab, NUL, DEL).
 *
 * @returns the label unchanged (no Unicode normalisation, so it still names the folder on disk).
 * @throws EdgeTuneError BAD_LABEL "invalid class label 'x': <rule>; <what to do>" (one line;
 *   control characters are shown escaped).
 */
export function validateLabel(label: string): string {
  const full = typeof label === 'string' ? showLabel(label) : String(label);
  // Long names are shortened in the message (the rule that fails says how long it is).
  const shown = [...full].length > 80 ? `${[...full].slice(0, 77).join('')}…` : full;
  const fail = (rule: string): never => {
    throw new EdgeTuneError('BAD_LABEL', `invalid class label '${shown}': ${rule}`);
  };
  if (typeof label !== 'string' || label.length === 0) fail('it is empty; give each class a name');
  const codePoints = [...label].length;
  if (codePoints > MAX_LABEL_CODE_POINTS) {
    fail(`it has ${codePoints} characters; at most ${MAX_LABEL_CODE_POINTS} are allowed`);
  }
  if (/[/\\]/.test(label)) fail("it contains a path separator ('/' or '\\'); use '_' or '-' instead");
  if (label === '.' || label === '..') fail("'.' and '..' are reserved folder names");
  if (label.includes('..')) fail("it contains '..'; use a single '.' or '_'");
  if (label.startsWith('.')) fail("it starts with '.', which makes a hidden folder that is ignored; remove the leading '.'");
  if (/\p{Cc}/u.test(label)) fail('it contains a control character (newline, tab, NUL ...); remove it');
  // A lone UTF-16 surrogate cannot be a file name (it becomes U+FFFD on disk), and U+FFFD itself
  // is what undecodable bytes turn into: both mean the name was garbled on its way here.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(label) || label.includes('\uFFFD')) fail('it contains an invalid or undecodable character (U+FFFD or a lone surrogate); type the name again as UTF-8');
  if (/^\s|\s$/u.test(label)) fail('it starts or ends with whitespace, which is invisible where the label is shown; remove it');
  return label;
}

/**
 * Labels that are different strings but the same text: equal after Unicode NFC normalisation
 * (e.g. 'café' typed on Linux, NFC, and the same name copied from macOS, NFD: 'cafe' + U+0301).
 * Two such class folders would look identical everywhere yet be two classes.
 * @returns groups (each ≥ 2 labels, in input order) of labels sharing one NFC form; empty when none.
 */
export function normalisationClashes(labels: readonly string[]): string[][] {
  const byNfc = new Map<string, string[]>();
  for (const l of labels) {
    const k = l.normalize('NFC');
    const g = byNfc.get(k);
    if (g) g.push(l);
    else byNfc.set(k, [l]);
  }
  return [...byNfc.values()].filter((g) => g.length > 1);
}

/**
 * One line describing a clash for error messages: "'café' (NFC) and 'café' (NFD: c a f e U+0301)".
 * Shows each spelling's form and its code points beyond ASCII so the user can tell them apart.
 */
export function describeClash(group: readonly string[]): string {
  const form = (l: string) => (l === l.normalize('NFC') ? 'NFC' : l === l.normalize('NFD') ? 'NFD' : 'mixed');
  const points = (l: string) => [...l].map((c) => (c.codePointAt(0)! < 0x80 ? c : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`)).join(' ');
  return group.map((l) => `'${showLabel(l)}' (${form(l)}: ${points(l)})`).join(' and ');
}
