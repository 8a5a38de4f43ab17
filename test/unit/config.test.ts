import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  SERVE_OPTIONS, configKey, formatServeConfig, parseServeConfig, readServeConfig, resolveServeSettings, toServeOptions,
  type ServeSettings,
} from '../../src/config';
import { ROOT, tmpDir } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
const F = '/etc/edgetune/edgetune.conf';

function bad(text: string): string {
  try {
    parseServeConfig(text, F);
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'BAD_OPTION');
    return (e as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

describe('serve config file: parseServeConfig', () => {
  it('reads every key, with comments, blank lines, spaces, quotes, CRLF and a BOM', () => {
    const text = '\uFEFF# the Pi in the kitchen\r\n\r\nport = 9000\r\nhost=0.0.0.0\n  camera=v4l2:/dev/video0\ndata="/var/lib/edgetune/data"\n' +
      "models='/var/lib/edgetune/models'\ntoken=ab#cdef0123\nmax_upload_mb=25\nreview_below=0.25\ndevice=edgetpu\n";
    assert.deepEqual(parseServeConfig(text, F), {
      port: 9000, host: '0.0.0.0', camera: 'v4l2:/dev/video0', data: '/var/lib/edgetune/data', models: '/var/lib/edgetune/models',
      token: 'ab#cdef0123', maxUploadMb: 25, reviewBelow: 0.25, device: 'edgetpu',
    });
  });

  it('resolves relative paths against the folder of the file, not the current folder', () => {
    assert.deepEqual(parseServeConfig('data=d\nmodels=../m\n', '/srv/et/conf/edgetune.conf'), { data: '/srv/et/conf/d', models: '/srv/et/m' });
  });

  it('gives an empty record for a file of comments', () => {
    assert.deepEqual(parseServeConfig('# nothing set\n\n#port=1\n', F), {});
  });

  it('names file:line, the key and what is allowed in one line for each mistake', () => {
    const cases: [string, string][] = [
      ['port=8080\nprot=1\n', `${F}:2: unknown key 'prot': use one of port, host, camera, data, models, token, max_upload_mb, review_below, device`],
      ['max-upload-mb=5\n', `${F}:1: unknown key 'max-upload-mb' (did you mean max_upload_mb?): use one of port, host, camera, data, models, token, max_upload_mb, review_below, device`],
      ['# ok\nport 8080\n', `${F}:2: expected KEY=value (e.g. port=8080) or a # comment`],
      ['port=8080\nport=8081\n', `${F}:2: port is already set on line 1: keep one of the two`],
      ['host=\n', `${F}:1: host has no value: give one or put # before the line`],
      ['token=""\n', `${F}:1: token has no value: give one or put # before the line`],
      ['port=70000\n', `${F}:1: port must be an integer from 0 to 65535 (got '70000')`],
      ['port=80.5\n', `${F}:1: port must be an integer from 0 to 65535 (got '80.5')`],
      ['port=http\n', `${F}:1: port must be an integer from 0 to 65535 (got 'http')`],
      ['review_below=1.5\n', `${F}:1: review_below must be a score from 0 to 1 (got '1.5')`],
      ['review_below=-0.1\n', `${F}:1: review_below must be a score from 0 to 1 (got '-0.1')`],
      ['token=short\n', `${F}:1: token is too short (5 characters): use at least 8, e.g. the output of \`openssl rand -hex 16\``],
      ['token=two words here\n', `${F}:1: token must not contain spaces: use e.g. the output of \`openssl rand -hex 16\``],
      ['max_upload_mb=0\n', `${F}:1: max_upload_mb must be an integer ≥ 1 (got '0')`],
      ['device=tpu\n', `${F}:1: device must be auto, cpu, edgetpu, usb, usb:N, pci, pci:N or :N (got 'tpu')`],
      ['camera=usb\n', `${F}:1: bad camera value "usb": use auto, none, browser, webcam[:/dev/videoN], rpicam[:N], v4l2:/dev/videoN (or just /dev/videoN), file:DIR or file:VIDEO`],
      ['host=my pi\n', `${F}:1: host must be an address (127.0.0.1, 0.0.0.0, ::, a host name) without spaces (got 'my pi')`],
      ['data=/srv/my data\n', `${F}:1: data must be a folder without spaces (got '/srv/my data')`],
    ];
    for (const [text, message] of cases) assert.equal(bad(text), message, text);
  });

  it('never quotes a line without a key back (it may be a token written alone)', () => {
    assert.doesNotMatch(bad('s3cr3t-t0ken-value\n'), /s3cr3t/);
  });
});

describe('serve config file: readServeConfig', () => {
  it('reads a file, and refuses a missing, a binary and a huge one with one line', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.conf');
    fs.writeFileSync(f, 'port=9001\ndata=data\n');
    assert.deepEqual(readServeConfig(f), { port: 9001, data: path.join(dir, 'data') });
    const missing = path.join(dir, 'none.conf');
    assert.throws(() => readServeConfig(missing), { code: 'NOT_FOUND', message: `config file ${missing} does not exist: write one with \`edgetune serve --print-config > ${missing}\` or fix the path` });
    const bin = path.join(dir, 'b.conf');
    fs.writeFileSync(bin, Buffer.from([0x70, 0x00, 0x01]));
    assert.throws(() => readServeConfig(bin), { code: 'BAD_OPTION', message: `${bin} is not a text file: give the KEY=value file of \`edgetune serve --print-config\`` });
    const big = path.join(dir, 'c.conf');
    fs.writeFileSync(big, '#'.repeat(64 * 1024 + 1));
    assert.throws(() => readServeConfig(big), { code: 'BAD_OPTION', message: `${big} is larger than 64 KB, so it is not an edgetune config file: give the KEY=value file of \`edgetune serve --print-config\`` });
    assert.throws(() => readServeConfig(dir), { code: 'IO', message: `cannot read the config file ${dir}: it is a folder, not a file (EISDIR)` });
  });
});

describe('serve settings: one definition for flags and keys', () => {
  it('has a config key for every flag, made from the flag', () => {
    assert.deepEqual(SERVE_OPTIONS.map(configKey), ['port', 'host', 'camera', 'data', 'models', 'token', 'max_upload_mb', 'review_below', 'device']);
  });

  it('lets the first layer that sets a field win, then the defaults', () => {
    const s = resolveServeSettings({ port: 1 }, { port: 2, host: '0.0.0.0', token: 'abcdefgh' });
    assert.deepEqual(s, { port: 1, host: '0.0.0.0', camera: 'auto', data: 'edgetune-data', token: 'abcdefgh', maxUploadMb: 10, reviewBelow: 0.5, device: 'auto' });
    assert.deepEqual(toServeOptions(s, '/m'), {
      port: 1, host: '0.0.0.0', camera: 'auto', data: 'edgetune-data', modelsDir: '/m', token: 'abcdefgh', maxUploadBytes: 10 * 1024 * 1024, reviewBelow: 0.5, device: 'auto',
    });
  });

  it('writes a file that reads back to the same settings', () => {
    const s: ServeSettings = { port: 0, host: '::', camera: 'rpicam:1', data: '/d', models: '/m', token: 'x'.repeat(32), maxUploadMb: 3, reviewBelow: 0, device: 'cpu' };
    const text = formatServeConfig(s);
    assert.deepEqual(parseServeConfig(text, F), s);
    assert.ok(text.split('\n').every((l) => l.length <= 100), text);
    assert.deepEqual(parseServeConfig(formatServeConfig({ port: 8080 }), F), { port: 8080 });
  });
});

describe('edgetune serve --config (command line)', function () {
  this.timeout(30000);
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'serve', ...args], { encoding: 'utf8', env: { ...process.env, EDGETUNE_TOKEN: '' } });

  it('reads the file, and flags given on the command line override it', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'edgetune.conf');
    fs.writeFileSync(f, 'port=9001\nhost=0.0.0.0\ntoken=abcdefgh\ndata=here\nreview_below=0.2\n');
    const r = run('--config', f, '--port', '9002', '--models', '/m', '--print-config');
    assert.equal(r.status, 0, r.stderr);
    const set = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.deepEqual(set, ['port=9002', 'host=0.0.0.0', 'camera=auto', `data=${path.join(dir, 'here')}`, 'models=/m', 'token=abcdefgh', 'max_upload_mb=10', 'review_below=0.2', 'device=auto']);
  });

  it('stops with one line naming file:line and exit code 1 on a bad file', () => {
    const f = path.join(tmpDir(), 'edgetune.conf');
    fs.writeFileSync(f, '# settings\nport=8080\nreview_below=2\n');
    const r = run('--config', f);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `edgetune: ${f}:3: review_below must be a score from 0 to 1 (got '2')\n`);
  });

  it('checks flags with the same validators', () => {
    const r = run('--port', '70000');
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "edgetune: option '--port <n>' argument '70000' is invalid. --port must be an integer from 0 to 65535 (got '70000') (see --help)\n");
  });
});
