import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { openPostgresStateStore } from '../../src/store/postgres/state-store.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import type { ContractDatabase, SeedBackup } from './catalog.contract.js';
import type { ChangeContractBackend } from './change-index.contract.js';

/**
 * The real backends the store contracts run against, with the open/seed/inspect hooks each contract needs.
 * SQLite: a file per database in a temporary directory. PostgreSQL: one fresh database per test file on the
 * server at DBTRAIL_TEST_POSTGRES_URL (default: the local one, user postgres), and a schema per contract
 * database in it; the database is dropped when the file's tests end.
 */

export function sqliteBackend(label: string): ChangeContractBackend & { readonly root: string } {
  const root = mkdtempSync(join(tmpdir(), `dbtrail-${label}-`));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let counter = 0;
  const raw = <T>(path: string, fn: (db: Database.Database) => T): T => {
    const db = new Database(path, { timeout: 10_000 });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    name: 'sqlite',
    root,
    latestVersion: SQLITE_MIGRATIONS.length,
    createDatabase() {
      const path = join(root, `db${++counter}`, 'dbtrail.db');
      const db: ContractDatabase & { path: string } = {
        path,
        open: (options = {}) =>
          openSqliteStateStore({
            path,
            ...(options.clock ? { clock: options.clock } : {}),
            ...(options.migrateTo !== undefined ? { migrateTo: options.migrateTo } : {}),
          }),
        exec: (sql) => Promise.resolve(raw(path, (d) => void d.exec(sql))),
        query: (sql) => Promise.resolve(raw(path, (d) => d.prepare(sql).all() as Record<string, unknown>[])),
        seedBackups: (rows) =>
          Promise.resolve(
            raw(path, (d) => {
              const insert = d.prepare(
                `INSERT INTO backups (id, tenant_id, server_name, tool, status, created_at, started_at, finished_at,
                   binlog_file, binlog_position, location, error_message, updated_at)
                 VALUES (?, ?, ?, 'mydumper', ?, ?, ?, ?, 'binlog.000001', 4, 'file:///o/', ?, ?)`,
              );
              d.transaction(() => {
                for (const r of rows) {
                  const t = r.createdAt.toISOString();
                  const ended = r.status === 'succeeded' || r.status === 'failed' ? t : null;
                  insert.run(
                    r.id,
                    r.tenantId,
                    r.serverName,
                    r.status,
                    t,
                    t,
                    ended,
                    r.status === 'failed' ? 'x' : null,
                    t,
                  );
                }
              })();
            }),
          ),
        drop: () => {
          rmSync(join(path, '..'), { recursive: true, force: true });
          return Promise.resolve();
        },
      };
      return Promise.resolve(db);
    },
    failChangeWithPk: (db, pk) =>
      db.exec(
        `CREATE TRIGGER fail_change BEFORE INSERT ON changes WHEN NEW.pk = '${pk.replaceAll("'", "''")}'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
      ),
  };
}

/** The server the PostgreSQL tests use; its maintenance database, where test databases are created. */
export const POSTGRES_TEST_URL =
  process.env['DBTRAIL_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A URL naming another database on the same server. */
export function postgresUrlFor(database: string): string {
  const url = new URL(POSTGRES_TEST_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs SQL on the maintenance database; a clear error when the server cannot be reached. */
export async function maintenance<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `Cannot reach PostgreSQL for the store tests at ${POSTGRES_TEST_URL}: ${(err as Error).message}; start it, or set DBTRAIL_TEST_POSTGRES_URL`,
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database for this test file, created on first use and dropped after its tests (with any session
 * still connected to it).
 */
export function postgresTestDatabase(): () => Promise<string> {
  const name = `dbtrail_test_${randomBytes(6).toString('hex')}`;
  let created: Promise<string> | undefined;
  afterAll(async () => {
    if (created === undefined) return;
    await created.catch(() => undefined);
    await maintenance((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  return () => {
    created ??= maintenance(async (c) => {
      await c.query(`CREATE DATABASE ${name}`);
      return postgresUrlFor(name);
    });
    return created;
  };
}

export function postgresBackend(): ChangeContractBackend & { readonly url: () => Promise<string> } {
  const database = postgresTestDatabase();
  let counter = 0;
  const onSchema = async <T>(schema: string, fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: await database(), options: `-c search_path=${schema}` });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    url: database,
    latestVersion: POSTGRES_MIGRATIONS.length,
    async createDatabase() {
      const url = await database();
      const schema = `c${++counter}_${randomBytes(3).toString('hex')}`;
      await onSchema('public', (c) => c.query(`CREATE SCHEMA ${schema}`));
      const db: ContractDatabase = {
        open: (options = {}) =>
          openPostgresStateStore({
            url,
            schema,
            ...(options.clock ? { clock: options.clock } : {}),
            ...(options.migrateTo !== undefined ? { migrateTo: options.migrateTo } : {}),
          }),
        exec: (sql) => onSchema(schema, async (c) => void (await c.query(sql))),
        query: (sql) => onSchema(schema, async (c) => (await c.query(sql)).rows as Record<string, unknown>[]),
        seedBackups: (rows: readonly SeedBackup[]) =>
          onSchema(schema, async (c) => {
            const ended = rows.map((r) =>
              r.status === 'succeeded' || r.status === 'failed' ? r.createdAt : null,
            );
            await c.query(
              `INSERT INTO backups (id, tenant_id, server_name, tool, status, created_at, started_at, finished_at,
                 binlog_file, binlog_position, location, error_message, updated_at)
               SELECT id, tenant_id, server_name, 'mydumper', status, t, t, e, 'binlog.000001', 4, 'file:///o/',
                 CASE WHEN status = 'failed' THEN 'x' END, t
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
                 AS r (id, tenant_id, server_name, status, t, e)`,
              [
                rows.map((r) => r.id),
                rows.map((r) => r.tenantId),
                rows.map((r) => r.serverName),
                rows.map((r) => r.status),
                rows.map((r) => r.createdAt),
                ended,
              ],
            );
            // A production database has statistics; autovacuum would gather them within a minute.
            await c.query('ANALYZE backups');
          }),
        drop: () => onSchema('public', async (c) => void (await c.query(`DROP SCHEMA ${schema} CASCADE`))),
      };
      return db;
    },
    failChangeWithPk: (db, pk) =>
      db.exec(
        `CREATE FUNCTION fail_change() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.pk = '${pk.replaceAll("'", "''")}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER fail_change BEFORE INSERT ON changes FOR EACH ROW EXECUTE FUNCTION fail_change();`,
      ),
  };
}
