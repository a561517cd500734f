import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import type { Middleware } from './context.js';

/** Headers that carry credentials; their values never reach a log line. */
const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
]);

/**
 * One log line per request, at the end, with method, path, status, duration, caller and headers (credentials
 * redacted here, not left to the logger's configuration). 5xx at error level, everything else at info.
 */
export function requestLog(logger: Logger): Middleware {
  const log = logger.child({ component: 'http' });
  return async (ctx, next) => {
    const response = await next();
    const fields = {
      requestId: ctx.id,
      req: {
        method: ctx.method,
        path: ctx.url.pathname + ctx.url.search,
        remoteAddress: ctx.remoteAddress,
        headers: redactHeaders(ctx.headers),
      },
      res: { status: response.status },
      durationMs: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
      ...(ctx.principal === undefined
        ? {}
        : { tenantId: ctx.principal.tenantId, keyId: ctx.principal.keyId }),
    };
    if (response.status >= 500) log.error(fields, 'request');
    else log.info(fields, 'request');
    return response;
  };
}

export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? '[redacted]' : value;
  }
  return out;
}
