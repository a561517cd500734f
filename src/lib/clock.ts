/**
 * Where "now" comes from. Services take a Clock instead of calling `new Date()` so that tests (and retention,
 * schedules, lease expiry) can run against a time they control.
 */
export interface Clock {
  now(): Date;
}

/** The real wall clock. */
export const systemClock: Clock = Object.freeze({
  now: (): Date => new Date(),
});

/** A clock that moves only when told to: `set()` or `advance()`. Every `now()` returns a fresh Date. */
export class ManualClock implements Clock {
  #ms: number;

  constructor(start: Date | string | number) {
    this.#ms = toMillis(start, 'start');
  }

  now(): Date {
    return new Date(this.#ms);
  }

  set(to: Date | string | number): void {
    this.#ms = toMillis(to, 'time');
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms))
      throw new RangeError(`Cannot advance clock: expected a finite number of ms, got ${ms}`);
    this.#ms += ms;
  }
}

function toMillis(value: Date | string | number, what: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  if (!Number.isFinite(ms))
    throw new RangeError(`Cannot set clock: ${what} "${String(value)}" is not a valid time`);
  return ms;
}
