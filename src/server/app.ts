import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { Context, Middleware } from './context.js';
import { bodyTooLarge, errorResponse, HTTP_ERROR_CODES, HttpError } from './errors.js';
import { serve, type RunningServer } from './http.js';
import { finalize, withHeaders, type ApiResponse } from './response.js';
import { Router, type Route } from './router.js';
import { validateInput, type Schema } from './schema.js';

/**
 * The HTTP core: routing, input parsing and validation, the middleware chain and error mapping. It knows no
 * middleware and no concrete routes; the composition root hands both in. The same `handle` serves real sockets
 * (`listen`) and tests (`request`, no port).
 */
export interface AppOptions {
  readonly routes: readonly Route[];
  /** Run in order around every request, outermost first (request log, auth, rate limit). */
  readonly middleware?: readonly Middleware[];
  readonly logger?: Logger;
  /** Largest accepted request body, in bytes; 1 MiB by default. Routes may override it. */
  readonly bodyLimit?: number;
}

/** A request from any transport. */
export interface IncomingRequest {
  readonly method: string;
  /** Path and query as sent: `/api/v1/backups?limit=5`. */
  readonly url: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  /** The whole body; throws HttpError 413 once it exceeds `limit` bytes, without reading further. */
  readBody(limit: number): Promise<Uint8Array>;
}

export interface TestRequestOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** A string or bytes is sent as is; anything else as JSON (with content-type application/json). */
  readonly body?: unknown;
  readonly remoteAddress?: string;
}

export interface TestResponse {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  /** The parsed body when it is JSON, otherwise undefined. */
  readonly json: unknown;
}

export interface App {
  readonly routes: readonly Route[];
  /** Never rejects: every failure becomes an error response. */
  handle(request: IncomingRequest): Promise<ApiResponse>;
  /** Runs a request through the whole stack without a socket. */
  request(method: string, path: string, options?: TestRequestOptions): Promise<TestResponse>;
  /** Serves over HTTP; port 0 picks a free one. */
  listen(host: string, port: number): Promise<RunningServer>;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function createApp(options: AppOptions): App {
  const router = new Router(options.routes);
  const middleware = [...(options.middleware ?? [])];
  const logger = options.logger ?? pino({ level: 'silent' });
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;

  const handle = async (request: IncomingRequest): Promise<ApiResponse> => {
    const startedAt = performance.now();
    const given = request.headers['x-request-id'];
    const id = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    const log = logger.child({ requestId: id });
    const method = request.method.toUpperCase();
    let url: URL;
    try {
      url = new URL(request.url, 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    const match = router.match(method === 'HEAD' ? 'GET' : method, url.pathname);
    const ctx: Context = {
      id,
      method,
      path: url.pathname,
      url,
      headers: request.headers,
      remoteAddress: request.remoteAddress,
      route: match.kind === 'found' ? match.route : undefined,
      pathParams: match.kind === 'found' ? match.params : {},
      log,
      startedAt,
      principal: undefined,
    };

    const dispatch = async (): Promise<ApiResponse> => {
      if (match.kind === 'not_found') {
        throw new HttpError(
          404,
          HTTP_ERROR_CODES.routeNotFound,
          `Cannot route request: no route matches ${method} ${url.pathname}`,
          { fields: { method, path: url.pathname } },
        );
      }
      if (match.kind === 'method_not_allowed') {
        throw new HttpError(
          405,
          HTTP_ERROR_CODES.methodNotAllowed,
          `Cannot route request: ${url.pathname} does not accept ${method}, only ${match.allow.join(', ')}`,
          {
            fields: { method, path: url.pathname, allow: match.allow },
            headers: { allow: match.allow.join(', ') },
          },
        );
      }
      const r = match.route;
      const params = r.params === undefined ? match.params : validateInput(r.params, match.params, 'path');
      const query =
        r.query === undefined ? {} : validateInput(r.query, queryRecord(url.searchParams), 'query');
      const body =
        r.body === undefined ? undefined : await readJson(request, r.body, r.bodyLimit ?? bodyLimit);
      return await r.handle({ params, query, body }, ctx);
    };

    const step = async (i: number): Promise<ApiResponse> => {
      try {
        const next = middleware[i];
        return next === undefined ? await dispatch() : await next(ctx, () => step(i + 1));
      } catch (error) {
        return errorResponse(error, id, log);
      }
    };
    return withHeaders(await step(0), { 'x-request-id': id });
  };

  const app: App = {
    routes: router.routes,
    handle,
    async request(method, path, requestOptions = {}) {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(requestOptions.headers ?? {}))
        headers[name.toLowerCase()] = value;
      const body = encodeTestBody(requestOptions.body, headers);
      const response = await handle({
        method,
        url: path,
        headers,
        remoteAddress: requestOptions.remoteAddress ?? '127.0.0.1',
        readBody: (limit) => {
          if (body.byteLength > limit) return Promise.reject(bodyTooLarge(limit));
          return Promise.resolve(body);
        },
      });
      const wire = finalize(response, method.toUpperCase());
      const textBody = Buffer.from(wire.body ?? new Uint8Array()).toString('utf8');
      const isJson = /^application\/(.+\+)?json\b/.test(wire.headers['content-type'] ?? '');
      return {
        status: wire.status,
        headers: wire.headers,
        text: textBody,
        json: isJson && textBody !== '' ? (JSON.parse(textBody) as unknown) : undefined,
      };
    },
    listen(host, port) {
      return serve(app, host, port, logger);
    },
  };
  return Object.freeze(app);
}

async function readJson<B>(request: IncomingRequest, schema: Schema<B>, limit: number): Promise<B> {
  const bytes = await request.readBody(limit);
  if (bytes.byteLength === 0) {
    if (schema.optional === true) return validateInput(schema, undefined, 'body');
    throw new HttpError(
      400,
      HTTP_ERROR_CODES.bodyRequired,
      'Cannot read request body: expected a JSON document, got an empty body',
    );
  }
  const contentType = request.headers['content-type'];
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(mediaType)) {
    throw new HttpError(
      415,
      HTTP_ERROR_CODES.unsupportedMediaType,
      `Cannot read request body: expected content type application/json, got ${contentType === undefined ? 'none' : JSON.stringify(contentType)}`,
      { fields: { contentType: contentType ?? null } },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    const reason = error instanceof TypeError ? 'it is not valid UTF-8' : messageOf(error);
    throw new HttpError(
      400,
      HTTP_ERROR_CODES.bodyInvalidJson,
      `Cannot parse request body as JSON: ${reason}`,
    );
  }
  return validateInput(schema, value, 'body');
}

/** Query parameters as a record; a name given twice is an error rather than a silent pick. */
function queryRecord(search: URLSearchParams): Record<string, string> {
  const values = new Map<string, string>();
  const repeated = new Set<string>();
  for (const [name, value] of search) {
    if (values.has(name)) repeated.add(name);
    values.set(name, value);
  }
  if (repeated.size > 0) {
    const names = [...repeated];
    throw new HttpError(
      400,
      HTTP_ERROR_CODES.validationFailed,
      `Cannot accept query parameters: ${names.map((n) => `${n} must be given once`).join('; ')}`,
      { fields: Object.fromEntries(names.map((n) => [n, 'must be given once'])) },
    );
  }
  // fromEntries defines own properties: `?__proto__=x` is an unknown field, not a prototype.
  return Object.fromEntries(values);
}

function encodeTestBody(body: unknown, headers: Record<string, string>): Uint8Array {
  if (body === undefined) return new Uint8Array();
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return body;
  headers['content-type'] ??= 'application/json';
  return Buffer.from(JSON.stringify(body), 'utf8');
}
