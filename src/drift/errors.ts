import { DbtrailError, type ErrorKind, type ErrorOptions } from '../lib/errors.js';

/** Errors of drift detection. Codes are public surface; kinds decide the exit code and HTTP status. */

/** The live server's snapshot could not be tied to exact binlog coordinates. */
export class DriftSnapshotError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('DRIFT_SNAPSHOT_FAILED', 'unsupported', message, options);
  }
}

/** A drift check could not run: bad input, the scratch server, capture behind, a backup not found. */
export class DriftRunError extends DbtrailError {
  constructor(message: string, kind: ErrorKind, options: ErrorOptions = {}) {
    super('DRIFT_RUN_FAILED', kind, message, options);
  }
}
