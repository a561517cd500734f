import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { binlogArchiveContract } from './binlog-archive.contract.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-archive-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

binlogArchiveContract({
  name: 'sqlite',
  latestVersion: SQLITE_MIGRATIONS.length,
  createDatabase() {
    const path = join(root, `db${++counter}`, 'dbtrail.db');
    return Promise.resolve({
      open: (options = {}) =>
        openSqliteStateStore({ path, ...(options.clock ? { clock: options.clock } : {}) }),
      exec: () => Promise.reject(new Error('not used by this contract')),
      query: () => Promise.reject(new Error('not used by this contract')),
      seedBackups: () => Promise.reject(new Error('not used by this contract')),
      drop: () => {
        rmSync(join(path, '..'), { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
});
