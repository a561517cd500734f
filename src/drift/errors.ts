import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

/** Errors of drift detection. Codes are public surface; kinds decide the exit code and HTTP status. */

/** The live server's snapshot could not be tied to exact binlog coordinates. */
export class DriftSnapshotError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('DRIFT_SNAPSHOT_FAILED', 'unsupported', message, options);
  }
}
