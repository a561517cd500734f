import { messageOf } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import { MigrationError, StoreError } from '../errors.js';
import { pendingMigrations, type AppliedMigration, type Migration } from '../migration.js';
import { toDbTime } from './rows.js';
import { translate, type SqliteConnection } from './driver.js';

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
) STRICT`;

export interface MigrateResult {
  /** The versions applied by this call, in order; empty when the database was current. */
  readonly applied: readonly number[];
  readonly version: number;
}

/**
 * Brings the database to `target` (the newest by default). All pending migrations and their bookkeeping rows
 * run in one BEGIN IMMEDIATE transaction: either all of them apply or none, and when two processes open a new
 * database at once, the second waits for the first's write lock, then finds the work done and applies nothing.
 * A database that is already current is recognised with a plain read, without taking the write lock.
 */
export function migrate(
  conn: SqliteConnection,
  migrations: readonly Migration[],
  clock: Clock,
  target: number = migrations.length,
): MigrateResult {
  const current = conn.read('Cannot read the state schema version', (c) => appliedMigrations(c));
  if (pendingMigrations(migrations, current, target).length === 0) {
    return { applied: [], version: highest(current) };
  }
  return conn.write('Cannot migrate the state database', (c) => {
    c.exec(BOOKKEEPING);
    const applied = appliedMigrations(c);
    const pending = pendingMigrations(migrations, applied, target);
    for (const m of pending) {
      try {
        c.exec(m.sql);
      } catch (err) {
        if (err instanceof StoreError) throw err;
        throw new MigrationError(`Cannot apply state migration ${m.version} "${m.name}": ${messageOf(err)}`, {
          cause: err,
          fields: { version: m.version, name: m.name },
        });
      }
      c.statement('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        toDbTime(clock.now()),
      );
    }
    return {
      applied: pending.map((m) => m.version),
      version: Math.max(highest(applied), ...pending.map((m) => m.version)),
    };
  });
}

export function schemaVersion(conn: SqliteConnection): number {
  return conn.read('Cannot read the state schema version', (c) => highest(appliedMigrations(c)));
}

function appliedMigrations(conn: SqliteConnection): AppliedMigration[] {
  const exists = conn
    .statement("SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  if (exists === undefined) return [];
  try {
    return conn
      .statement('SELECT version, name FROM schema_migrations ORDER BY version')
      .all() as AppliedMigration[];
  } catch (err) {
    throw translate(err, 'Cannot read the state schema version');
  }
}

function highest(applied: readonly AppliedMigration[]): number {
  return applied.reduce((max, a) => Math.max(max, a.version), 0);
}
