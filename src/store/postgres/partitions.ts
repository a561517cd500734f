import { quoteIdent, type PgQuery } from './driver.js';

/**
 * The partitions of the change index: one per server and calendar month (UTC) of commit time, for each of the
 * three partitioned tables. A month is the unit pruning drops; a server's month of changes stays a few million
 * rows at most for a busy source, so each partition's indexes stay small enough to live in memory.
 */
export const PARTITIONED_TABLES = ['changes', 'change_columns', 'change_transactions'] as const;

export interface MonthRange {
  /** Inclusive, microseconds since the epoch. */
  readonly fromUs: bigint;
  /** Exclusive; INT64_MAX for the open-ended last range. */
  readonly toUs: bigint;
  /** Part of the partition names: `s<server key>_<yyyymm>`. */
  readonly suffix: string;
}

const INT64_MAX = (1n << 63n) - 1n;
/** Commit times from year 10000 on share one open-ended range (a Date cannot name their month anyway). */
const FAR_FUTURE_MS = Date.UTC(10000, 0, 1);

/** The month range a commit time falls in, for one server. */
export function monthOf(serverKey: bigint, commitTimeUs: bigint): MonthRange {
  const ms = commitTimeUs / 1000n;
  if (ms >= BigInt(FAR_FUTURE_MS)) {
    return { fromUs: BigInt(FAR_FUTURE_MS) * 1000n, toUs: INT64_MAX, suffix: `s${serverKey}_max` };
  }
  const d = new Date(Number(ms));
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return {
    fromUs: BigInt(Date.UTC(y, m, 1)) * 1000n,
    toUs: BigInt(Date.UTC(y, m + 1, 1)) * 1000n,
    suffix: `s${serverKey}_${String(y).padStart(4, '0')}${String(m + 1).padStart(2, '0')}`,
  };
}

export function partitionName(table: (typeof PARTITIONED_TABLES)[number], suffix: string): string {
  return quoteIdent(`${table}_${suffix}`);
}

/**
 * An advisory lock key for partition changes (ASCII "dbtrail" + 1): creating partitions in two sessions at once
 * would race on the catalog, so creators take turns. Prune does not take it: it drops under ACCESS EXCLUSIVE
 * locks of the parents, which ATTACH (SHARE UPDATE EXCLUSIVE) waits for.
 */
const PARTITION_LOCK = (0x64627472_61696cn + 1n).toString();

/**
 * Creates the month's partitions of a server unless they exist, in the caller's transaction (which should do
 * nothing else: it commits the new tables for every later writer). Each is created as a plain table and then
 * attached: ATTACH takes only a SHARE UPDATE EXCLUSIVE lock on the parent, so capture of other servers and
 * queries go on meanwhile (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE). Attaching builds the
 * parent's indexes on the new, empty table.
 */
export async function ensurePartition(q: PgQuery, serverKey: bigint, month: MonthRange): Promise<void> {
  await q.run('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
  const known = await q.row('SELECT 1 FROM change_partitions WHERE server_key = $1 AND from_us = $2', [
    serverKey,
    month.fromUs,
  ]);
  if (known !== undefined) return;
  const upper = month.toUs === INT64_MAX ? 'MAXVALUE' : month.toUs.toString();
  for (const table of PARTITIONED_TABLES) {
    const name = partitionName(table, month.suffix);
    await q.run(`CREATE TABLE ${name} (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    await q.run(
      `ALTER TABLE ${table} ATTACH PARTITION ${name}
       FOR VALUES FROM (${serverKey}, ${month.fromUs}) TO (${serverKey}, ${upper})`,
    );
  }
  await q.run('INSERT INTO change_partitions (server_key, from_us, to_us, suffix) VALUES ($1, $2, $3, $4)', [
    serverKey,
    month.fromUs,
    month.toUs,
    month.suffix,
  ]);
}
