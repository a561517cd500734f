import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

/** Bytes ran out before a field was complete: a truncated event or a length that lies. */
export class TruncatedError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_TRUNCATED', 'input', message, options);
  }
}

/** Bytes are present but do not follow the format. */
export class MalformedEventError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('BINLOG_MALFORMED', 'input', message, options);
  }
}
