import * as assert from 'node:assert/strict';
import { stratifiedSplit, validateLabel, valCount, type Sample } from '../../src/dataset';

describe('dataset: validateLabel', () => {
  it('accepts ordinary and Unicode labels, 64 code points max', () => {
    for (const ok of ['cat', 'café', '数字', 'Ziffer_7', '7', 'a.b', 'with space', 'x'.repeat(64), '😀'.repeat(64)]) {
      assert.equal(validateLabel(ok), ok);
    }
  });

  it('rejects each rule with a one-line message naming the label and the rule', () => {
    const table: [string, RegExp][] = [
      ['', /invalid class label '': it is empty/],
      ['a/b', /invalid class label 'a\/b': it contains a path separator/],
      ['a\\b', /invalid class label 'a\\\\b': it contains a path separator/],
      ['.', /'\.' and '\.\.' are reserved/],
      ['..', /'\.' and '\.\.' are reserved/],
      ['a..b', /invalid class label 'a\.\.b': it contains '\.\.'/],
      ['.hidden', /invalid class label '\.hidden': it starts with '\.'/],
      ['a\nb', /invalid class label 'a\\nb': it contains a control character/],
      ['tab\t', /control character/],
      ['nul\u0000', /control character/],
      ['del\u007f', /control character/],
      ['x'.repeat(65), /it has 65 characters; at most 64 are allowed/],
      ['😀'.repeat(65), /it has 65 characters/],
    ];
    for (const [label, re] of table) {
      assert.throws(() => validateLabel(label), (e: Error) => {
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      }, JSON.stringify(label));
    }
  });
});

describe('dataset: stratifiedSplit', () => {
  const samples: Sample[] = [];
  const sizes: Record<string, number> = { a: 10, b: 7, c: 2, d: 1, e: 40 };
  Object.entries(sizes).forEach(([label, n], labelIndex) => {
    for (let i = 0; i < n; i++) samples.push({ path: `/d/${label}/${String(i).padStart(3, '0')}.jpg`, label, labelIndex });
  });

  it('valCount: round(n*f), at least 1 when f>0 and n>=2, never all', () => {
    assert.deepEqual([10, 7, 2, 1, 40].map((n) => valCount(n, 0.2)), [2, 1, 1, 0, 8]);
    assert.deepEqual([10, 2, 3].map((n) => valCount(n, 0.99)), [9, 1, 2]);
    assert.deepEqual([10, 2].map((n) => valCount(n, 0)), [0, 0]);
    assert.equal(valCount(7, 0.25), 2);
  });

  it('is stratified, disjoint, complete, in input order and deterministic per seed', () => {
    const { train, val } = stratifiedSplit(samples, 0.2, 7);
    for (const [label, n] of Object.entries(sizes)) {
      assert.equal(val.filter((s) => s.label === label).length, valCount(n, 0.2), label);
    }
    const all = new Set([...train, ...val]);
    assert.equal(all.size, samples.length);
    assert.equal(train.length + val.length, samples.length);
    assert.deepEqual(train, samples.filter((s) => train.includes(s)));
    assert.deepEqual(val, samples.filter((s) => val.includes(s)));
    assert.deepEqual(stratifiedSplit(samples, 0.2, 7), { train, val });
    assert.deepEqual(stratifiedSplit(samples.slice().reverse(), 0.2, 7).val.map((s) => s.path).sort(), val.map((s) => s.path).sort());
    const other = stratifiedSplit(samples, 0.2, 8).val;
    assert.notDeepEqual(other, val);
    assert.equal(other.length, val.length);
  });

  it("a class's split does not depend on the other classes", () => {
    const onlyE = samples.filter((s) => s.label === 'e');
    const all = stratifiedSplit(samples, 0.25, 3).val.filter((s) => s.label === 'e');
    assert.deepEqual(stratifiedSplit(onlyE, 0.25, 3).val, all);
  });
});
