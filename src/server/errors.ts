import { DbtrailError, isDbtrailError, messageOf, type ErrorKind, type ErrorOptions } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import { json, toJson, type ApiResponse } from './response.js';

/**
 * The one HTTP error class. Throw it from handlers and middleware when the status is an HTTP matter (404 route,
 * 405, 413, 429, auth); any other DbtrailError is mapped by its kind. Both become a response in `errorResponse`,
 * the only place that does so. Codes are public surface: clients match on them.
 */
export class HttpError extends DbtrailError {
  readonly status: number;
  /** Extra response headers: Allow, Retry-After, WWW-Authenticate. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: ErrorOptions & { readonly headers?: Readonly<Record<string, string>> } = {},
  ) {
    super(code, kindOfStatus(status), message, options);
    this.status = status;
    this.headers = Object.freeze({ ...(options.headers ?? {}) });
  }
}

/** Stable codes of the HTTP layer itself. */
export const HTTP_ERROR_CODES = Object.freeze({
  routeNotFound: 'ROUTE_NOT_FOUND',
  methodNotAllowed: 'METHOD_NOT_ALLOWED',
  bodyTooLarge: 'BODY_TOO_LARGE',
  bodyRequired: 'BODY_REQUIRED',
  bodyInvalidJson: 'BODY_INVALID_JSON',
  bodyReadFailed: 'BODY_READ_FAILED',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  validationFailed: 'VALIDATION_FAILED',
  authRequired: 'AUTH_REQUIRED',
  authInvalid: 'AUTH_INVALID',
  rateLimited: 'RATE_LIMITED',
  internal: 'INTERNAL',
});

/**
 * The one mapping from error kind to HTTP status. `config` and `integrity` are the server's own problems, so 5xx;
 * `check_failed`, `gap` and `unsupported` describe a well-formed request the current state cannot satisfy.
 */
export const STATUS_BY_KIND: Readonly<Record<ErrorKind, number>> = Object.freeze({
  usage: 400,
  input: 400,
  auth: 401,
  not_found: 404,
  conflict: 409,
  check_failed: 422,
  gap: 422,
  unsupported: 422,
  config: 500,
  integrity: 500,
  internal: 500,
  connection: 503,
});

export function statusForKind(kind: ErrorKind): number {
  return STATUS_BY_KIND[kind];
}

function kindOfStatus(status: number): ErrorKind {
  if (status === 401) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status >= 400 && status < 500) return 'usage';
  return 'internal';
}

/** 413: the request body exceeds the limit; nothing beyond the limit has been read. */
export function bodyTooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    HTTP_ERROR_CODES.bodyTooLarge,
    `Cannot read request body: it is larger than the limit of ${limit} bytes`,
    { fields: { limit } },
  );
}

/** The body of every error response. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly fields: Readonly<Record<string, unknown>>;
  };
}

/**
 * Turns anything thrown while handling a request into a response: `{"error": {"code", "message", "fields"}}`.
 * Errors of kind `internal` (bugs, foreign errors) are logged with their stack and answered with a generic
 * message and the request id, so that no internal detail leaks to clients.
 */
export function errorResponse(error: unknown, requestId: string, log: Logger): ApiResponse {
  if (error instanceof HttpError) {
    return json(bodyOf(error.code, error.message, error.fields), error.status, error.headers);
  }
  if (isDbtrailError(error) && error.kind !== 'internal') {
    const status = statusForKind(error.kind);
    if (status >= 500) log.error({ err: error }, 'request failed');
    return json(bodyOf(error.code, error.message, error.fields), status);
  }
  log.error({ err: error }, 'request failed with an internal error');
  return json(
    bodyOf(HTTP_ERROR_CODES.internal, `Cannot handle request: internal error (request id ${requestId})`, {
      request_id: requestId,
    }),
    500,
  );
}

function bodyOf(code: string, message: string, fields: Readonly<Record<string, unknown>>): ErrorBody {
  return { error: { code, message, fields: encodable(fields) ? fields : {} } };
}

/** Fields are structured data from any module; one that cannot be encoded must not turn an answer into a crash. */
function encodable(fields: Readonly<Record<string, unknown>>): boolean {
  try {
    toJson(fields);
    return true;
  } catch {
    return false;
  }
}

/** The route table is inconsistent: a malformed path template, a duplicate route, params that do not match. */
export class RouteTableError extends DbtrailError {
  constructor(message: string, fields: Record<string, unknown> = {}) {
    super('ROUTE_TABLE_INVALID', 'internal', message, { fields });
  }
}

/** The HTTP server could not listen: the address is in use, or not an address of this host. */
export class ListenError extends DbtrailError {
  constructor(host: string, port: number, cause: unknown) {
    super('SERVER_LISTEN_FAILED', 'config', `Cannot listen on ${host}:${port}: ${messageOf(cause)}`, {
      fields: { host, port },
      cause,
    });
  }
}
