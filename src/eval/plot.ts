import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import writeFileAtomic from 'write-file-atomic';
import { shownClasses, type ClassificationReport } from './metrics';
import { fail, ioError } from '../errors';

/** One epoch of a Keras-style training history (tfjs `model.fit` History.history, transposed). */
export interface HistoryEntry {
  /** Epoch number as it should appear on the x axis (any base; plotted as given). */
  epoch: number;
  /** Training loss (categorical cross-entropy, nats). */
  loss: number;
  /** Training accuracy, 0..1. */
  accuracy: number;
  /** Validation loss, when a validation split was used. */
  val_loss?: number;
  /** Validation accuracy 0..1, when a validation split was used. */
  val_accuracy?: number;
}

/** Options of `historyCurvesSvg`. */
export interface HistoryPlotOptions {
  /** Title above both panels. */
  title?: string;
  /** Epoch whose weights were kept (early stopping's restore_best_weights); drawn as a dashed rule. */
  bestEpoch?: number;
}

/** Output formats of `writePlot`. */
export type PlotFormat = 'svg' | 'png';

interface VegaApi {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, opts: { renderer: 'none' }) => { toSVG(): Promise<string>; finalize(): void };
}
interface CompileLogger {
  level(l?: number): number | CompileLogger;
  error(...args: unknown[]): CompileLogger;
  warn(...args: unknown[]): CompileLogger;
  info(...args: unknown[]): CompileLogger;
  debug(...args: unknown[]): CompileLogger;
}
interface VegaLiteApi {
  compile(spec: VlSpec, opts: { logger: CompileLogger }): { spec: unknown };
}
/**
 * A Vega-Lite spec as plain JSON. The package's own TopLevelSpec type is not used: importing types
 * from an ESM-only package into this CommonJS module depends on the tsconfig moduleResolution, and
 * the spec is validated by vl.compile anyway (warnings are turned into errors below).
 */
type VlSpec = Record<string, unknown>;

// vega 6 and vega-lite 6 are ESM-only and use top-level await, so `require()` fails with
// ERR_REQUIRE_ASYNC_MODULE. tsc (module=commonjs) rewrites `import()` into `require()`, hence the
// import hidden in a Function body. Such code has no referrer module, so the specifier is resolved
// to an absolute file URL here first (works whatever the process cwd is).
const importEsm = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

function loadEsm(pkg: string): Promise<unknown> {
  return importEsm(pathToFileURL(require.resolve(pkg)).href);
}

// vega-lite's default logger prints warnings (ignored encodings, dropped marks) to the console and
// carries on; an eval plot with a silently dropped layer is worse than a clear error.
function strictLogger(): CompileLogger {
  const fail = (...args: unknown[]): never => {
    throw new Error(`vega-lite: ${args.map(String).join(' ')}`);
  };
  const logger: CompileLogger = {
    level: () => logger,
    error: fail,
    warn: fail,
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}

// vega-scenegraph numbers gradient and clip-path ids with process-wide counters (gradient_0,
// gradient_1, ... clip1, ...), so the same plot rendered twice differs. Renumber them in order of
// appearance under a prefix hashed from the content: same input → same string, and two different
// plots inlined in one HTML page still get distinct ids.
const DEF_REF = /(?<=id="|#)((?:p_)?(?:gradient_\d+|clip\d+))(?=[")])/g;

function stableDefIds(svg: string): string {
  const order = new Map<string, number>();
  for (const m of svg.matchAll(/\bid="((?:p_)?(?:gradient_\d+|clip\d+))"/g)) {
    if (!order.has(m[1])) order.set(m[1], order.size);
  }
  if (order.size === 0) return svg;
  const rename = (prefix: string): string => svg.replace(DEF_REF, (id) => (order.has(id) ? `${prefix}${order.get(id)}` : id));
  const digest = createHash('sha256').update(rename('def')).digest('hex').slice(0, 8);
  return rename(`et${digest}_`);
}

async function renderSvg(spec: VlSpec): Promise<string> {
  const [vega, vl] = (await Promise.all([loadEsm('vega'), loadEsm('vega-lite')])) as [VegaApi, VegaLiteApi];
  const compiled = vl.compile(spec, { logger: strictLogger() }).spec;
  // renderer 'none' + toSVG needs no canvas: text widths are estimated, which is fine for layout.
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return stableDefIds(await view.toSVG());
  } finally {
    view.finalize();
  }
}

// Tableau-10 blue/orange: the vega default category colours, fixed so train/val look the same in
// both panels even though the two colour scales are independent.
const TRAIN_COLOR = '#4c78a8';
const VAL_COLOR = '#f58518';
const PANEL_WIDTH = 320; // pixels
const PANEL_HEIGHT = 220; // pixels

function epochDomain(history: HistoryEntry[]): [number, number] {
  const first = history[0].epoch;
  const last = history[history.length - 1].epoch;
  // A single epoch would give an empty domain; centre it in a 2-epoch window instead.
  return first === last ? [first - 1, last + 1] : [first, last];
}

function historyPanel(
  history: HistoryEntry[],
  metric: 'loss' | 'accuracy',
  bestEpoch: number | undefined,
): Record<string, unknown> {
  const valKey = metric === 'loss' ? 'val_loss' : 'val_accuracy';
  const rows: { epoch: number; series: string; value: number }[] = [];
  let hasVal = false;
  for (const h of history) {
    if (Number.isFinite(h[metric])) rows.push({ epoch: h.epoch, series: metric, value: h[metric] });
    const v = h[valKey];
    if (v !== undefined && Number.isFinite(v)) {
      hasVal = true;
      rows.push({ epoch: h.epoch, series: valKey, value: v });
    }
  }
  const domain = hasVal ? [metric, valKey] : [metric];
  const layer: Record<string, unknown>[] = [
    {
      data: { values: rows },
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: {
          field: 'epoch',
          type: 'quantitative',
          title: 'epoch',
          // Same epoch range in both panels even when one metric has gaps (NaN loss).
          scale: { domain: epochDomain(history), nice: false },
          axis: { tickMinStep: 1, format: 'd' },
        },
        y: {
          field: 'value',
          type: 'quantitative',
          title: metric,
          scale: { zero: metric === 'loss' },
          axis: metric === 'accuracy' ? { format: '.0%' } : {},
        },
        color: {
          field: 'series',
          type: 'nominal',
          scale: { domain, range: [TRAIN_COLOR, VAL_COLOR].slice(0, domain.length) },
          // Below the panel: inside the plot area a legend can cover the curves.
          legend: { title: null, orient: 'bottom', direction: 'horizontal', symbolType: 'stroke' },
        },
      },
    },
  ];
  if (bestEpoch !== undefined) {
    const best = [{ epoch: bestEpoch, label: `best epoch ${bestEpoch}` }];
    layer.push(
      {
        data: { values: best },
        mark: { type: 'rule', color: '#555555', strokeDash: [5, 4], strokeWidth: 1.5 },
        encoding: { x: { field: 'epoch', type: 'quantitative' } },
      },
      {
        data: { values: best },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, y: 4, color: '#555555', fontSize: 11 },
        encoding: { x: { field: 'epoch', type: 'quantitative' }, text: { field: 'label' } },
      },
    );
  }
  return { width: PANEL_WIDTH, height: PANEL_HEIGHT, layer, resolve: { scale: { color: 'independent' } } };
}

/**
 * Training curves as an SVG document: two panels side by side, loss & val_loss (left) and
 * accuracy & val_accuracy (right, as %) against epoch, train in blue and validation in orange,
 * with a dashed vertical rule at `bestEpoch` (the restored epoch) labelled "best epoch N".
 * Validation series are drawn only when present; non-finite values (NaN loss) are left out.
 * Output is deterministic for the same input (same string).
 *
 * @param history one entry per epoch (finite epoch numbers), in any order, at least one entry
 * @param opts title, bestEpoch (must be one of the history's epochs)
 * @returns an SVG document string (starts with "<svg", width/height in pixels, ~820×290)
 * @throws Error when history is empty or bestEpoch is not a history epoch
 */
export async function historyCurvesSvg(history: HistoryEntry[], opts: HistoryPlotOptions = {}): Promise<string> {
  if (history.length === 0) throw new Error('history is empty; pass at least one epoch to plot');
  const badEpoch = history.find((h) => !Number.isFinite(h.epoch));
  if (badEpoch) throw new Error(`history has a non-finite epoch (${badEpoch.epoch}); pass numeric epochs`);
  const { bestEpoch, title } = opts;
  if (bestEpoch !== undefined && !history.some((h) => h.epoch === bestEpoch)) {
    throw new Error(
      `bestEpoch ${bestEpoch} is not in the history (epochs ${history[0].epoch}..${history[history.length - 1].epoch}); pass an epoch that was trained`,
    );
  }
  const sorted = [...history].sort((a, b) => a.epoch - b.epoch);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(title ? { title: { text: title, anchor: 'middle', fontSize: 14 } } : {}),
    background: 'white',
    padding: 10,
    hconcat: [historyPanel(sorted, 'loss', bestEpoch), historyPanel(sorted, 'accuracy', bestEpoch)],
    resolve: { scale: { color: 'independent' } },
    config: { view: { stroke: '#dddddd' }, font: 'DejaVu Sans, sans-serif' },
  };
  return renderSvg(spec);
}

const CELL = 44; // pixels per confusion-matrix cell
const AXIS_LABEL_PX = 10; // vega's default axis label font size
const LABEL_LIMIT_CHARS = 24; // longer class names are truncated with an ellipsis on the axes

/**
 * Confusion matrix heatmap as an SVG document over `shownClasses` (classes with photos or
 * predictions; a subtitle counts the others): one cell per (true, predicted) pair with its count
 * written in it, colour = count (sequential blues, white text on dark cells), y axis "true",
 * x axis "predicted", both listing the label names in report order; title gives accuracy and N.
 * Output is deterministic for the same input.
 *
 * @param report output of `classificationReport` (C labels, C×C counts)
 * @returns an SVG document string (starts with "<svg"; ~44 pixels per cell plus axes and legend)
 */
export async function confusionMatrixSvg(report: ClassificationReport): Promise<string> {
  const shown = shownClasses(report);
  const labels = shown.map((c) => report.labels[c]);
  const hidden = report.labels.length - shown.length;
  const cells: { trueLabel: string; predictedLabel: string; count: number }[] = [];
  let max = 0;
  let total = 0;
  shown.forEach((i) =>
    shown.forEach((j) => {
      const count = report.confusion[i][j];
      max = Math.max(max, count);
      total += count;
      cells.push({ trueLabel: report.labels[i], predictedLabel: report.labels[j], count });
    }),
  );
  const longest = Math.min(Math.max(...labels.map((l) => l.length)), LABEL_LIMIT_CHARS);
  // Names wider than a cell would overlap, so they are turned 45°. Headless vega sizes text with
  // 0.8·fontSize per character (vega-scenegraph estimateWidth) where DejaVu Sans needs ~0.6, which
  // leaves a wide gap above the axis title; the title is placed from the real-font estimate instead.
  const rotate = longest * 0.6 * AXIS_LABEL_PX > CELL;
  const xAxis: Record<string, unknown> = { labelAngle: rotate ? -45 : 0, labelLimit: LABEL_LIMIT_CHARS * 0.8 * AXIS_LABEL_PX };
  if (rotate) {
    const labelExtent = (longest * 0.6 * AXIS_LABEL_PX + AXIS_LABEL_PX) * Math.SQRT1_2;
    xAxis.titleY = Math.ceil(5 + 2 + labelExtent + 6); // tick 5 + labelPadding 2 (vega defaults) + gap
    xAxis.titleBaseline = 'top';
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `confusion matrix (accuracy ${(report.accuracy * 100).toFixed(1)}%, n=${total})`,
      fontSize: 13,
      ...(hidden > 0 ? { subtitle: `${labels.length} of ${report.labels.length} classes; ${hidden} with no photos and no predictions not shown`, subtitleFontSize: 11 } : {}),
    },
    background: 'white',
    padding: 10,
    data: { values: cells },
    width: { step: CELL },
    height: { step: CELL },
    encoding: {
      x: {
        field: 'predictedLabel',
        type: 'nominal',
        sort: labels,
        title: 'predicted',
        axis: xAxis,
      },
      y: {
        field: 'trueLabel',
        type: 'nominal',
        sort: labels,
        title: 'true',
        axis: { labelLimit: LABEL_LIMIT_CHARS * 0.8 * AXIS_LABEL_PX },
      },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          color: {
            field: 'count',
            type: 'quantitative',
            title: 'count',
            // ColorBrewer Blues end points: 0 is near-white, so empty cells stand apart from 1-2 counts
            // (the 'blues' scheme starts at a visible light blue).
            scale: { range: ['#f7fbff', '#08306b'], domain: [0, Math.max(max, 1)] },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 13 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${max / 2}`, value: 'white' }, value: 'black' },
        },
      },
    ],
    config: { font: 'DejaVu Sans, sans-serif' },
  };
  return renderSvg(spec);
}

/**
 * Fonts bundled with EdgeTune (npm packages, no download at install) so PNG plots show labels in
 * scripts the machine may have no font for: Noto Sans S Chinese (Noto Sans CJK's GB2312 subset,
 * Latin, Greek, Cyrillic, kana and hangul too; @embedpdf/fonts-sc, OFL-1.1) and Noto Emoji
 * (monochrome outlines; @expo-google-fonts/noto-emoji, OFL-1.1). resvg needs TTF/OTF; the
 * @fontsource packages ship only WOFF/WOFF2, which it cannot read.
 * @returns absolute paths of the font files that are installed (missing packages are skipped)
 */
export function bundledFontFiles(): string[] {
  const files: string[] = [];
  // @embedpdf/fonts-sc exports only its index, so its fonts/ folder is found from there.
  const candidates: [string, string][] = [
    ['@embedpdf/fonts-sc', path.join('..', 'fonts', 'NotoSansHans-Regular.otf')],
    ['@expo-google-fonts/noto-emoji', path.join('400Regular', 'NotoEmoji_400Regular.ttf')],
  ];
  for (const [pkg, rel] of candidates) {
    try {
      const file = path.resolve(path.dirname(require.resolve(pkg)), rel);
      if (fs.existsSync(file)) files.push(file);
    } catch {
      // not installed: the system fonts still render what they cover
    }
  }
  return files;
}

interface ResvgApi {
  renderAsync(svg: string, options: Record<string, unknown>): Promise<{ asPng(): Buffer; pixels: Buffer; width: number; height: number }>;
}

/** @resvg/resvg-js, or null where its prebuilt binary is not available (then sharp renders). */
function loadResvg(): ResvgApi | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@resvg/resvg-js') as ResvgApi;
  } catch {
    return null;
  }
}

function resvgOptions(scale: number): Record<string, unknown> {
  return {
    fitTo: { mode: 'zoom', value: scale },
    // System fonts too (DejaVu Sans, and whatever scripts the machine has fonts for); the bundled
    // ones cover CJK and emoji. When nothing matches a family, the bundled CJK font is used.
    font: { loadSystemFonts: true, fontFiles: bundledFontFiles(), sansSerifFamily: 'DejaVu Sans', defaultFontFamily: 'Noto Sans S Chinese' },
    logLevel: 'off',
  };
}

// A private-use code point in plane 16: no font maps it, so it renders as the .notdef glyph.
const NOT_A_GLYPH = '\u{10FFFD}';
const PROBE_PX = 16; // font size of the coverage probe, pixels
const PROBE_CELL = 4 * PROBE_PX; // wide enough that no glyph reaches the next cell

function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (m, e: string) => {
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function graphemes(s: string): string[] {
  return [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s)].map((g) => g.segment);
}

/**
 * The graphemes among `chars` that no available font draws under `family`: each is rendered in
 * its own cell of one probe image beside the .notdef box of U+10FFFD, and a cell identical to that
 * box means tofu. Whitespace never counts as missing.
 */
async function missingGraphemes(resvg: ResvgApi, chars: string[], family: string): Promise<Set<string>> {
  const probe = chars.filter((c) => !/^\s*$/u.test(c));
  if (probe.length === 0) return new Set();
  const cells = [NOT_A_GLYPH, ...probe];
  const w = PROBE_CELL * cells.length;
  const texts = cells
    .map((c, i) => `<text x="${i * PROBE_CELL + PROBE_PX / 2}" y="${PROBE_PX * 2}" font-size="${PROBE_PX}" font-family="${family.replace(/"/g, '&quot;')}">${xmlText(c)}</text>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${PROBE_CELL}"><rect width="100%" height="100%" fill="white"/>${texts}</svg>`;
  const img = await resvg.renderAsync(svg, resvgOptions(1));
  const { width, height } = img;
  const pixels = img.pixels; // a getter that copies the whole image: read it once
  const cell = (i: number): Buffer => {
    const rows: Buffer[] = [];
    for (let y = 0; y < height; y++) rows.push(pixels.subarray((y * width + i * PROBE_CELL) * 4, (y * width + (i + 1) * PROBE_CELL) * 4));
    return Buffer.concat(rows);
  };
  const notdef = cell(0);
  return new Set(probe.filter((_, i) => cell(i + 1).equals(notdef)));
}

/** "U+0E01" for a grapheme (code points joined by spaces), in brackets: readable in any font. */
function codePoints(g: string): string {
  return `[${[...g].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ')}]`;
}

/**
 * The SVG with every text grapheme that no available font can draw written as its code points
 * ("[U+0E01]"), so the PNG never shows tofu boxes. Text elements and their tspans are handled; the
 * font-family is read from each <text> (vega writes it on every text element).
 */
async function spellOutMissingGlyphs(resvg: ResvgApi, svg: string): Promise<string> {
  const TEXT = /<(text|tspan)\b([^>]*)>([^<]+)/g;
  const byFamily = new Map<string, Set<string>>();
  let family = 'sans-serif';
  const runs: { family: string; text: string }[] = [];
  for (const m of svg.matchAll(TEXT)) {
    if (m[1] === 'text') family = /\sfont-family="([^"]*)"/.exec(m[2])?.[1] ?? 'sans-serif';
    const text = unXml(m[3]);
    runs.push({ family, text });
    const set = byFamily.get(family) ?? new Set<string>();
    graphemes(text).forEach((g) => set.add(g));
    byFamily.set(family, set);
  }
  const missing = new Map<string, Set<string>>();
  for (const [fam, chars] of byFamily) missing.set(fam, await missingGraphemes(resvg, [...chars].sort(), unXml(fam)));
  if ([...missing.values()].every((m) => m.size === 0)) return svg;
  let i = 0;
  return svg.replace(TEXT, (whole, tag: string, attrs: string) => {
    const run = runs[i++];
    const gone = missing.get(run.family)!;
    const text = graphemes(run.text).map((g) => (gone.has(g) ? codePoints(g) : g)).join('');
    return `<${tag}${attrs}>${xmlText(text)}`;
  });
}

/**
 * Rasterise an SVG document to PNG. At scale 1 the PNG is exactly the SVG's width×height
 * attributes in pixels; scale 2 doubles both.
 *
 * Renderer: resvg (@resvg/resvg-js, prebuilt for Linux x64/arm64/armv7, no install script) with the
 * system fonts plus the bundled CJK and emoji fonts (`bundledFontFiles`), so labels such as
 * 'café', '数字' or '🙂' are drawn, not shown as empty boxes. A character that no font covers
 * (e.g. Thai on a machine without a Thai font) is written as its code point, "[U+0E01]", in the
 * PNG only; the SVG keeps the real text for browsers, which have their own fonts. Where resvg's
 * binary is missing, sharp (librsvg + fontconfig) renders as before.
 *
 * @param svg SVG document string
 * @param opts scale: output pixels per SVG pixel (default 1)
 * @returns PNG bytes (8-bit RGBA)
 * @throws Error when the SVG cannot be parsed
 */
export async function svgToPng(svg: string, opts: { scale?: number } = {}): Promise<Buffer> {
  const scale = opts.scale ?? 1;
  if (!(scale > 0)) throw new Error(`svgToPng scale ${scale} must be > 0`);
  const resvg = loadResvg();
  try {
    if (resvg) return (await resvg.renderAsync(await spellOutMissingGlyphs(resvg, svg), resvgOptions(scale))).asPng();
    return await sharp(Buffer.from(svg, 'utf8'), { density: 72 * scale }).png().toBuffer();
  } catch (e) {
    throw new Error(`svgToPng: could not render the SVG (${(e as Error).message.split('\n')[0]}); pass an SVG document`);
  }
}

/**
 * Create the folder a plot will be written to (`writePlot` does this too); call it before a long
 * job so a bad --plot path fails at once, not after the work.
 * @param pathNoExt output path without extension
 * @throws EdgeTuneError CONFLICT naming the file when a part of the path is a file; else `ioError`
 *   naming the folder (permissions, read-only, disk full)
 */
export async function preparePlotDir(pathNoExt: string): Promise<void> {
  const dir = path.dirname(path.resolve(pathNoExt));
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (e) {
    // mkdir says EEXIST or ENOTDIR when a file is in the way; name that file.
    for (let p = dir; p !== path.dirname(p); p = path.dirname(p)) {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(p);
      } catch {
        continue; // missing, or under a file: look further up
      }
      if (!st.isDirectory()) {
        throw fail('CONFLICT', `cannot create the plot folder ${dir}: ${p} is a file, not a folder; write the plot elsewhere`, e);
      }
      break;
    }
    throw ioError('create the plot folder', dir, e);
  }
}

/**
 * Write a plot to `<pathNoExt>.svg` and/or `<pathNoExt>.png`, each atomically (temp file + rename,
 * write-file-atomic), creating the parent directory if needed.
 *
 * @param pathNoExt output path without extension, e.g. "runs/v3/history"
 * @param svg SVG document string (from `historyCurvesSvg` / `confusionMatrixSvg`)
 * @param formats one or more of 'svg', 'png' (duplicates ignored)
 * @returns the written paths, in the order of `formats`
 * @throws Error when formats is empty or names an unknown format; EdgeTuneError (`ioError`, one
 *   line naming the path) when the folder cannot be created or a file cannot be written
 */
export async function writePlot(pathNoExt: string, svg: string, formats: PlotFormat[]): Promise<string[]> {
  if (formats.length === 0) throw new Error(`writePlot(${pathNoExt}): no formats given; pass ['svg'] and/or ['png']`);
  const unique = [...new Set(formats)];
  for (const f of unique) {
    if (f !== 'svg' && f !== 'png') throw new Error(`writePlot: unknown format '${f}'; use 'svg' or 'png'`);
  }
  await preparePlotDir(pathNoExt);
  const written: string[] = [];
  for (const f of unique) {
    const file = `${pathNoExt}.${f}`;
    const data = f === 'svg' ? svg : await svgToPng(svg);
    try {
      await writeFileAtomic(file, data);
    } catch (e) {
      throw ioError('write', file, e);
    }
    written.push(file);
  }
  return written;
}
