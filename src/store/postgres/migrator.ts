import type { Clock } from '../../lib/clock.js';
import { messageOf } from '../../lib/errors.js';
import { MigrationError, StoreError } from '../errors.js';
import { pendingMigrations, type AppliedMigration, type Migration } from '../migration.js';
import { queries, type PgClient, type PgConnection, type PgQuery } from './driver.js';

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL
)`;

/**
 * The advisory lock key every dbtrail process takes around migrating (an arbitrary constant: the ASCII of
 * "dbtrail" read as a number). Advisory locks are per database, so schemas of one database share it; that only
 * makes their migrations wait for each other.
 */
const MIGRATION_LOCK = 0x64627472_61696cn;

export interface MigrateResult {
  readonly applied: readonly number[];
  readonly version: number;
}

/**
 * Brings the database to `target` (the newest by default). A database that is current is recognised with a plain
 * read. Otherwise the pending migrations and their bookkeeping rows run in one transaction (DDL is transactional
 * in PostgreSQL: all of them apply or none) holding a transaction-level advisory lock, so that when several
 * processes start at once on a new database one migrates and the others wait, then find the work done.
 */
export async function migrate(
  conn: PgConnection,
  migrations: readonly Migration[],
  clock: Clock,
  target: number = migrations.length,
): Promise<MigrateResult> {
  const current = await conn.read('Cannot read the state schema version', (q) => appliedMigrations(q));
  if (pendingMigrations(migrations, current, target).length === 0) {
    return { applied: [], version: highest(current) };
  }
  return conn.session('Cannot migrate the state database', async (client: PgClient) => {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    const q = queries(client);
    await q.run(BOOKKEEPING);
    const applied = await appliedMigrations(q);
    const pending = pendingMigrations(migrations, applied, target);
    for (const m of pending) {
      try {
        await q.run(m.sql);
      } catch (err) {
        if (err instanceof StoreError) throw err;
        throw new MigrationError(`Cannot apply state migration ${m.version} "${m.name}": ${messageOf(err)}`, {
          cause: err,
          fields: { version: m.version, name: m.name },
        });
      }
      await q.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        clock.now(),
      ]);
    }
    await client.query('COMMIT');
    return {
      applied: pending.map((m) => m.version),
      version: Math.max(highest(applied), ...pending.map((m) => m.version)),
    };
  });
}

export function schemaVersion(conn: PgConnection): Promise<number> {
  return conn.read('Cannot read the state schema version', async (q) => highest(await appliedMigrations(q)));
}

async function appliedMigrations(q: PgQuery): Promise<AppliedMigration[]> {
  // to_regclass resolves the name through search_path: the schema_migrations of this store's schema.
  const exists = await q.row<{ present: string | null }>(
    "SELECT to_regclass('schema_migrations')::text AS present",
  );
  if (exists?.present === null || exists === undefined) return [];
  return q.rows<AppliedMigration>('SELECT version, name FROM schema_migrations ORDER BY version');
}

function highest(applied: readonly AppliedMigration[]): number {
  return applied.reduce((max, a) => Math.max(max, a.version), 0);
}
