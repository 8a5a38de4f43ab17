import { makeRng } from '../src/augment';
import type { EmbeddingSet } from '../src/head';

/**
 * Synthetic embeddings, Gaussian blobs: row i has class i mod `classes`, centred at +3 on
 * coordinate `class`, noise σ = 1 (Box–Muller on the product's seeded PRNG).
 * @returns float32 `[n, dim]` and int32 `[n]` labels, identical for the same arguments.
 */
export function blobs(n: number, dim: number, classes: number, seed: number): EmbeddingSet {
  const rng = makeRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let d = 0; d < dim; d++) x[i * dim + d] = gauss() + (d === y[i] ? 3 : 0);
  }
  return { x, y, n, dim };
}
