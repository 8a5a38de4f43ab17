import * as fs from 'node:fs';
import * as path from 'node:path';
import { fetchBases } from '../src/models';
import { MODELS_DIR, SHARED, TMP_DIRS } from './helpers';

/**
 * Mocha global setup: installs the pinned bases into models/ from ../shared/models (the offline
 * copy CI and developers have), checked against the pinned SHA-256s; already verified files are
 * skipped. Without ../shared/models the suite fails here, loudly, rather than skipping tests.
 */
export async function mochaGlobalSetup(): Promise<void> {
  const from = path.join(SHARED, 'models');
  if (!fs.existsSync(from)) throw new Error(`test setup: ${from} is missing; the tests read the pinned bases and real images from ../shared`);
  await fetchBases({ modelsDir: MODELS_DIR, from });
}

/** Mocha global teardown: removes the tests' temporary folders (an SD card fills up fast). */
export function mochaGlobalTeardown(): void {
  for (const d of TMP_DIRS.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
