import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

/**
 * Errors of recovery (undo and forward replay). Codes are public surface: scripts match on them.
 */

/** The request cannot be planned as given: an unknown table, a missing definition, no DSN where one is needed. */
export class RecoverInputError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RECOVER_INPUT', 'input', message, options);
  }
}

/**
 * A statement cannot be generated exactly (a partial row image, a value that does not fit its column type, a
 * table whose definition changed since the change): the whole plan is refused, never a part of it.
 */
export class RecoverGenerateError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RECOVER_CANNOT_GENERATE', 'unsupported', message, options);
  }
}

/** Rows were changed after the changes to undo (found in the index, or reported by the server while applying). */
export class RecoverConflictError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RECOVER_CONFLICT', 'conflict', message, options);
  }
}

/** A statement failed or changed an unexpected number of rows while applying; everything was rolled back. */
export class RecoverApplyError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RECOVER_APPLY_FAILED', 'conflict', message, options);
  }
}

/** The selection exceeds the --limit safety cap. */
export class RecoverLimitError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RECOVER_LIMIT_EXCEEDED', 'usage', message, options);
  }
}
