import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { MariaDbSandbox, type MariaDbSandboxOptions } from '../../src/sandbox/mariadb.js';

export { MariaDbSandbox };
export type { MariaDbSandboxOptions };

const started = new Set<MariaDbSandbox>();
const scratchDirs = new Set<string>();

// Registered when a test file imports this module, i.e. while vitest collects the file: a hook registered later,
// from inside beforeAll or a test, is not run, and the servers it should stop would outlive the test run.
afterAll(async () => {
  for (const db of [...started]) {
    started.delete(db);
    await db.destroy();
  }
  for (const dir of [...scratchDirs]) {
    scratchDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

// A failing afterAll of the test file itself keeps the hook above from running, and the pool then ends the test
// process with SIGTERM while its servers still run. Kill them first, then let the signal do what it would have.
function killStarted(): void {
  for (const db of started) {
    if (db.pid !== undefined && db.running) {
      try {
        process.kill(db.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}
process.once('exit', killStarted);
process.once('SIGTERM', () => {
  killStarted();
  process.kill(process.pid, 'SIGTERM');
});

/** A temporary directory removed after the file's tests, once its servers are stopped (e.g. a server's --tmpdir). */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratchDirs.add(dir);
  return dir;
}

/**
 * Starts a private MariaDB for the calling test file and destroys it after the file's tests, pass or fail. Call it
 * from `beforeAll` or a test; every call gives a new instance (source, restore target, replica...).
 */
export async function startMariaDb(options: MariaDbSandboxOptions = {}): Promise<MariaDbSandbox> {
  const db = await MariaDbSandbox.start(options);
  started.add(db);
  return db;
}
