import mysql from 'mysql2/promise';
import { translateConnectError } from '../source/connect.js';
import { describeDsn, type ResolvedDsn } from '../source/dsn.js';

/**
 * The server statements are applied to. Structural, so an applier can run on any connection that reports the
 * affected-row count of a statement (with CLIENT_FOUND_ROWS: rows matched, so an UPDATE that sets identical
 * values still counts 1).
 */
export interface RecoveryTarget {
  /** Runs one statement; resolves to its affected-row count (0 for statements that change no rows). */
  execute(sql: string): Promise<number>;
  /**
   * Optional fast path: runs several `;`-separated statements in one round trip, stopping at the first error
   * (which it throws). Appliers then check affected rows in SQL and find a failure's statement by redoing it.
   */
  executeBatch?(sql: string): Promise<void>;
  /** Optional: the first column of the first row of a query, as text (null for SQL NULL or no row). */
  selectValue?(sql: string): Promise<string | null>;
  close(): Promise<void>;
  /** `user@host:port`, never with the password. */
  readonly description: string;
}

/**
 * The session every script and applier runs with: UTF-8 text, TIMESTAMP values in UTC, and an sql_mode that reads
 * backslash escapes, stores zero dates and out-of-range-but-storable values as they were captured, and keeps an
 * explicit 0 in an AUTO_INCREMENT column (NO_AUTO_VALUE_ON_ZERO).
 */
export const SESSION_SETUP: readonly string[] = Object.freeze([
  'SET NAMES utf8mb4',
  "SET SESSION time_zone = '+00:00'",
  "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
  'SET SESSION foreign_key_checks = 1',
  'SET SESSION unique_checks = 1',
]);

/** A server error code from a mysql2 error, e.g. `ER_DUP_ENTRY`. */
export function serverErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Opens the target connection with CLIENT_FOUND_ROWS and the recovery session settings. */
export async function openRecoveryTarget(
  dsn: ResolvedDsn,
  options: { readonly connectTimeoutMs?: number } = {},
): Promise<RecoveryTarget> {
  const where = describeDsn(dsn);
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({
      ...(dsn.socketPath !== undefined ? { socketPath: dsn.socketPath } : { host: dsn.host, port: dsn.port }),
      user: dsn.user,
      ...(dsn.password !== undefined ? { password: dsn.password } : {}),
      ...(dsn.database !== undefined ? { database: dsn.database } : {}),
      ...(dsn.tls === 'required' ? { ssl: { rejectUnauthorized: true } } : {}),
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      charset: 'UTF8MB4_GENERAL_CI',
      flags: ['FOUND_ROWS'],
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      // Batches of generated statements (every value escaped here) in one round trip: see executeBatch.
      multipleStatements: true,
    });
  } catch (err) {
    throw translateConnectError(err, where);
  }
  const target = connectionTarget(conn, where);
  try {
    for (const sql of SESSION_SETUP) await target.execute(sql);
  } catch (err) {
    await target.close();
    throw err;
  }
  return target;
}

/** A RecoveryTarget over an open mysql2 connection (opened with the FOUND_ROWS flag). */
export function connectionTarget(conn: mysql.Connection, description: string): RecoveryTarget {
  return {
    description,
    async execute(sql: string): Promise<number> {
      const [result] = await conn.query(sql);
      const affected = (result as { affectedRows?: unknown }).affectedRows;
      return typeof affected === 'number' ? affected : 0;
    },
    async executeBatch(sql: string): Promise<void> {
      await conn.query(sql);
    },
    async selectValue(sql: string): Promise<string | null> {
      const [rows] = await conn.query({ sql, rowsAsArray: true });
      const first: unknown = (rows as unknown[][])[0]?.[0];
      if (first === null || first === undefined) return null;
      return typeof first === 'string'
        ? first
        : typeof first === 'number'
          ? String(first)
          : JSON.stringify(first);
    },
    async close(): Promise<void> {
      await conn.end().catch(() => conn.destroy());
    },
  };
}
