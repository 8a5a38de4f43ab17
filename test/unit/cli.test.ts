import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, MODELS_DIR } from '../helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--models-dir', MODELS_DIR, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('edgetune CLI', () => {
  it('has --help on every subcommand', () => {
    for (const cmd of [[], ['models', 'fetch'], ['models', 'list'], ['import'], ['train'], ['export'], ['predict'], ['eval'], ['sweep'], ['serve'], ['doctor']]) {
      const r = run(...cmd, '--help');
      assert.equal(r.code, 0, cmd.join(' '));
      assert.match(r.stdout, /Usage: edgetune/);
    }
  });
});
