import { strict as assert } from 'node:assert';
import { dropoutMask, permutation, streamSeed, STREAM } from '../../src/head/streams';

describe('head random streams', () => {
  it('derives distinct, stable seeds from (seed, purpose, epoch, batch, position)', () => {
    const s = streamSeed(1, STREAM.dropout, 3, 7, 0);
    assert.equal(s, streamSeed(1, STREAM.dropout, 3, 7, 0));
    assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
    // Neighbouring keys (and the order of the parts) give different seeds.
    const keys = [[1, STREAM.dropout, 3, 7, 1], [1, STREAM.dropout, 3, 8, 0], [1, STREAM.dropout, 4, 7, 0],
      [2, STREAM.dropout, 3, 7, 0], [1, STREAM.shuffle, 3, 7, 0], [1, STREAM.dropout, 7, 3, 0]];
    const seeds = new Set([s, ...keys.map((k) => streamSeed(...k))]);
    assert.equal(seeds.size, keys.length + 1);
  });

  it('makes inverted-dropout masks: zeros at the rate, kept entries scaled by 1/(1 − rate)', () => {
    const m = dropoutMask(0.25, 100_000, 42);
    assert.ok(m.every((v) => v === 0 || v === Math.fround(1 / 0.75)));
    const zeros = m.filter((v) => v === 0).length / m.length;
    assert.ok(Math.abs(zeros - 0.25) < 0.01, `drop fraction ${zeros}`);
    assert.deepEqual(dropoutMask(0.25, 1000, 42), m.subarray(0, 1000));
    assert.notDeepEqual(dropoutMask(0.25, 1000, 43), m.subarray(0, 1000));
    assert.ok(dropoutMask(0, 50, 1).every((v) => v === 1));
  });

  it('shuffles with a seeded permutation', () => {
    const p = permutation(1000, 5);
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
    assert.deepEqual(permutation(1000, 5), p);
    assert.notDeepEqual(permutation(1000, 6), p);
  });
});
