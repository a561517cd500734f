import { DbtrailError, type ErrorKind, type ErrorOptions } from '../lib/errors.js';

/** An object key or list prefix that could escape the store or that the store reserves. */
export class ObjectKeyError extends DbtrailError {
  constructor(message: string, key: string) {
    super('OBJECT_KEY_INVALID', 'input', message, { fields: { key } });
  }
}

/** An object store URL that is neither `file:///path` nor `s3://bucket/prefix`, or is malformed. */
export class ObjectStoreUrlError extends DbtrailError {
  constructor(message: string, url: string, cause?: unknown) {
    super('OBJECT_STORE_URL_INVALID', 'config', message, { fields: { url }, cause });
  }
}

/** The object (or the bucket holding it) does not exist. */
export class ObjectNotFoundError extends DbtrailError {
  constructor(message: string, key: string, cause?: unknown) {
    super('OBJECT_NOT_FOUND', 'not_found', message, { fields: { key }, cause });
  }
}

/** The bytes written did not match the size or SHA-256 the caller declared; nothing was stored under the key. */
export class ObjectIntegrityError extends DbtrailError {
  constructor(message: string, fields: Record<string, unknown>) {
    super('OBJECT_INTEGRITY', 'integrity', message, { fields });
  }
}

/**
 * Any other failure of the store: unreachable endpoint, rejected credentials, a full disk. The kind tells the
 * edges which: `connection`, `auth` or `internal`.
 */
export class ObjectStoreError extends DbtrailError {
  constructor(message: string, kind: ErrorKind, options: ErrorOptions = {}) {
    super(kind === 'auth' ? 'OBJECT_STORE_AUTH' : 'OBJECT_STORE_FAILED', kind, message, options);
  }
}
