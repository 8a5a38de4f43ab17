import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CORAL_TEST_DATA_URL, FetchImpl, FetchProgress, LABELS_FILE, PINNED_SHA256,
  fetchBases, listBases, resolveBase, stockClassifier,
} from '../../src/models';
import { PINNED_FILES, shared, tmpDir } from '../helpers';

const ALL_FILES = PINNED_FILES;

function sha256(p: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/** Files in a directory, including hidden temp files (a leftover `.part` must fail the test). */
function listing(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** A fetch stand-in serving `bytes` in 64 KiB chunks, recording requested URLs. */
function servingFetch(serve: (url: string) => Uint8Array | number, urls: string[] = []): FetchImpl {
  return async (url) => {
    urls.push(url);
    const served = serve(url);
    if (typeof served === 'number') {
      return { ok: false, status: served, statusText: 'Not Found', headers: { get: () => null }, body: null };
    }
    const bytes: Uint8Array = served;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
    }
    return { ok: true, status: 200, headers: { get: (h: string) => (h === 'content-length' ? String(bytes.length) : null) }, body: chunks() };
  };
}

describe('models registry', () => {
  it('pins exactly the hashes listed in ../shared/models/SHA256SUMS', () => {
    const sums: Record<string, string> = {};
    for (const line of fs.readFileSync(shared('models', 'SHA256SUMS'), 'utf8').split('\n')) {
      const m = /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line.trim());
      if (m) sums[m[2]] = m[1];
    }
    assert.deepEqual({ ...PINNED_SHA256 }, sums);
  });

  it('unknown base: resolveBase and fetchBases name the known bases', async () => {
    const known = 'known: mobilenet_v1_1.0_224, mobilenet_v2_1.0_224, mobilenet_v1_0.25_128, mobilenet_v1_0.5_160';
    assert.throws(() => resolveBase('resnet50', tmpDir()), { message: `unknown base resnet50; ${known}` });
    const dir = tmpDir();
    await assert.rejects(fetchBases({ modelsDir: dir, from: shared('models'), names: ['resnet50'] }),
      { message: `unknown base resnet50; ${known}` });
    assert.deepEqual(listing(dir), []);
  });

  it('listBases and resolveBase reflect which files are present', () => {
    const dir = tmpDir();
    let recs = listBases(dir);
    assert.deepEqual(recs.map((r) => [r.name, r.installed, r.edgetpuInstalled]), [
      ['mobilenet_v1_1.0_224', false, false], ['mobilenet_v2_1.0_224', false, false],
      ['mobilenet_v1_0.25_128', false, false], ['mobilenet_v1_0.5_160', false, false]]);
    assert.deepEqual(recs.map((r) => r.isDefault), [true, false, false, false]);
    assert.throws(() => resolveBase('mobilenet_v1_0.5_160', dir), {
      code: 'BASE_MISSING',
      message: `base mobilenet_v1_0.5_160 is not installed in ${path.resolve(dir)}; run: edgetune models fetch (or set EDGETUNE_MODELS to the folder that has it)`,
    });
    assert.throws(() => stockClassifier(dir), {
      code: 'BASE_MISSING',
      message: `base mobilenet_v2_1.0_224 is not installed in ${path.resolve(dir)}; run: edgetune models fetch (or set EDGETUNE_MODELS to the folder that has it)`,
    });

    fs.copyFileSync(shared('models', 'mobilenet_v1_0.5_160_quant.tflite'), path.join(dir, 'mobilenet_v1_0.5_160_quant.tflite'));
    fs.copyFileSync(shared('models', 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite'),
      path.join(dir, 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite'));
    recs = listBases(dir);
    assert.deepEqual(recs.map((r) => [r.name, r.installed, r.edgetpuInstalled]), [
      ['mobilenet_v1_1.0_224', false, true], ['mobilenet_v2_1.0_224', false, false],
      ['mobilenet_v1_0.25_128', false, false], ['mobilenet_v1_0.5_160', true, false]]);
    const r = resolveBase('mobilenet_v1_0.5_160', dir);
    assert.equal(r.path, path.join(path.resolve(dir), 'mobilenet_v1_0.5_160_quant.tflite'));
    assert.equal(r.edgetpuPath, undefined);
    assert.equal(r.labelsPath, undefined);
    assert.equal(r.spec.embeddingDim, 512);
  });

  it('fetch --from installs all 8 verified files, then a second run skips them all', async () => {
    const dir = path.join(tmpDir(), 'models');  // created by fetchBases
    const events: FetchProgress[] = [];
    const first = await fetchBases({ modelsDir: dir, from: shared('models'), onProgress: (p) => events.push(p) });
    assert.deepEqual([...first.installed].sort(), ALL_FILES);
    assert.deepEqual(first.skipped, []);
    assert.deepEqual(listing(dir), ALL_FILES);
    for (const f of ALL_FILES) assert.equal(sha256(path.join(dir, f)), PINNED_SHA256[f], f);
    const done = events.filter((e) => e.phase === 'done');
    assert.equal(done.length, 8);
    const copyEnd = events.filter((e) => e.phase === 'copy' && e.file === 'mobilenet_v2_1.0_224_quant.tflite').pop();
    assert.equal(copyEnd?.bytes, 3610798);
    assert.equal(copyEnd?.totalBytes, 3610798);

    const second = await fetchBases({ modelsDir: dir, from: shared('models') });
    assert.deepEqual(second.installed, []);
    assert.deepEqual([...second.skipped].sort(), ALL_FILES);

    assert.deepEqual(listBases(dir).map((r) => [r.installed, r.edgetpuInstalled]),
      [[true, true], [true, false], [true, true], [true, true]]);
    const stock = stockClassifier(dir);
    assert.equal(stock.modelPath, path.join(dir, 'mobilenet_v2_1.0_224_quant.tflite'));
    assert.equal(stock.labelsPath, path.join(dir, 'imagenet_labels.txt'));
    const v1 = resolveBase('mobilenet_v1_1.0_224', dir);
    assert.equal(v1.edgetpuPath, path.join(dir, 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite'));
  });

  it('fetch --from with a corrupted source file: checksum error, no file left behind', async () => {
    const src = tmpDir();
    const name = 'mobilenet_v1_0.25_128_quant.tflite';
    const bytes = fs.readFileSync(shared('models', name));
    bytes[1000] ^= 0xff;
    fs.writeFileSync(path.join(src, name), bytes);
    for (const f of ['mobilenet_v1_0.25_128_quant_edgetpu.tflite', LABELS_FILE]) {
      fs.writeFileSync(path.join(src, f), fs.readFileSync(shared('models', f)));
    }
    const badHash = crypto.createHash('sha256').update(bytes).digest('hex');
    const dir = tmpDir();
    await assert.rejects(fetchBases({ modelsDir: dir, from: src, names: ['mobilenet_v1_0.25_128'] }), {
      message: `checksum mismatch for ${name}: expected ${PINNED_SHA256[name]}, got ${badHash} (${bytes.length} bytes); the download is corrupt or the pinned file changed`,
    });
    assert.deepEqual(listing(dir), []);
  });

  it('fetch --from with a missing file: clear error naming the file and directory', async () => {
    const src = tmpDir();
    fs.copyFileSync(shared('models', 'mobilenet_v2_1.0_224_quant.tflite'), path.join(src, 'mobilenet_v2_1.0_224_quant.tflite'));
    const dir = tmpDir();
    await assert.rejects(fetchBases({ modelsDir: dir, from: src, names: ['mobilenet_v2_1.0_224'] }), {
      code: 'NOT_FOUND',
      message: `imagenet_labels.txt not found in --from directory ${src}; copy it there or omit --from to download from ${CORAL_TEST_DATA_URL}`,
    });
    // The --from set is checked before copying: nothing is installed.
    assert.deepEqual(listing(dir), []);
    await assert.rejects(fetchBases({ modelsDir: dir, from: tmpDir(), names: ['mobilenet_v2_1.0_224'] }),
      { code: 'NOT_FOUND', message: /^mobilenet_v2_1\.0_224_quant\.tflite, imagenet_labels\.txt not found in --from directory .*; copy them there/ });
  });

  it('replaces an installed file whose hash is wrong', async () => {
    const dir = tmpDir();
    const name = 'imagenet_labels.txt';
    fs.writeFileSync(path.join(dir, name), 'background\ntench\n');
    const r = await fetchBases({ modelsDir: dir, from: shared('models'), names: ['mobilenet_v2_1.0_224'] });
    assert.deepEqual(r.installed, ['mobilenet_v2_1.0_224_quant.tflite', name]);
    assert.equal(sha256(path.join(dir, name)), PINNED_SHA256[name]);
  });

  it('downloads from the Coral test_data URL via fetchImpl and verifies the body', async () => {
    const dir = tmpDir();
    const urls: string[] = [];
    const events: FetchProgress[] = [];
    const r = await fetchBases({
      modelsDir: dir, names: ['mobilenet_v1_0.25_128'], onProgress: (p) => events.push(p),
      fetchImpl: servingFetch((url) => fs.readFileSync(shared('models', path.basename(url))), urls),
    });
    assert.deepEqual(urls, [
      'https://github.com/google-coral/test_data/raw/master/mobilenet_v1_0.25_128_quant.tflite',
      'https://github.com/google-coral/test_data/raw/master/mobilenet_v1_0.25_128_quant_edgetpu.tflite',
      'https://github.com/google-coral/test_data/raw/master/imagenet_labels.txt',
    ]);
    assert.deepEqual(r.installed, ['mobilenet_v1_0.25_128_quant.tflite', 'mobilenet_v1_0.25_128_quant_edgetpu.tflite', 'imagenet_labels.txt']);
    for (const f of r.installed) assert.equal(sha256(path.join(dir, f)), PINNED_SHA256[f]);
    const last = events.filter((e) => e.phase === 'download' && e.file === 'mobilenet_v1_0.25_128_quant.tflite').pop();
    assert.deepEqual(last, { file: 'mobilenet_v1_0.25_128_quant.tflite', phase: 'download', bytes: 525598, totalBytes: 525598 });
    assert.deepEqual(listing(dir), [...r.installed].sort());
  });

  it('download with a truncated body: checksum error, no file left behind', async () => {
    const dir = tmpDir();
    const name = 'mobilenet_v1_0.25_128_quant.tflite';
    const full = fs.readFileSync(shared('models', name));
    const truncated = full.subarray(0, 300000);
    const got = crypto.createHash('sha256').update(truncated).digest('hex');
    await assert.rejects(fetchBases({
      modelsDir: dir, names: ['mobilenet_v1_0.25_128'], fetchImpl: servingFetch(() => truncated),
    }), { message: `checksum mismatch for ${name}: expected ${PINNED_SHA256[name]}, got ${got} (300000 bytes); the download is corrupt or the pinned file changed` });
    assert.deepEqual(listing(dir), []);
  });

  it('download with a mismatching body keeps the previously installed file', async () => {
    const dir = tmpDir();
    const name = 'imagenet_labels.txt';
    fs.writeFileSync(path.join(dir, name), 'old labels\n');
    await assert.rejects(fetchBases({
      modelsDir: dir, names: ['mobilenet_v2_1.0_224'],
      fetchImpl: servingFetch((url) => url.endsWith(name) ? new TextEncoder().encode('other labels\n')
        : fs.readFileSync(shared('models', path.basename(url)))),
    }), /^Error: checksum mismatch for imagenet_labels.txt: expected b8aaeb56/);
    assert.equal(fs.readFileSync(path.join(dir, name), 'utf8'), 'old labels\n');
    assert.deepEqual(listing(dir), ['imagenet_labels.txt', 'mobilenet_v2_1.0_224_quant.tflite']);
  });

  it('download failures: HTTP error status and a body that errors mid-stream leave nothing', async () => {
    const dir = tmpDir();
    await assert.rejects(fetchBases({ modelsDir: dir, names: ['mobilenet_v2_1.0_224'], fetchImpl: servingFetch(() => 404) }), {
      message: 'download of mobilenet_v2_1.0_224_quant.tflite failed: HTTP 404 Not Found from https://github.com/google-coral/test_data/raw/master/mobilenet_v2_1.0_224_quant.tflite; check the network or use --from DIR',
    });
    const failing: FetchImpl = async () => ({
      ok: true, status: 200, headers: { get: () => null },
      body: (async function* () {
        yield new Uint8Array(1000);
        throw new Error('socket hang up');
      })(),
    });
    await assert.rejects(fetchBases({ modelsDir: dir, names: ['mobilenet_v2_1.0_224'], fetchImpl: failing }), { message: 'socket hang up' });
    const refusing: FetchImpl = async () => { throw new Error('getaddrinfo ENOTFOUND github.com'); };
    await assert.rejects(fetchBases({ modelsDir: dir, names: ['mobilenet_v2_1.0_224'], fetchImpl: refusing }), {
      message: 'download of mobilenet_v2_1.0_224_quant.tflite from https://github.com/google-coral/test_data/raw/master/mobilenet_v2_1.0_224_quant.tflite failed: getaddrinfo ENOTFOUND github.com; check the network or use --from DIR',
    });
    assert.deepEqual(listing(dir), []);
  });

  it('download through a WHATWG ReadableStream body (the shape global fetch returns)', async () => {
    const dir = tmpDir();
    const bytes = fs.readFileSync(shared('models', 'imagenet_labels.txt'));
    const webFetch: FetchImpl = async (url) => {
      const res = new Response(new Blob([bytes]).stream(), { status: 200 });
      assert.equal(url, `${CORAL_TEST_DATA_URL}/${path.basename(url)}`);
      return res as unknown as Awaited<ReturnType<FetchImpl>>;
    };
    // Only the labels need downloading: the model is pre-installed with the right hash.
    fs.copyFileSync(shared('models', 'mobilenet_v2_1.0_224_quant.tflite'), path.join(dir, 'mobilenet_v2_1.0_224_quant.tflite'));
    const r = await fetchBases({ modelsDir: dir, names: ['mobilenet_v2_1.0_224'], fetchImpl: webFetch });
    assert.deepEqual(r, { modelsDir: path.resolve(dir), installed: ['imagenet_labels.txt'], skipped: ['mobilenet_v2_1.0_224_quant.tflite'] });
  });
});
