import * as fs from 'node:fs';
import { TMP_DIRS } from './helpers';

/**
 * Mocha global teardown for every tier: removes the tests' temporary folders (an SD card fills up
 * fast). The real-data tier adds its own global setup (test/data/fixtures.ts) on top of this one.
 */
export function mochaGlobalTeardown(): void {
  for (const d of TMP_DIRS.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
