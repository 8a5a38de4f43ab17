import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Check } from '../../src/doctor';
import { BASES } from '../../src/models';
import { MODELS_DIR, ROOT } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

describe('edgetune doctor with the installed bases', () => {
  it('finds everything the main job needs ok, runs one inference, and exits 0', function () {
    this.timeout(180_000);
    // The global setup installed and verified every pinned base into MODELS_DIR from ../shared.
    const r = spawnSync(process.execPath, [CLI, '--models-dir', MODELS_DIR, 'doctor', '--json'], { encoding: 'utf8', timeout: 170_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
    assert.equal(report.ok, true);
    const status = (name: string): Check => {
      const c = report.checks.find((x) => x.name === name);
      assert.ok(c, `no ${name} check`);
      return c;
    };
    const needed = ['node', 'architecture', 'tflite runtime', 'tfjs backend', 'imagenet labels', ...BASES.map((b) => `base ${b.name}`)];
    for (const name of needed) assert.equal(status(name).status, 'ok', JSON.stringify(status(name)));
    assert.ok(report.checks.filter((c) => c.name.startsWith('disk')).every((c) => c.status === 'ok'));
    for (const b of BASES) assert.match(status(`base ${b.name}`).detail, /^SHA-256 verified/);
    // The smallest base is the one inferred (input 128×128, 1001 ImageNet scores).
    assert.match(status('tflite runtime').detail, /loads; one inference of mobilenet_v1_0\.25_128: \d+\.\d ms on 1 thread, 1001 outputs$/);
    assert.deepEqual(report.checks.filter((c) => c.status === 'fail'), []);
  });
});
