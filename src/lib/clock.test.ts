import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from './clock.js';

describe('ManualClock', () => {
  it('moves only when told to and hands out independent dates', () => {
    const clock = new ManualClock('2024-03-01T10:00:00.000Z');
    const a = clock.now();
    a.setTime(0);
    expect(clock.now().toISOString()).toBe('2024-03-01T10:00:00.000Z');
    clock.advance(1500);
    expect(clock.now().toISOString()).toBe('2024-03-01T10:00:01.500Z');
    clock.set(new Date('2025-01-01T00:00:00Z'));
    expect(clock.now().toISOString()).toBe('2025-01-01T00:00:00.000Z');
  });

  it('rejects times that are not times', () => {
    expect(() => new ManualClock('yesterday')).toThrow(/start "yesterday" is not a valid time/);
    expect(() => new ManualClock(0).advance(Number.NaN)).toThrow(RangeError);
  });
});

describe('systemClock', () => {
  it('follows the wall clock', () => {
    const before = Date.now();
    const now = systemClock.now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
