/**
 * A real `deploy/install.sh` into a throwaway root (--root, without packages and user, so it needs
 * neither root nor apt): npm ci of the release, the bases copied from ../shared/models (an offline
 * install, as from a USB stick), the config, the launcher and the unit; then a second run that
 * changes nothing, the installed app serving with its config, an update and a roll back.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { readServeConfig } from '../../src/config';
import { ROOT, shared, tmpDir } from '../helpers';

const VERSION: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

function install(script: string, root: string, ...extra: string[]) {
  const r = spawnSync('bash', [script, '--root', root, '--skip-packages', '--skip-user', '--models-from', shared('models'), ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

describe('deploy: install.sh into a throwaway root', function () {
  this.timeout(10 * 60 * 1000);
  const root = tmpDir('edgetune-root-');
  const script = path.join(ROOT, 'deploy', 'install.sh');
  let release = '';

  it('installs the app, the bases, the config, the launcher and the unit', () => {
    const out = install(script, root);
    release = /installed EdgeTune (\S+) in /.exec(out)?.[1] ?? '';
    assert.match(release, /^\d+\.\d+\.\d+-[0-9a-f]{12}$/);
    assert.ok(release.startsWith(`${VERSION}-`));
    assert.ok(out.endsWith(`installed EdgeTune ${release} in ${root} (14 change(s))\n`), out);
    assert.match(out, new RegExp(`  change: installed 8 base file\\(s\\) into ${root}/var/lib/edgetune/models \\(0 already there\\)\n`));

    const app = path.join(root, 'opt', 'edgetune');
    assert.equal(fs.readlinkSync(path.join(app, 'current')), `releases/${release}`);
    assert.deepEqual(fs.readdirSync(path.join(app, 'releases')), [release]);
    const rel = path.join(app, 'releases', release);
    assert.ok(fs.existsSync(path.join(rel, 'node_modules', 'tfjs-tflite-node', 'build', 'Release', 'node_tflite_binding.node')));
    assert.ok(!fs.existsSync(path.join(rel, 'node_modules', 'typescript')), 'dev dependencies are left out');
    assert.deepEqual(fs.readFileSync(path.join(rel, 'dist', 'src', 'cli', 'index.js')), fs.readFileSync(path.join(ROOT, 'dist', 'src', 'cli', 'index.js')));
    assert.equal(fs.readFileSync(path.join(app, 'bin', 'edgetune'), 'utf8'), [
      '#!/bin/sh',
      '# Written by EdgeTune deploy/install.sh: the active release with the Node.js found at install time.',
      'export EDGETUNE_MODELS="${EDGETUNE_MODELS:-/var/lib/edgetune/models}"',
      `exec ${spawnSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim()} /opt/edgetune/current/dist/src/cli/index.js "$@"`,
      '',
    ].join('\n'));
    assert.equal(fs.statSync(path.join(app, 'bin', 'edgetune')).mode & 0o777, 0o755);
    assert.equal(fs.readlinkSync(path.join(root, 'usr', 'local', 'bin', 'edgetune')), '/opt/edgetune/bin/edgetune');
    assert.deepEqual(fs.readFileSync(path.join(root, 'etc', 'systemd', 'system', 'edgetune.service')), fs.readFileSync(path.join(ROOT, 'deploy', 'edgetune.service')));
    assert.deepEqual(fs.readdirSync(path.join(root, 'var', 'lib', 'edgetune', 'models')).sort(), fs.readdirSync(shared('models')).filter((f) => f !== 'SHA256SUMS').sort());

    const conf = path.join(root, 'etc', 'edgetune', 'edgetune.conf');
    assert.equal(fs.statSync(conf).mode & 0o777, 0o640);
    const c = readServeConfig(conf);
    assert.match(c.token ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual({ ...c, token: undefined }, {
      port: 8080, host: '0.0.0.0', camera: 'auto', data: '/var/lib/edgetune/data', models: '/var/lib/edgetune/models',
      token: undefined, maxUploadMb: 10, reviewBelow: 0.5, device: 'auto',
    });
  });

  it('changes nothing when run again, and a dry run plans nothing', () => {
    const conf = fs.readFileSync(path.join(root, 'etc', 'edgetune', 'edgetune.conf'));
    const again = install(script, root);
    assert.doesNotMatch(again, /^  change: /m);
    assert.match(again, /  ok: .*edgetune\.conf \(kept: it is never overwritten\)\n/);
    assert.ok(again.endsWith(`nothing to change: EdgeTune ${release} is installed and up to date in ${root}\n`), again);
    const dry = install(script, root, '--dry-run');
    assert.doesNotMatch(dry, /^  would: /m);
    assert.ok(dry.endsWith(`nothing to change: EdgeTune ${release} is installed and up to date in ${root}\n`), dry);
    assert.deepEqual(fs.readFileSync(path.join(root, 'etc', 'edgetune', 'edgetune.conf')), conf);
  });

  it('serves from the installed release with the installed config (its token), and stops on SIGTERM', async () => {
    const conf = path.join(root, 'etc', 'edgetune', 'edgetune.conf');
    const token = readServeConfig(conf).token!;
    // The config names /var/lib/edgetune/…: flags put data and models inside the throwaway root.
    const child = spawn(process.execPath, [path.join(root, 'opt', 'edgetune', 'current', 'dist', 'src', 'cli', 'index.js'), 'serve', '--config', conf,
      '--host', '127.0.0.1', '--port', '0', '--camera', 'none', '--data', path.join(root, 'var', 'lib', 'edgetune', 'data'), '--models', path.join(root, 'var', 'lib', 'edgetune', 'models')],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EDGETUNE_TOKEN: '' } });
    try {
      let err = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr!.on('data', (d) => { err += d; const m = /open (http:\/\/\S+)/.exec(err); if (m) resolve(m[1]); });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
      });
      assert.equal((await fetch(`${url}/api/health`)).status, 401);
      const h = await (await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).json() as { version: string; modelId: string; labels: number };
      assert.deepEqual([h.version, h.modelId, h.labels], [VERSION, 'stock', 1001]);
      child.kill('SIGTERM');
      assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('updates to a new build (the old release stays as previous) and rolls back by installing the old checkout again', () => {
    // A second checkout whose build differs in one file: a new release.
    const copy = tmpDir('edgetune-checkout-');
    for (const f of ['package.json', 'package-lock.json', 'README.md', 'dist', 'src', 'web', 'deploy']) {
      assert.equal(spawnSync('cp', ['-a', path.join(ROOT, f), copy]).status, 0, f);
    }
    fs.appendFileSync(path.join(copy, 'README.md'), '\nA later build.\n');
    const out = install(path.join(copy, 'deploy', 'install.sh'), root);
    const next = /installed EdgeTune (\S+) in /.exec(out)?.[1] ?? '';
    assert.notEqual(next, release);
    assert.match(out, new RegExp(`  change: previous → releases/${release} \\(roll back: see README\\)\n  change: current → releases/${next}\n`));
    const app = path.join(root, 'opt', 'edgetune');
    assert.equal(fs.readlinkSync(path.join(app, 'current')), `releases/${next}`);
    assert.equal(fs.readlinkSync(path.join(app, 'previous')), `releases/${release}`);

    const back = install(script, root);
    assert.doesNotMatch(back, /install release/, 'the old release is still there: no npm ci');
    assert.match(back, new RegExp(`  change: previous → releases/${next} \\(roll back: see README\\)\n  change: current → releases/${release}\n`));
    assert.deepEqual(fs.readdirSync(path.join(app, 'releases')).sort(), [release, next].sort());
    assert.ok(back.endsWith(`installed EdgeTune ${release} in ${root} (2 change(s))\n`), back);
  });
});
