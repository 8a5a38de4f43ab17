import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diskCache, noCache } from '../../src/base/cache';
import { cacheConfig, cutCacheConfig, viewSeed, type Base } from '../../src/base';
import { presetParams } from '../../src/augment';
import { tmpDir } from '../helpers';

const SHA = 'ab'.repeat(32);

describe('embedding cache: raw activations at a cut tensor', () => {
  it('stores bytes per (config, photo, view) and reads them back only at the stored length', () => {
    const dir = tmpDir();
    const c = diskCache(dir);
    const data = Uint8Array.from({ length: 7 * 7 * 16 }, (_, i) => (i * 37) & 255);
    assert.equal(c.getBytes('k1', SHA, 'clean', data.length), undefined);
    c.putBytes('k1', SHA, 'clean', data);
    c.putBytes('k1', SHA, 'v0', data.map((v) => 255 - v));
    assert.deepEqual(c.getBytes('k1', SHA, 'clean', data.length), data);
    assert.deepEqual(c.getBytes('k1', SHA, 'v0', data.length), data.map((v) => 255 - v));
    assert.equal(c.getBytes('k1', SHA, 'clean', data.length + 1), undefined, 'another length is a miss');
    assert.equal(c.getBytes('k2', SHA, 'clean', data.length), undefined, 'another config is a miss');
    assert.equal(c.getView('k1', SHA, 0, data.length / 4), undefined, 'activations and embeddings do not mix');
    assert.deepEqual(c.stats, { hits: 2, misses: 4 });
    const file = path.join(dir, 'activations', 'k1', SHA.slice(0, 2), `${SHA}.clean`);
    assert.equal(fs.statSync(file).size, data.length, 'one byte per value on disk');
    // A second cache on the same folder finds the entries (another run).
    assert.deepEqual(diskCache(dir).getBytes('k1', SHA, 'clean', data.length), data);
  });

  it('noCache stores nothing', () => {
    const c = noCache();
    c.putBytes('k', SHA, 'clean', new Uint8Array(4));
    assert.equal(c.getBytes('k', SHA, 'clean', 4), undefined);
    assert.deepEqual(c.stats, { hits: 0, misses: 1 });
  });

  it('keys differ by cut tensor, from the embedding keys, and views key on augmentation and seed', () => {
    const base = { spec: { sha256: 'f'.repeat(64) }, pooling: 'avg', embedder: { device: 'cpu' } } as unknown as Base;
    const aug = presetParams('objects');
    const a = cutCacheConfig(base, 'Conv2d_12_pointwise/Relu6', 'crop', aug, 1);
    const b = cutCacheConfig(base, 'Conv2d_11_pointwise/Relu6', 'crop', aug, 1);
    const e = cacheConfig(base, 'crop', aug, 1);
    assert.notEqual(a.clean, b.clean);
    assert.notEqual(a.clean, e.clean);
    assert.notEqual(a.views, a.clean);
    assert.equal(cutCacheConfig(base, 'Conv2d_12_pointwise/Relu6', 'crop', aug, 1).views, a.views);
    assert.notEqual(cutCacheConfig(base, 'Conv2d_12_pointwise/Relu6', 'crop', aug, 2).views, a.views);
    assert.equal(cutCacheConfig(base, 'Conv2d_12_pointwise/Relu6', 'crop', aug, 2).clean, a.clean, 'clean entries do not depend on the seed');
  });

  it('viewSeed gives distinct, stable seeds per (seed, photo, view)', () => {
    const s = new Set([0, 1, 2].flatMap((v) => [viewSeed(1, SHA, v), viewSeed(2, SHA, v), viewSeed(1, 'cd'.repeat(32), v)]));
    assert.equal(s.size, 9);
    assert.equal(viewSeed(1, SHA, 0), viewSeed(1, SHA, 0));
  });
});
