import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeModelFolder } from '../../src/artifact';
import { tmpDir } from '../helpers';

/** Permission bits of every entry under `dir` (and of `dir` itself as '.'), by relative path. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': (fs.statSync(dir).mode & 0o777).toString(8) };
  for (const e of fs.readdirSync(dir, { recursive: true }) as string[]) {
    out[e] = (fs.statSync(path.join(dir, e)).mode & 0o777).toString(8);
  }
  return out;
}

/** Runs `fn` under the process umask `mask`, restoring the previous one. */
function withUmask<T>(mask: number, fn: () => T): T {
  const previous = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}

const FILES = { 'model.tflite': new Uint8Array([1, 2, 3]), 'metadata.json': '{}\n', 'head/model.json': '{}' };

/**
 * A model folder is written to a temporary folder and renamed; mkdtemp's 0700 would survive the
 * rename and hide the model from another user (the Pi's service account). It must get the
 * permissions any new folder gets under the umask.
 */
describe('model folder permissions', () => {
  it('under umask 022: folders 0755, files 0644', () => {
    const out = path.join(tmpDir(), 'model');
    withUmask(0o022, () => writeModelFolder(out, FILES));
    assert.deepEqual(modes(out), { '.': '755', 'model.tflite': '644', 'metadata.json': '644', head: '755', 'head/model.json': '644' });
  });

  it('follows the umask: 027 gives 0750 and 0640, also when replacing an earlier model', () => {
    const out = path.join(tmpDir(), 'model');
    withUmask(0o022, () => writeModelFolder(out, FILES));
    withUmask(0o027, () => writeModelFolder(out, { ...FILES, 'labels.txt': 'a\nb\n' }));
    assert.deepEqual(modes(out), {
      '.': '750', 'model.tflite': '640', 'metadata.json': '640', head: '750', 'head/model.json': '640', 'labels.txt': '640',
    });
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['model']);
  });
});
