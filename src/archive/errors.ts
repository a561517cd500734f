import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

/** Errors of the raw binlog archive. Codes are public surface. */

/** The archive cannot serve a range: a gap, or no segment reaches that far. `fields` names the missing range. */
export class ArchiveCoverageError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('ARCHIVE_NOT_COVERED', 'gap', message, options);
  }
}

/** A fetched segment differs from what the catalog recorded (size or SHA-256). */
export class ArchiveIntegrityError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('ARCHIVE_INTEGRITY', 'integrity', message, options);
  }
}

/** The local spool cannot be written or read (disk full, permissions): capture stops rather than lose bytes. */
export class ArchiveSpoolError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('ARCHIVE_SPOOL_FAILED', 'internal', message, options);
  }
}

/** An archive setting is out of range. */
export class ArchiveConfigError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('ARCHIVE_CONFIG', 'config', message, options);
  }
}
