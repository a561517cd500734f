import { DbtrailError, type ErrorOptions } from '../lib/errors.js';

export class DsnError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_DSN_INVALID', 'input', message, options);
  }
}

export class SourceUnreachableError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_UNREACHABLE', 'connection', message, options);
  }
}

export class SourceAuthError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_AUTH_FAILED', 'auth', message, options);
  }
}

export class SourceQueryError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_QUERY_FAILED', 'connection', message, options);
  }
}

export class PasswordSourceError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SOURCE_PASSWORD_UNREADABLE', 'config', message, options);
  }
}
