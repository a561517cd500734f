import { DbtrailError } from '../lib/errors.js';

export class ConfigError extends DbtrailError {
  constructor(message: string, fields: Record<string, unknown> = {}, cause?: unknown) {
    super('CONFIG_INVALID', 'config', message, { fields, cause });
  }
}
