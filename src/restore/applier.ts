import type mysql from 'mysql2/promise';
import type { CanonicalValue } from '../binlog/column-types.js';
import type { ChangeRecord, RowImage } from '../store/change-index.js';
import { ReplayMismatchError } from './errors.js';
import type { ReplayTransaction } from './transactions.js';

/**
 * Forward replay of captured transactions onto a target server, exactly: every row change becomes one statement
 * whose affected-row count is checked (an insert, update or delete must hit exactly one row), DDL runs in its
 * place, and nothing is skipped.
 *
 * Speed comes from batching, not from loosening the checks: consecutive row-change transactions are sent as one
 * multi-statement round trip inside one target transaction, each statement's count is checked from its own
 * result, and the batch commits only when every count is right. A batch that fails is rolled back and replayed one
 * source transaction at a time, so the failure names the exact transaction and everything before it is committed.
 *
 * Values go to the server through the driver's parameter escaping (strings as text in the connection's utf8mb4,
 * binary as X'..'), under `time_zone = '+00:00'` since TIMESTAMP values are canonical in UTC.
 */
export interface ReplayTarget {
  query(sql: string): Promise<unknown>;
  format(sql: string, values: unknown[]): string;
}

export interface ApplierOptions {
  /** Schema renames applied to every change and DDL (`--rename-schema`). */
  readonly renames?: ReadonlyMap<string, string>;
  /** Statements per round trip (default 400). */
  readonly batchStatements?: number;
  /**
   * More connections to the same target. Transactions are then applied in waves: consecutive transactions that
   * touch disjoint rows (by primary key and every unique key, before and after images) are spread over the
   * connections, each wave commits only when every connection's statements checked out, and the next wave starts
   * after it. Tables without a primary key, with foreign keys or with triggers take one key for the whole table
   * or for all such tables, so their changes never run side by side.
   */
  readonly lanes?: readonly ReplayTarget[];
  /** Called after each commit with the transactions committed so far. */
  readonly onCommitted?: (last: ReplayTransaction, count: number) => void;
  readonly signal?: AbortSignal;
}

interface TableInfo {
  /** Columns that can be written (generated columns cannot). */
  readonly writable: ReadonlySet<string>;
  /** Column name to its data type (`float`, `varchar`...). */
  readonly types: ReadonlyMap<string, string>;
  /** Unique keys whose columns are all NOT NULL, shortest first: they identify a row of a table without a PK. */
  readonly uniqueKeys: readonly (readonly string[])[];
  /** Secondary (non-unique) indexes, longest first: they narrow the scan for a table without any unique key. */
  readonly indexes: readonly (readonly string[])[];
  /** Every unique index (nullable ones too) by name: keys of parallel apply. */
  readonly allUnique: readonly (readonly [string, readonly string[]])[];
  /** The table has foreign keys (either side) or triggers: its changes are never applied side by side. */
  readonly serial: boolean;
}

const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set']);

export class ReplayApplier {
  readonly #conn: ReplayTarget;
  readonly #renames: ReadonlyMap<string, string>;
  readonly #batch: number;
  readonly #onCommitted: ((last: ReplayTransaction, count: number) => void) | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #tables = new Map<string, TableInfo>();
  readonly #lanes: readonly ReplayTarget[];
  #committed = 0;
  #last: ReplayTransaction | undefined;

  constructor(conn: ReplayTarget, options: ApplierOptions = {}) {
    this.#conn = conn;
    this.#lanes = [conn, ...(options.lanes ?? [])];
    this.#renames = options.renames ?? new Map();
    this.#batch = options.batchStatements ?? 400;
    this.#onCommitted = options.onCommitted;
    this.#signal = options.signal;
  }

  /** The last transaction committed on the target, and how many were. */
  get progress(): { readonly last: ReplayTransaction | undefined; readonly committed: number } {
    return { last: this.#last, committed: this.#committed };
  }

  async prepareSession(): Promise<void> {
    // Strict, so a value the target would have to bend is an error, not a warning; zero dates stay allowed (no
    // NO_ZERO_DATE) since the source held them; NO_AUTO_VALUE_ON_ZERO keeps an explicit 0 in an AUTO_INCREMENT
    // column; no NO_BACKSLASH_ESCAPES, which the driver's string escaping relies on.
    for (const lane of this.#lanes) {
      await lane.query(
        "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', autocommit = 1",
      );
    }
  }

  /** Replays the transactions in order. Throws at the first failure with everything before it committed. */
  async apply(transactions: readonly ReplayTransaction[]): Promise<void> {
    let wave: ReplayTransaction[] = [];
    let keys = new Set<string>();
    let statements = 0;
    const limit = this.#batch * this.#lanes.length;
    const flush = async (): Promise<void> => {
      if (wave.length === 0) return;
      const group = wave;
      wave = [];
      keys = new Set();
      statements = 0;
      await this.#applyWave(group);
    };
    for (const tx of transactions) {
      if (this.#signal?.aborted === true) {
        await flush();
        throw new ReplayMismatchError('Cannot finish the replay: interrupted', {
          fields: { interrupted: true },
        });
      }
      if (tx.ddl !== null) {
        await flush();
        await this.#applyDdl(tx);
        continue;
      }
      const own = this.#lanes.length > 1 ? await this.#keys(tx) : [];
      if (own.some((k) => keys.has(k)) || statements >= limit) await flush();
      for (const k of own) keys.add(k);
      wave.push(tx);
      statements += tx.changes.length;
    }
    await flush();
  }

  /** One wave: on one connection in batches, or split over the lanes and committed together. */
  async #applyWave(wave: readonly ReplayTransaction[]): Promise<void> {
    const lanes = this.#lanes;
    if (lanes.length === 1 || wave.length < lanes.length * 2) {
      for (let i = 0; i < wave.length;) {
        let n = 0;
        let j = i;
        while (j < wave.length && (j === i || n < this.#batch))
          n += (wave[j++] as ReplayTransaction).changes.length;
        await this.#applyGroup(wave.slice(i, j));
        i = j;
      }
      return;
    }
    // Contiguous chunks of about equal statement counts, one per lane.
    const total = wave.reduce((a, t) => a + t.changes.length, 0);
    const chunks: ReplayTransaction[][] = lanes.map(() => []);
    let acc = 0;
    for (const t of wave) {
      const lane = Math.min(lanes.length - 1, Math.floor((acc * lanes.length) / total));
      (chunks[lane] as ReplayTransaction[]).push(t);
      acc += t.changes.length;
    }
    const used = chunks.map((c, i) => ({ c, lane: lanes[i] as ReplayTarget })).filter((x) => x.c.length > 0);
    const results = await Promise.allSettled(used.map((x) => this.#execute(x.c, x.lane)));
    if (results.every((r) => r.status === 'fulfilled')) {
      for (const x of used) await x.lane.query('COMMIT');
      this.#committed += wave.length;
      this.#last = wave[wave.length - 1];
      this.#onCommitted?.(this.#last as ReplayTransaction, this.#committed);
      return;
    }
    for (const x of used) await x.lane.query('ROLLBACK').catch(() => undefined);
    // Nothing of the wave is committed: replay it in order on one connection to name the failing transaction.
    for (const tx of wave) await this.#applyGroup([tx]);
    const failed = results.find((r) => r.status === 'rejected');
    throw failed?.reason instanceof Error ? failed.reason : new Error(String(failed?.reason));
  }

  /** The rows a transaction touches, as keys: two transactions with no key in common commute. */
  async #keys(tx: ReplayTransaction): Promise<string[]> {
    const out: string[] = [];
    for (const c of tx.changes) {
      const schema = this.#renames.get(c.schema) ?? c.schema;
      const table = `${schema}.${c.table}`;
      const info = await this.#info(schema, c.table);
      if (info.serial) out.push('#serial');
      if (c.pkIsFullImage || c.pkColumns.length === 0) {
        out.push(`${table}#*`);
        continue;
      }
      for (const image of [c.before, c.after]) {
        if (image === null) continue;
        out.push(`${table}#pk#${JSON.stringify(c.pkColumns.map((k) => image[k] ?? null))}`);
        for (const [name, cols] of info.allUnique) {
          out.push(`${table}#${name}#${JSON.stringify(cols.map((k) => image[k] ?? null))}`);
        }
      }
    }
    return out;
  }

  async #applyGroup(group: readonly ReplayTransaction[]): Promise<void> {
    try {
      await this.#runBatch(group);
    } catch (err) {
      if (group.length === 1) throw err;
      // Find the failing transaction: replay the group one transaction at a time.
      for (const tx of group) await this.#runBatch([tx]);
      throw err;
    }
  }

  async #runBatch(group: readonly ReplayTransaction[]): Promise<void> {
    await this.#execute(group, this.#conn);
    await this.#conn.query('COMMIT');
    this.#committed += group.length;
    this.#last = group[group.length - 1];
    this.#onCommitted?.(this.#last as ReplayTransaction, this.#committed);
  }

  /** Runs a group's statements in an open transaction on `lane` and checks every count; rolls back on failure. */
  async #execute(group: readonly ReplayTransaction[], lane: ReplayTarget): Promise<void> {
    const rollback = (): Promise<unknown> => lane.query('ROLLBACK').catch(() => undefined);
    const sql: string[] = ['START TRANSACTION'];
    const expected: { tx: ReplayTransaction; change: ChangeRecord; index: number }[] = [];
    for (const tx of group) {
      for (const change of tx.changes) {
        sql.push(await this.#statement(change));
        expected.push({ tx, change, index: sql.length - 1 });
      }
    }
    let results: unknown;
    try {
      results = await lane.query(sql.join(';\n'));
    } catch (err) {
      await rollback();
      const first = group[0] as ReplayTransaction;
      throw new ReplayMismatchError(
        `Cannot replay transaction ${describeTx(first)}${group.length > 1 ? ` (or one of the ${group.length - 1} after it)` : ''}: ${(err as Error).message}`,
        { cause: err, fields: { gtid: first.gtid, file: first.file, position: first.position } },
      );
    }
    const list = Array.isArray(results) ? (results as unknown[]) : [results];
    for (const e of expected) {
      const r = list[e.index] as { affectedRows?: number } | undefined;
      const affected = r?.affectedRows;
      if (affected !== 1) {
        await rollback();
        throw new ReplayMismatchError(
          `Cannot replay transaction ${describeTx(e.tx)}: ${e.change.type} of ${e.change.schema}.${e.change.table} row ${e.change.pk} hit ${affected ?? 'no'} rows, expected 1; the target differs from the source`,
          {
            fields: {
              gtid: e.tx.gtid,
              file: e.tx.file,
              position: e.tx.position,
              table: `${e.change.schema}.${e.change.table}`,
              affected,
            },
          },
        );
      }
    }
  }

  async #applyDdl(tx: ReplayTransaction): Promise<void> {
    const ddl = tx.ddl as NonNullable<ReplayTransaction['ddl']>;
    const schema = ddl.schema === null ? null : (this.#renames.get(ddl.schema) ?? ddl.schema);
    try {
      if (schema !== null) await this.#conn.query(`USE ${ident(schema)}`);
      await this.#conn.query(renameInStatement(ddl.statement, this.#renames));
    } catch (err) {
      throw new ReplayMismatchError(
        `Cannot replay DDL ${describeTx(tx)} "${ddl.statement.slice(0, 200)}": ${(err as Error).message}`,
        {
          cause: err,
          fields: { gtid: tx.gtid, file: tx.file, position: tx.position },
        },
      );
    }
    // Table definitions may have changed.
    this.#tables.clear();
    this.#committed += 1;
    this.#last = tx;
    this.#onCommitted?.(tx, this.#committed);
  }

  async #statement(c: ChangeRecord): Promise<string> {
    const schema = this.#renames.get(c.schema) ?? c.schema;
    const name = `${ident(schema)}.${ident(c.table)}`;
    const info = await this.#info(schema, c.table);
    const fmt = (sql: string, values: unknown[]) => this.#conn.format(sql, values);
    if (c.type === 'insert') {
      const cols = Object.keys(c.after ?? {}).filter((k) => info.writable.has(k));
      return fmt(
        `INSERT INTO ${name} (${cols.map(ident).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
        cols.map((k) => param((c.after as RowImage)[k] ?? null)),
      );
    }
    const where = this.#where(c, info);
    if (c.type === 'delete') return fmt(`DELETE FROM ${name} WHERE ${where.sql}${where.limit}`, where.values);
    const after = c.after as RowImage;
    const cols = Object.keys(after).filter((k) => info.writable.has(k));
    return fmt(
      `UPDATE ${name} SET ${cols.map((k) => `${ident(k)} = ?`).join(', ')} WHERE ${where.sql}${where.limit}`,
      [...cols.map((k) => param(after[k] ?? null)), ...where.values],
    );
  }

  /** The WHERE that finds the change's row by its before image. */
  #where(c: ChangeRecord, info: TableInfo): { sql: string; values: unknown[]; limit: string } {
    const before = c.before as RowImage;
    if (!c.pkIsFullImage && c.pkColumns.length > 0) {
      return {
        sql: c.pkColumns.map((k) => `${ident(k)} = ?`).join(' AND '),
        values: c.pkColumns.map((k) => param(before[k] ?? null)),
        limit: '',
      };
    }
    // No primary key: a NOT NULL unique key identifies the row through its index.
    const unique = info.uniqueKeys.find((key) => key.every((k) => k in before && before[k] !== null));
    if (unique !== undefined) {
      return {
        sql: unique.map((k) => `${ident(k)} = ?`).join(' AND '),
        values: unique.map((k) => param(before[k] ?? null)),
        limit: '',
      };
    }
    // Otherwise the whole image, with LIMIT 1 since identical duplicates are interchangeable. FLOAT is left out:
    // its canonical text (6 significant digits) does not give back the stored bits. Text columns also compare
    // byte for byte, so a case- or accent-insensitive collation cannot pick a different row; the plain equality
    // stays first so that a secondary index over the column can still drive the lookup.
    const parts: string[] = [];
    const values: unknown[] = [];
    for (const [k, v] of Object.entries(before)) {
      const type = info.types.get(k);
      if (!info.writable.has(k) || type === 'float') continue;
      parts.push(`${ident(k)} <=> ?`);
      values.push(param(v));
      if (v !== null && typeof v === 'string' && type !== undefined && TEXT_TYPES.has(type)) {
        parts.push(`CONVERT(${ident(k)} USING utf8mb4) COLLATE utf8mb4_bin = ?`);
        values.push(v);
      }
    }
    return { sql: parts.length === 0 ? '1' : parts.join(' AND '), values, limit: ' LIMIT 1' };
  }

  async #info(schema: string, table: string): Promise<TableInfo> {
    const key = `${schema}\u0000${table}`;
    const cached = this.#tables.get(key);
    if (cached !== undefined) return cached;
    const cols = rowsOf<{ c: string; t: string; e: string; n: string }>(
      await this.#conn.query(
        this.#conn.format(
          'SELECT COLUMN_NAME AS c, DATA_TYPE AS t, EXTRA AS e, IS_NULLABLE AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
          [schema, table],
        ),
      ),
    );
    const stats = rowsOf<{ i: string; u: string | number; c: string; n: string }>(
      await this.#conn.query(
        this.#conn.format(
          'SELECT INDEX_NAME AS i, NON_UNIQUE AS u, COLUMN_NAME AS c, NULLABLE AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX',
          [schema, table],
        ),
      ),
    );
    const colRows = cols;
    const writable = new Set<string>();
    const types = new Map<string, string>();
    for (const r of colRows) {
      types.set(r.c, r.t.toLowerCase());
      if (!/GENERATED/i.test(r.e)) writable.add(r.c);
    }
    const byIndex = new Map<string, { unique: boolean; nullable: boolean; cols: string[] }>();
    for (const r of stats) {
      const e = byIndex.get(r.i) ?? { unique: String(r.u) === '0', nullable: false, cols: [] };
      e.cols.push(r.c);
      if (r.n === 'YES') e.nullable = true;
      byIndex.set(r.i, e);
    }
    const related = rowsOf<{ n: string | number }>(
      await this.#conn.query(
        this.#conn.format(
          `SELECT (SELECT COUNT(*) FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_NAME IS NOT NULL
             AND ((TABLE_SCHEMA = ? AND TABLE_NAME = ?) OR (REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)))
           + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?) AS n`,
          [schema, table, schema, table, schema, table],
        ),
      ),
    );
    const info: TableInfo = {
      serial: Number(related[0]?.n ?? 0) > 0,
      allUnique: [...byIndex]
        .filter(([name, e]) => e.unique && name !== 'PRIMARY')
        .map(([name, e]) => [name, e.cols] as const),
      writable,
      types,
      uniqueKeys: [...byIndex.values()]
        .filter((e) => e.unique && !e.nullable)
        .map((e) => e.cols)
        .sort((a, b) => a.length - b.length),
      indexes: [...byIndex.values()]
        .filter((e) => !e.unique)
        .map((e) => e.cols)
        .sort((a, b) => b.length - a.length),
    };
    this.#tables.set(key, info);
    return info;
  }
}

function rowsOf<T>(result: unknown): T[] {
  // mysql2 returns [rows, fields] from the promise API; a plain query runner may return rows.
  if (Array.isArray(result) && Array.isArray(result[0])) return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}

function param(v: CanonicalValue | undefined): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  return Buffer.from(v.hex, 'hex');
}

export function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function describeTx(tx: Pick<ReplayTransaction, 'gtid' | 'file' | 'position'>): string {
  return `${tx.gtid !== null ? `GTID ${tx.gtid} ` : ''}at ${tx.file}:${tx.position}`;
}

/**
 * Renames schema qualifiers in a DDL statement: `` `old`.`` and `old.` outside quotes become the new name. A
 * statement that names the schema in other ways (a string, a comment) is left as it is.
 */
export function renameInStatement(statement: string, renames: ReadonlyMap<string, string>): string {
  if (renames.size === 0) return statement;
  let out = '';
  let i = 0;
  while (i < statement.length) {
    const ch = statement[i] as string;
    if (ch === "'" || ch === '"') {
      const end = skipQuoted(statement, i, ch);
      out += statement.slice(i, end);
      i = end;
      continue;
    }
    if (ch === '`') {
      const end = skipQuoted(statement, i, '`');
      const name = statement.slice(i + 1, end - 1).replace(/``/g, '`');
      const to = renames.get(name);
      out += to !== undefined && statement[end] === '.' ? ident(to) : statement.slice(i, end);
      i = end;
      continue;
    }
    const m = /^[A-Za-z0-9_$]+/.exec(statement.slice(i, i + 65));
    if (m !== null) {
      const word = m[0];
      const prev = i > 0 ? (statement[i - 1] as string) : ' ';
      const to = renames.get(word);
      out += to !== undefined && statement[i + word.length] === '.' && prev !== '.' ? ident(to) : word;
      i += word.length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

function skipQuoted(s: string, start: number, q: string): number {
  let i = start + 1;
  while (i < s.length) {
    if (s[i] === '\\' && q !== '`') {
      i += 2;
      continue;
    }
    if (s[i] === q) {
      if (s[i + 1] === q) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return s.length;
}

/** The mysql2 connection as a replay target. */
export function replayTarget(conn: mysql.Connection): ReplayTarget {
  return {
    query: async (sql) => (await conn.query(sql))[0],
    format: (sql, values) => conn.format(sql, values),
  };
}
