import { DbtrailError, type ErrorKind, type ErrorOptions } from '../lib/errors.js';

/**
 * Errors of the backup module. Codes are public surface (scripts and the API match on them); kinds decide the
 * exit code and HTTP status at the edges.
 */

/** A manifest.json that is not JSON, not ours, of an unknown version, or missing/mistyped fields. */
export class ManifestError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_MANIFEST_INVALID', 'input', message, options);
  }
}

/** The dump tool's metadata names no binlog coordinates: a backup without them cannot start a window. */
export class CoordinatesMissingError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_COORDINATES_MISSING', 'integrity', message, options);
  }
}

/** The dump tool's metadata (or binlog info) could not be read as any known format. */
export class DumpMetadataError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_METADATA_INVALID', 'integrity', message, options);
  }
}

/** The dump tool did not finish: non-zero exit, killed, or left `metadata.partial` behind. */
export class DumpFailedError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_DUMP_FAILED', 'internal', message, options);
  }
}

/** The dump tool is missing, or its version cannot be used (too old, known to write no coordinates). */
export class DumpToolError extends DbtrailError {
  constructor(message: string, kind: ErrorKind = 'unsupported', options: ErrorOptions = {}) {
    super('BACKUP_TOOL_UNUSABLE', kind, message, options);
  }
}

/** Bad dump options: an unknown tool for the flavour, a malformed table name, conflicting filters. */
export class DumpOptionsError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_OPTIONS_INVALID', 'usage', message, options);
  }
}

/** The output location would make dbtrail write into (or later delete) a directory it does not own. */
export class OutputDirError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_OUTPUT_DIR', 'conflict', message, options);
  }
}

/** Another dump of the same server holds the lock. */
export class LockHeldError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_LOCK_HELD', 'conflict', message, options);
  }
}

/** The backup was aborted by a signal before it finished. */
/**
 * The dump tool stopped making progress: no CPU time used for a long while and no query of the dump user running
 * on the server. mydumper 0.10 does this now and then at the very end of a dump (a worker thread blocks for ever
 * in g_async_queue_push while the main thread joins it); the dump is stopped and, once, run again.
 */
export class DumpStalledError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_DUMP_STALLED', 'internal', message, options);
  }
}

export class DumpAbortedError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_ABORTED', 'internal', message, options);
  }
}

/** A recipient, identity or key file that is not a valid age X25519 key. */
export class EncryptionKeyError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_KEY_INVALID', 'input', message, options);
  }
}

/** None of the given identities can open the file: it was encrypted to other recipients. */
export class WrongKeyError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_WRONG_KEY', 'auth', message, options);
  }
}

/** The ciphertext failed authentication: tampered, truncated, reordered, or not an age file at all. */
export class CiphertextError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_CIPHERTEXT_INVALID', 'integrity', message, options);
  }
}

/** A local file or directory of a backup could not be read or written. */
export class BackupIoError extends DbtrailError {
  constructor(message: string, options: ErrorOptions & { code?: string | undefined } = {}) {
    super('BACKUP_IO_FAILED', options.code === 'ENOENT' ? 'not_found' : 'internal', message, options);
  }
}

/** The backup cannot be uploaded: it already succeeded, or its dump never finished. */
export class BackupNotUploadableError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_NOT_UPLOADABLE', 'conflict', message, options);
  }
}

/** A backup argument is neither a known backup id nor a location. */
export class BackupLocationError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_LOCATION_UNKNOWN', 'not_found', message, options);
  }
}

/** The manifest signing key file cannot be created or read, or holds no Ed25519 private key. */
export class SigningKeyError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_SIGNING_KEY_INVALID', 'config', message, options);
  }
}

/**
 * A manifest signature that does not hold: the manifest was modified after signing, or it was signed by a key
 * that is not trusted here. Nothing the manifest says (sizes, checksums, coordinates) can be relied on.
 */
export class ManifestSignatureError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BACKUP_MANIFEST_SIGNATURE_INVALID', 'integrity', message, options);
  }
}
