/**
 * deploy/: the install script and the systemd unit, checked without installing anything (a real
 * install into a throwaway root is in test/data/deploy-install.test.ts: it runs npm ci and copies
 * the bases from ../shared).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLOSE_GRACE_MS } from '../../src/server/training';
import { ROOT, tmpDir } from '../helpers';

const INSTALL = path.join(ROOT, 'deploy', 'install.sh');
const UNIT = path.join(ROOT, 'deploy', 'edgetune.service');
const VERSION: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

/** Fails (never skips) when a tool the check needs is missing, naming the package. */
function need(tool: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    throw new Error(`${tool} is not installed: apt-get install -y ${pkg} (.ci/run installs it)`);
  }
}

function install(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8', env });
}

/** Every path under a folder, relative, sorted. */
function listing(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** The unit as key → values (a key may repeat). */
function unitSettings(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv) m.set(kv[1], [...(m.get(kv[1]) ?? []), kv[2]]);
  }
  return m;
}

describe('deploy: scripts', function () {
  this.timeout(60000);

  it('shellcheck finds nothing in deploy/*.sh, scripts/*.sh and .ci/run', () => {
    need('shellcheck', 'shellcheck');
    const files = [
      ...fs.readdirSync(path.join(ROOT, 'deploy')).filter((f) => f.endsWith('.sh')).map((f) => path.join('deploy', f)),
      ...fs.readdirSync(path.join(ROOT, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => path.join('scripts', f)),
      path.join('.ci', 'run'),
    ];
    assert.ok(files.includes(path.join('deploy', 'install.sh')) && files.includes(path.join('scripts', 'demo.sh')), files.join(' '));
    const r = spawnSync('shellcheck', files, { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.stdout + r.stderr, '');
    assert.equal(r.status, 0);
  });

  it('install.sh --help prints the usage; an unknown option is one line and exit code 1', () => {
    const help = install(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: sudo deploy\/install\.sh \[options\]\n/);
    for (const flag of ['--coral', '--models-from DIR', '--dry-run', '--root DIR', '--skip-packages', '--skip-user']) assert.ok(help.stdout.includes(`  ${flag}`), flag);
    const bad = install(['--bogus']);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, "install.sh: unknown option '--bogus': see deploy/install.sh --help\n");
  });

  it('install.sh --dry-run --root DIR prints every planned action and changes nothing', () => {
    const root = tmpDir();
    const models = tmpDir();
    const r = install(['--dry-run', '--root', root, '--skip-packages', '--skip-user', '--models-from', models]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const release = /install release (\S+) into/.exec(r.stdout)?.[1] ?? '';
    assert.match(release, new RegExp(`^${VERSION.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
    assert.equal(r.stdout, [
      `EdgeTune: dry run of the install from ${ROOT} into ${root}: nothing is changed`,
      'system packages',
      `  ok: Node.js ${process.version} and npm ${spawnSync('npm', ['-v'], { encoding: 'utf8' }).stdout.trim()}`,
      '  ok: system packages skipped (--skip-packages)',
      'user',
      '  ok: user edgetune skipped (--skip-user)',
      'folders',
      ...['/opt/edgetune 755', '/opt/edgetune/releases 755', '/opt/edgetune/bin 755', '/var/lib/edgetune 750', '/var/lib/edgetune/data 750',
        '/var/lib/edgetune/models 755', '/etc/edgetune 750'].map((d) => { const [p, mode] = d.split(' '); return `  would: create ${root}${p} (mode ${mode})`; }),
      'app',
      `  would: install release ${release} into ${root}/opt/edgetune/releases/${release} (copy the build, npm ci --omit=dev)`,
      `  would: current → releases/${release}`,
      `  would: write ${root}/opt/edgetune/bin/edgetune`,
      `  would: link ${root}/usr/local/bin/edgetune → /opt/edgetune/bin/edgetune`,
      'settings',
      `  would: write ${root}/etc/edgetune/edgetune.conf (defaults, listening on all addresses, a new random access token)`,
      'pretrained bases',
      `  would: install the pinned bases into ${root}/var/lib/edgetune/models (copied from ${models}, SHA-256 checked)`,
      'service',
      `  would: install ${root}/etc/systemd/system/edgetune.service`,
      '  ok: systemd and udev left alone (--root)',
      'dry run: 14 action(s) above would be taken; nothing was changed',
      '',
    ].join('\n'));
    assert.deepEqual(listing(root), []);
    assert.deepEqual(listing(models), []);
  });

  it('install.sh refuses a 32-bit ARM system with one line, before changing anything', () => {
    // A fake dpkg answering like Raspberry Pi OS 32-bit (its kernel may be 64-bit: uname -m says aarch64).
    const bin = tmpDir();
    fs.writeFileSync(path.join(bin, 'dpkg'), '#!/bin/sh\necho armhf\n', { mode: 0o755 });
    const root = tmpDir();
    const r = install(['--root', root, '--skip-packages', '--skip-user'], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'install.sh: 32-bit ARM (armhf) is not supported: no 32-bit ARM TFLite library is published for tfjs-tflite-node; install Raspberry Pi OS (64-bit) and run this again\n');
    assert.equal(r.stdout, '');
    assert.deepEqual(listing(root), []);
  });
});

describe('deploy: edgetune.service', function () {
  this.timeout(60000);
  const text = fs.readFileSync(UNIT, 'utf8');

  it('passes systemd-analyze verify', () => {
    need('systemd-analyze', 'systemd');
    // verify refuses a unit whose ExecStart binary does not exist ("is not executable"), and the
    // launcher /opt/edgetune/bin/edgetune exists only once install.sh has run: verify a copy whose
    // ExecStart names an executable that exists here (node), everything else unchanged.
    const dir = tmpDir();
    const copy = text.replace(/^ExecStart=\/opt\/edgetune\/bin\/edgetune /m, `ExecStart=${process.execPath} `);
    assert.notEqual(copy, text);
    fs.writeFileSync(path.join(dir, 'edgetune.service'), copy);
    const r = spawnSync('systemd-analyze', ['verify', path.join(dir, 'edgetune.service')], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  it('runs `edgetune serve --config` as edgetune, restarts on failure, stops with SIGTERM in time, logs to the journal, hardened', () => {
    const s = unitSettings(text);
    const one = (k: string) => { assert.equal(s.get(k)?.length, 1, k); return s.get(k)![0]; };
    assert.equal(one('ExecStart'), '/opt/edgetune/bin/edgetune serve --config /etc/edgetune/edgetune.conf');
    assert.equal(one('User'), 'edgetune');
    assert.equal(one('Group'), 'edgetune');
    assert.equal(one('SupplementaryGroups'), 'video plugdev');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.equal(one('KillMode'), 'mixed');
    // Long enough for the server's own grace for a cancelled training, plus the camera and HTTP.
    assert.ok(Number(one('TimeoutStopSec')) >= 2 * CLOSE_GRACE_MS / 1000, one('TimeoutStopSec'));
    assert.equal(one('StandardOutput'), 'journal');
    assert.equal(one('StandardError'), 'journal');
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ReadWritePaths', '/var/lib/edgetune'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes']]) {
      assert.equal(one(k), v, k);
    }
    assert.equal(one('WantedBy'), 'multi-user.target');
  });
});
