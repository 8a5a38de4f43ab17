import { strict as assert } from 'node:assert';
import {
  resolveTrainOptions, parseValue, formatDefault, formatValue, trainCommand, OPTION_SPECS, DEFAULTS, presetDefaults, setPath, getPath,
} from '../../src/options';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EdgeTuneError } from '../../src/errors';
import { ROOT } from '../helpers';

const spec = (flag: string) => OPTION_SPECS.find((s) => s.flag === flag)!;

describe('options: one definition of every training option', () => {
  it('fills defaults for any nested subset and keeps what was given', () => {
    const o = resolveTrainOptions({ head: { epochs: 5 } });
    assert.equal(o.head.epochs, 5);
    assert.equal(o.head.lr, DEFAULTS.head.lr);
    assert.deepEqual(o.head.hidden, DEFAULTS.head.hidden);
    assert.equal(o.seed, DEFAULTS.seed);
    assert.notEqual(o.head.hidden, DEFAULTS.head.hidden, 'a copy, so callers cannot change the defaults');
  });

  it('parses --input HxW and --filters lists, and writes them back as typed', () => {
    const input = OPTION_SPECS.find((s) => s.flag === 'input')!;
    const filters = OPTION_SPECS.find((s) => s.flag === 'filters')!;
    assert.deepEqual(parseValue(input, '32x20'), [32, 20]);
    assert.deepEqual(parseValue(filters, '75,50,25'), [75, 50, 25]);
    assert.equal(formatValue(filters, [75, 50, 25]), '75,50,25');
    assert.equal(formatValue(input, [32, 20]), '32x20');
    assert.throws(() => parseValue(input, '32'), /--input must be a size HxW/);
    assert.throws(() => parseValue(input, '4x4'), /--input must be a size HxW with sides in \[8, 512\]/);
  });

  it('takes the preset-dependent defaults from the preset unless given', () => {
    const d = resolveTrainOptions({ preset: 'digits' });
    assert.deepEqual({ fit: d.fit, pooling: d.pooling, cnnInput: d.cnn.input, cnnChannels: d.cnn.channels }, presetDefaults('digits'));
    assert.deepEqual(d.cnn.input, [32, 20]);
    assert.deepEqual(resolveTrainOptions({ preset: 'digits', cnn: { input: [28, 28] } }).cnn, { input: [28, 28], channels: 'grey', filters: [75, 50, 25], dense: 512 });
    assert.equal(resolveTrainOptions({ preset: 'digits', pooling: 'avg' }).pooling, 'avg');
    assert.equal(resolveTrainOptions({}).pooling, 'avg');
  });

  it('treats undefined as "the default", as on the command line', () => {
    assert.equal(resolveTrainOptions({ seed: undefined, head: { lr: undefined } }).head.lr, DEFAULTS.head.lr);
  });

  it('refuses bad values with a BAD_OPTION error naming the flag', () => {
    for (const [input, flag] of [
      [{ head: { dropout: 1 } }, '--dropout'], [{ head: { epochs: 0 } }, '--epochs'], [{ valSplit: 0 }, '--val-split'],
      [{ preset: 'faces' as never }, '--preset'], [{ head: { hidden: [0] } }, '--hidden'], [{ folds: 1 }, '--folds'],
    ] as const) {
      assert.throws(() => resolveTrainOptions(input as never), (e: unknown) => e instanceof EdgeTuneError && e.code === 'BAD_OPTION' && e.message.includes(flag));
    }
    assert.throws(() => resolveTrainOptions({ valSplit: 0.5, testSplit: 0.45 }), /keep their sum below 0.9/);
  });

  it('parses values as users type them and prints defaults the same way', () => {
    assert.deepEqual(parseValue(spec('hidden'), '256x64'), [256, 64]);
    assert.deepEqual(parseValue(spec('hidden'), ''), []);
    assert.equal(parseValue(spec('lr'), '0.001'), 0.001);
    assert.throws(() => parseValue(spec('batch'), '3.5'), /--batch must be an integer/);
    assert.throws(() => parseValue(spec('dropout'), 'half'), /--dropout must be a number in \[0, 1\)/);
    assert.equal(formatDefault(spec('hidden')), '256');
    assert.equal(formatDefault(spec('lr')), '0.001');
    assert.match(formatDefault(spec('pooling')), /grid for --preset digits/);
  });

  it('every spec path points at a real option, and flags are unique', () => {
    const o = resolveTrainOptions({});
    for (const s of OPTION_SPECS) assert.notEqual(getPath(o, s.path), undefined, s.flag);
    assert.equal(new Set(OPTION_SPECS.map((s) => s.flag)).size, OPTION_SPECS.length);
  });

  it('writes the train command that reproduces a set of options, defaults left out', () => {
    const o = resolveTrainOptions(setPath(setPath({}, ['head', 'hidden'], []), ['head', 'dropout'], 0.2));
    assert.equal(trainCommand('my data', 'runs/x', o), "edgetune train 'my data' --out runs/x --hidden '' --dropout 0.2");
    assert.equal(trainCommand('d', 'o', resolveTrainOptions({})), 'edgetune train d --out o');
  });
});

describe("README: the training options table", () => {
  it('lists every option with its default and help, in the order of OPTION_SPECS', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => /^\| `--/.test(l));
    const expected = OPTION_SPECS.map(readmeRow);
    assert.deepEqual(rows.filter((r) => expected.some((e) => e.split(' | ')[0] === r.split(' | ')[0])), expected);
  });
});

/** The README row of an option: flag (and its value), default, help. */
export function readmeRow(s: (typeof OPTION_SPECS)[number]): string {
  const flag = s.kind.type === 'flag' ? `\`--${s.flag}\`` : s.kind.type === 'auto-flag' ? `\`--${s.flag}\` / \`--no-${s.flag}\`` : `\`--${s.flag} <${s.value}>\``;
  const d = formatDefault(s);
  const def = s.presetDefault ? d : s.kind.type === 'flag' ? '`off`' : `\`${d}\``;
  return `| ${flag} | ${def} | ${s.help} |`;
}

describe('options: contradictions with --arch cnn and list syntax', () => {
  it('refuses --fine-tune and --edgetpu with --arch cnn in one line, and caps --fine-tune', () => {
    assert.throws(() => resolveTrainOptions({ arch: 'cnn', fineTune: 1 }), (e: EdgeTuneError) => e.code === 'BAD_OPTION' && /--fine-tune 1 .* --arch cnn has no base/.test(e.message));
    assert.throws(() => resolveTrainOptions({ arch: 'cnn', edgetpu: true }), (e: EdgeTuneError) => e.code === 'BAD_OPTION' && /drop --edgetpu/.test(e.message));
    assert.equal(resolveTrainOptions({ arch: 'cnn', edgetpu: 'auto', fineTune: 0 }).arch, 'cnn');
    assert.throws(() => parseValue(spec('fine-tune'), '4'), /--fine-tune must be an integer in \[0, 3\]/);
  });

  it('describes the --filters syntax in its error and refuses an empty list', () => {
    for (const bad of ['abc', '0', ',', '100000', '', '256x64']) {
      assert.throws(() => parseValue(spec('filters'), bad), /--filters must be a list of positive integers up to 65536 like 75,50,25/, bad);
    }
    assert.throws(() => resolveTrainOptions({ cnn: { filters: [] } }), /--filters must be a list of one or more positive integer widths/);
    assert.deepEqual(parseValue(spec('hidden'), ''), []);
  });
});
