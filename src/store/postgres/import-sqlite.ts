import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../lib/clock.js';
import { messageOf } from '../../lib/errors.js';
import { MigrationError, StateConflictError, StoreOpenError } from '../errors.js';
import { SQLITE_MIGRATIONS } from '../sqlite/migrations.js';
import { openSqliteStateStore } from '../sqlite/state-store.js';
import { withoutPassword } from '../state-url.js';
import { connectPostgres, PgConnection, quoteIdent, type PgQuery } from './driver.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { migrate } from './migrator.js';
import { ensurePartition, monthOf, PARTITIONED_TABLES } from './partitions.js';

/**
 * Copies a whole SQLite state database into PostgreSQL (`dbtrail migrate-state`): every table with its ids,
 * keys, seqs, checkpoints, gaps, schema history, key hashes, schedules, job history, backups, archive and audit
 * log, in one PostgreSQL transaction. Either all of it is copied and the counts check out, or nothing is written.
 */
export interface ImportOptions {
  /** Absolute path of the SQLite database. */
  readonly sqlitePath: string;
  /** postgres:// URL of the target (its password may come from PGPASSWORD instead). */
  readonly targetUrl: string;
  /** Replace a target that already holds state (it is emptied in the same transaction). Default: refuse. */
  readonly replace?: boolean;
  /** Schema of the target tables (tests); the user's default search_path when absent. */
  readonly schema?: string;
  readonly clock?: Clock;
  /** Called after each table is copied. */
  readonly onTable?: (table: string, rows: number) => void;
}

export interface ImportResult {
  /** Rows copied per table, in copy order. */
  readonly tables: readonly { readonly table: string; readonly rows: number }[];
  /** The highest seq of each server's change index, as verified on both sides. */
  readonly lastSeqs: Readonly<Record<string, string>>;
  readonly schemaVersion: number;
}

/**
 * Tables in foreign-key order. `order` keeps identity columns (gap_no, entry_no) in the source's insertion
 * order; `select` reads a table whose PostgreSQL form has an extra column.
 */
const TABLES: readonly { readonly name: string; readonly order?: string; readonly select?: string }[] = [
  { name: 'tenants' },
  { name: 'servers' },
  { name: 'schedules' },
  { name: 'backups' },
  { name: 'api_keys' },
  { name: 'jobs' },
  { name: 'change_servers', order: 'server_key' },
  { name: 'change_checkpoints' },
  { name: 'change_tables', order: 'table_key' },
  { name: 'change_transactions' },
  { name: 'changes' },
  {
    name: 'change_columns',
    // PostgreSQL partitions change_columns by server, so each row carries its server's key.
    select:
      'SELECT t.server_key, cc.table_key, cc.column_name, cc.commit_time_us, cc.seq FROM change_columns cc JOIN change_tables t ON t.table_key = cc.table_key',
  },
  { name: 'change_ddl' },
  { name: 'change_gaps', order: 'rowid' },
  { name: 'change_table_schemas', order: 'rowid' },
  { name: 'binlog_segments' },
  { name: 'binlog_archive_gaps', order: 'rowid' },
  { name: 'agents' },
  { name: 'audit_log', order: 'seq' },
  { name: 'server_facts' },
  { name: 'drills', order: 'rowid' },
];

/** Identity columns whose sequences must continue after the copied keys. */
const IDENTITIES: readonly [string, string][] = [
  ['change_servers', 'server_key'],
  ['change_tables', 'table_key'],
  ['change_gaps', 'gap_no'],
  ['change_table_schemas', 'entry_no'],
  ['binlog_archive_gaps', 'gap_no'],
  ['drills', 'drill_no'],
];

/** PostgreSQL's limit is 65535 bind parameters per statement. */
const MAX_PARAMS = 60_000;

export async function importSqliteState(options: ImportOptions): Promise<ImportResult> {
  const clock = options.clock ?? systemClock;
  const display = withoutPassword(options.targetUrl);
  if (SQLITE_MIGRATIONS.length !== POSTGRES_MIGRATIONS.length) {
    throw new MigrationError(
      `Cannot copy state to ${display}: this build's SQLite schema is version ${SQLITE_MIGRATIONS.length}, its PostgreSQL schema ${POSTGRES_MIGRATIONS.length}`,
    );
  }
  if (!existsSync(options.sqlitePath)) {
    // Opening a missing file would create an empty database and copy nothing.
    throw new StoreOpenError(`Cannot open state database ${options.sqlitePath}: no such file`, {
      fields: { path: options.sqlitePath },
    });
  }
  // Opening the source through the store brings an older database to this build's schema first.
  await (await openSqliteStateStore({ path: options.sqlitePath, clock })).close();
  let source: Database.Database;
  try {
    source = new Database(options.sqlitePath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new StoreOpenError(`Cannot open state database ${options.sqlitePath}: ${messageOf(err)}`, {
      cause: err,
      fields: { path: options.sqlitePath },
    });
  }
  const conn = new PgConnection(
    connectPostgres({
      url: options.targetUrl,
      display,
      maxConnections: 2,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
    }),
    display,
  );
  try {
    await migrate(conn, POSTGRES_MIGRATIONS, clock);
    // A table this build does not copy would be lost silently: refuse instead.
    const copiedTables = new Set([...TABLES.map((t) => t.name), 'schema_migrations']);
    const unknown = (
      source
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .all() as { name: string }[]
    )
      .map((r) => r.name)
      .filter((name) => !copiedTables.has(name));
    if (unknown.length > 0) {
      throw new MigrationError(
        `Cannot copy state from ${options.sqlitePath}: this dbtrail does not know how to copy table ${unknown.join(', ')}`,
        { fields: { tables: unknown } },
      );
    }
    // Reading the whole source inside one SQLite read transaction: a consistent snapshot even if a dbtrail
    // process still writes to it.
    source.exec('BEGIN');
    const action = `Cannot copy state from ${options.sqlitePath} to ${display}`;
    return await conn.write(action, async (q) => {
      await emptyTarget(q, display, options.replace === true);
      const copied: { table: string; rows: number }[] = [];
      for (const table of TABLES) {
        if (table.name === 'change_transactions') await createPartitions(q, source);
        const rows = await copyTable(q, source, table);
        copied.push({ table: table.name, rows });
        options.onTable?.(table.name, rows);
      }
      for (const [table, column] of IDENTITIES) {
        await q.run(
          `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE((SELECT MAX(${column}) FROM ${table}), 0), 1),
             (SELECT COUNT(*) > 0 FROM ${table}))`,
          [table, column],
        );
      }
      const lastSeqs = await verify(q, source, copied, display);
      return { tables: copied, lastSeqs, schemaVersion: POSTGRES_MIGRATIONS.length };
    });
  } finally {
    if (source.inTransaction) source.exec('ROLLBACK');
    source.close();
    await conn.close();
  }
}

/** Refuses a target holding state, unless replacing it: then every table is emptied in this transaction. */
async function emptyTarget(q: PgQuery, display: string, replace: boolean): Promise<void> {
  const held: string[] = [];
  for (const { name } of TABLES) {
    if ((await q.row(`SELECT 1 FROM ${name} LIMIT 1`)) !== undefined) held.push(name);
  }
  if (held.length === 0) return;
  if (!replace) {
    throw new StateConflictError(
      `Cannot copy state to ${display}: it already holds state (${held.join(', ')}); give --force to replace it, or use an empty database`,
      { fields: { target: display, tables: held } },
    );
  }
  const partitions = await q.rows<{ suffix: string }>('SELECT suffix FROM change_partitions');
  for (const { suffix } of partitions) {
    await q.run(`DROP TABLE ${PARTITIONED_TABLES.map((t) => quoteIdent(`${t}_${suffix}`)).join(', ')}`);
  }
  await q.run(`TRUNCATE ${[...TABLES.map((t) => t.name), 'change_partitions'].join(', ')}`);
}

/** The month partitions every server's changes need, from the distinct days of its transactions. */
async function createPartitions(q: PgQuery, source: Database.Database): Promise<void> {
  const days = source
    .prepare('SELECT DISTINCT server_key, commit_time_us / 86400000000 AS day FROM change_transactions')
    .safeIntegers(true)
    .all() as { server_key: bigint; day: bigint }[];
  const done = new Set<string>();
  for (const { server_key, day } of days) {
    const month = monthOf(server_key, day * 86_400_000_000n);
    if (done.has(month.suffix)) continue;
    done.add(month.suffix);
    await ensurePartition(q, server_key, month);
  }
}

async function copyTable(
  q: PgQuery,
  source: Database.Database,
  table: { readonly name: string; readonly order?: string; readonly select?: string },
): Promise<number> {
  const targetColumns = (
    await q.rows<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1
       ORDER BY ordinal_position`,
      [table.name],
    )
  ).map((r) => r.column_name);
  const statement = source.prepare(
    table.select ??
      `SELECT * FROM ${table.name}${table.order === undefined ? '' : ` ORDER BY ${table.order}`}`,
  );
  // Integers as bigints: seqs, microsecond times and hashes are 64-bit.
  statement.safeIntegers(true);
  const sourceColumns = statement.columns().map((c) => c.name);
  const missing = sourceColumns.filter((c) => !targetColumns.includes(c));
  if (missing.length > 0) {
    throw new MigrationError(
      `Cannot copy table ${table.name}: the PostgreSQL schema has no column ${missing.join(', ')}`,
    );
  }
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / sourceColumns.length));
  const prefix = `INSERT INTO ${table.name} (${sourceColumns.join(', ')}) VALUES `;
  let batch: unknown[][] = [];
  let rows = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const params: unknown[] = [];
    const tuples = batch.map((row) => {
      const first = params.length;
      params.push(...row.map(toPg));
      return `(${row.map((_, i) => `$${first + i + 1}`).join(', ')})`;
    });
    await q.run(prefix + tuples.join(', '), params);
    batch = [];
  };
  for (const row of statement.raw(true).iterate() as Iterable<unknown[]>) {
    batch.push(row);
    rows++;
    if (batch.length === perStatement) await flush();
  }
  await flush();
  return rows;
}

/**
 * A SQLite value as a PostgreSQL parameter. Integers go as their decimal text (exact, and PostgreSQL reads 0/1
 * as booleans); ISO-8601 text reads as timestamptz; blobs stay bytes.
 */
function toPg(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Row counts per table and each server's last seq must match the source exactly. */
async function verify(
  q: PgQuery,
  source: Database.Database,
  copied: readonly { table: string; rows: number }[],
  display: string,
): Promise<Record<string, string>> {
  for (const { table, rows } of copied) {
    const target = await q.row<{ n: bigint }>(`SELECT COUNT(*) AS n FROM ${table}`);
    const sourceRows = (
      source.prepare(`SELECT COUNT(*) AS n FROM ${table}`).safeIntegers(true).get() as { n: bigint }
    ).n;
    if (target?.n !== sourceRows || sourceRows !== BigInt(rows)) {
      throw new MigrationError(
        `Cannot copy state to ${display}: table ${table} has ${sourceRows} rows in SQLite but ${target?.n ?? 0n} in PostgreSQL`,
        { fields: { table } },
      );
    }
  }
  const sourceSeqs = source
    .prepare(
      `SELECT s.server_id, s.last_seq, (SELECT MAX(seq) FROM changes c WHERE c.server_key = s.server_key) AS max_seq
       FROM change_servers s ORDER BY s.server_id`,
    )
    .safeIntegers(true)
    .all() as { server_id: string; last_seq: bigint; max_seq: bigint | null }[];
  const lastSeqs: Record<string, string> = {};
  for (const s of sourceSeqs) {
    const t = await q.row<{ last_seq: bigint; max_seq: bigint | null }>(
      `SELECT s.last_seq, (SELECT MAX(seq) FROM changes c WHERE c.server_key = s.server_key) AS max_seq
       FROM change_servers s WHERE s.server_id = $1`,
      [s.server_id],
    );
    if (t === undefined || t.last_seq !== s.last_seq || t.max_seq !== s.max_seq) {
      throw new MigrationError(
        `Cannot copy state to ${display}: the change index of server ${s.server_id} ends at seq ${s.last_seq} in SQLite but ${t?.last_seq ?? 'nowhere'} in PostgreSQL`,
        { fields: { serverId: s.server_id } },
      );
    }
    lastSeqs[s.server_id] = s.last_seq.toString();
  }
  return lastSeqs;
}
