import type { SourceConnection } from '../source/connect.js';

/**
 * Chunked, order-independent table checksums between two servers, in the manner of pt-table-checksum: the
 * **actual** side (the live server, normally inside a consistent snapshot) and the **expected** side (a scratch
 * server holding the state dbtrail says the table must have at the same coordinates).
 *
 * - Chunks are primary-key ranges chosen on the actual side by walking the key (`ORDER BY pk LIMIT 1 OFFSET n-1`),
 *   and the very same ranges are checksummed on both sides. The first chunk has no lower bound and the last none
 *   above, so rows that exist on one side only are always inside some chunk.
 * - A chunk's checksum is `COUNT(*)` and the exact DECIMAL `SUM` of a 60-bit prefix of each row's MD5: a sum, not
 *   a XOR, so that two identical rows (possible without a primary key) do not cancel out, and independent of the
 *   order the server reads rows in. A row's bytes are its columns' text, separated by 0x00, followed by its NULL
 *   map, so NULL and the empty string differ.
 * - Load is bounded: each chunk aims at `targetChunkMs` (the row count adapts after every chunk, as
 *   pt-table-checksum's --chunk-time does), and before each chunk the actual server's `Threads_running` is read;
 *   above `maxThreadsRunning` the comparison waits.
 * - A chunk that differs is drilled into: both sides list the chunk's rows as (key, row hash) and the rows that
 *   differ are fetched in full, up to `maxRowsPerTable`.
 * - A table without a primary key is one chunk; its drill-down compares the multisets of row hashes.
 */
export interface ComparedTable {
  readonly schema: string;
  readonly table: string;
  /** The schema name on the expected side, when it differs (a restore with --rename-schema). */
  readonly expectedSchema?: string;
  /** Every column, in table order. */
  readonly columns: readonly string[];
  /** Primary-key columns in key order; empty for a table without one. */
  readonly primaryKey: readonly string[];
}

export interface ChecksumLimits {
  /** Aimed time per chunk on the actual server. Default 250 ms. */
  readonly targetChunkMs?: number;
  /** Rows in the first chunk. Default 1000. */
  readonly initialChunkRows?: number;
  /** Never more rows per chunk than this. Default 200 000. */
  readonly maxChunkRows?: number;
  /** Wait while the actual server has more threads running than this. Default 25. */
  readonly maxThreadsRunning?: number;
  /** How long one wait lasts before `Threads_running` is read again. Default 250 ms. */
  readonly pauseMs?: number;
  /** Drifted rows listed per table (the count is always exact). Default 1000. */
  readonly maxRowsPerTable?: number;
}

/** Column values as text (binary as `{hex}`), as both servers return them. */
export type RowValues = Readonly<Record<string, string | null | { readonly hex: string }>>;

export interface DriftedRow {
  /** `missing`: expected but absent; `unexpected`: present but not expected; `changed`: both, different. */
  readonly kind: 'missing' | 'unexpected' | 'changed';
  /** Key values (the whole row for a table without a primary key). */
  readonly key: RowValues;
  readonly expected: RowValues | null;
  readonly actual: RowValues | null;
}

export interface ChunkStat {
  readonly rows: bigint;
  readonly ms: number;
}

export interface TableComparison {
  readonly schema: string;
  readonly table: string;
  readonly equal: boolean;
  readonly chunks: number;
  readonly differingChunks: number;
  readonly actualRows: bigint;
  readonly expectedRows: bigint;
  /** Rows that differ: exact count, and the first `maxRowsPerTable` of them in key order. */
  readonly driftedRowCount: number;
  readonly driftedRows: readonly DriftedRow[];
  /** Time spent checksumming chunks on the actual server. */
  readonly chunkMs: { readonly max: number; readonly total: number; readonly p95: number };
  /** Times the comparison waited for the actual server to be less busy, and for how long in all. */
  readonly pauses: number;
  readonly pausedMs: number;
  /**
   * Bytes of table data checksummed on the actual side, estimated from the rows read and the table's average row
   * length in information_schema (measuring it exactly would cost a second pass over each row).
   */
  readonly bytes: bigint;
}

type KeyValue = string | Buffer | null;

const DEFAULTS = {
  targetChunkMs: 250,
  initialChunkRows: 1000,
  maxChunkRows: 200_000,
  maxThreadsRunning: 25,
  pauseMs: 250,
  maxRowsPerTable: 1000,
} as const;

/** A quoted identifier; backticks inside doubled. */
export function quoteId(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** The expression of one row's bytes: columns cast to binary, 0x00 between them, then the NULL map. */
export function rowBytesSql(columns: readonly string[]): string {
  // No CAST(... AS BINARY) per column: the binary separator already makes the result a binary string (so no
  // collation mix can fail), and the casts doubled the cost of a chunk.
  const values = columns.map((c) => quoteId(c));
  const nulls = `CONCAT(${columns.map((c) => `ISNULL(${quoteId(c)})`).join(', ')})`;
  return `CONCAT_WS(0x00, ${[...values, nulls].join(', ')})`;
}

/**
 * The WHERE clause for `key > lower AND key <= upper` over a composite key, expanded as (a > x) OR (a = x AND b > y)
 * so that the optimizer can use the index as a range (row constructors are not always range-optimized).
 */
export function rangeSql(
  key: readonly string[],
  lower: readonly KeyValue[] | null,
  upper: readonly KeyValue[] | null,
): { sql: string; params: KeyValue[] } {
  const parts: string[] = [];
  const params: KeyValue[] = [];
  const tuple = (op: '>' | '<', values: readonly KeyValue[], inclusive: boolean) => {
    const ors: string[] = [];
    for (let i = 0; i < key.length; i++) {
      const ands: string[] = [];
      for (let j = 0; j < i; j++) {
        ands.push(`${quoteId(key[j]!)} = ?`);
        params.push(values[j] ?? null);
      }
      const last = i === key.length - 1;
      ands.push(`${quoteId(key[i]!)} ${op}${last && inclusive ? '=' : ''} ?`);
      params.push(values[i] ?? null);
      ors.push(`(${ands.join(' AND ')})`);
    }
    parts.push(`(${ors.join(' OR ')})`);
  };
  if (lower !== null) tuple('>', lower, false);
  if (upper !== null) tuple('<', upper, true);
  return { sql: parts.length === 0 ? '1' : parts.join(' AND '), params };
}

interface ChunkSum {
  readonly count: bigint;
  readonly sum: string;
}

async function chunkSum(
  conn: SourceConnection,
  schema: string,
  t: ComparedTable,
  where: { sql: string; params: KeyValue[] },
): Promise<ChunkSum> {
  const row = rowBytesSql(t.columns);
  const rows = await conn.query<{ n: string | number; s: string | null }>(
    `SELECT COUNT(*) AS n, SUM(CAST(CONV(SUBSTRING(MD5(${row}), 1, 15), 16, 10) AS UNSIGNED)) AS s
       FROM ${quoteId(schema)}.${quoteId(t.table)}
      WHERE ${where.sql}`,
    where.params,
  );
  const r = rows[0]!;
  return { count: BigInt(r.n), sum: r.s ?? '0' };
}

async function threadsRunning(conn: SourceConnection): Promise<number> {
  const rows = await conn.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Threads_running'");
  return Number(rows[0]?.Value ?? 0);
}

/** The key of the row `offset` rows after `lower` in key order on the actual side, or null past the end. */
async function boundaryAfter(
  conn: SourceConnection,
  t: ComparedTable,
  lower: readonly KeyValue[] | null,
  offset: number,
): Promise<KeyValue[] | null> {
  const where = rangeSql(t.primaryKey, lower, null);
  const cols = t.primaryKey.map(quoteId).join(', ');
  const rows = await conn.raw.query({
    sql: `SELECT ${cols} FROM ${quoteId(t.schema)}.${quoteId(t.table)} WHERE ${where.sql}
           ORDER BY ${cols} LIMIT 1 OFFSET ${Math.max(0, Math.trunc(offset) - 1)}`,
    values: where.params,
    rowsAsArray: true,
  });
  const list = rows[0] as KeyValue[][];
  return list.length === 0 ? null : list[0]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Compares one table; `actual` should already be inside the snapshot the comparison is about. */
export async function compareTable(
  actual: SourceConnection,
  expected: SourceConnection,
  t: ComparedTable,
  limits: ChecksumLimits = {},
): Promise<TableComparison> {
  const l = { ...DEFAULTS, ...limits };
  const expectedSchema = t.expectedSchema ?? t.schema;
  let chunkRows = l.initialChunkRows;
  let lower: KeyValue[] | null = null;
  const times: number[] = [];
  let chunks = 0;
  const differing: { lower: KeyValue[] | null; upper: KeyValue[] | null }[] = [];
  let actualRows = 0n;
  let expectedRows = 0n;
  let pauses = 0;
  let pausedMs = 0;
  for (;;) {
    while ((await threadsRunning(actual)) > l.maxThreadsRunning) {
      pauses++;
      pausedMs += l.pauseMs;
      await sleep(l.pauseMs);
    }
    const started = performance.now();
    const upper: KeyValue[] | null =
      t.primaryKey.length === 0 ? null : await boundaryAfter(actual, t, lower, chunkRows);
    const where = t.primaryKey.length === 0 ? { sql: '1', params: [] } : rangeSql(t.primaryKey, lower, upper);
    const a = await chunkSum(actual, t.schema, t, where);
    const ms = performance.now() - started;
    const e = await chunkSum(expected, expectedSchema, t, where);
    chunks++;
    times.push(ms);
    actualRows += a.count;
    expectedRows += e.count;
    if (a.count !== e.count || a.sum !== e.sum) differing.push({ lower, upper });
    if (upper === null) break;
    lower = upper;
    // Aim the next chunk at the target time, moving at most 2x per step so one slow chunk (a busy moment) does
    // not shrink the chunks to nothing, nor one fast chunk inflate them.
    const factor = Math.min(2, Math.max(0.5, l.targetChunkMs / Math.max(1, ms)));
    chunkRows = Math.max(10, Math.min(l.maxChunkRows, Math.round(chunkRows * factor)));
  }
  const drifted: DriftedRow[] = [];
  let driftedCount = 0;
  for (const range of differing) {
    const found = await drillDown(
      actual,
      expected,
      t,
      expectedSchema,
      range,
      l.maxRowsPerTable - drifted.length,
    );
    driftedCount += found.count;
    drifted.push(...found.rows);
  }
  const sorted = [...times].sort((x, y) => x - y);
  const avg = await actual.query<{ a: string | number | null }>(
    'SELECT AVG_ROW_LENGTH AS a FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [t.schema, t.table],
  );
  const bytes = actualRows * BigInt(avg[0]?.a ?? 0);
  return {
    schema: t.schema,
    table: t.table,
    equal: differing.length === 0,
    chunks,
    differingChunks: differing.length,
    actualRows,
    expectedRows,
    driftedRowCount: driftedCount,
    driftedRows: drifted,
    chunkMs: {
      max: sorted.at(-1) ?? 0,
      total: times.reduce((s, x) => s + x, 0),
      p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0,
    },
    pauses,
    pausedMs,
    bytes,
  };
}

interface HashedRow {
  readonly key: KeyValue[];
  readonly keyText: string;
  readonly hash: string;
}

function keyText(values: readonly KeyValue[]): string {
  return JSON.stringify(values.map((v) => (Buffer.isBuffer(v) ? { hex: v.toString('hex') } : v)));
}

async function hashedRows(
  conn: SourceConnection,
  schema: string,
  t: ComparedTable,
  where: { sql: string; params: KeyValue[] },
): Promise<HashedRow[]> {
  const keyCols = t.primaryKey.length === 0 ? t.columns : t.primaryKey;
  const cols = keyCols.map(quoteId).join(', ');
  const result = await conn.raw.query({
    sql: `SELECT ${cols}, MD5(${rowBytesSql(t.columns)}) AS h FROM ${quoteId(schema)}.${quoteId(t.table)}
           WHERE ${where.sql} ORDER BY ${cols}`,
    values: where.params,
    rowsAsArray: true,
  });
  return (result[0] as KeyValue[][]).map((r) => {
    const key = r.slice(0, keyCols.length);
    return { key, keyText: keyText(key), hash: String(r[keyCols.length]) };
  });
}

async function fullRow(
  conn: SourceConnection,
  schema: string,
  t: ComparedTable,
  key: readonly KeyValue[],
): Promise<RowValues | null> {
  const keyCols = t.primaryKey.length === 0 ? t.columns : t.primaryKey;
  const where = keyCols.map((c) => `${quoteId(c)} <=> ?`).join(' AND ');
  const result = await conn.raw.query({
    sql: `SELECT ${t.columns.map(quoteId).join(', ')} FROM ${quoteId(schema)}.${quoteId(t.table)} WHERE ${where} LIMIT 1`,
    values: [...key],
    rowsAsArray: true,
  });
  const row = (result[0] as unknown[][])[0];
  if (row === undefined) return null;
  return Object.fromEntries(t.columns.map((c, i) => [c, textOf(row[i])]));
}

function textOf(v: unknown): string | null | { hex: string } {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex').toUpperCase() };
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return v.toString();
  // JSON columns come back parsed on MySQL.
  return JSON.stringify(v);
}

function keyValues(t: ComparedTable, key: readonly KeyValue[]): RowValues {
  const keyCols = t.primaryKey.length === 0 ? t.columns : t.primaryKey;
  return Object.fromEntries(keyCols.map((c, i) => [c, textOf(key[i])]));
}

async function drillDown(
  actual: SourceConnection,
  expected: SourceConnection,
  t: ComparedTable,
  expectedSchema: string,
  range: { lower: KeyValue[] | null; upper: KeyValue[] | null },
  room: number,
): Promise<{ count: number; rows: DriftedRow[] }> {
  const where =
    t.primaryKey.length === 0 ? { sql: '1', params: [] } : rangeSql(t.primaryKey, range.lower, range.upper);
  const a = await hashedRows(actual, t.schema, t, where);
  const e = await hashedRows(expected, expectedSchema, t, where);
  // Without a primary key the "key" is the whole row: compare multisets of rows, so a duplicate too many or too
  // few is found.
  const count = (rows: HashedRow[]) => {
    const m = new Map<string, { row: HashedRow; hashes: Map<string, number> }>();
    for (const r of rows) {
      const entry = m.get(r.keyText) ?? { row: r, hashes: new Map<string, number>() };
      entry.hashes.set(r.hash, (entry.hashes.get(r.hash) ?? 0) + 1);
      m.set(r.keyText, entry);
    }
    return m;
  };
  const am = count(a);
  const em = count(e);
  const keys = [...new Set([...am.keys(), ...em.keys()])];
  const out: DriftedRow[] = [];
  let n = 0;
  for (const k of keys) {
    const x = am.get(k);
    const y = em.get(k);
    const key = (x ?? y)!.row.key;
    const same =
      x !== undefined &&
      y !== undefined &&
      x.hashes.size === y.hashes.size &&
      [...x.hashes].every(([h, c]) => y.hashes.get(h) === c);
    if (same) continue;
    const kind: DriftedRow['kind'] = x === undefined ? 'missing' : y === undefined ? 'unexpected' : 'changed';
    // Without a primary key, "changed" means a different number of copies of the same row.
    n++;
    if (out.length < room) {
      out.push({
        kind,
        key: keyValues(t, key),
        expected: y === undefined ? null : await fullRow(expected, expectedSchema, t, key),
        actual: x === undefined ? null : await fullRow(actual, t.schema, t, key),
      });
    }
  }
  return { count: n, rows: out };
}
