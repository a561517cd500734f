import { TimeZoneError } from './errors.js';

/**
 * Wall-clock arithmetic in an IANA time zone using only the runtime's Intl data.
 *
 * A "wall time" here is a local date and time encoded as milliseconds as if it were UTC
 * (`Date.UTC(year, month, day, hour, minute)`), so that calendar fields can be read with `getUTC*` and stepped
 * with `Date.UTC` overflow. An "instant" is an ordinary epoch millisecond value. Offsets are wall minus instant.
 */
export interface TimeZone {
  /** The canonical IANA name (`US/Eastern` becomes `America/New_York`, `Etc/UTC` becomes `UTC`). */
  readonly name: string;
  /** Wall time minus instant, in ms, at the given instant. */
  offsetAt(instant: number): number;
  /** The wall time shown at the given instant. */
  wallAt(instant: number): number;
  /**
   * The instants at which the clock shows this wall time, ascending: one normally, two in a repeated period
   * (clocks set back), none in a skipped period (clocks set forward).
   */
  instantsOf(wall: number): readonly number[];
  /** The first instant at or after which the zone's offset differs from the offset at `after`. */
  transitionBetween(after: number, until: number): number;
}

const DAY_MS = 86_400_000;

const zones = new Map<string, TimeZone>();

/** The canonical name of a time zone, or a TimeZoneError naming it. */
export function canonicalTimeZone(name: string): string {
  return timeZone(name).name;
}

/** The zone with this IANA name; zones are cached, since building a formatter is the expensive part. */
export function timeZone(name: string): TimeZone {
  const cached = zones.get(name);
  if (cached !== undefined) return cached;
  let formatter: Intl.DateTimeFormat;
  try {
    if (name.trim() === '') throw new RangeError('empty');
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new TimeZoneError(name);
  }
  const canonical = formatter.resolvedOptions().timeZone;
  const zone = canonical === 'UTC' ? utcZone : intlZone(canonical, formatter);
  zones.set(name, zone);
  return zone;
}

const utcZone: TimeZone = Object.freeze({
  name: 'UTC',
  offsetAt: (): number => 0,
  wallAt: (instant: number): number => instant,
  instantsOf: (wall: number): readonly number[] => [wall],
  transitionBetween: (_after: number, until: number): number => until,
});

function intlZone(name: string, formatter: Intl.DateTimeFormat): TimeZone {
  const offsetAt = (instant: number): number => {
    // Intl shows whole seconds; compare against the instant floored to its second so that the offset is exact.
    const second = Math.floor(instant / 1000) * 1000;
    const f = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
    for (const part of formatter.formatToParts(second)) {
      if (part.type in f) f[part.type as keyof typeof f] = Number(part.value);
    }
    return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second) - second;
  };

  const transitionBetween = (after: number, until: number): number => {
    const before = offsetAt(after);
    let lo = after;
    let hi = until;
    if (offsetAt(hi) === before) return hi;
    // Invariant: offsetAt(lo) === before, offsetAt(hi) !== before.
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (offsetAt(mid) === before) lo = mid;
      else hi = mid;
    }
    return hi;
  };

  const instantsOf = (wall: number): readonly number[] => {
    // The offsets in force a day either side cover any single transition near this wall time (real offsets
    // are within +-14 h, and no zone changes its offset twice within two days).
    const early = offsetAt(wall - DAY_MS);
    const late = offsetAt(wall + DAY_MS);
    const found: number[] = [];
    for (const offset of early === late ? [early] : [early, late]) {
      const instant = wall - offset;
      if (offsetAt(instant) === offset) found.push(instant);
    }
    if (found.length === 0 && early !== late) {
      // A skipped wall time: report nothing; callers decide (cron moves it to the transition instant).
      return [];
    }
    if (found.length === 0) return [wall - early];
    return found.sort((a, b) => a - b);
  };

  return Object.freeze({
    name,
    offsetAt,
    wallAt: (instant: number): number => instant + offsetAt(instant),
    instantsOf,
    transitionBetween,
  });
}

/** The instant a skipped wall time is moved to: the moment the clocks jumped over it. */
export function gapTransition(zone: TimeZone, wall: number): number {
  const early = zone.offsetAt(wall - DAY_MS);
  const late = zone.offsetAt(wall + DAY_MS);
  // Clocks went forward (late > early): wall - late lies before the jump, wall - early after it.
  return zone.transitionBetween(wall - Math.max(early, late), wall - Math.min(early, late));
}
