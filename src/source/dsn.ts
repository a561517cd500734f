import { readFileSync } from 'node:fs';
import { messageOf } from '../lib/errors.js';
import { DsnError, PasswordSourceError } from './errors.js';

/**
 * A parsed source DSN: `mysql://user[:password]@host[:port][/database][?socket=/path&tls=required|preferred|off]`
 * (`mariadb://` is accepted as a synonym). Percent-encoding applies to user and password.
 */
export interface Dsn {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Undefined when the DSN carries none; resolve it with `resolvePassword`. */
  readonly password: string | undefined;
  readonly database: string | undefined;
  readonly socketPath: string | undefined;
  readonly tls: 'off' | 'preferred' | 'required';
}

/** Where a password came from, for warnings (a password in a --dsn flag is visible in the process list). */
export type PasswordOrigin = 'dsn' | 'env' | 'file' | 'none';

export interface ResolvedDsn extends Dsn {
  readonly passwordOrigin: PasswordOrigin;
}

const SCHEMES = new Set(['mysql:', 'mariadb:']);
const TLS_MODES = new Set(['off', 'preferred', 'required']);

export function parseDsn(text: string): Dsn {
  const shown = redactDsn(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DsnError(
      `Cannot parse DSN "${shown}": expected mysql://user[:password]@host[:port][/database]`,
      {
        fields: { dsn: shown },
      },
    );
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new DsnError(
      `Cannot parse DSN "${shown}": scheme must be mysql:// or mariadb://, got ${url.protocol}//`,
      {
        fields: { dsn: shown },
      },
    );
  }
  if (url.username === '') {
    throw new DsnError(`Cannot parse DSN "${shown}": a user name is required (mysql://user@host)`, {
      fields: { dsn: shown },
    });
  }
  const socketPath = url.searchParams.get('socket') ?? undefined;
  if (url.hostname === '' && socketPath === undefined) {
    throw new DsnError(`Cannot parse DSN "${shown}": a host is required`, { fields: { dsn: shown } });
  }
  let port = 3306;
  if (url.port !== '') {
    port = Number(url.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new DsnError(`Cannot parse DSN "${shown}": port must be 1-65535, got "${url.port}"`, {
        fields: { dsn: shown },
      });
    }
  }
  const tls = url.searchParams.get('tls') ?? 'preferred';
  if (!TLS_MODES.has(tls)) {
    throw new DsnError(`Cannot parse DSN "${shown}": tls must be off, preferred or required, got "${tls}"`, {
      fields: { dsn: shown },
    });
  }
  for (const key of url.searchParams.keys()) {
    if (key !== 'socket' && key !== 'tls') {
      throw new DsnError(`Cannot parse DSN "${shown}": unknown parameter "${key}" (expected socket or tls)`, {
        fields: { dsn: shown },
      });
    }
  }
  const database = url.pathname.replace(/^\//, '');
  return Object.freeze({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: decode(url.username, shown),
    password: url.password === '' ? undefined : decode(url.password, shown),
    database: database === '' ? undefined : decode(database, shown),
    socketPath,
    tls: tls as Dsn['tls'],
  });
}

function decode(part: string, shown: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new DsnError(`Cannot parse DSN "${shown}": invalid percent-encoding`, { fields: { dsn: shown } });
  }
}

export interface PasswordSources {
  /** DBTRAIL_SOURCE_PASSWORD (config `source.password`). */
  readonly password?: string | undefined;
  /** Config `source.passwordFile`: the first line of the file is the password. */
  readonly passwordFile?: string | undefined;
}

/**
 * The password, in order: from the DSN, from DBTRAIL_SOURCE_PASSWORD, from the password file. Never from a
 * dedicated flag: argv is readable by every user of the host.
 */
export function resolvePassword(dsn: Dsn, sources: PasswordSources): ResolvedDsn {
  if (dsn.password !== undefined) return { ...dsn, passwordOrigin: 'dsn' };
  if (sources.password !== undefined && sources.password !== '') {
    return { ...dsn, password: sources.password, passwordOrigin: 'env' };
  }
  if (sources.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(sources.passwordFile, 'utf8');
    } catch (err) {
      throw new PasswordSourceError(`Cannot read password file ${sources.passwordFile}: ${messageOf(err)}`, {
        fields: { file: sources.passwordFile },
        cause: err,
      });
    }
    return { ...dsn, password: text.split(/\r?\n/)[0] ?? '', passwordOrigin: 'file' };
  }
  return { ...dsn, passwordOrigin: 'none' };
}

/** The DSN with its password replaced, for messages and logs. */
export function redactDsn(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}

/** A display form of a parsed DSN, never with the password. */
export function describeDsn(dsn: Dsn): string {
  const where = dsn.socketPath !== undefined ? `socket ${dsn.socketPath}` : `${dsn.host}:${dsn.port}`;
  return `${dsn.user}@${where}`;
}
