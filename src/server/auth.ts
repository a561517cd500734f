import { isApiKeyFormat } from './api-keys.js';
import type { Middleware, Principal } from './context.js';
import { HTTP_ERROR_CODES, HttpError } from './errors.js';

/** Looks a key up (by its hash) and says whose it is; undefined for an unknown or revoked key. */
export type VerifyApiKey = (token: string) => Promise<Principal | undefined>;

export interface BearerAuthOptions {
  readonly verifyApiKey: VerifyApiKey;
  readonly realm?: string;
}

/**
 * Requires `Authorization: Bearer bt_live_...` on every route not declared `auth: 'none'`, and sets
 * `ctx.principal`. Unmatched paths pass through so the core can answer 404/405. Challenges follow RFC 6750
 * section 3: `error="invalid_token"` only when a token was presented.
 */
export function bearerAuth(options: BearerAuthOptions): Middleware {
  const realm = options.realm ?? 'dbtrail';
  const challenge = `Bearer realm="${realm}"`;
  const invalid = (message: string): HttpError =>
    new HttpError(401, HTTP_ERROR_CODES.authInvalid, message, {
      headers: { 'www-authenticate': `${challenge}, error="invalid_token"` },
    });

  return async (ctx, next) => {
    if (ctx.route === undefined || ctx.route.auth === 'none') return next();
    const header = ctx.headers.authorization;
    if (header === undefined || header.trim() === '') {
      throw new HttpError(
        401,
        HTTP_ERROR_CODES.authRequired,
        'Cannot authenticate request: expected an "Authorization: Bearer bt_live_..." header',
        { headers: { 'www-authenticate': challenge } },
      );
    }
    const match = /^(\S+)\s+(\S+)\s*$/.exec(header.trim());
    if (match === null || match[1]!.toLowerCase() !== 'bearer') {
      const scheme = header.trim().split(/\s+/)[0] ?? '';
      throw invalid(`Cannot authenticate request: expected the Bearer scheme, got "${scheme.slice(0, 20)}"`);
    }
    const token = match[2]!;
    if (!isApiKeyFormat(token)) {
      throw invalid('Cannot authenticate request: the bearer token is not a dbtrail API key (bt_live_...)');
    }
    const principal = await options.verifyApiKey(token);
    if (principal === undefined) {
      throw invalid('Cannot authenticate request: the API key is unknown or revoked');
    }
    ctx.principal = principal;
    return next();
  };
}
