import { DbtrailError } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { ApiResponse } from './response.js';
import type { Route } from './router.js';

/** Who is calling: set by the authentication middleware from a verified API key. */
export interface Principal {
  readonly tenantId: string;
  readonly keyId: string;
}

/** One request as middleware and handlers see it. Header names are lower-case. */
export interface Context {
  /** The client's `X-Request-Id` when it is sane, otherwise a fresh UUID; echoed in the response. */
  readonly id: string;
  /** Upper-case. HEAD is served by the GET route. */
  readonly method: string;
  readonly path: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  /** The matched route; undefined when the path or method has none (the core answers 404/405). */
  readonly route: Route | undefined;
  /** Raw, decoded path parameters; handlers get the validated ones. */
  readonly pathParams: Readonly<Record<string, string>>;
  /** A child of the server logger carrying the request id. */
  readonly log: Logger;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** Set by the authentication middleware; undefined on public routes. */
  principal: Principal | undefined;
}

/**
 * Wraps the rest of the chain. `next()` never rejects: errors thrown further in have already been turned into
 * responses, so a middleware sees the final status of every request.
 */
export type Middleware = (ctx: Context, next: () => Promise<ApiResponse>) => Promise<ApiResponse>;

/**
 * The caller of an authenticated route. Throws (a 500: the route table and the middleware disagree) when no
 * authentication middleware ran, so a route can never quietly act without a tenant.
 */
export function principalOf(ctx: Context): Principal {
  if (ctx.principal === undefined) {
    throw new DbtrailError(
      'AUTH_NOT_CONFIGURED',
      'internal',
      `Cannot handle ${ctx.method} ${ctx.path}: the route needs an API key but no authentication middleware ran`,
    );
  }
  return ctx.principal;
}
