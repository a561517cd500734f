import { afterAll } from 'vitest';
import { MariaDbSandbox, type MariaDbSandboxOptions } from '../../src/sandbox/mariadb.js';

export { MariaDbSandbox };
export type { MariaDbSandboxOptions };

const started = new Set<MariaDbSandbox>();

// Registered when a test file imports this module, i.e. while vitest collects the file: a hook registered later,
// from inside beforeAll or a test, is not run, and the servers it should stop would outlive the test run.
afterAll(async () => {
  for (const db of [...started]) {
    started.delete(db);
    await db.destroy();
  }
});

/**
 * Starts a private MariaDB for the calling test file and destroys it after the file's tests, pass or fail. Call it
 * from `beforeAll` or a test; every call gives a new instance (source, restore target, replica...).
 */
export async function startMariaDb(options: MariaDbSandboxOptions = {}): Promise<MariaDbSandbox> {
  const db = await MariaDbSandbox.start(options);
  started.add(db);
  return db;
}
