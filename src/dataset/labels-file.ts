import { EdgeTuneError } from '../errors';
import { describeClash, normalisationClashes, showLabel, validateLabel } from './label';

/**
 * labels.txt: one label per line, line i names output i, UTF-8, LF line ends, a final newline.
 * The one writer and the one reader, so a label round-trips exactly: nothing is trimmed or
 * normalised (a label's spaces and Unicode form are part of it; `validateLabel` keeps whitespace
 * off its ends, so nothing a trimming reader would remove can be in a valid label anyway).
 */

/**
 * Labels → labels.txt text: each label (checked with `validateLabel`) on its own line, LF, with a
 * final newline.
 * @throws EdgeTuneError BAD_LABEL for an invalid label, a duplicate or an NFC clash.
 */
export function formatLabelsFile(labels: readonly string[]): string {
  if (labels.length === 0) throw new EdgeTuneError('BAD_LABEL', 'cannot write an empty labels file: a model needs at least one class');
  labels.forEach((l) => validateLabel(l));
  checkDistinct(labels, 'labels');
  return labels.join('\n') + '\n';
}

/** Options of `parseLabelsFile`. */
export interface ParseLabelsOptions {
  /**
   * true (default): every line must be a valid EdgeTune label (`validateLabel`), no blank lines,
   * no duplicates and no two labels equal after NFC — a labels.txt EdgeTune wrote.
   * false: a third-party labels file (e.g. Coral's imagenet_labels.txt, whose lines are
   * "name, synonym, …" up to 121 characters and which names 'crane' twice, bird and machine):
   * lines are taken as they are (trailing blank lines dropped), only an empty file or a blank line
   * between labels is refused.
   */
  strict?: boolean;
}

/**
 * labels.txt text → labels, line i naming output i. Lines end with LF or CRLF (a labels file edited
 * on Windows); only the line ends are removed, never other characters; a missing final newline
 * is fine. A byte-order mark at the start is dropped (Notepad writes one).
 *
 * @param text the file's text (UTF-8 decoded). @param source the file name, for messages.
 * @throws EdgeTuneError BAD_MODEL naming `source` and the line: empty file, blank line, and in
 *   strict mode an invalid label, a duplicate, or two labels equal after NFC.
 */
export function parseLabelsFile(text: string, source: string, opts: ParseLabelsOptions = {}): string[] {
  const strict = opts.strict ?? true;
  const bad = (msg: string) => new EdgeTuneError('BAD_MODEL', `labels file ${source}: ${msg}`);
  let body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (strict) {
    if (body.endsWith('\n')) body = body.slice(0, body.endsWith('\r\n') ? -2 : -1);
  } else {
    body = body.replace(/(\r?\n)+$/, ''); // third-party files often end with extra blank lines
  }
  if (body === '') throw bad('it is empty; it needs one label per line, line i naming output i');
  const lines = body.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line === '' || (strict && line.trim() === '')) throw bad(`line ${i + 1} is blank; every line must name one class (output ${i})`);
    if (!strict) return;
    try {
      validateLabel(line);
    } catch (e) {
      throw bad(`line ${i + 1}: ${(e as Error).message}; fix the line`);
    }
  });
  if (strict) {
    try {
      checkDistinct(lines, 'lines');
    } catch (e) {
      throw bad(`${(e as Error).message}; each class must be named once`);
    }
  }
  return lines;
}

function checkDistinct(labels: readonly string[], what: string): void {
  const seen = new Map<string, number>();
  labels.forEach((l, i) => {
    const first = seen.get(l);
    if (first !== undefined) throw new EdgeTuneError('BAD_LABEL', `${what} ${first + 1} and ${i + 1} are both '${showLabel(l)}'`);
    seen.set(l, i);
  });
  const clash = normalisationClashes(labels);
  if (clash.length) throw new EdgeTuneError('BAD_LABEL', `${describeClash(clash[0])} differ only in Unicode normalisation`);
}
