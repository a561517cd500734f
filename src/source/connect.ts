import mysql from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { messageOf } from '../lib/errors.js';
import { describeDsn, parseDsn, resolvePassword, type ResolvedDsn } from './dsn.js';
import { DsnError, SourceAuthError, SourceQueryError, SourceUnreachableError } from './errors.js';

/** The few mysql2 methods dbtrail uses, so callers and tests depend on a small structural type. */
export interface SourceConnection {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
  readonly raw: mysql.Connection;
}

export interface ConnectOptions {
  readonly connectTimeoutMs?: number;
}

/**
 * Resolves the DSN for a command: the `--dsn` flag or config `source.dsn`, with the password from the DSN,
 * DBTRAIL_SOURCE_PASSWORD or the password file.
 */
export function sourceDsn(config: Config, flagDsn: string | undefined): ResolvedDsn {
  const text = flagDsn ?? config.source.dsn;
  if (text === undefined) {
    throw new DsnError(
      'Cannot connect to the source: no DSN given (use --dsn mysql://user@host:port or DBTRAIL_SOURCE_DSN)',
    );
  }
  return resolvePassword(parseDsn(text), {
    password: config.source.password,
    passwordFile: config.source.passwordFile,
  });
}

/**
 * Opens one connection. Values come back as text (BIGINT, DECIMAL and dates as strings) so nothing passes through
 * a JS number; failures become one clear typed error naming the server.
 */
export async function connectSource(
  dsn: ResolvedDsn,
  options: ConnectOptions = {},
): Promise<SourceConnection> {
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
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      decimalNumbers: false,
      timezone: 'Z',
      multipleStatements: false,
    });
  } catch (err) {
    throw translateConnectError(err, where);
  }
  return {
    raw: conn,
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      try {
        const [rows] = await conn.query(sql, params as unknown[]);
        return (Array.isArray(rows) ? rows : []) as T[];
      } catch (err) {
        throw new SourceQueryError(`Cannot run query on ${where}: ${messageOf(err)}`, {
          cause: err,
          fields: { server: where },
        });
      }
    },
    async close(): Promise<void> {
      await conn.end().catch(() => conn.destroy());
    },
  };
}

export function translateConnectError(err: unknown, where: string): Error {
  const e = err as { code?: string; errno?: number; message?: string };
  const code = e.code ?? '';
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || e.errno === 1045) {
    return new SourceAuthError(`Cannot log in to ${where}: access denied (check the user and password)`, {
      cause: err,
      fields: { server: where },
    });
  }
  if (
    ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOENT'].includes(
      code,
    )
  ) {
    const why: Record<string, string> = {
      ECONNREFUSED: 'connection refused (is the server running and listening there?)',
      ETIMEDOUT: 'connection timed out',
      ENOTFOUND: 'host name not found',
      EAI_AGAIN: 'host name lookup failed',
      EHOSTUNREACH: 'host unreachable',
      ENETUNREACH: 'network unreachable',
      ENOENT: 'socket file not found',
    };
    return new SourceUnreachableError(`Cannot connect to ${where}: ${why[code] ?? code}`, {
      cause: err,
      fields: { server: where },
    });
  }
  return new SourceUnreachableError(`Cannot connect to ${where}: ${messageOf(err)}`, {
    cause: err,
    fields: { server: where },
  });
}
