import Database from 'better-sqlite3';
import { messageOf } from '../../lib/errors.js';
import { StoreBusyError, StoreClosedError, StoreError, StoreOpenError, StoreQueryError } from '../errors.js';

/**
 * better-sqlite3, typed structurally by the few methods this backend uses, so the rest of the backend does not
 * depend on the package's types and a test can hand in a wrapped connection.
 */
export type SqliteValue = string | number | bigint | Buffer | null;

export interface SqliteStatement {
  run(...params: SqliteValue[]): { readonly changes: number };
  get(...params: SqliteValue[]): unknown;
  all(...params: SqliteValue[]): unknown[];
  /** Read every INTEGER of this statement's results as a bigint (better-sqlite3 `safeIntegers`). */
  safeIntegers?(toggle?: boolean): unknown;
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string, options: { simple: true }): unknown;
  close(): unknown;
}

export interface ConnectOptions {
  readonly busyTimeoutMs: number;
}

/**
 * Opens one connection and sets it up. Settings, and why:
 * - `busy_timeout` first, so that every later step (including the switch to WAL) waits for another process's
 *   lock instead of failing at once;
 * - WAL: readers never block the writer and the writer never blocks readers, which is what a server answering
 *   the API while capture writes needs;
 * - `synchronous=NORMAL`: in WAL mode a commit is appended to the WAL without an fsync; the WAL is synced at each
 *   WAL checkpoint. A process crash (kill -9) loses nothing that was committed; a power loss or kernel crash can
 *   lose the last transactions, but never corrupts the database and never tears a transaction. We accept that
 *   for all state, including capture checkpoints: a checkpoint is committed in the same transaction as the
 *   changes it covers, so losing the tail rolls both back together and capture re-reads those changes from
 *   the server; nothing is duplicated or skipped. FULL would fsync on every commit and cap capture at the disk's
 *   sync rate (https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html). The one
 *   side effect that outlives a lost commit is an object already written (a backup upload); callers order their
 *   writes so that such a loss leaves an orphan object, never a record of a missing one.
 * - `foreign_keys=ON`: SQLite enforces REFERENCES only when asked, per connection.
 * - `cache_size` 64 MiB (the default is 2 MiB): the change index inserts into hash- and time-ordered indexes
 *   spread over the whole file; pages stay cached instead of being re-read for every batch. Memory is taken only
 *   as pages are read.
 * - `wal_autocheckpoint` 10000 pages (~40 MiB, default 1000): a capture batch writes megabytes, and with the
 *   default nearly every commit would also run a checkpoint with its fsyncs.
 */
export function connectSqlite(path: string, options: ConnectOptions): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    const raw = new Database(path, { timeout: options.busyTimeoutMs });
    db = {
      prepare: (sql) => raw.prepare<SqliteValue[]>(sql),
      exec: (sql) => raw.exec(sql),
      pragma: (source, opts) => raw.pragma(source, opts),
      close: () => raw.close(),
    };
  } catch (err) {
    throw new StoreOpenError(`Cannot open state database ${path}: ${messageOf(err)}`, {
      cause: err,
      fields: { path },
    });
  }
  try {
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`, { simple: true });
    if (path !== ':memory:') {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode is "${String(mode)}" after asking for WAL`);
    }
    db.pragma('synchronous = NORMAL', { simple: true });
    db.pragma('foreign_keys = ON', { simple: true });
    db.pragma('cache_size = -65536', { simple: true });
    db.pragma('wal_autocheckpoint = 10000', { simple: true });
  } catch (err) {
    db.close();
    throw translate(err, `Cannot open state database ${path}`);
  }
  return db;
}

/** The SQLite extended result code of a driver error (`SQLITE_CONSTRAINT_UNIQUE`...), if it is one. */
export function sqliteCode(err: unknown): string | undefined {
  if (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    err.code.startsWith('SQLITE_')
  ) {
    return err.code;
  }
  return undefined;
}

/** Our error for a driver error; our own errors pass through. `action` starts the message. */
export function translate(err: unknown, action: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = sqliteCode(err);
  if (code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
    return new StoreBusyError(`${action}: the state database is locked by another process`, {
      cause: err,
      fields: { sqliteCode: code },
    });
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CANTOPEN' || code?.startsWith('SQLITE_IOERR') === true) {
    return new StoreOpenError(`${action}: ${messageOf(err)}`, { cause: err, fields: { sqliteCode: code } });
  }
  return new StoreQueryError(`${action}: ${messageOf(err)}`, {
    cause: err,
    fields: code === undefined ? {} : { sqliteCode: code },
  });
}

/**
 * One connection with a statement cache, and the two ways repositories touch it: `read` for a plain query and
 * `write` for a transaction that starts with BEGIN IMMEDIATE. IMMEDIATE takes the write lock up front (waiting
 * up to busy_timeout): a deferred transaction that reads first and then writes can fail at once with
 * SQLITE_BUSY when another connection committed in between, without waiting.
 *
 * better-sqlite3 is synchronous, so a transaction never spans an `await` and two callers in this process never
 * interleave inside one. BEGIN/COMMIT/ROLLBACK are cached prepared statements like any other: parsing them again
 * for every write was a third of the transaction overhead on the API's accept path.
 */
export class SqliteConnection {
  readonly #db: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement>();
  readonly #bigintStatements = new Map<string, SqliteStatement>();
  #closed = false;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  get closed(): boolean {
    return this.#closed;
  }

  statement(sql: string): SqliteStatement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /**
   * Like `statement`, but every INTEGER column of the results is read as a bigint, for columns that hold 64-bit
   * values (change sequence numbers, microsecond times, hashes) which a JS number would round.
   */
  bigintStatement(sql: string): SqliteStatement {
    let stmt = this.#bigintStatements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      if (stmt.safeIntegers === undefined) {
        throw new StoreQueryError('Cannot read 64-bit integers: the SQLite driver lacks safeIntegers');
      }
      stmt.safeIntegers(true);
      this.#bigintStatements.set(sql, stmt);
    }
    return stmt;
  }

  read<T>(action: string, fn: (c: this) => T): T {
    this.#checkOpen(action);
    try {
      return fn(this);
    } catch (err) {
      throw translate(err, action);
    }
  }

  write<T>(action: string, fn: (c: this) => T): T {
    this.#checkOpen(action);
    try {
      this.statement('BEGIN IMMEDIATE').run();
    } catch (err) {
      throw translate(err, action);
    }
    try {
      const result = fn(this);
      this.statement('COMMIT').run();
      return result;
    } catch (err) {
      try {
        this.statement('ROLLBACK').run();
      } catch {
        // SQLite may already have rolled back (e.g. after SQLITE_FULL); the original error is the one to report.
      }
      throw translate(err, action);
    }
  }

  /** Runs raw SQL (migrations, tests). */
  exec(sql: string): void {
    this.#db.exec(sql);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#bigintStatements.clear();
    this.#db.close();
  }

  #checkOpen(action: string): void {
    if (this.#closed) throw new StoreClosedError(`${action}: the state store is closed`);
  }
}

/**
 * Runs synchronous driver work behind the async store interface: a throw becomes a rejection, so callers see
 * the same behaviour as from a networked backend (never a synchronous throw from an async method).
 */
export function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
