import { afterAll } from 'vitest';
import { MariaDbSandbox, type MariaDbSandboxOptions } from '../../src/sandbox/mariadb.js';

export { MariaDbSandbox };
export type { MariaDbSandboxOptions };

/**
 * Starts a private MariaDB for the calling test file and destroys it after the file's tests, pass or fail.
 * Call it from `beforeAll` (or at the top of a describe); every call gives a new instance (source, restore
 * target, replica...).
 */
export async function startMariaDb(options: MariaDbSandboxOptions = {}): Promise<MariaDbSandbox> {
  const db = await MariaDbSandbox.start(options);
  afterAll(async () => {
    await db.destroy();
  });
  return db;
}
