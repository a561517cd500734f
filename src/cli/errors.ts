import { DbtrailError } from '../lib/errors.js';

/** A malformed command line: unknown command or flag, a missing or malformed value. */
export class UsageError extends DbtrailError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('CLI_USAGE', 'usage', message, { fields });
  }
}
