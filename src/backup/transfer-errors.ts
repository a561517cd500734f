import { DbtrailError, isDbtrailError, type ErrorKind, type ErrorOptions } from '../lib/errors.js';

/**
 * Errors of moving backups to and from the object store (upload, verify, fetch); a manifest that cannot be read
 * is the dump side's `ManifestError` (errors.ts). Codes are public surface.
 */

/** A local backup file is missing or differs from what the manifest records. */
export class BackupFileError extends DbtrailError {
  constructor(message: string, fields: Record<string, unknown>, cause?: unknown) {
    super('BACKUP_FILE_MISMATCH', 'integrity', message, { fields, cause });
  }
}

/** The target location already holds something else: another backup's manifest, a non-empty directory. */
export class BackupLocationConflictError extends DbtrailError {
  constructor(message: string, fields: Record<string, unknown>) {
    super('BACKUP_LOCATION_CONFLICT', 'conflict', message, { fields });
  }
}

/** The upload stopped before the manifest was written; a retry uploads only what is still missing. */
export class BackupUploadError extends DbtrailError {
  constructor(message: string, options: ErrorOptions & { kind?: ErrorKind } = {}) {
    super('BACKUP_UPLOAD_INCOMPLETE', options.kind ?? kindOf(options.cause), message, options);
  }
}

/** The fetch stopped; files it had written are removed. */
export class BackupFetchError extends DbtrailError {
  constructor(message: string, options: ErrorOptions & { kind?: ErrorKind } = {}) {
    super('BACKUP_FETCH_FAILED', options.kind ?? kindOf(options.cause), message, options);
  }
}

/** The backup is encrypted and no way to decrypt it was given. */
export class BackupDecryptionRequiredError extends DbtrailError {
  constructor(message: string, fields: Record<string, unknown>) {
    super('BACKUP_DECRYPTION_REQUIRED', 'usage', message, { fields });
  }
}

/** Kinds of the underlying failure carry over, so a rejected credential still exits as an auth failure. */
function kindOf(cause: unknown): ErrorKind {
  return isDbtrailError(cause) ? cause.kind : 'connection';
}
