#!/usr/bin/env node
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import Table from 'cli-table3';
import {
  fetchBases, listBases, importImages, train, reexport, predict, evaluate, sweep, DEFAULT_HEAD,
  formatReport, formatConfusion, confusionMatrixSvg, writePlot, parsePreset, parseFit, type TrainOptions,
} from '../index';
import { terminalReporter } from './terminal';

/** Default models folder: `models/` of the installed package, or $EDGETUNE_MODELS. */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_MODELS = process.env.EDGETUNE_MODELS ?? path.join(PACKAGE_ROOT, 'models');

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min} (got '${v}')`);
    return n;
  };
}
function num(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < lo || n > hi) throw new InvalidArgumentError(`${name} must be a number in [${lo}, ${hi}] (got '${v}')`);
    return n;
  };
}
/** '' → [], '128' → [128], '256x64' → [256, 64] (one head's hidden layers). */
function widths(v: string): number[] {
  if (v.trim() === '' || v === 'none') return [];
  return v.split(/[x+]/).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`hidden layer width must be a positive integer (got '${s}' in '${v}')`);
    return n;
  });
}
function list<T>(parse: (s: string) => T) {
  return (v: string): T[] => v.split(',').map((s) => parse(s.trim()));
}
function fit(v: string) {
  try { return parseFit(v); } catch (e) { throw new InvalidArgumentError((e as Error).message); }
}
function preset(v: string) {
  try { return parsePreset(v); } catch (e) { throw new InvalidArgumentError((e as Error).message); }
}

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
    .option('--models-dir <dir>', 'where the pretrained bases are installed (env EDGETUNE_MODELS)', DEFAULT_MODELS)
    // Usage errors look like every other error: one `edgetune: …` line (subcommands inherit this).
    .configureOutput({ outputError: (str, write) => write(`edgetune: ${str.replace(/^error: /, '').trimEnd()} (see --help)\n`) });
  const modelsDir = (): string => program.opts().modelsDir;

  const models = program.command('models').description('install and list the pinned pretrained bases');
  models.command('fetch')
    .description(`install the pinned bases into the models folder, checked against pinned SHA-256s (downloads from Coral's test_data repository, or copies from --from)`)
    .option('--from <dir>', 'copy from a local folder instead of downloading (offline Pis, CI)')
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
    .description('train a head on a dataset and export a verified quantized TFLite model')
    .argument('<dataset>', 'folder-per-class dataset')
    .requiredOption('--out <dir>', 'model folder to write (replaced atomically)')
    .option('--base <name>', 'pretrained base (edgetune models list)', 'mobilenet_v1_1.0_224')
    .option('--hidden <widths>', `hidden Dense ReLU widths, e.g. 128 or 256x64; '' for none`, widths, DEFAULT_HEAD.hidden)
    .option('--dropout <rate>', 'dropout rate', num('--dropout', 0, 0.99), DEFAULT_HEAD.dropout)
    .option('--lr <rate>', 'Adam learning rate', num('--lr', 1e-7, 10), DEFAULT_HEAD.lr)
    .option('--batch <n>', 'batch size', int('--batch', 1), DEFAULT_HEAD.batch)
    .option('--epochs <n>', 'maximum epochs', int('--epochs', 1), DEFAULT_HEAD.epochs)
    .option('--patience <n>', 'early stopping patience (epochs without val_loss improvement)', int('--patience', 1), DEFAULT_HEAD.patience)
    .option('--l2 <lambda>', 'L2 weight decay on the Dense kernels', num('--l2', 0, 1), DEFAULT_HEAD.l2)
    .option('--class-weights <mode>', `'balanced' for imbalanced classes, or 'none'`, 'none')
    .option('--val-split <fraction>', 'validation fraction per class', num('--val-split', 0.01, 0.9), 0.2)
    .addOption(new Option('--preset <name>', 'augmentation preset: objects (flips), digits (never flips), none').argParser(preset).default('objects'))
    .option('--aug-views <k>', 'augmented views per training image', int('--aug-views', 0), 2)
    .addOption(new Option('--fit <mode>', 'non-square photos: crop (centre), squash (stretch), pad (grey bars)').argParser(fit).default('crop'))
    .addOption(new Option('--pooling <mode>', 'embedding: avg (global average, Edge TPU-ready) or grid (2×2, keeps layout); default: grid for --preset digits, else avg').choices(['avg', 'grid']))
    .option('--seed <n>', 'seed of the split, augmentation and head', int('--seed', 0), 1)
    .option('--float', 'export a float head behind a DEQUANTIZE instead of a quantized one')
    .option('--edgetpu', 'require model_edgetpu.tflite (default: written when the base has a compiled extractor)')
    .option('--no-edgetpu', 'do not write model_edgetpu.tflite')
    .option('--threads <n>', 'interpreter threads (default: all cores)', int('--threads', 1))
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .option('--json', 'print metadata.json on stdout');
  trainCmd.action(async (dataset, o) => {
    if (o.classWeights !== 'none' && o.classWeights !== 'balanced') throw new Error(`--class-weights must be 'balanced' or 'none' (got '${o.classWeights}')`);
    const opts: Partial<TrainOptions> & { modelsDir: string } = {
      modelsDir: modelsDir(), base: o.base, valSplit: o.valSplit, preset: o.preset, fit: o.fit, pooling: o.pooling, augViews: o.augViews, seed: o.seed,
      float: !!o.float, edgetpu: o.edgetpu ?? 'auto', threads: o.threads, backend: o.backend,
      reporter: terminalReporter(!!o.json),
      head: { hidden: o.hidden, dropout: o.dropout, lr: o.lr, batch: o.batch, epochs: o.epochs, patience: o.patience, classWeights: o.classWeights, seed: o.seed, l2: o.l2 },
    };
    const res = await train(dataset, o.out, opts);
    const m = res.metadata.metrics;
    print(!!o.json, res.metadata, () =>
      `validation accuracy ${(m.val_accuracy * 100).toFixed(1)}% (head), ${(m.export.accuracy * 100).toFixed(1)}% (exported model); ` +
      `top-1 agreement ${(m.export.agreement * 100).toFixed(1)}%\nmodel: ${path.join(o.out, 'model.tflite')}`);
  });

  program.command('export')
    .description('re-export a trained model folder without retraining')
    .argument('<dir>', 'model folder written by edgetune train')
    .option('--float', 'float head behind a DEQUANTIZE')
    .option('--edgetpu', 'also write model_edgetpu.tflite (the head after the compiled extractor)')
    .option('--threads <n>', 'interpreter threads', int('--threads', 1))
    .option('--json', 'machine-readable output')
    .action(async (dir, o) => {
      const res = await reexport(dir, { modelsDir: modelsDir(), float: !!o.float, edgetpu: !!o.edgetpu, threads: o.threads, reporter: terminalReporter(!!o.json) });
      print(!!o.json, res, () => `wrote ${res.files.join(', ')}`);
    });

  program.command('predict')
    .description('classify images (default model: the stock ImageNet MobileNet v2)')
    .argument('<image...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, BMP)')
    .option('--model <path>', 'model folder from edgetune train, or a .tflite file')
    .option('--top <k>', 'classes per image (top-k)', int('--top', 1), 5)
    .addOption(new Option('--fit <mode>', 'override the fit stored with the model (crop, squash, pad)').argParser(fit))
    .addOption(new Option('--device <d>', 'where to run').choices(['auto', 'cpu', 'edgetpu']).default('auto'))
    .option('--threads <n>', 'interpreter threads', int('--threads', 1))
    .option('--json', 'one record per image: {file, predictions: [{label, score}], ms}')
    .action(async (images: string[], o) => {
      const res = await predict(images, { model: o.model, modelsDir: modelsDir(), top: o.top, threads: o.threads, device: o.device, fit: o.fit });
      // Unreadable images are reported once, on stderr, after the others' results.
      print(!!o.json, res, () => res.filter((r) => !r.error).map((r) =>
        `${r.file} (${r.ms.toFixed(1)} ms)\n` + r.predictions.map((p) => `  ${(p.score * 100).toFixed(1).padStart(5)}%  ${p.label}`).join('\n')).join('\n'));
      if (res.some((r) => r.error)) {
        for (const r of res) if (r.error) process.stderr.write(`edgetune: ${r.error}\n`);
        process.exitCode = 1;
      }
    });

  program.command('eval')
    .description('accuracy, per-class precision/recall and confusion matrix of a model on a dataset')
    .argument('<model-dir>', 'model folder (or .tflite with labels.txt beside it)')
    .argument('<dataset>', 'folder-per-class dataset')
    .option('--plot <path>', 'write the confusion matrix picture here (.svg and .png; default <model-dir>/confusion)')
    .option('--threads <n>', 'interpreter threads', int('--threads', 1))
    .option('--json', '{accuracy, perClass, confusion, labels}')
    .action(async (modelDir, dataset, o) => {
      const res = await evaluate(modelDir, dataset, { modelsDir: modelsDir(), threads: o.threads, reporter: terminalReporter(!!o.json) });
      const plotBase = o.plot ? o.plot.replace(/\.(svg|png)$/i, '') : path.join(modelDir, 'confusion');
      const written = await writePlot(plotBase, await confusionMatrixSvg(res), ['svg', 'png']);
      print(!!o.json, res, () => `${formatReport(res)}\n\n${formatConfusion(res)}\nconfusion matrix: ${written.join(', ')}`);
    });

  program.command('sweep')
    .description('train every combination on cached embeddings and rank by validation accuracy')
    .argument('<dataset>', 'folder-per-class dataset')
    .option('--epochs <list>', 'comma-separated maximum epochs', list(int('--epochs', 1)), [DEFAULT_HEAD.epochs])
    .option('--hidden <list>', `comma-separated heads, e.g. ',64,256x64' ('' = none)`, list(widths), [DEFAULT_HEAD.hidden])
    .option('--dropout <list>', 'comma-separated dropout rates', list(num('--dropout', 0, 0.99)), [DEFAULT_HEAD.dropout])
    .option('--lr <rate>', 'Adam learning rate', num('--lr', 1e-7, 10), DEFAULT_HEAD.lr)
    .option('--batch <n>', 'batch size', int('--batch', 1), DEFAULT_HEAD.batch)
    .option('--patience <n>', 'early stopping patience', int('--patience', 1), DEFAULT_HEAD.patience)
    .option('--base <name>', 'pretrained base', 'mobilenet_v1_1.0_224')
    .addOption(new Option('--preset <name>', 'augmentation preset').argParser(preset).default('objects'))
    .option('--aug-views <k>', 'augmented views per training image', int('--aug-views', 0), 2)
    .addOption(new Option('--fit <mode>', 'crop, squash or pad').argParser(fit).default('crop'))
    .addOption(new Option('--pooling <mode>', 'avg or grid (default: grid for --preset digits, else avg)').choices(['avg', 'grid']))
    .option('--val-split <fraction>', 'validation fraction per class', num('--val-split', 0.01, 0.9), 0.2)
    .option('--seed <n>', 'seed', int('--seed', 0), 1)
    .option('--json', 'machine-readable output')
    .action(async (dataset, o) => {
      const rep = terminalReporter(!!o.json);
      const rows = await sweep(dataset, { epochs: o.epochs, hidden: o.hidden, dropout: o.dropout }, {
        modelsDir: modelsDir(), base: o.base, preset: o.preset, fit: o.fit, pooling: o.pooling, augViews: o.augViews, valSplit: o.valSplit, seed: o.seed, reporter: rep,
        head: { ...DEFAULT_HEAD, lr: o.lr, batch: o.batch, patience: o.patience, seed: o.seed },
      }, (r, i, n) => rep.info(`[${i + 1}/${n}] hidden ${r.hidden.join('x') || 'none'} dropout ${r.dropout} epochs ${r.epochs}: val_accuracy ${(r.val_accuracy * 100).toFixed(1)}%`));
      print(!!o.json, rows, () => {
        const t = new Table({ style: PLAIN, head: ['rank', 'hidden', 'dropout', 'epochs', 'best epoch', 'val_accuracy', 'val_loss', 'seconds'] });
        rows.forEach((r, i) => t.push([i + 1, r.hidden.join('x') || 'none', r.dropout, r.epochs, r.bestEpoch, `${(r.val_accuracy * 100).toFixed(1)}%`, r.val_loss.toFixed(4), r.seconds.toFixed(1)]));
        return t.toString();
      });
    });
  return program;
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
