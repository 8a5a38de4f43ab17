/** Longest allowed class label, in Unicode code points (not UTF-16 units, not bytes). */
export const MAX_LABEL_CODE_POINTS = 64;

/**
 * Check that a class label can be a folder name on every OS we target and a line in a labels
 * file. Unicode letters are allowed ('café', '数字', 'Ziffer_7').
 *
 * Rules: non-empty; at most 64 code points; no '/' or '\\'; not '.' or '..' and no '..' inside;
 * does not start with '.' (such folders are hidden and `scanDataset` skips them); no control
 * characters (Unicode category Cc, e.g. newline, tab, NUL, DEL).
 *
 * @returns the label unchanged (no Unicode normalisation, so it still names the folder on disk).
 * @throws Error "invalid class label 'x': <rule>; <what to do>" (one line; control characters are
 *   shown escaped).
 */
export function validateLabel(label: string): string {
  const shown = JSON.stringify(label).slice(1, -1);
  const fail = (rule: string): never => {
    throw new Error(`invalid class label '${shown}': ${rule}`);
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
  return label;
}
