/**
 * `node dist/scripts/bench-head.js [backend] [epochs] [n] [dim]`: time per epoch of head training
 * on objects-small-sized synthetic embeddings (default 2,400 × 1,024 float32, 6 classes, 480
 * validation rows, the default head: Dense 256, dropout 0.5, batch 32, L2 1e-4), and a hash of
 * the trained weights and history so two runs can be compared for bit-exactness.
 *
 * Prints one JSON line: backend, ms per epoch (each epoch and the median), weights hash.
 */
import { createHash } from 'node:crypto';
import { initBackend, trainHead, DEFAULT_HEAD, type BackendName, type EmbeddingSet } from '../src/head';
import { makeRng } from '../src/augment';

function randomSet(n: number, dim: number, classes: number, seed: number): EmbeddingSet {
  const rng = makeRng(seed);
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    // Non-negative like post-ReLU MobileNet embeddings, with a weak class signal.
    for (let d = 0; d < dim; d++) x[i * dim + d] = rng() * 2 + (d % classes === y[i] ? 0.3 : 0);
  }
  return { x, y, n, dim };
}

async function main(): Promise<void> {
  const [backendArg = 'wasm', epochsArg = '4', nArg = '2400', dimArg = '1024'] = process.argv.slice(2);
  const backend = await initBackend(backendArg as BackendName);
  const epochs = Number(epochsArg), n = Number(nArg), dim = Number(dimArg), classes = 6;
  const train = randomSet(n, dim, classes, 11);
  const val = randomSet(Math.round(n / 5), dim, classes, 12);
  const spec = { ...DEFAULT_HEAD, epochs, patience: epochs };
  const stamps: number[] = [performance.now()];
  const t = await trainHead(train, val, classes, spec, () => { stamps.push(performance.now()); });
  const perEpoch = stamps.slice(1).map((s, i) => Math.round(s - stamps[i]));
  const sorted = [...perEpoch].sort((a, b) => a - b);
  const hash = createHash('sha256');
  for (const w of t.model.getWeights()) hash.update(Buffer.from((w.dataSync() as Float32Array).buffer));
  hash.update(JSON.stringify(t.history));
  console.log(JSON.stringify({
    backend, n, dim, epochs, msPerEpoch: perEpoch, medianMs: sorted[Math.floor(sorted.length / 2)],
    sha256: hash.digest('hex').slice(0, 16), lastLoss: t.history[t.history.length - 1].loss,
  }));
  t.model.dispose();
}

main().catch((e) => { console.error(e); process.exit(1); });
