import { DbtrailError, type ErrorKind, type ErrorOptions } from '../lib/errors.js';

/**
 * Errors of point-in-time restore and drills. Codes are public surface; kinds decide the exit code and HTTP status
 * at the edges.
 */

/** A malformed restore target or option (`--to-position`, `--rename-schema`, conflicting targets). */
export class RestoreOptionsError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RESTORE_OPTIONS_INVALID', 'usage', message, options);
  }
}

/**
 * No restore plan reaches the target: no backup before it, a gap in the captured changes, a target the index does
 * not hold. The kind says which (`gap`, `not_found`).
 */
export class RestorePlanError extends DbtrailError {
  constructor(
    message: string,
    kind: Extract<ErrorKind, 'gap' | 'not_found' | 'conflict'>,
    options: ErrorOptions = {},
  ) {
    super(
      kind === 'gap' ? 'RESTORE_GAP' : kind === 'not_found' ? 'RESTORE_NO_BACKUP' : 'RESTORE_PLAN_CONFLICT',
      kind,
      message,
      options,
    );
  }
}

/** The target server already holds tables of a schema the restore would write, and `--force` was not given. */
export class RestoreTargetNotEmptyError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RESTORE_TARGET_NOT_EMPTY', 'conflict', message, options);
  }
}

/**
 * A step of the restore failed. Carries the step, the last transaction replayed (its GTID and end coordinates) and
 * the command line fragment that resumes after it.
 */
export class RestoreStepError extends DbtrailError {
  constructor(message: string, kind: ErrorKind, options: ErrorOptions = {}) {
    super('RESTORE_STEP_FAILED', kind, message, options);
  }
}

/** A replayed statement did not hit exactly the rows its change says it hit: the target diverged from the source. */
export class ReplayMismatchError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RESTORE_REPLAY_MISMATCH', 'integrity', message, options);
  }
}

/** A drill ran and the scratch server's checksums differ from the source's at the same coordinates. */
export class DrillFailedError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('DRILL_FAILED', 'check_failed', message, options);
  }
}
