import { DbtrailError, type ErrorKind, type ErrorOptions } from '../lib/errors.js';

/**
 * Errors of the state store. Backends translate driver errors into these, so callers never see a driver's own
 * error type (and never learn which backend they run on). Codes are public surface.
 */
export class StoreError extends DbtrailError {
  constructor(code: string, kind: ErrorKind, message: string, options: ErrorOptions = {}) {
    super(code, kind, message, options);
  }
}

/** `stateUrl` is not a URL the store understands. */
export class StateUrlError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_URL_INVALID', 'config', message, options);
  }
}

/** The database behind `stateUrl` could not be opened (missing directory, permissions, not a database). */
export class StoreOpenError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_OPEN_FAILED', 'connection', message, options);
  }
}

/** The database was migrated by a newer dbtrail, or its recorded migrations differ from this build's. */
export class SchemaVersionError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_SCHEMA_MISMATCH', 'unsupported', message, options);
  }
}

/** A migration failed; nothing of it was applied. */
export class MigrationError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_MIGRATION_FAILED', 'internal', message, options);
  }
}

/** Another writer held the database lock for longer than the busy timeout. */
export class StoreBusyError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_BUSY', 'conflict', message, options);
  }
}

/** A query failed for a reason that is not the caller's: disk full, I/O error, a bug. */
export class StoreQueryError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_QUERY_FAILED', 'internal', message, options);
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_CLOSED', 'internal', message, options);
  }
}

/** A value handed to a repository is not valid: a bad name, a negative size, an unknown tool. */
export class InvalidValueError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_INVALID_VALUE', 'input', message, options);
  }
}

/** A record with the same unique key exists: a tenant name, a server name within a tenant. */
export class DuplicateError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_DUPLICATE', 'conflict', message, options);
  }
}

/** The record does not exist, or belongs to another tenant (the two are indistinguishable on purpose). */
export class NotFoundError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_NOT_FOUND', 'not_found', message, options);
  }
}

/** A short id prefix matches more than one record. */
export class AmbiguousIdError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_AMBIGUOUS_ID', 'usage', message, options);
  }
}

/** A backup status change that the lifecycle does not allow, e.g. `succeeded -> running`. */
export class IllegalTransitionError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_ILLEGAL_TRANSITION', 'conflict', message, options);
  }
}

/** A backup cannot be marked succeeded without what makes it usable: coordinates and a location. */
export class BackupIncompleteError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_BACKUP_INCOMPLETE', 'conflict', message, options);
  }
}

/** The record is in a state that forbids the change: updating a finished backup, deleting a running one. */
export class StateConflictError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_STATE_CONFLICT', 'conflict', message, options);
  }
}

/** `stateUrl` names a backend this build cannot use yet. */
export class UnsupportedBackendError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_BACKEND_UNSUPPORTED', 'unsupported', message, options);
  }
}

/**
 * A change-index commit expected another checkpoint than the stored one: a second writer for the same server,
 * or a replay of transactions already committed. Nothing of the batch was written.
 */
export class CheckpointConflictError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_CHECKPOINT_CONFLICT', 'conflict', message, options);
  }
}

/**
 * An agent acted on a job it no longer holds: the job is not running under its lease any more (it was failed
 * after the lease expired, or finished by someone else). The agent must stop working on it.
 */
export class LeaseLostError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_LEASE_LOST', 'conflict', message, options);
  }
}

/**
 * An exclusive job (e.g. a backup) was not enqueued because a job of the same kind is already queued or running for
 * that server. Checked inside the enqueue's write transaction, so it holds across processes sharing one store.
 */
export class JobActiveError extends StoreError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STORE_JOB_ACTIVE', 'conflict', message, options);
  }
}
