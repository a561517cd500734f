import pg from 'pg';
import { messageOf } from '../../lib/errors.js';
import { StoreBusyError, StoreClosedError, StoreError, StoreOpenError, StoreQueryError } from '../errors.js';

/**
 * node-postgres, typed structurally by the few methods this backend uses, so the rest of the backend does not
 * depend on the package's types and a test can hand in a wrapped pool.
 */
export type PgRow = Record<string, unknown>;

export interface PgClient {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: PgRow[]; rowCount: number | null }>;
  release(err?: Error | boolean): void;
}

export interface PgPool {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

export interface PgConnectOptions {
  /** The full URL, password included: handed to the driver only, never to a message or a log. */
  readonly url: string;
  /** The URL without its password, for messages. */
  readonly display: string;
  /** Connections kept by the pool. */
  readonly maxConnections: number;
  /** Schema all tables live in (tests use one per database under test); the user's default when absent. */
  readonly schema?: string;
}

const INT8_OID = 20;

/**
 * Opens a pool. Settings, and why:
 * - BIGINT (int8) is parsed to a JS bigint: sequence numbers, microsecond times and hashes are 64-bit and must
 *   never pass through a number (pg's default gives a string, which is exact but easy to misuse);
 * - `application_name` names dbtrail in pg_stat_activity, so an operator can tell its sessions apart;
 * - `search_path` only when a schema is asked for, set at connection start (no extra round trip per checkout);
 * - an idle connection that dies (server restart, network cut) raises an 'error' event on the pool: it is
 *   caught here and the pool replaces the connection on the next checkout, instead of the process crashing.
 */
export function connectPostgres(options: PgConnectOptions): PgPool {
  const parsers = pg.types;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections,
    application_name: 'dbtrail',
    ...(options.schema === undefined ? {} : { options: `-c search_path=${quoteIdent(options.schema)}` }),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) =>
        oid === INT8_OID
          ? (value: string) => BigInt(value)
          : (parsers.getTypeParser(oid, format ?? 'text') as (
              value: string,
            ) => unknown)) as typeof parsers.getTypeParser,
    },
  });
  pool.on('error', () => {
    // An idle client failed; the pool has already dropped it. The next query reports any lasting problem.
  });
  return {
    connect: async () => {
      const client = await pool.connect();
      return {
        query: async (text, values) => {
          const r = await client.query(text, values as unknown[] | undefined);
          return { rows: r.rows as PgRow[], rowCount: r.rowCount };
        },
        release: (err) => client.release(err),
      };
    },
    end: () => pool.end(),
  };
}

/** A quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The SQLSTATE of a driver error (`23505`...), if it is one. */
export function pgCode(err: unknown): string | undefined {
  if (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(err.code)
  ) {
    return err.code;
  }
  return undefined;
}

/** The constraint a driver error names (unique, foreign key, check violations). */
export function pgConstraint(err: unknown): string | undefined {
  if (err instanceof Error && 'constraint' in err && typeof err.constraint === 'string')
    return err.constraint;
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
/** A row fits no partition of a partitioned table. */
export const CHECK_VIOLATION = '23514';

/** Network errors of the socket layer: the server could not be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/** Our error for a driver error; our own errors pass through. `action` starts the message. */
export function translate(err: unknown, action: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = pgCode(err);
  const sysCode =
    err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  // 40001 serialization failure, 40P01 deadlock, 55P03 lock not available: another session won; retrying helps.
  if (code === '40001' || code === '40P01' || code === '55P03') {
    return new StoreBusyError(`${action}: the state database is busy with a conflicting transaction`, {
      cause: err,
      fields: { sqlState: code },
    });
  }
  // Class 08 connection exceptions, 57P01-03 server shutdown, 28 invalid authorization, 3D000 no such database.
  if (
    (code !== undefined &&
      (code.startsWith('08') || code.startsWith('57P') || code.startsWith('28') || code === '3D000')) ||
    (sysCode !== undefined && NETWORK_CODES.has(sysCode)) ||
    (err instanceof Error && /Connection terminated|connection timeout/i.test(err.message))
  ) {
    return new StoreOpenError(`${action}: ${messageOf(err)}`, {
      cause: err,
      fields: code === undefined ? {} : { sqlState: code },
    });
  }
  return new StoreQueryError(`${action}: ${messageOf(err)}`, {
    cause: err,
    fields: code === undefined ? {} : { sqlState: code },
  });
}

/** One statement's access to the database: the pooled client of a read, or the transaction of a write. */
export interface PgQuery {
  /** The rows of one statement. */
  rows<T = PgRow>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** The first row of one statement, or undefined. */
  row<T = PgRow>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Runs a statement; returns the number of rows it touched. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

/**
 * The pool, and the two ways repositories touch it: `read` runs its statements on one pooled connection outside
 * a transaction (each statement sees the latest committed data), `write` runs them in one READ COMMITTED
 * transaction that commits when the function returns and rolls back when it throws. Writes that must not
 * interleave with another session's take row locks (`FOR UPDATE`) or an advisory lock explicitly.
 */
export class PgConnection {
  readonly #pool: PgPool;
  readonly #display: string;
  #closed = false;

  constructor(pool: PgPool, display: string) {
    this.#pool = pool;
    this.#display = display;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Where the database is, without the password. */
  get display(): string {
    return this.#display;
  }

  async read<T>(action: string, fn: (q: PgQuery) => Promise<T>): Promise<T> {
    const client = await this.#checkout(action);
    let broken: Error | undefined;
    try {
      return await fn(queries(client));
    } catch (err) {
      const ours = translate(err, action);
      // A connection-level failure: the pool must not hand this connection out again.
      if (ours instanceof StoreOpenError) broken = ours;
      throw ours;
    } finally {
      client.release(broken);
    }
  }

  /**
   * One statement that changes data and is atomic on its own (PostgreSQL runs it in its own transaction): one
   * round trip instead of the three of BEGIN, statement, COMMIT, for hot single-statement writes (job claims).
   */
  once<T>(action: string, fn: (q: PgQuery) => Promise<T>): Promise<T> {
    return this.read(action, fn);
  }

  async write<T>(action: string, fn: (q: PgQuery) => Promise<T>): Promise<T> {
    const client = await this.#checkout(action);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(queries(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection is gone (and with it the transaction); the pool must not hand it out again.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw translate(err, action);
    } finally {
      client.release(broken);
    }
  }

  /** A connection of its own for work that spans several transactions (the migrator's advisory lock). */
  async session<T>(action: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
    const client = await this.#checkout(action);
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
      throw translate(err, action);
    } finally {
      // A session may end with a transaction or a lock open after a failure: the connection is discarded then.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #checkout(action: string): Promise<PgClient> {
    if (this.#closed) throw new StoreClosedError(`${action}: the state store is closed`);
    try {
      return await this.#pool.connect();
    } catch (err) {
      if (this.#closed) throw new StoreClosedError(`${action}: the state store is closed`);
      throw new StoreOpenError(`${action}: cannot connect to ${this.#display}: ${messageOf(err)}`, {
        cause: err,
        fields: { stateUrl: this.#display },
      });
    }
  }
}

/** Statement helpers over one client. */
export function queries(client: PgClient): PgQuery {
  return {
    rows: async <T>(sql: string, params?: readonly unknown[]) =>
      (await client.query(sql, params)).rows as T[],
    row: async <T>(sql: string, params?: readonly unknown[]) =>
      (await client.query(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly unknown[]) => (await client.query(sql, params)).rowCount ?? 0,
  };
}
