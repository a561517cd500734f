import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/store/audit-log.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { PROJECT_ROOT } from '../harness/cli.js';
import { runTogether } from '../harness/together.js';
import { auditLogContract } from './audit-log.contract.js';
import type { ContractBackend } from './catalog.contract.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-audit-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  return join(root, `db${++counter}`, 'dbtrail.db');
}

function raw<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const sqlite: ContractBackend = {
  name: 'sqlite',
  latestVersion: SQLITE_MIGRATIONS.length,
  createDatabase() {
    const path = freshPath();
    return Promise.resolve({
      open: (options = {}) =>
        openSqliteStateStore({
          path,
          ...(options.clock ? { clock: options.clock } : {}),
          ...(options.migrateTo !== undefined ? { migrateTo: options.migrateTo } : {}),
        }),
      exec: (sql) => Promise.resolve(raw(path, (db) => void db.exec(sql))),
      query: (sql) => Promise.resolve(raw(path, (db) => db.prepare(sql).all() as Record<string, unknown>[])),
      seedBackups: () => Promise.reject(new Error('not used by this contract')),
      drop: () => {
        rmSync(join(path, '..'), { recursive: true, force: true });
        return Promise.resolve();
      },
    });
  },
};

auditLogContract(sqlite);

describe('sqlite audit log across processes', () => {
  it('keeps one linear chain when three processes append at once', { timeout: 120_000 }, async () => {
    const path = freshPath();
    await (await openSqliteStateStore({ path })).close();
    const script = join(PROJECT_ROOT, 'test', 'store', 'fixtures', 'audit-appender.ts');
    const tsx = join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    type Result = { writer: string; began: number; ended: number; seqs: number[] };
    const results = await runTogether<Result>(
      ['w1', 'w2', 'w3'].map((writer) => ({
        cmd: process.execPath,
        args: [tsx, script, path, writer, '150'],
        cwd: PROJECT_ROOT,
      })),
    );
    // They overlapped in time, so the appends really raced.
    expect(Math.max(...results.map((r) => r.began))).toBeLessThan(Math.min(...results.map((r) => r.ended)));
    const all = results.flatMap((r) => r.seqs).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
    const store = await openSqliteStateStore({ path });
    try {
      expect(await verifyAuditChain(store.audit)).toMatchObject({ ok: true, entries: 450, problems: [] });
    } finally {
      await store.close();
    }
  });
});
