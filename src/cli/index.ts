#!/usr/bin/env node
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import Table from 'cli-table3';
import { fetchBases, listBases, importImages, train, reexport, predict, evaluate, sweep } from '../index';
import { defaultModelsDir, MODELS_ENV, MODELS_FROM_ENV } from '../models';
import { formatReport, formatConfusion, confusionMatrixSvg, writePlot, preparePlotDir } from '../eval';
import { confusionPlotPath } from '../pipeline/evaluate';
import { defaultThreads, parseDevice, DEVICE_GRAMMAR } from '../runtime';
import { parseFit } from '../image';
import { OPTION_SPECS, formatDefault, formatValue, parseValue, setPath, type OptionSpec, type TrainOptionsInput } from '../options';
import type { RunOptions } from '../pipeline/train';
import { terminalReporter } from './terminal';
import { SERVE_OPTIONS, configKey, defaultHelp, formatServeConfig, readServeConfig, resolveServeSettings, toServeOptions, type ServeSettings } from '../config';
import { formatDoctor, runDoctor } from '../doctor';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min} (got '${v}')`);
    return n;
  };
}
function fit(v: string) {
  try { return parseFit(v); } catch (e) { throw new InvalidArgumentError((e as Error).message); }
}

/** Help of every --threads option: the runtime's real default (`defaultThreads`), not "all cores". */
const THREADS_HELP = `interpreter threads (default: cores − 1, at least 1; ${defaultThreads()} here)`;

/** cli-table3 without ANSI colours: output is read in logs and pipes as often as on a terminal. */
const PLAIN = { head: [] as string[], border: [] as string[] };

function print(json: boolean, data: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : text() + '\n');
}

/** Builds the `edgetune` command line (exported for tests). */
export function buildCli(): Command {
  const program = new Command('edgetune')
    .description('On-device image learning: pretrained MobileNet without its top → augmented head training → quantized TFLite for the Coral Edge TPU.')
    .version(require(path.join(PACKAGE_ROOT, 'package.json')).version)
    .option('--models-dir <dir>', `where the pretrained bases are installed (env ${MODELS_ENV})`, defaultModelsDir())
    // Usage errors look like every other error: one `edgetune: …` line (subcommands inherit this).
    .configureOutput({ outputError: (str, write) => write(`edgetune: ${str.replace(/^error: /, '').trimEnd()} (see --help)\n`) });
  const modelsDir = (): string => program.opts().modelsDir;

  const models = program.command('models').description('install and list the pinned pretrained bases');
  models.command('fetch')
    .description(`install the pinned bases into the models folder, checked against pinned SHA-256s (downloads from Coral's test_data repository, or copies from --from)`)
    .option('--from <dir>', `copy from a local folder instead of downloading (offline Pis, CI; env ${MODELS_FROM_ENV})`)
    .option('--base <names...>', 'only these bases (default: all)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const rep = terminalReporter(!!o.json);
      const res = await fetchBases({
        modelsDir: modelsDir(), from: o.from, names: o.base,
        onProgress: (p) => { if (p.phase !== 'download' && p.phase !== 'copy') rep.info(`${p.file}: ${p.phase === 'skip' ? 'already installed, SHA-256 verified' : `installed (${p.bytes} bytes)`}`); },
      });
      print(!!o.json, res, () => `installed ${res.installed.length} file(s), ${res.skipped.length} already present and verified, in ${modelsDir()}`);
    });
  models.command('list')
    .description('the bases with input size, embedding size, Edge TPU twin, and whether installed')
    .option('--json', 'machine-readable output')
    .action((o) => {
      const rows = listBases(modelsDir());
      print(!!o.json, rows, () => {
        const t = new Table({ style: PLAIN, head: ['base', 'input', 'dtype', 'embedding', 'kind', 'Edge TPU twin', 'installed'] });
        for (const b of rows) {
          t.push([
            b.name + (b.isDefault ? ' (default)' : ''), `${b.inputSize}×${b.inputSize}×3`, b.inputDtype, String(b.embeddingDim), b.kind,
            b.edgetpuFile ? (b.edgetpuGraftable ? 'extractor (takes a head)' : 'full classifier only') : 'none',
            b.installed ? (b.edgetpuGraftable ? (b.edgetpuInstalled ? 'yes (+ Edge TPU extractor)' : 'yes (CPU only)') : 'yes') : 'no',
          ]);
        }
        return t.toString();
      });
    });

  program.command('doctor')
    .description('check this machine for EdgeTune: Node, CPU, memory, disk, the bases (SHA-256), the TFLite runtime, the tfjs backend, the Edge TPU runtime and devices, cameras; says how to fix what is missing (exit code 1 when training and prediction on the CPU cannot run)')
    .option('--json', 'print {ok, checks: [{name, status, detail, fix?}]}')
    .action(async (o) => {
      const report = await runDoctor({ modelsDir: modelsDir() });
      print(!!o.json, report, () => formatDoctor(report));
      if (!report.ok) process.exitCode = 1;
    });

  program.command('import')
    .description('copy images into a folder-per-class dataset (DATASET/<label>/<image>)')
    .argument('<src>', 'a folder of images (with --label) or a folder-per-class tree')
    .argument('<dataset>', 'the dataset folder (created if needed)')
    .option('--label <label>', 'put every image of <src> (subfolders included) into this class')
    .option('--no-near-duplicates', 'only look for byte-identical copies in other classes (skips decoding every photo)')
    .option('--verbose', 'list every skipped file with its reason')
    .option('--json', 'machine-readable output')
    .action(async (src, dataset, o) => {
      const res = await importImages(src, dataset, { label: o.label, nearDuplicates: o.nearDuplicates });
      const rep = terminalReporter(!!o.json);
      // A summary per kind ("860 duplicates of files already in the dataset (same SHA-256)"); files only with --verbose.
      for (const g of res.skippedGroups) {
        rep.info(`skipped ${g.summary}`);
        if (o.verbose) for (const s of res.skipped.filter((x) => x.kind === g.kind)) rep.info(`  ${s.file}: ${s.reason}`);
      }
      for (const c of res.conflicts) {
        rep.warn(`${c.source} (class '${c.label}') is ${c.match === 'identical' ? 'identical to' : `a near-duplicate (distance ${c.distance}) of`} ${c.existing} in class '${c.existingLabel}': check which class is right`);
      }
      print(!!o.json, res, () => `copied ${res.copied.length} image(s) into ${dataset}, skipped ${res.skipped.length}` +
        (res.conflicts.length ? `, ${res.conflicts.length} already in another class (see warnings)` : ''));
    });

  const trainCmd = program.command('train')
    .description('train a head on a dataset, export a verified quantized TFLite model, and estimate its accuracy on photos it never saw')
    .argument('<dataset>', 'folder-per-class dataset (DATASET/<label>/<photos>, subfolders included)')
    .requiredOption('--out <dir>', 'model folder to write (replaced atomically)');
  addTrainingOptions(trainCmd, 'train');
  addRunOptions(trainCmd);
  trainCmd.option('--json', 'print metadata.json on stdout');
  trainCmd.action(async (dataset, o) => {
    const res = await train(dataset, o.out, { ...trainingInput(trainCmd, 'train'), ...runInput(o, modelsDir()) });
    const m = res.metadata.metrics;
    print(!!o.json, res.metadata, () => {
      const lines = [`validation accuracy ${pct(m.val_accuracy)} (chosen by early stopping on these photos: optimistic)`];
      if (m.estimate) {
        const how = m.estimate.method === 'k-fold' ? `${m.estimate.folds}-fold cross-validation` : 'test split';
        const rep = { ...m.estimate, labels: res.metadata.labels };
        lines.push(`estimated accuracy on ${m.estimate.n} photos never used for training or early stopping (${how}): ${pct(m.estimate.accuracy)}`);
        lines.push(formatReport(rep), formatConfusion(rep));
      }
      lines.push(`exported model: top-1 agreement with the trained ${res.metadata.arch === 'cnn' ? 'CNN' : 'head'} ${pct(m.export.agreement)}, ${m.export.msPerImage.toFixed(res.metadata.arch === 'cnn' ? 2 : 1)} ms/photo`);
      lines.push(`model: ${path.join(o.out, 'model.tflite')}${res.metadata.files.edgetpu ? ` (+ ${path.join(o.out, 'model_edgetpu.tflite')})` : ''}`);
      return lines.join('\n');
    });
  });

  program.command('export')
    .description('re-export a trained model folder without retraining (verified again on its validation and test photos)')
    .argument('<dir>', 'model folder written by edgetune train')
    .option('--out <dir>', 'write a new model folder instead of replacing <dir>')
    .option('--float', 'float head behind a DEQUANTIZE (no model_edgetpu.tflite then)')
    .option('--edgetpu', 'require model_edgetpu.tflite (the head after the compiled extractor)')
    .option('--no-edgetpu', 'do not write model_edgetpu.tflite')
    .option('--compile', "also run Coral's edgetpu_compiler (x86-64 only) on model.tflite: model_edgetpu_compiled.tflite and the ops it maps to the Edge TPU")
    .option('--threads <n>', THREADS_HELP, int('--threads', 1))
    .option('--json', 'machine-readable output')
    .action(async (dir, o) => {
      const res = await reexport(dir, { out: o.out, modelsDir: modelsDir(), float: !!o.float, edgetpu: o.edgetpu, threads: o.threads, compile: !!o.compile, reporter: terminalReporter(!!o.json) });
      print(!!o.json, res, () => `wrote ${res.files.join(', ')}`);
    });

  program.command('predict')
    .description('classify images (default model: the stock ImageNet MobileNet v2)')
    .argument('<image...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, BMP)')
    .option('--model <path>', 'model folder from edgetune train, or a .tflite file')
    .option('--labels <file>', 'labels file, one per line (line i names output i); needed for a .tflite without labels.txt beside it')
    .option('--top <k>', 'classes per image (top-k)', int('--top', 1), 5)
    .addOption(new Option('--fit <mode>', 'override the fit stored with the model (crop, squash, pad)').argParser(fit))
    .addOption(deviceOption('where to run the model'))
    .option('--threads <n>', THREADS_HELP, int('--threads', 1))
    .option('--json', 'one record per image: {file, predictions: [{label, score}], ms}')
    .action(async (images: string[], o) => {
      const res = await predict(images, {
        model: o.model, modelsDir: modelsDir(), top: o.top, threads: o.threads, device: o.device, fit: o.fit, labels: o.labels, reporter: terminalReporter(!!o.json),
      });
      // Unreadable images are reported once, on stderr, after the others' results.
      print(!!o.json, res, () => res.filter((r) => !r.error).map((r) =>
        `${r.file} (${r.ms.toFixed(1)} ms)\n` + r.predictions.map((p) => `  ${(p.score * 100).toFixed(1).padStart(5)}%  ${p.label}`).join('\n')).join('\n'));
      for (const r of res) if (r.warning) process.stderr.write(`warning: ${r.warning}\n`);
      if (res.some((r) => r.error)) {
        for (const r of res) if (r.error) process.stderr.write(`edgetune: ${r.error}\n`);
        process.exitCode = 1;
      }
    });

  program.command('eval')
    .description('accuracy, per-class precision/recall and confusion matrix of a model on a dataset (any subset of its classes)')
    .argument('<model>', 'model folder from edgetune train, or a .tflite file')
    .argument('<dataset>', 'folder-per-class dataset (class folders named like the model\'s labels)')
    .option('--labels <file>', 'labels file, one per line (line i names output i); needed for a .tflite without labels.txt beside it')
    .option('--plot <path>', 'write the confusion matrix picture here (.svg and .png; default <model>/confusion for a folder, <name>.confusion beside a .tflite)')
    .addOption(deviceOption('where to run the model'))
    .option('--threads <n>', THREADS_HELP, int('--threads', 1))
    .option('--json', '{accuracy, perClass, confusion, labels, macro, skipped}')
    .action(async (model, dataset, o) => {
      const plotBase = confusionPlotPath(model, o.plot);
      // Before the work: a plot path that cannot be written fails now, not after every photo.
      await preparePlotDir(plotBase);
      const res = await evaluate(model, dataset, { modelsDir: modelsDir(), threads: o.threads, device: o.device, labels: o.labels, reporter: terminalReporter(!!o.json) });
      const written = await writePlot(plotBase, await confusionMatrixSvg(res), ['svg', 'png']);
      print(!!o.json, res, () => `${formatReport(res)}\n\n${formatConfusion(res)}\nconfusion matrix: ${written.join(', ')}`);
    });

  const sweepCmd = program.command('sweep')
    .description('rank option combinations by k-fold cross-validated accuracy (give comma-separated lists; embeddings come from the cache)')
    .argument('<dataset>', 'folder-per-class dataset');
  addTrainingOptions(sweepCmd, 'sweep');
  addRunOptions(sweepCmd);
  sweepCmd.option('--json', 'machine-readable output');
  sweepCmd.action(async (dataset, o) => {
    const rep = terminalReporter(!!o.json);
    const { grid, fixed } = sweepInput(sweepCmd);
    const rows = await sweep(dataset, grid, { ...fixed, ...runInput(o, modelsDir()), reporter: rep },
      (r, i, n) => rep.info(`[${i + 1}/${n}] ${describe(r.values)}: cross-validated accuracy ${pct(r.cv_accuracy)} (${r.folds} folds, ${r.seconds.toFixed(0)} s)`));
    print(!!o.json, rows, () => {
      const flags = Object.keys(grid);
      const t = new Table({ style: PLAIN, head: ['rank', ...flags, 'cv accuracy', 'photos', 'folds', 'seconds'] });
      rows.forEach((r, i) => t.push([i + 1, ...flags.map((f) => showValue(f, r.values[f])), pct(r.cv_accuracy), r.n, r.folds, r.seconds.toFixed(1)]));
      return `${t.toString()}\ntrain the best with:\n  ${rows[0].command}`;
    });
  });
  const serveCmd = program.command('serve')
    .description('live camera preview with predictions, capture, on-device retraining and model versions in a local web page (JSON API: see the README)')
    .option('--config <file>', `read settings from a file of KEY=value lines (keys: ${SERVE_OPTIONS.map(configKey).join(', ')}); flags given here override it`);
  addServeOptions(serveCmd);
  serveCmd.option('--print-config', 'print the settings (flags, --config file, defaults) as a config file and exit');
  serveCmd.action(async (o) => {
    const settings = serveSettings(serveCmd, program, o.config);
    if (o.printConfig) {
      process.stdout.write(formatServeConfig({ ...settings, models: settings.models ?? modelsDir(), token: settings.token ?? (process.env.EDGETUNE_TOKEN || undefined) }));
      return;
    }
    // Stop on SIGTERM/SIGINT even while starting (systemd may stop the service at any moment); a
    // second signal of the same kind is not caught, so it ends the process at once.
    let stopRequested = false;
    let stop: () => void = () => { stopRequested = true; };
    process.once('SIGINT', () => stop());
    process.once('SIGTERM', () => stop());
    const { startServer } = await import('../server');
    const s = await startServer(toServeOptions(settings, modelsDir()));
    process.stderr.write(`edgetune serve: open ${s.url} (data in ${s.paths.root}; Ctrl-C stops)\n`);
    await new Promise<void>((resolve) => {
      stop = () => {
        process.stderr.write('edgetune serve: stopping (a running training is cancelled; the active model stays)\n');
        s.close().then(resolve, resolve);
      };
      if (stopRequested) stop();
    });
    process.stderr.write('edgetune serve: stopped\n');
  });
  return program;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Commander's attribute name of a flag ('aug-views' → 'augViews'). */
function attr(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function parser(spec: OptionSpec, list: boolean) {
  return (v: string): unknown => {
    try {
      return list ? v.split(',').map((s) => parseValue(spec, s.trim())) : parseValue(spec, v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/**
 * Adds every training option of OPTION_SPECS to a command: one definition, so `train`, `sweep`
 * and the library never disagree. No commander defaults: an option not given is undefined and
 * takes the library default (shown in help as a user would type it).
 */
function addTrainingOptions(cmd: Command, mode: 'train' | 'sweep'): void {
  for (const spec of OPTION_SPECS) {
    const list = mode === 'sweep' && spec.sweepable;
    if (mode === 'sweep' && (spec.kind.type === 'flag' || spec.kind.type === 'auto-flag')) continue;
    if (spec.kind.type === 'flag') {
      cmd.option(`--${spec.flag}`, spec.help);
    } else if (spec.kind.type === 'auto-flag') {
      cmd.option(`--${spec.flag}`, spec.help);
      cmd.option(`--no-${spec.flag}`, `do not write it (see --${spec.flag})`);
    } else {
      const choices = spec.kind.type === 'choice' ? ` (${spec.kind.choices.join(', ')})` : '';
      const help = `${spec.help}${choices === '' || spec.help.includes(spec.kind.type === 'choice' ? spec.kind.choices[0] : '\0') ? '' : choices}; default: ${formatDefault(spec)}${list ? '; a comma-separated list to sweep' : ''}`;
      cmd.addOption(new Option(`--${spec.flag} <${spec.value}${list ? 's' : ''}>`, help).argParser(parser(spec, list)));
    }
  }
}

/** The training options given on a command line, as a (nested) TrainOptionsInput. */
function trainingInput(cmd: Command, mode: 'train' | 'sweep'): TrainOptionsInput {
  const o = cmd.opts();
  let input: TrainOptionsInput = {};
  for (const spec of OPTION_SPECS) {
    const v = o[attr(spec.flag)];
    if (v === undefined || (mode === 'sweep' && spec.sweepable)) continue;
    input = setPath(input, spec.path, v);
  }
  return input;
}

/** A sweep's grid (options given as lists) and fixed options. */
function sweepInput(cmd: Command): { grid: Record<string, unknown[]>; fixed: TrainOptionsInput } {
  const o = cmd.opts();
  const grid: Record<string, unknown[]> = {};
  for (const spec of OPTION_SPECS) {
    const v = o[attr(spec.flag)];
    if (v !== undefined && spec.sweepable) grid[spec.flag] = v as unknown[];
  }
  if (Object.keys(grid).length === 0) throw new InvalidArgumentError('give at least one option with a comma-separated list of values to sweep, e.g. --dropout 0.2,0.5');
  return { grid, fixed: trainingInput(cmd, 'sweep') };
}

function showValue(flag: string, v: unknown): string {
  const spec = OPTION_SPECS.find((s) => s.flag === flag)!;
  return formatValue(spec, v);
}

function describe(values: Record<string, unknown>): string {
  return Object.entries(values).map(([f, v]) => `--${f} ${showValue(f, v)}`).join(' ');
}

/**
 * `--device` in pycoral's grammar (one definition for predict, eval, train, sweep and serve).
 * @param what what the device runs, for the help text.
 */
function deviceOption(what: string): Option {
  return new Option('--device <device>', `${what}: ${DEVICE_GRAMMAR} (auto = the Edge TPU when a Coral and libedgetpu.so.1 are present and the model has an _edgetpu twin, else the CPU)`)
    .default('auto')
    .argParser((v: string) => {
      try {
        parseDevice(v);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
      return v;
    });
}

/** Options every long-running command shares. */
function addRunOptions(cmd: Command): void {
  cmd.addOption(deviceOption('where the base computes embeddings'));
  cmd.option('--threads <n>', THREADS_HELP, int('--threads', 1))
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend for the head (default: auto = tfjs-node if installed, else wasm)').choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .option('--cache-dir <dir>', 'embedding cache (default: $EDGETUNE_CACHE or ~/.cache/edgetune)')
    .option('--no-cache', 'do not read or write the embedding cache');
}

/**
 * Adds the settings of SERVE_OPTIONS to `serve` as flags, with the validators a config file uses.
 * No commander defaults: a flag not given stays undefined, so the config file can fill it.
 */
function addServeOptions(cmd: Command): void {
  for (const spec of SERVE_OPTIONS) {
    const d = defaultHelp(spec);
    const def = d !== undefined ? ` (default: ${d})` : '';
    cmd.addOption(new Option(`--${spec.flag} <${spec.value}>`, `${spec.help}${def}`).argParser((v: string) => {
      try {
        return spec.parse(v, `--${spec.flag}`);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    }));
  }
}

/**
 * The settings of a `serve` run: flags, then the --config file, then the defaults. The global
 * --models-dir, when given on the command line, counts as a flag for `models`.
 */
function serveSettings(cmd: Command, program: Command, config: string | undefined): ServeSettings {
  const o = cmd.opts();
  const flags: Partial<ServeSettings> = {};
  for (const spec of SERVE_OPTIONS) {
    const v = o[attr(spec.flag)];
    if (v !== undefined) Object.assign(flags, { [spec.field]: v });
  }
  if (flags.models === undefined && program.getOptionValueSource('modelsDir') === 'cli') flags.models = program.opts().modelsDir;
  return resolveServeSettings(flags, config === undefined ? {} : readServeConfig(config));
}

function runInput(o: Record<string, unknown>, models: string): RunOptions {
  return {
    modelsDir: models, threads: o.threads as number | undefined, backend: o.backend as RunOptions['backend'], device: o.device as RunOptions['device'],
    cacheDir: o.cache === false ? false : (o.cacheDir as string | undefined),
    reporter: terminalReporter(!!o.json),
  };
}

/** Runs the CLI; any error becomes one line on stderr and exit code 1. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    process.stderr.write(`edgetune: ${(e as Error).message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
