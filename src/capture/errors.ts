import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

/**
 * Errors of the capture runtime. Codes are public surface: scripts and the API match on them; the CLI turns the
 * kind into an exit code (a gap exits with the gap code, 10).
 */

/**
 * The binlogs capture needs to continue from its checkpoint are gone (purged, or the server answered 1236), and
 * `--accept-gap` was not given. Nothing was recorded; `fields` names the gap's from/to coordinates and times.
 */
export class CaptureGapError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_GAP', 'gap', message, options);
  }
}

/** The server behind the DSN is not the one the checkpoint belongs to (another server_uuid, server_id or host). */
export class ServerIdentityMismatchError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_IDENTITY_MISMATCH', 'conflict', message, options);
  }
}

/**
 * Writing a batch into the change index failed. Capture stops here: nothing after the last committed checkpoint
 * is skipped, the next start resumes from that checkpoint.
 */
export class CaptureWriteError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_WRITE_FAILED', 'internal', message, options);
  }
}

/** The checkpoint moved under us: another capture of the same server committed in between. */
export class CheckpointConflictError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_CHECKPOINT_CONFLICT', 'conflict', message, options);
  }
}

/** A `--schemas` / `--tables` filter entry is malformed. */
export class CaptureFilterError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_FILTER_INVALID', 'usage', message, options);
  }
}

/** The named server is not registered in the tenant. */
export class UnknownServerError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_UNKNOWN_SERVER', 'not_found', message, options);
  }
}

/** Binlog files handed to `dbtrail index` do not continue the checkpoint (out of order, a missing file, another server). */
export class BinlogSequenceError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_BINLOG_SEQUENCE', 'input', message, options);
  }
}

/** The binlog holds something capture cannot record faithfully (statement-based row changes). */
export class UncapturableEventError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_UNCAPTURABLE', 'unsupported', message, options);
  }
}

/** The source is configured in a way capture cannot work with (binlog_format other than ROW). */
export class UnsupportedSourceError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CAPTURE_SOURCE_UNSUPPORTED', 'unsupported', message, options);
  }
}
