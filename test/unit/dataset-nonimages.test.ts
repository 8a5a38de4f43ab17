import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scanDataset } from '../../src/dataset';
import { importImages } from '../../src/dataset';
import { sample, tmpDir } from '../helpers';

describe('dataset: files that look like photos but are not', () => {
  it('are listed in Dataset.ignored, never as samples', () => {
    const root = tmpDir();
    for (const c of ['a', 'b']) {
      fs.mkdirSync(path.join(root, c));
      for (const f of fs.readdirSync(sample('gestures', c === 'a' ? '0' : '1')).slice(0, 2)) {
        fs.copyFileSync(sample('gestures', c === 'a' ? '0' : '1', f), path.join(root, c, f));
      }
    }
    fs.writeFileSync(path.join(root, 'a', 'x.jpg'), 'not a photo');
    fs.writeFileSync(path.join(root, 'a', 'notes.txt'), 'reported too');
    const ds = scanDataset(root);
    assert.equal(ds.samples.length, 4);
    assert.deepEqual(ds.ignored.map((i) => [path.basename(i.path), i.kind]), [['notes.txt', 'not-image'], ['x.jpg', 'not-image']]);
  });

  it('import refuses a dataset inside its own source', async () => {
    const src = tmpDir();
    await assert.rejects(importImages(src, path.join(src, 'inner'), { label: 'x' }), /inside the import source/);
  });
});
