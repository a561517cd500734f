import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import {
  MigrationError,
  SchemaVersionError,
  StoreBusyError,
  StoreOpenError,
} from '../../src/store/errors.js';
import { newId } from '../../src/store/ids.js';
import { connectSqlite, type SqliteDatabase } from '../../src/store/sqlite/driver.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { runTogether } from '../harness/together.js';
import { PROJECT_ROOT } from '../harness/cli.js';
import { catalogContract } from './catalog.contract.js';
import { sqliteBackend } from './backends.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-store-sqlite-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  const dir = join(root, `db${++counter}`);
  return join(dir, 'dbtrail.db');
}

/** Raw access to the same file, outside the store, as the contract's backend hooks. */
function raw<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const sqlite = sqliteBackend('store-contract');

catalogContract(sqlite);

describe('sqlite state store', () => {
  it('sets WAL, synchronous=NORMAL, foreign keys and the busy timeout on its connection', async () => {
    const path = freshPath();
    let conn: SqliteDatabase | undefined;
    const store = await openSqliteStateStore({
      path,
      busyTimeoutMs: 4321,
      connect: (p, o) => (conn = connectSqlite(p, o)),
    });
    try {
      expect(conn!.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(conn!.pragma('synchronous', { simple: true })).toBe(1);
      expect(conn!.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(conn!.pragma('busy_timeout', { simple: true })).toBe(4321);
      expect(store.location).toBe(`sqlite:${path}`);
      expect(store.capabilities).toEqual({ sharedAcrossHosts: false, concurrentWriters: false });
      expect(Object.isFrozen(store)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('answers every listing from an index, never a table scan or a sort', () => {
    const path = freshPath();
    mkdirSync(join(path, '..'), { recursive: true });
    return openSqliteStateStore({ path }).then(async (store) => {
      await store.close();
      // No ANALYZE: a production database has no statistics either.
      const plans = raw(path, (db) => {
        const plan = (where: string) =>
          (
            db
              .prepare(
                `EXPLAIN QUERY PLAN SELECT b.id FROM backups b JOIN tenants t ON t.id = b.tenant_id
                 WHERE ${where} ORDER BY b.created_at DESC, b.id DESC LIMIT 100`,
              )
              .all('00000000-0000-4000-8000-000000000000', 'x') as { detail: string }[]
          )
            .map((r) => r.detail)
            .join(' | ');
        return {
          backups_by_tenant: plan('b.tenant_id = ? AND ? IS NOT NULL'),
          backups_by_server_name: plan('b.tenant_id = ? AND b.server_name = ?'),
          backups_by_status: plan('b.tenant_id = ? AND b.status = ?'),
          backups_by_server_id: plan('b.tenant_id = ? AND b.server_id = ?'),
          backups_by_schedule: plan('b.tenant_id = ? AND b.schedule_id = ?'),
          ['backups_by_tenant ']: plan(`b.tenant_id = ? AND (b.created_at, b.id) < (?, 'x')`),
        };
      });
      for (const [index, detail] of Object.entries(plans)) {
        expect(detail, index).toMatch(new RegExp(`SEARCH b USING (COVERING )?INDEX ${index.trim()} \\(`));
        expect(detail, index).not.toMatch(/SCAN b\b/);
        expect(detail, index).not.toMatch(/TEMP B-TREE/);
      }
    });
  });

  it('is safe when two processes open a new database and write at once', { timeout: 120_000 }, async () => {
    const path = freshPath();
    const script = join(PROJECT_ROOT, 'test', 'store', 'fixtures', 'sqlite-writer.ts');
    const tsx = join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    // Both writers start on one signal once loaded, so that they race on the migration and then on every write,
    // rather than running one after the other.
    type Result = {
      label: string;
      began: number;
      ended: number;
      tenantId: string;
      version: number;
      ids: string[];
    };
    const [a, b] = (await runTogether<Result>(
      ['alpha', 'beta'].map((label) => ({
        cmd: process.execPath,
        args: [tsx, script, path, label, '400'],
        cwd: PROJECT_ROOT,
      })),
    )) as [Result, Result];
    expect(a.version).toBe(SQLITE_MIGRATIONS.length);
    expect(b.version).toBe(SQLITE_MIGRATIONS.length);
    expect(a.tenantId).toBe(b.tenantId);
    // The two really ran at the same time.
    expect(Math.max(a.began, b.began)).toBeLessThan(Math.min(a.ended, b.ended));
    const rows = raw(path, (db) => ({
      migrations: db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(),
      tenants: db.prepare('SELECT COUNT(*) AS n FROM tenants').get() as { n: number },
      backups: db
        .prepare(
          "SELECT server_name, COUNT(*) AS n FROM backups WHERE status = 'succeeded' GROUP BY server_name ORDER BY 1",
        )
        .all(),
    }));
    expect(rows.migrations).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
    expect(rows.tenants.n).toBe(1);
    expect(rows.backups).toEqual([
      { server_name: 'alpha', n: 400 },
      { server_name: 'beta', n: 400 },
    ]);
    expect(new Set([...a.ids, ...b.ids]).size).toBe(800);
  });

  it('waits for another writer up to the busy timeout, then fails with a typed error', async () => {
    const path = freshPath();
    const store = await openSqliteStateStore({ path, busyTimeoutMs: 200 });
    try {
      const tenant = await store.tenants.create('acme');
      const holder = new Database(path);
      holder.exec('BEGIN IMMEDIATE');
      try {
        const t0 = Date.now();
        const err = await store.catalog
          .create({ tenantId: tenant.id, serverName: 'db1', tool: 'mydumper' })
          .catch((e: unknown) => e);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
        expect(err).toBeInstanceOf(StoreBusyError);
        expect((err as StoreBusyError).message).toBe(
          'Cannot create backup of server "db1": the state database is locked by another process',
        );
        // Readers are not blocked by the writer (WAL).
        expect(await store.catalog.list({ tenantId: tenant.id })).toEqual([]);
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
      }
      await store.catalog.create({ tenantId: tenant.id, serverName: 'db1', tool: 'mydumper' });
      expect(await store.catalog.list({ tenantId: tenant.id })).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('applies a failing migration not at all', async () => {
    const path = freshPath();
    const v1 = await openSqliteStateStore({ path, migrateTo: 1 });
    await v1.close();
    // A table in the way makes migration 2 fail halfway through its statements.
    raw(path, (db) => db.exec('CREATE TABLE jobs (x INTEGER)'));
    const err = await openSqliteStateStore({ path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(
      /^Cannot apply state migration 2 "control_plane": table jobs already exists/,
    );
    const tables = raw(path, (db) =>
      (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
          name: string;
        }[]
      ).map((r) => r.name),
    );
    expect(tables).not.toContain('api_keys');
    expect(tables).not.toContain('schedules');
    expect(raw(path, (db) => db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get())).toEqual({
      v: 1,
    });
    expect(
      raw(path, (db) =>
        db.prepare('SELECT name FROM pragma_table_info(?) WHERE name = ?').all('backups', 'schedule_id'),
      ),
    ).toEqual([]);
  });

  it('refuses a database migrated by a newer dbtrail', async () => {
    const path = freshPath();
    await (await openSqliteStateStore({ path })).close();
    raw(path, (db) =>
      db
        .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(99, 'future', 'x'),
    );
    const err = await openSqliteStateStore({ path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaVersionError);
    expect((err as SchemaVersionError).kind).toBe('unsupported');
  });

  it('says which file it cannot open', async () => {
    const dir = join(root, 'not-a-db');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'garbage.db');
    writeFileSync(
      file,
      'this is not an SQLite database, just some text that is long enough to have a header',
    );
    const err = await openSqliteStateStore({ path: file }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreOpenError);
    expect((err as Error).message).toContain(file);
    const dirErr = await openSqliteStateStore({ path: dir }).catch((e: unknown) => e);
    expect(dirErr).toBeInstanceOf(StoreOpenError);
  });

  it('enforces the lifecycle in the schema too, for writers that bypass the store', async () => {
    const path = freshPath();
    const store = await openSqliteStateStore({ path, clock: new ManualClock('2024-01-01T00:00:00Z') });
    const tenant = await store.tenants.create('acme');
    await store.close();
    const insert = (status: string, file: string | null, location: string | null) =>
      raw(path, (db) =>
        db
          .prepare(
            `INSERT INTO backups (id, tenant_id, server_name, tool, status, created_at, binlog_file, binlog_position,
               location, updated_at) VALUES (?, ?, 'db1', 'mydumper', ?, 'x', ?, ?, ?, 'x')`,
          )
          .run(newId(), tenant.id, status, file, file === null ? null : 4, location),
      );
    expect(() => insert('succeeded', null, 'file:///x')).toThrow(/CHECK constraint failed/);
    expect(() => insert('succeeded', 'binlog.000001', null)).toThrow(/CHECK constraint failed/);
    expect(() => insert('failed', null, null)).toThrow(/CHECK constraint failed/);
    expect(() => insert('done', null, null)).toThrow(/CHECK constraint failed/);
    expect(insert('succeeded', 'binlog.000001', 'file:///x').changes).toBe(1);
  });
});
