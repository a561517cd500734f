import type { Clock } from '../lib/clock.js';
import type { Logger } from '../log/logger.js';
import { createApp, type App } from './app.js';
import { bearerAuth, type VerifyApiKey } from './auth.js';
import { withOpenApi, type OpenApiInfo } from './openapi.js';
import { rateLimit, TokenBuckets } from './rate-limit.js';
import { requestLog } from './request-log.js';
import type { Route } from './router.js';

/**
 * The standard HTTP stack of `dbtrail server`: the core with its middleware in order (request log outermost, so
 * it records every status including 401 and 429; then authentication; then rate limiting, which needs the key)
 * and the OpenAPI document generated from the same routes. Concrete routes are handed in.
 */
export interface ApiOptions {
  readonly routes: readonly Route[];
  readonly verifyApiKey: VerifyApiKey;
  readonly logger: Logger;
  /** Per key; defaults: bursts of 100, 50 requests per second sustained. */
  readonly rateLimit?: { readonly capacity: number; readonly refillPerSecond: number };
  readonly clock?: Clock;
  readonly bodyLimit?: number;
  readonly info?: OpenApiInfo;
}

export const DEFAULT_RATE_LIMIT = Object.freeze({ capacity: 100, refillPerSecond: 50 });

export function createApi(options: ApiOptions): App {
  const limits = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const info = options.info ?? { title: 'dbtrail', version: '1' };
  return createApp({
    routes: withOpenApi(options.routes, info),
    logger: options.logger,
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    middleware: [
      requestLog(options.logger),
      bearerAuth({ verifyApiKey: options.verifyApiKey }),
      rateLimit(
        new TokenBuckets({ ...limits, ...(options.clock === undefined ? {} : { clock: options.clock }) }),
      ),
    ],
  });
}
