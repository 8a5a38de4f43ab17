/**
 * Every training option a user can set, defined once: its type, range, default and help. The CLI's
 * `train` and `sweep` commands, the library's `train`/`sweep` and the web UI's training form are
 * all built from `OPTION_SPECS`, so an option added here reaches every place that needs it
 * (MediaPipe Model Maker keeps its hyperparameters the same way, in one file).
 *
 * Defaults were measured on the three shared datasets (README, "Accuracy").
 */
import type { Preset } from '../augment';
import type { Fit } from '../image';
import type { Pooling } from '../tflite';
import { fail } from '../errors';

/** The classifier head's hyperparameters (Dense ReLU … → Dropout → Dense softmax). */
export interface HeadOptions {
  /** Widths of the hidden Dense ReLU layers; [] = softmax regression on the embedding. */
  hidden: number[];
  /** Dropout rate before the softmax layer (and after each hidden layer), 0 ≤ rate < 1. */
  dropout: number;
  /** Adam learning rate. */
  lr: number;
  /** Mini-batch size (embeddings per step). */
  batch: number;
  /** Maximum number of epochs. */
  epochs: number;
  /** Early stopping: epochs without a val_loss improvement before stopping; the best weights are restored. */
  patience: number;
  /** L2 weight decay on the Dense kernels (Keras kernel_regularizer=l2(λ)); 0 = none. */
  l2: number;
  /** Label smoothing ε of the training targets (Keras label_smoothing); 0 = none. */
  labelSmoothing: number;
  /**
   * 'balanced' weights each class by n / (classes · n_class) in the loss; 'auto' does so when the
   * largest class has more than `IMBALANCE_RATIO` times the photos of the smallest (and says so).
   */
  classWeights: 'auto' | 'none' | 'balanced';
}

/** The small CNN trained from scratch (`--arch cnn`): Conv 3×3 → BatchNorm → MaxPool per filter count. */
export interface CnnOptions {
  /** Network input [height, width] in pixels; default per preset (`presetDefaults`). */
  input: [number, number];
  /** Input channels: 'rgb' (3) or 'grey' (1, luma); default per preset. */
  channels: 'rgb' | 'grey';
  /** Filters of each Conv block (one block per entry), e.g. [75, 50, 25] (the seed network). */
  filters: number[];
  /** Units of the Dense ReLU layer after Flatten (0 = Flatten straight to softmax). */
  dense: number;
}

/**
 * Most blocks `--fine-tune` unfreezes. Blocks 12–13 (14×14×512 cut activations) trained in about
 * 1.3 GB here; deeper cuts grew past 3 GB on 45 photos and failed (the WASM heap), too much for a Pi.
 */
export const MAX_FINE_TUNE_BLOCKS = 3;

/** Which network `train` builds (recorded in metadata.json). */
export type Arch = 'head' | 'cnn';

/** Everything about a training run that changes the trained model (recorded in metadata.json). */
export interface TrainOptions {
  /**
   * 'head': a classifier head on the frozen base's embeddings (optionally fine-tuning the base's
   * top blocks, `fineTune`); 'cnn': the small CNN trained from scratch on the photos (`cnn`).
   */
  arch: Arch;
  /** Pretrained base (`edgetune models list`). */
  base: string;
  /** Augmentation preset: 'objects' (flips), 'digits' (never flips), 'none'. */
  preset: Preset;
  /** How non-square photos become the square input; default per preset (`presetDefaults`). */
  fit: Fit;
  /** Embedding: 'avg' (global average, Edge TPU-ready) or 'grid' (2×2); default per preset. */
  pooling: Pooling;
  /** Augmented views embedded per training photo (0 = no augmentation). */
  augViews: number;
  /**
   * Heads in the ensemble: K heads, each trained on K−1 folds of the training photos and stopped
   * early on the last, merged into one Dense head whose logits are their mean (same cost at
   * prediction time as one head). 1 = a single head stopped early on `valSplit`.
   */
  heads: number;
  /** Fraction of each class for validation (early stopping) when `heads` is 1, 0 < f < 1. */
  valSplit: number;
  /** Fraction of each class held out from training AND early stopping, for the accuracy estimate; 0 = none. */
  testSplit: number;
  /** Cross-validation folds used instead of a test split when a class is too small for one (≥ 2). */
  folds: number;
  /** Seed of the split, the augmentation, the head's initialisation, shuffles and dropout masks. */
  seed: number;
  head: HeadOptions;
  /** `arch: 'cnn'` only: the network trained from scratch. */
  cnn: CnnOptions;
  /**
   * Fine-tuning: after the head converges, the base's last N blocks are unfrozen and trained with
   * the head at a learning rate 10× lower (Keras' fine-tuning step); 0 = frozen base.
   */
  fineTune: number;
  /** Export a float head behind a DEQUANTIZE instead of a quantized one. */
  float: boolean;
  /** 'auto': also write model_edgetpu.tflite when the base has a compiled extractor; true: require it. */
  edgetpu: boolean | 'auto';
}

/** Any subset of TrainOptions, nested too (`{ head: { epochs: 5 } }`). */
export type TrainOptionsInput = Partial<Omit<TrainOptions, 'head' | 'cnn'>> & { head?: Partial<HeadOptions>; cnn?: Partial<CnnOptions> };

/**
 * Above this ratio between the largest and the smallest class, training warns with the counts and
 * `classWeights: 'auto'` switches to balanced weights.
 */
export const IMBALANCE_RATIO = 3;

/** The defaults of every option that does not depend on the preset. */
export const DEFAULTS: Readonly<Omit<TrainOptions, 'fit' | 'pooling' | 'cnn'> & { cnn: Omit<CnnOptions, 'input' | 'channels'> }> = Object.freeze({
  arch: 'head',
  base: 'mobilenet_v1_1.0_224',
  preset: 'objects',
  augViews: 2,
  heads: 5,
  valSplit: 0.2,
  testSplit: 0.15,
  folds: 5,
  seed: 1,
  head: Object.freeze({
    hidden: [256],
    dropout: 0.5,
    lr: 1e-3,
    batch: 32,
    epochs: 150,
    patience: 20,
    l2: 1e-4,
    labelSmoothing: 0.1,
    classWeights: 'auto',
  }) as HeadOptions,
  cnn: Object.freeze({ filters: [75, 50, 25], dense: 512 }) as Omit<CnnOptions, 'input' | 'channels'>,
  fineTune: 0,
  float: false,
  edgetpu: 'auto',
});

/**
 * The defaults that follow the preset. Digits: a 2×2 grid embedding (a global average forgets where
 * strokes are: 5-fold cross-validation on the shared digit photos 77% → 85%). The fit stays 'crop'
 * for every preset: 'squash' measured the same on the digit photos (84.1% vs 84.2%) and 'pad' lower.
 */
export function presetDefaults(preset: Preset): { fit: Fit; pooling: Pooling; cnnInput: [number, number]; cnnChannels: CnnOptions['channels'] } {
  // A CNN for digits sees a small grey crop (32×20, the size meter-reading projects use for one
  // digit); for objects a small colour square.
  return preset === 'digits'
    ? { fit: 'crop', pooling: 'grid', cnnInput: [32, 20], cnnChannels: 'grey' }
    : { fit: 'crop', pooling: 'avg', cnnInput: [64, 64], cnnChannels: 'rgb' };
}

/**
 * Fills every option not given with its default (preset-dependent ones from the preset given or
 * defaulted) and checks every value against `OPTION_SPECS`.
 * An option given as `undefined` means "the default", as on the command line.
 * @throws EdgeTuneError('BAD_OPTION') naming the option, its value and the allowed range.
 */
export function resolveTrainOptions(input: TrainOptionsInput = {}): TrainOptions {
  const given = dropUndefined(input as Record<string, unknown>) as TrainOptionsInput;
  const head = dropUndefined((input.head ?? {}) as Record<string, unknown>) as Partial<HeadOptions>;
  const cnn = dropUndefined((input.cnn ?? {}) as Record<string, unknown>) as Partial<CnnOptions>;
  const preset = given.preset ?? DEFAULTS.preset;
  const { cnnInput, cnnChannels, ...byPreset } = presetDefaults(preset);
  const o: TrainOptions = {
    ...DEFAULTS,
    ...byPreset,
    ...given,
    head: { ...DEFAULTS.head, ...head, hidden: [...(head.hidden ?? DEFAULTS.head.hidden)] },
    cnn: {
      ...DEFAULTS.cnn, input: cnnInput, channels: cnnChannels, ...cnn,
      filters: [...(cnn.filters ?? DEFAULTS.cnn.filters)],
    },
  } as TrainOptions;
  for (const spec of OPTION_SPECS) checkValue(spec, getPath(o, spec.path));
  // Options that contradict --arch cnn: refused, not silently dropped.
  if (o.arch === 'cnn' && o.fineTune > 0) {
    throw fail('BAD_OPTION', `--fine-tune ${o.fineTune} unfreezes blocks of the MobileNet base, and --arch cnn has no base: drop one of them`);
  }
  if (o.arch === 'cnn' && o.edgetpu === true) {
    throw fail('BAD_OPTION', "--edgetpu requires model_edgetpu.tflite, the head grafted onto Coral's compiled base, and --arch cnn has no base: drop --edgetpu (edgetune export --compile compiles a CNN's model.tflite)");
  }
  if (o.valSplit + o.testSplit >= 0.9) {
    throw fail('BAD_OPTION', `--val-split ${o.valSplit} and --test-split ${o.testSplit} leave too little to train on: keep their sum below 0.9`);
  }
  return o;
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'head' && k !== 'cnn'));
}

/** How an option's value is typed on a command line or in a form. */
export type OptionKind =
  | { type: 'int'; min: number; max?: number }
  | { type: 'number'; min: number; max: number; exclusiveMax?: boolean }
  | { type: 'choice'; choices: readonly string[] }
  /**
   * A list of widths: '' or 'none' = [], '256' = [256], '256x64' or '256,64' = [256, 64]; `sep` is
   * how the list is written back ('x' when absent).
   */
  | { type: 'widths'; sep?: string; nonEmpty?: boolean }
  /** An image size 'HxW' in pixels, e.g. '32x20' = [32, 20]. */
  | { type: 'size'; min: number; max: number }
  | { type: 'flag' }
  /** 'auto' | true | false, as --x / --no-x. */
  | { type: 'auto-flag' }
  | { type: 'string' };

/** One user-settable training option. */
export interface OptionSpec {
  /** Path in TrainOptions, e.g. ['head', 'lr']. */
  path: readonly string[];
  /** Command-line flag without dashes, e.g. 'lr'. */
  flag: string;
  /** Placeholder for the value in help, e.g. 'rate'. */
  value: string;
  help: string;
  kind: OptionKind;
  /** `sweep` accepts a comma-separated list of values for it. */
  sweepable: boolean;
  /** Help text for a default that follows the preset (instead of one value). */
  presetDefault?: string;
}

/** Every user-settable training option, in help order. */
export const OPTION_SPECS: readonly OptionSpec[] = Object.freeze([
  { path: ['arch'], flag: 'arch', value: 'name', help: 'head: a classifier head on the frozen MobileNet base (photos of objects); cnn: a small CNN trained from scratch (small, uniform crops such as digits)', kind: { type: 'choice', choices: ['head', 'cnn'] }, sweepable: true },
  { path: ['base'], flag: 'base', value: 'name', help: 'pretrained base (edgetune models list)', kind: { type: 'string' }, sweepable: true },
  { path: ['preset'], flag: 'preset', value: 'name', help: 'augmentation preset: objects (flips), digits (never flips), none', kind: { type: 'choice', choices: ['objects', 'digits', 'none'] }, sweepable: true },
  { path: ['fit'], flag: 'fit', value: 'mode', help: 'non-square photos: crop (centre square), squash (stretch), pad (grey bars)', kind: { type: 'choice', choices: ['crop', 'squash', 'pad'] }, sweepable: true },
  { path: ['pooling'], flag: 'pooling', value: 'mode', help: 'embedding: avg (global average, Edge TPU-ready) or grid (2×2, keeps layout)', kind: { type: 'choice', choices: ['avg', 'grid'] }, sweepable: true, presetDefault: 'grid for --preset digits, else avg' },
  { path: ['augViews'], flag: 'aug-views', value: 'k', help: 'augmented views embedded per training photo', kind: { type: 'int', min: 0, max: 100 }, sweepable: true },
  { path: ['head', 'hidden'], flag: 'hidden', value: 'widths', help: "hidden Dense ReLU widths, e.g. 128 or 256x64; '' for none (softmax regression)", kind: { type: 'widths' }, sweepable: true },
  { path: ['head', 'dropout'], flag: 'dropout', value: 'rate', help: 'dropout rate', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, sweepable: true },
  { path: ['head', 'lr'], flag: 'lr', value: 'rate', help: 'Adam learning rate', kind: { type: 'number', min: 1e-7, max: 10 }, sweepable: true },
  { path: ['head', 'batch'], flag: 'batch', value: 'n', help: 'batch size', kind: { type: 'int', min: 1, max: 65536 }, sweepable: true },
  { path: ['head', 'epochs'], flag: 'epochs', value: 'n', help: 'maximum epochs', kind: { type: 'int', min: 1, max: 10000 }, sweepable: true },
  { path: ['head', 'patience'], flag: 'patience', value: 'n', help: 'early stopping patience (epochs without val_loss improvement)', kind: { type: 'int', min: 1, max: 10000 }, sweepable: true },
  { path: ['head', 'l2'], flag: 'l2', value: 'lambda', help: 'L2 weight decay on the Dense kernels', kind: { type: 'number', min: 0, max: 1 }, sweepable: true },
  { path: ['head', 'labelSmoothing'], flag: 'label-smoothing', value: 'epsilon', help: 'label smoothing of the training targets', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, sweepable: true },
  { path: ['head', 'classWeights'], flag: 'class-weights', value: 'mode', help: `auto (balanced when the largest class has over ${IMBALANCE_RATIO}× the photos of the smallest), balanced, none`, kind: { type: 'choice', choices: ['auto', 'balanced', 'none'] }, sweepable: true },
  { path: ['fineTune'], flag: 'fine-tune', value: 'n', help: `unfreeze the base's last n blocks (at most ${MAX_FINE_TUNE_BLOCKS}) once the head has converged and train them with it at lr/10 (0 = frozen base)`, kind: { type: 'int', min: 0, max: MAX_FINE_TUNE_BLOCKS }, sweepable: true },
  { path: ['cnn', 'input'], flag: 'input', value: 'HxW', help: '--arch cnn: network input height x width in pixels', kind: { type: 'size', min: 8, max: 512 }, sweepable: true, presetDefault: '32x20 for --preset digits, else 64x64' },
  { path: ['cnn', 'channels'], flag: 'channels', value: 'mode', help: '--arch cnn: rgb or grey input', kind: { type: 'choice', choices: ['rgb', 'grey'] }, sweepable: true, presetDefault: 'grey for --preset digits, else rgb' },
  { path: ['cnn', 'filters'], flag: 'filters', value: 'list', help: '--arch cnn: filters of each Conv 3×3 → BatchNorm → MaxPool block, e.g. 75,50,25', kind: { type: 'widths', sep: ',', nonEmpty: true }, sweepable: false },
  { path: ['cnn', 'dense'], flag: 'dense', value: 'units', help: '--arch cnn: Dense ReLU units after Flatten (0 = none)', kind: { type: 'int', min: 0, max: 65536 }, sweepable: true },
  { path: ['heads'], flag: 'heads', value: 'k', help: 'heads in the ensemble (each stopped early on its own fold, merged into one Dense head); 1 = one head with --val-split', kind: { type: 'int', min: 1, max: 20 }, sweepable: true },
  { path: ['valSplit'], flag: 'val-split', value: 'fraction', help: 'validation fraction per class (early stopping) with --heads 1', kind: { type: 'number', min: 0.01, max: 0.9 }, sweepable: false },
  { path: ['testSplit'], flag: 'test-split', value: 'fraction', help: 'test fraction per class, held out from training and early stopping for the accuracy estimate (0 = none)', kind: { type: 'number', min: 0, max: 0.8 }, sweepable: false },
  { path: ['folds'], flag: 'folds', value: 'k', help: 'cross-validation folds (at least 3: each round holds out a test fold and a validation fold), used for the estimate when a class is too small for a test split', kind: { type: 'int', min: 3, max: 20 }, sweepable: false },
  { path: ['seed'], flag: 'seed', value: 'n', help: 'seed of the split, augmentation, initialisation, shuffles and dropout', kind: { type: 'int', min: 0, max: 2 ** 32 - 1 }, sweepable: true },
  { path: ['float'], flag: 'float', value: '', help: 'export a float head behind a DEQUANTIZE instead of a quantized one', kind: { type: 'flag' }, sweepable: false },
  { path: ['edgetpu'], flag: 'edgetpu', value: '', help: 'require model_edgetpu.tflite (--no-edgetpu: never write it; default: written when the base has a compiled extractor)', kind: { type: 'auto-flag' }, sweepable: false },
] as OptionSpec[]);

/** The value at `path` of an options record. */
export function getPath(o: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
}

/** A copy of `o` with the value at `path` replaced (nested records copied along the path). */
export function setPath<T>(o: T, path: readonly string[], value: unknown): T {
  if (path.length === 0) return value as T;
  const rec = (o ?? {}) as Record<string, unknown>;
  return { ...rec, [path[0]]: setPath(rec[path[0]], path.slice(1), value) } as T;
}

/** The default of an option as a user would type it ('256', '0.0003', 'objects'), or the preset rule. */
export function formatDefault(spec: OptionSpec): string {
  if (spec.presetDefault) return spec.presetDefault;
  const v = getPath({ ...DEFAULTS, ...presetDefaults(DEFAULTS.preset) }, spec.path);
  return formatValue(spec, v);
}

/** A value as a user would type it on the command line. */
export function formatValue(spec: OptionSpec, v: unknown): string {
  if (spec.kind.type === 'widths') return (v as number[]).length ? (v as number[]).join(spec.kind.sep ?? 'x') : "''";
  if (spec.kind.type === 'size') return (v as number[]).join('x');
  return String(v);
}

/**
 * Parses one command-line/form value of an option.
 * @throws EdgeTuneError('BAD_OPTION') naming the flag, the value and what is allowed.
 */
export function parseValue(spec: OptionSpec, text: string): unknown {
  const k = spec.kind;
  const bad = (what: string): never => {
    throw fail('BAD_OPTION', `--${spec.flag} must be ${what} (got '${text}')`);
  };
  switch (k.type) {
    case 'int': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isInteger(n)) bad(`an integer${rangeText(k.min, k.max)}`);
      checkValue(spec, n);
      return n;
    }
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) bad(`a number${rangeText(k.min, k.max, k.exclusiveMax)}`);
      checkValue(spec, n);
      return n;
    }
    case 'choice':
      if (!k.choices.includes(text.trim())) bad(`one of ${k.choices.join(', ')}`);
      return text.trim();
    case 'widths': {
      const t = text.trim();
      const what = k.nonEmpty ? 'a list of positive integers up to 65536 like 75,50,25' : "positive integer widths up to 65536 like 256 or 256x64, or '' for none";
      if (t === '' || t === 'none') return k.nonEmpty ? bad(what) : [];
      return t.split(k.sep === ',' ? /,/ : /[x+,]/).map((s) => {
        const n = Number(s);
        if (s.trim() === '' || !Number.isInteger(n) || n < 1 || n > 65536) bad(what);
        return n;
      });
    }
    case 'size': {
      const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(text);
      if (!m) bad(`a size HxW in pixels, e.g. 32x20`);
      const v = [Number(m![1]), Number(m![2])];
      checkValue(spec, v);
      return v;
    }
    case 'flag':
    case 'auto-flag':
      if (['true', '1', 'yes'].includes(text)) return true;
      if (['false', '0', 'no'].includes(text)) return false;
      if (k.type === 'auto-flag' && text === 'auto') return 'auto';
      return bad(k.type === 'flag' ? 'true or false' : 'auto, true or false');
    case 'string':
      if (text.trim() === '') bad('a non-empty name');
      return text.trim();
  }
}

function rangeText(min: number, max?: number, exclusiveMax?: boolean): string {
  return max === undefined ? ` ≥ ${min}` : ` in [${min}, ${max}${exclusiveMax ? ')' : ']'}`;
}

/**
 * Checks a value (already typed) against its spec.
 * @throws EdgeTuneError('BAD_OPTION') naming the flag.
 */
export function checkValue(spec: OptionSpec, v: unknown): void {
  const k = spec.kind;
  const bad = (what: string): never => {
    throw fail('BAD_OPTION', `--${spec.flag} must be ${what} (got ${JSON.stringify(v)})`);
  };
  switch (k.type) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < k.min || (k.max !== undefined && v > k.max)) bad(`an integer${rangeText(k.min, k.max)}`);
      return;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v) || v < k.min || v > k.max || (k.exclusiveMax && v === k.max)) bad(`a number${rangeText(k.min, k.max, k.exclusiveMax)}`);
      return;
    case 'choice':
      if (typeof v !== 'string' || !k.choices.includes(v)) bad(`one of ${k.choices.join(', ')}`);
      return;
    case 'widths':
      if (!Array.isArray(v) || !v.every((n) => Number.isInteger(n) && n >= 1 && n <= 65536) || (k.nonEmpty && v.length === 0)) bad(`a list of ${k.nonEmpty ? 'one or more ' : ''}positive integer widths up to 65536`);
      return;
    case 'size':
      if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n >= k.min && n <= k.max)) bad(`a size HxW with sides in [${k.min}, ${k.max}] pixels`);
      return;
    case 'flag':
      if (typeof v !== 'boolean') bad('true or false');
      return;
    case 'auto-flag':
      if (typeof v !== 'boolean' && v !== 'auto') bad("'auto', true or false");
      return;
    case 'string':
      if (typeof v !== 'string' || v.trim() === '') bad('a non-empty name');
      return;
  }
}

/**
 * The `edgetune train` command line that reproduces `o` (only options that differ from their
 * defaults are written), e.g. for `sweep` to print how to train its winner.
 */
export function trainCommand(dataset: string, out: string, o: TrainOptions): string {
  const d = resolveTrainOptions({ preset: o.preset });
  const args = ['edgetune', 'train', shellQuote(dataset), '--out', shellQuote(out)];
  for (const spec of OPTION_SPECS) {
    const v = getPath(o, spec.path);
    if (JSON.stringify(v) === JSON.stringify(getPath(d, spec.path))) continue;
    if (spec.kind.type === 'flag') {
      if (v) args.push(`--${spec.flag}`);
    } else if (spec.kind.type === 'auto-flag') {
      args.push(v === true ? `--${spec.flag}` : `--no-${spec.flag}`);
    } else {
      const text = formatValue(spec, v);
      args.push(`--${spec.flag}`, text === "''" ? text : shellQuote(text));
    }
  }
  return args.join(' ');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Training options from a record keyed by command-line flag (`{"epochs": 50, "hidden": "128"}`),
 * as the web API's `POST /api/train` takes them: strings are parsed as on the command line
 * (`parseValue`), numbers and booleans are checked as they are (`checkValue`); `null` or '' for a
 * non-string option means "default".
 * @returns a nested TrainOptionsInput with only the given options.
 * @throws EdgeTuneError('BAD_OPTION') for an unknown flag (listing the known ones) or a bad value.
 */
export function optionsFromFlags(record: Record<string, unknown>): TrainOptionsInput {
  let input: TrainOptionsInput = {};
  for (const [flag, raw] of Object.entries(record)) {
    const spec = OPTION_SPECS.find((s) => s.flag === flag);
    if (!spec) throw fail('BAD_OPTION', `unknown training option '${flag}': use one of ${OPTION_SPECS.map((s) => s.flag).join(', ')}`);
    if (raw === null || raw === undefined || (raw === '' && spec.kind.type !== 'widths')) continue;
    let v: unknown;
    if (typeof raw === 'string') {
      v = parseValue(spec, raw);
    } else if (spec.kind.type === 'widths' && typeof raw === 'number') {
      v = parseValue(spec, String(raw));
    } else {
      checkValue(spec, raw);
      v = raw;
    }
    input = setPath(input, spec.path, v);
  }
  return input;
}
