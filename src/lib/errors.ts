/**
 * The one error base class of dbtrail.
 *
 * Every module declares its own subclasses in its `errors.ts`, each with a stable `code` (part of the public
 * surface: scripts and the API match on it) and a `kind`. The kind is the only thing the edges look at: the CLI
 * turns it into an exit code (src/cli/exit-codes.ts) and the HTTP server into a status (src/server/errors.ts).
 * Messages follow the house rule: sentence case, no trailing period, the failed action first, details after a
 * colon.
 */
export type ErrorKind =
  /** A malformed flag, argument or request body. */
  | 'usage'
  /** Input data that is not what it claims to be: a corrupt binlog, a malformed DSN, a bad cron expression. */
  | 'input'
  /** Configuration that cannot be loaded or fails validation. */
  | 'config'
  /** A peer (database, object store, API server) could not be reached or dropped the connection. */
  | 'connection'
  /** Credentials were rejected or missing. */
  | 'auth'
  /** A named thing does not exist (or belongs to another tenant). */
  | 'not_found'
  /** The operation conflicts with current state: a lock is held, a backup is already running. */
  | 'conflict'
  /** Stored data failed verification: checksum mismatch, tampered object, wrong key. */
  | 'integrity'
  /** A readiness or verification check ran and found problems. */
  | 'check_failed'
  /** Changes are known to be missing (a gap). */
  | 'gap'
  /** The peer or input uses something dbtrail does not support. */
  | 'unsupported'
  /** A bug or an unexpected failure; the edges print the stack. */
  | 'internal';

export interface ErrorOptions {
  readonly cause?: unknown;
  readonly fields?: Readonly<Record<string, unknown>>;
}

export class DbtrailError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly fields: Readonly<Record<string, unknown>>;

  constructor(code: string, kind: ErrorKind, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.kind = kind;
    this.fields = Object.freeze({ ...(options.fields ?? {}) });
  }

  toJSON(): { code: string; kind: ErrorKind; message: string; fields: Readonly<Record<string, unknown>> } {
    return { code: this.code, kind: this.kind, message: this.message, fields: this.fields };
  }
}

export function isDbtrailError(value: unknown): value is DbtrailError {
  return value instanceof DbtrailError;
}

/** The message of any thrown value, for wrapping foreign errors into ours. */
export function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}
