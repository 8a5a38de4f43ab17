import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EdgeTuneError } from '../../src/errors';
import { formatLabelsFile, normalisationClashes, parseLabelsFile, validateLabel } from '../../src/dataset';
import { readLabels } from '../../src/runtime';
import { tmpDir } from '../helpers';

const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';

function throwsCode(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof EdgeTuneError, String(e));
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

describe('labels: validateLabel whitespace rule', () => {
  it('refuses leading or trailing whitespace of any kind, keeps inner spaces', () => {
    for (const bad of ['50 cent ', ' cat', '\u00a0cat', 'cat\u3000', 'cat\u2003']) {
      throwsCode(() => validateLabel(bad), 'BAD_LABEL', `invalid class label '${bad}': it starts or ends with whitespace, which is invisible where the label is shown; remove it`);
    }
    for (const ok of ['50 cent', 'a b  c', NFC, NFD]) assert.equal(validateLabel(ok), ok);
  });

  it('normalisationClashes finds names equal after NFC, and only those', () => {
    assert.deepEqual(normalisationClashes(['a', NFC, 'b', NFD]), [[NFC, NFD]]);
    assert.deepEqual(normalisationClashes(['Cat', 'cat', NFC]), []);
  });
});

describe('labels: labels.txt', () => {
  it('round-trips exactly: inner spaces, NFD, emoji, 64 code points', () => {
    const labels = ['a b', NFD, NFC + 'x', '😀'.repeat(64), '7'];
    const text = formatLabelsFile(labels);
    assert.equal(text, labels.join('\n') + '\n');
    assert.deepEqual(parseLabelsFile(text, 'l.txt'), labels);
  });

  it('reads CRLF, a BOM and a missing final newline without touching the labels', () => {
    assert.deepEqual(parseLabelsFile('\uFEFFa b\r\nc\r\n', 'l.txt'), ['a b', 'c']);
    assert.deepEqual(parseLabelsFile('x\ny', 'l.txt'), ['x', 'y']);
  });

  it('refuses blank lines, duplicates, NFC clashes and invalid lines, naming the file and line', () => {
    throwsCode(() => parseLabelsFile('', 'm/labels.txt'), 'BAD_MODEL', 'labels file m/labels.txt: it is empty; it needs one label per line, line i naming output i');
    throwsCode(() => parseLabelsFile('a\n\nb\n', 'm/labels.txt'), 'BAD_MODEL', 'labels file m/labels.txt: line 2 is blank; every line must name one class (output 1)');
    throwsCode(() => parseLabelsFile('a\nb\n\n', 'm/labels.txt'), 'BAD_MODEL', 'labels file m/labels.txt: line 3 is blank; every line must name one class (output 2)');
    throwsCode(() => parseLabelsFile('a\nb\na\n', 'm/labels.txt'), 'BAD_MODEL', "labels file m/labels.txt: lines 1 and 3 are both 'a'; each class must be named once");
    throwsCode(() => parseLabelsFile(`${NFC}\n${NFD}\n`, 'm/labels.txt'), 'BAD_MODEL', `labels file m/labels.txt: '${NFC}' (NFC: c a f U+00E9) and '${NFD}' (NFD: c a f e U+0301) differ only in Unicode normalisation; each class must be named once`);
    throwsCode(() => parseLabelsFile('a\n50 cent \n', 'm/labels.txt'), 'BAD_MODEL', "labels file m/labels.txt: line 2: invalid class label '50 cent ': it starts or ends with whitespace, which is invisible where the label is shown; remove it; fix the line");
    throwsCode(() => formatLabelsFile(['a', 'a']), 'BAD_LABEL', "labels 1 and 2 are both 'a'");
    throwsCode(() => formatLabelsFile([]), 'BAD_LABEL', /empty labels file/);
  });

  it('lenient mode reads third-party files as they are (ImageNet: commas, 121 characters, crane twice)', () => {
    const text = 'background\ncrane\nsome, long, label with spaces\ncrane\n\n';
    assert.deepEqual(parseLabelsFile(text, 'x', { strict: false }), ['background', 'crane', 'some, long, label with spaces', 'crane']);
    throwsCode(() => parseLabelsFile('a\n\nb', 'x', { strict: false }), 'BAD_MODEL', /line 2 is blank/);
  });

  it('runtime readLabels uses the parser: nothing trimmed, strict on request, one-line I/O errors', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'labels.txt');
    fs.writeFileSync(f, ' padded\nb\n');
    assert.deepEqual(readLabels(f), [' padded', 'b']);
    throwsCode(() => readLabels(f, { strict: true }), 'BAD_MODEL', /^labels file .*labels\.txt: line 1: invalid class label ' padded'/);
    throwsCode(() => readLabels(path.join(dir, 'none.txt')), 'NOT_FOUND', `cannot read labels ${path.join(dir, 'none.txt')}: it does not exist (ENOENT)`);
    throwsCode(() => readLabels(dir), 'IO', `cannot read labels ${dir}: it is a folder, not a file (EISDIR)`);
  });
});
