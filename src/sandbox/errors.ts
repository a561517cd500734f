import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

export class SandboxError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SANDBOX_FAILED', 'connection', message, options);
  }
}
