import Table from 'cli-table3';

/** Precision, recall, F1 and support of one class. */
export interface ClassMetrics {
  /** tp / (tp + fp), 0..1; 0 when the class was never predicted (sklearn zero_division=0). */
  precision: number;
  /** tp / (tp + fn), 0..1; 0 when the class has no true samples (support 0). */
  recall: number;
  /** Harmonic mean 2·p·r / (p + r), 0..1; 0 when p + r = 0. */
  f1: number;
  /** Number of samples whose true class is this one. */
  support: number;
}

/** Metrics of a classifier over one labelled set (e.g. the validation split). */
export interface ClassificationReport {
  /** Fraction of samples with yPred === yTrue, 0..1. */
  accuracy: number;
  /** Keyed by label name, in the order of `labels`. */
  perClass: Record<string, ClassMetrics>;
  /** [numClasses][numClasses] counts; row = true class index, column = predicted class index. */
  confusion: number[][];
  /** Class names; index i names row i and column i of `confusion`. */
  labels: string[];
  /** Macro average over the classes with support > 0 (see `macroAverage`). */
  macro: MacroAverage;
}

/**
 * Unweighted mean of precision, recall and F1 over the classes that have photos (support > 0).
 * Classes without photos are left out: a test set holding a subset of the model's classes would
 * otherwise count each absent class as 0 and drag the average down for no fault of the model.
 * (sklearn's "macro avg" averages over the labels passed; passing only the present ones gives this.)
 */
export interface MacroAverage {
  precision: number;
  recall: number;
  f1: number;
  /** Names of the classes averaged (support > 0), in label order. */
  classes: string[];
  /** Names of the classes left out (support 0), in label order. */
  excluded: string[];
}

function checkIndices(name: string, values: number[], numClasses: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new Error(
        `${name}[${i}] = ${v} is not a class index in 0..${numClasses - 1}; pass integer label indices`,
      );
    }
  }
}

/**
 * Count (true class, predicted class) pairs.
 *
 * @param yTrue true class index per sample, integers in 0..numClasses-1, length N
 * @param yPred predicted class index per sample (e.g. top-1 of the probabilities), length N
 * @param numClasses number of classes C (>= 1)
 * @returns C×C matrix of counts, `m[t][p]` = samples of true class t predicted as p
 *   (rows = true, columns = predicted, the sklearn `confusion_matrix` convention)
 * @throws Error when the lengths differ, numClasses is not a positive integer, or an index is out of range
 */
export function confusionMatrix(yTrue: number[], yPred: number[], numClasses: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`numClasses = ${numClasses} is not a positive integer; pass the number of labels`);
  }
  if (yTrue.length !== yPred.length) {
    throw new Error(
      `yTrue has ${yTrue.length} entries but yPred has ${yPred.length}; pass one prediction per sample`,
    );
  }
  checkIndices('yTrue', yTrue, numClasses);
  checkIndices('yPred', yPred, numClasses);
  const m: number[][] = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]][yPred[i]] += 1;
  return m;
}

/**
 * Accuracy, per-class precision/recall/F1/support and the confusion matrix.
 *
 * Zero-division convention (same as sklearn `classification_report(..., zero_division=0)`):
 * precision is 0 for a class that was never predicted, recall is 0 for a class with no support,
 * F1 is 0 when precision + recall = 0. Values are exact ratios (not rounded).
 *
 * @param yTrue true class index per sample, integers in 0..labels.length-1, length N >= 1
 * @param yPred predicted class index per sample, length N
 * @param labels class names, index i = class i (non-empty, unique)
 * @throws Error when N = 0, lengths differ, labels are empty or duplicated, or an index is out of range
 */
export function classificationReport(yTrue: number[], yPred: number[], labels: string[]): ClassificationReport {
  if (labels.length === 0) throw new Error('labels is empty; pass one name per class');
  const dups = [...new Set(labels.filter((l, i) => labels.indexOf(l) !== i))];
  if (dups.length > 0) throw new Error(`labels contain duplicates (${dups.join(', ')}); pass unique class names`);
  if (yTrue.length === 0) throw new Error('yTrue is empty; accuracy needs at least one labelled sample');
  const confusion = confusionMatrix(yTrue, yPred, labels.length);
  const n = labels.length;
  let correct = 0;
  const perClass: Record<string, ClassMetrics> = {};
  for (let c = 0; c < n; c++) {
    const tp = confusion[c][c];
    correct += tp;
    let support = 0;
    let predicted = 0;
    for (let k = 0; k < n; k++) {
      support += confusion[c][k];
      predicted += confusion[k][c];
    }
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[labels[c]] = { precision, recall, f1, support };
  }
  return { accuracy: correct / yTrue.length, perClass, confusion, labels: [...labels], macro: macroAverage(perClass, labels) };
}

/**
 * Macro average of per-class metrics over the classes with support > 0.
 * @param perClass metrics keyed by label (from `classificationReport`)
 * @param labels the class names, in report order
 * @returns the averages (0..1; all 0 when no class has support) and which classes were averaged / left out
 */
export function macroAverage(perClass: Record<string, ClassMetrics>, labels: readonly string[]): MacroAverage {
  const classes = labels.filter((l) => (perClass[l]?.support ?? 0) > 0);
  const excluded = labels.filter((l) => !classes.includes(l));
  const mean = (k: 'precision' | 'recall' | 'f1'): number =>
    classes.length === 0 ? 0 : classes.reduce((sum, l) => sum + perClass[l][k], 0) / classes.length;
  return { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), classes, excluded };
}

/**
 * Indices of the classes a table or plot should show: those with photos (support > 0) or
 * predicted at least once. The others carry no information (all-zero row and column) and would
 * swamp the output for a model with many classes (1000 ImageNet names) scored on a few.
 * @returns class indices in label order
 */
export function shownClasses(report: ClassificationReport): number[] {
  const { confusion } = report;
  return report.labels
    .map((_, c) => c)
    .filter((c) => confusion[c].some((v) => v > 0) || confusion.some((row) => row[c] > 0));
}

/**
 * Names quoted ('tench, Tinca tinca' holds a comma itself), up to `max`, then "… (N in all)":
 * keeps long class lists on one readable line.
 */
export function listSome(names: readonly string[], max = 8): string {
  const q = names.slice(0, max).map((n) => `'${n}'`).join(', ');
  return names.length <= max ? q : `${q}, … (${names.length} in all)`;
}

/** The footer line naming the classes a table leaves out, or '' when all are shown. */
function hiddenNote(report: ClassificationReport, shown: number[]): string {
  const hidden = report.labels.filter((_, c) => !shown.includes(c));
  if (hidden.length === 0) return '';
  const n = hidden.length;
  return `\nnot shown: ${n} class${n === 1 ? '' : 'es'} with no photos and no predictions (${listSome(hidden)})`;
}

// No colours or ANSI codes: the tables go to logs and files as well as terminals.
const PLAIN_STYLE = { head: [] as string[], border: [] as string[] };

/**
 * The confusion matrix as an aligned text table (cli-table3 box drawing, no ANSI colours).
 * Rows are true classes, columns predicted classes; the corner cell reads "true \ predicted".
 * Only `shownClasses` appear; a last line names the others ("not shown: …") when there are any.
 *
 * @param report output of `classificationReport`
 * @returns multi-line string without a trailing newline
 */
export function formatConfusion(report: ClassificationReport): string {
  const shown = shownClasses(report);
  const labels = shown.map((c) => report.labels[c]);
  const table = new Table({
    head: ['true \\ predicted', ...labels],
    style: PLAIN_STYLE,
    colAligns: ['left', ...labels.map(() => 'right' as const)],
  });
  for (const t of shown) table.push([report.labels[t], ...shown.map((p) => String(report.confusion[t][p]))]);
  return table.toString() + hiddenNote(report, shown);
}

/**
 * Per-class precision / recall / F1 / support as an aligned text table (3 decimals), followed by
 * a macro-average row and an accuracy line "accuracy: 0.750 (6/8)".
 *
 * A class with no photos (support 0) has no recall, and its precision only counts false
 * positives: when it was predicted its row reads "no photos (not in macro avg)"; when it was not
 * predicted either it is left out of the table, and a last line names it ("not shown: …"). The
 * macro-average row is the unweighted mean over the classes with photos ("macro avg (3 of 4
 * classes)" when some are left out; see `macroAverage`).
 *
 * @param report output of `classificationReport`
 * @returns multi-line string without a trailing newline
 */
export function formatReport(report: ClassificationReport): string {
  const table = new Table({
    head: ['class', 'precision', 'recall', 'f1', 'support'],
    style: PLAIN_STYLE,
    colAligns: ['left', 'right', 'right', 'right', 'right'],
  });
  let total = 0;
  let correct = 0;
  const shown = shownClasses(report);
  shown.forEach((c) => {
    const label = report.labels[c];
    const m = report.perClass[label];
    if (!m) throw new Error(`report has no metrics for label '${label}'; build it with classificationReport`);
    if (m.support === 0) {
      table.push([label, { content: 'no photos (not in macro avg)', colSpan: 3, hAlign: 'center' }, '0']);
    } else {
      table.push([label, m.precision.toFixed(3), m.recall.toFixed(3), m.f1.toFixed(3), String(m.support)]);
    }
    total += m.support;
    correct += report.confusion[c][c];
  });
  const macro = macroAverage(report.perClass, report.labels);
  const k = macro.classes.length;
  table.push([
    macro.excluded.length > 0 ? `macro avg (${k} of ${report.labels.length} classes)` : 'macro avg',
    macro.precision.toFixed(3),
    macro.recall.toFixed(3),
    macro.f1.toFixed(3),
    String(total),
  ]);
  return `${table.toString()}\naccuracy: ${report.accuracy.toFixed(3)} (${correct}/${total})${hiddenNote(report, shown)}`;
}
