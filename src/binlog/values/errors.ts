import { DbtrailError, type ErrorOptions } from '../../lib/errors.js';

/**
 * A column value whose bytes are present but do not follow the type's format: a DECIMAL digit group above
 * 999999999, a binary JSON offset outside its document, an ENUM stored with an impossible width.
 */
export class MalformedValueError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_VALUE_MALFORMED', 'input', message, options);
  }
}

/** A column type (or a variant of one) that the value decoder cannot turn into the canonical encoding. */
export class UnsupportedValueError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_VALUE_UNSUPPORTED', 'unsupported', message, options);
  }
}

/** A MySQL PARTIAL_UPDATE_ROWS JSON diff that cannot be applied to the before image it came with. */
export class JsonDiffError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_JSON_DIFF_INVALID', 'input', message, options);
  }
}
