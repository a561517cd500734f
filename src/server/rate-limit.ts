import { systemClock, type Clock } from '../lib/clock.js';
import type { Middleware } from './context.js';
import { HTTP_ERROR_CODES, HttpError } from './errors.js';

export interface TokenBucketOptions {
  /** Burst size: a full bucket's tokens. */
  readonly capacity: number;
  /** Sustained rate. */
  readonly refillPerSecond: number;
  readonly clock?: Clock;
  /** Buckets kept before idle (full) ones are dropped; bounds memory against many keys or addresses. */
  readonly maxKeys?: number;
}

export interface TakeResult {
  readonly allowed: boolean;
  /** Whole tokens left after this request. */
  readonly remaining: number;
  /** When refused: ms until one token is available. 0 when allowed. */
  readonly retryAfterMs: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** One token bucket per key: each request takes a token, tokens refill continuously up to the capacity. */
export class TokenBuckets {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) {
      throw new RangeError(
        `Cannot create rate limiter: capacity must be at least 1 and refill rate above 0, got ${options.capacity} and ${options.refillPerSecond}`,
      );
    }
    this.capacity = options.capacity;
    this.refillPerSecond = options.refillPerSecond;
    this.#clock = options.clock ?? systemClock;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  take(key: string): TakeResult {
    const now = this.#clock.now().getTime();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
      bucket = { tokens: this.capacity, at: now };
      this.#buckets.set(key, bucket);
    } else {
      this.#refill(bucket, now);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterMs: 0 };
    }
    const retryAfterMs = Math.ceil(((1 - bucket.tokens) / this.refillPerSecond) * 1000);
    return { allowed: false, remaining: 0, retryAfterMs };
  }

  #refill(bucket: Bucket, now: number): void {
    // A clock that steps backwards must not drain or overfill the bucket.
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + (elapsed / 1000) * this.refillPerSecond);
    bucket.at = now;
  }

  /** Drops buckets that have refilled (they behave exactly like absent ones), then the oldest if still full. */
  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      if (bucket.tokens >= this.capacity) this.#buckets.delete(key);
    }
    while (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done === true) break;
      this.#buckets.delete(oldest.value);
    }
  }
}

/**
 * Rate limiting per API key (per client address on public routes). Place it after authentication so that the
 * key is known. Refusals are 429 with Retry-After in whole seconds (RFC 9110 section 10.2.3).
 */
export function rateLimit(limiter: TokenBuckets): Middleware {
  return async (ctx, next) => {
    const key = ctx.principal === undefined ? `address:${ctx.remoteAddress}` : `key:${ctx.principal.keyId}`;
    const result = limiter.take(key);
    if (!result.allowed) {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      const who = ctx.principal === undefined ? 'this client' : 'this API key';
      throw new HttpError(
        429,
        HTTP_ERROR_CODES.rateLimited,
        `Cannot accept request: rate limit of ${limiter.refillPerSecond} requests per second (bursts of ${limiter.capacity}) exceeded for ${who}; retry after ${seconds} s`,
        { headers: { 'retry-after': String(seconds) }, fields: { retryAfterSeconds: seconds } },
      );
    }
    return next();
  };
}
