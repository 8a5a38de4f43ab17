import * as fs from 'node:fs';
import * as path from 'node:path';
import { fetchBases } from '../../src/models';
import { MODELS_DIR, SHARED } from '../helpers';

/** What the real-data tests read from the shared folder (see its datasets/PROVENANCE.md). */
const NEEDED = ['models', 'images', 'datasets'];

/**
 * Mocha global setup of the real-data tier (`npm run test:data`): installs the pinned bases into
 * models/ from ../shared/models (the offline copy CI and developers have), checked against the
 * pinned SHA-256s; already verified files are skipped. Without ../shared (or EDGETUNE_SHARED) the
 * tier fails here, loudly and before any test, rather than skipping tests or passing on no data.
 */
export async function mochaGlobalSetup(): Promise<void> {
  const missing = fs.existsSync(SHARED) ? NEEDED.map((d) => path.join(SHARED, d)).filter((d) => !fs.existsSync(d)) : [SHARED];
  if (missing.length > 0) {
    throw new Error(`real-data tests need ${missing.join(', ')}: put the shared folder beside this checkout ` +
      `(../shared) or set EDGETUNE_SHARED to it; \`npm run test:unit\` needs neither`);
  }
  await fetchBases({ modelsDir: MODELS_DIR, from: path.join(SHARED, 'models') });
}
