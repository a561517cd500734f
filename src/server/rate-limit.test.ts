import { describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/clock.js';
import { TokenBuckets } from './rate-limit.js';

describe('TokenBuckets', () => {
  it('allows a burst, then refills continuously up to the capacity', () => {
    const clock = new ManualClock(0);
    const buckets = new TokenBuckets({ capacity: 2, refillPerSecond: 4, clock });
    expect(buckets.take('k')).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    expect(buckets.take('k')).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(buckets.take('k')).toEqual({ allowed: false, remaining: 0, retryAfterMs: 250 });
    clock.advance(100); // 0.4 tokens
    expect(buckets.take('k')).toEqual({ allowed: false, remaining: 0, retryAfterMs: 150 });
    clock.advance(150);
    expect(buckets.take('k').allowed).toBe(true);
    clock.advance(60_000);
    expect(buckets.take('k').remaining).toBe(1);
  });

  it('keeps one bucket per key', () => {
    const buckets = new TokenBuckets({ capacity: 1, refillPerSecond: 1, clock: new ManualClock(0) });
    expect(buckets.take('a').allowed).toBe(true);
    expect(buckets.take('a').allowed).toBe(false);
    expect(buckets.take('b').allowed).toBe(true);
  });

  it('survives a clock stepping backwards', () => {
    const clock = new ManualClock(10_000);
    const buckets = new TokenBuckets({ capacity: 1, refillPerSecond: 1, clock });
    buckets.take('k');
    clock.set(0);
    expect(buckets.take('k').allowed).toBe(false);
    clock.set(1000);
    expect(buckets.take('k').allowed).toBe(true);
  });

  it('bounds memory by dropping refilled buckets first, then the oldest', () => {
    const clock = new ManualClock(0);
    const buckets = new TokenBuckets({ capacity: 1, refillPerSecond: 1, clock, maxKeys: 2 });
    buckets.take('a');
    buckets.take('b');
    clock.advance(500);
    buckets.take('c'); // evicts the oldest: a
    expect(buckets.take('b').allowed).toBe(false); // b kept, still empty
    expect(buckets.take('a').allowed).toBe(true); // a was forgotten: a fresh bucket
  });

  it('refuses nonsense settings', () => {
    expect(() => new TokenBuckets({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ capacity: 1, refillPerSecond: 0 })).toThrow(
      'Cannot create rate limiter: capacity must be at least 1 and refill rate above 0, got 1 and 0',
    );
  });
});
