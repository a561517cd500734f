import { describe, expect, it } from 'vitest';
import {
  cronProblem,
  intervalAt,
  longestInterval,
  nextRun,
  nextRuns,
  parseCron,
  previousRun,
  staleAfter,
  type CronSchedule,
} from './cron.js';
import { CronExpressionError, TimeZoneError } from './errors.js';
import { timeZone } from './time-zone.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function runs(expression: string, after: string, count: number, tz?: string): string[] {
  const schedule = parseCron(expression, tz === undefined ? {} : { timeZone: tz });
  return nextRuns(schedule, new Date(after), count).map((d) => d.toISOString());
}

function values(set: readonly boolean[]): number[] {
  return set.flatMap((on, i) => (on ? [i] : []));
}

describe('parseCron', () => {
  it('expands lists, ranges, steps and names into sets', () => {
    const s = parseCron('1,5-7,*/20 */6 1-10/3 jan,mar-may mon-fri');
    expect(values(s.minutes)).toEqual([0, 1, 5, 6, 7, 20, 40]);
    expect(values(s.hours)).toEqual([0, 6, 12, 18]);
    expect(values(s.daysOfMonth)).toEqual([1, 4, 7, 10]);
    expect(values(s.months)).toEqual([1, 3, 4, 5]);
    expect(values(s.daysOfWeek)).toEqual([1, 2, 3, 4, 5]);
    expect(s.dayRule).toBe('or');
    expect(s.everyHour).toBe(false);
    expect(s.timeZone).toBe('UTC');
  });

  it('treats 7 as Sunday, accepts upper-case names and a/n as a-max/n', () => {
    expect(values(parseCron('0 0 * * 7').daysOfWeek)).toEqual([0]);
    expect(values(parseCron('0 0 * * 5-7').daysOfWeek)).toEqual([0, 5, 6]);
    expect(values(parseCron('0 0 * * SAT-7').daysOfWeek)).toEqual([0, 6]);
    expect(values(parseCron('0 0 * DEC *').months)).toEqual([12]);
    expect(values(parseCron('10/15 * * * *').minutes)).toEqual([10, 25, 40, 55]);
    expect(values(parseCron('0-10/4 * * * *').minutes)).toEqual([0, 4, 8]);
  });

  it('uses AND when either day field starts with * and OR when both are restricted', () => {
    expect(parseCron('0 0 * * 1').dayRule).toBe('and');
    expect(parseCron('0 0 13 * *').dayRule).toBe('and');
    expect(parseCron('0 0 */2 * 1').dayRule).toBe('and');
    expect(parseCron('0 0 13 * 5').dayRule).toBe('or');
  });

  it('expands macros and canonicalises the time zone', () => {
    const s = parseCron('@daily', { timeZone: 'US/Eastern' });
    expect(s.timeZone).toBe('America/New_York');
    expect(values(s.minutes)).toEqual([0]);
    expect(values(s.hours)).toEqual([0]);
    expect(parseCron('@hourly').everyHour).toBe(true);
    expect(values(parseCron('@weekly').daysOfWeek)).toEqual([0]);
    expect(parseCron('  0   3 * * *  ').expression).toBe('0   3 * * *');
  });

  it.each([
    ['0 25 * * *', 'hour must be 0-23, got 25'],
    ['60 * * * *', 'minute must be 0-59, got 60'],
    ['0 0 0 * *', 'day of month must be 1-31, got 0'],
    ['0 0 * 13 *', 'month must be 1-12 or a name jan-dec, got 13'],
    ['0 0 * foo *', 'month must be 1-12 or a name jan-dec, got "foo"'],
    ['0 0 * * 8', 'day of week must be 0-7 (0 and 7 are Sunday) or a name sun-sat, got 8'],
    ['0 0 * * monday', 'day of week must be 0-7 (0 and 7 are Sunday) or a name sun-sat, got "monday"'],
    ['0 0 * jan-mon *', 'month must be 1-12 or a name jan-dec, got "mon"'],
    ['-1 * * * *', 'minute must be 0-59, got ""'],
    ['*/0 * * * *', 'minute step must be a positive whole number, got "0"'],
    ['*/x * * * *', 'minute step must be a positive whole number, got "x"'],
    ['*/5/2 * * * *', 'minute has more than one "/" in "*/5/2"'],
    ['5-1 * * * *', 'minute range "5-1" must run from low to high'],
    ['1-2-3 * * * *', 'minute range "1-2-3" must be "low-high"'],
    ['1,,2 * * * *', 'minute has an empty list item in "1,,2"'],
    ['* * * *', 'expected 5 fields (minute, hour, day of month, month, day of week), got 4'],
    ['* * * * * *', 'expected 5 fields (minute, hour, day of month, month, day of week), got 6'],
    ['', 'expected 5 fields (minute, hour, day of month, month, day of week), got 0'],
    ['0 0 30 2 *', 'day of month "30" never occurs in month "2"'],
    ['0 0 31 apr,jun,sep,nov *', 'day of month "31" never occurs in month "apr,jun,sep,nov"'],
    [
      '@reboot',
      'unknown macro "@reboot": expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly',
    ],
  ])('rejects %j: %s', (expression, reason) => {
    let caught: unknown;
    try {
      parseCron(expression);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CronExpressionError);
    const error = caught as CronExpressionError;
    expect(error.message).toBe(`Cannot parse cron expression "${expression}": ${reason}`);
    expect(error.reason).toBe(reason);
    expect(error.code).toBe('CRON_EXPRESSION_INVALID');
    expect(error.kind).toBe('input');
    expect(cronProblem(expression)).toBe(reason);
  });

  it('accepts days that exist in some allowed month, and OR-rule days', () => {
    expect(() => parseCron('0 0 31 apr,may *')).not.toThrow();
    expect(() => parseCron('0 0 29 2 *')).not.toThrow();
    expect(() => parseCron('0 0 30 2 mon')).not.toThrow();
    expect(cronProblem('*/5 * * * *')).toBeUndefined();
  });

  it('rejects unknown time zones naming the zone', () => {
    expect(() => parseCron('* * * * *', { timeZone: 'Mars/Olympus_Mons' })).toThrow(TimeZoneError);
    expect(() => parseCron('* * * * *', { timeZone: '' })).toThrow(
      'Cannot use time zone "": expected an IANA time zone name such as "UTC" or "Europe/Berlin"',
    );
  });
});

describe('nextRun in UTC', () => {
  it.each([
    ['* * * * *', '2024-05-01T10:00:00Z', ['2024-05-01T10:01:00.000Z', '2024-05-01T10:02:00.000Z']],
    ['* * * * *', '2024-05-01T10:00:30.500Z', ['2024-05-01T10:01:00.000Z']],
    ['*/15 * * * *', '2024-05-01T10:07:00Z', ['2024-05-01T10:15:00.000Z', '2024-05-01T10:30:00.000Z']],
    ['0 * * * *', '2024-12-31T23:30:00Z', ['2025-01-01T00:00:00.000Z']],
    ['30 2 * * *', '2024-05-01T02:30:00Z', ['2024-05-02T02:30:00.000Z']],
    ['0 0 1 * *', '2024-01-31T12:00:00Z', ['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']],
    ['0 0 31 * *', '2024-01-31T12:00:00Z', ['2024-03-31T00:00:00.000Z', '2024-05-31T00:00:00.000Z']],
    ['0 9 * * 1-5', '2024-06-07T10:00:00Z', ['2024-06-10T09:00:00.000Z', '2024-06-11T09:00:00.000Z']],
    ['0 0 * * 0', '2024-06-07T10:00:00Z', ['2024-06-09T00:00:00.000Z']],
    ['0 0 * * 7', '2024-06-07T10:00:00Z', ['2024-06-09T00:00:00.000Z']],
    ['0 0 1 jan *', '2024-06-07T10:00:00Z', ['2025-01-01T00:00:00.000Z']],
    ['@yearly', '2024-01-01T00:00:00Z', ['2025-01-01T00:00:00.000Z']],
    ['15 14 1 * *', '2024-02-01T14:15:00Z', ['2024-03-01T14:15:00.000Z']],
    ['0 22 * * 1-5', '2024-06-07T22:00:00Z', ['2024-06-10T22:00:00.000Z']],
    [
      '5,10 0-1 * * *',
      '2024-06-07T00:10:00Z',
      ['2024-06-07T01:05:00.000Z', '2024-06-07T01:10:00.000Z', '2024-06-08T00:05:00.000Z'],
    ],
    // OR rule: the 13th, or any Friday.
    [
      '0 0 13 * 5',
      '2024-09-01T00:00:00Z',
      ['2024-09-06T00:00:00.000Z', '2024-09-13T00:00:00.000Z', '2024-09-20T00:00:00.000Z'],
    ],
    ['0 0 13 * 5', '2024-10-10T00:00:00Z', ['2024-10-11T00:00:00.000Z', '2024-10-13T00:00:00.000Z']],
    // AND rule when a day field starts with *: odd days that are Mondays.
    ['0 0 */2 * 1', '2024-07-01T00:00:00Z', ['2024-07-15T00:00:00.000Z', '2024-07-29T00:00:00.000Z']],
  ])('%s after %s', (expression, after, expected) => {
    expect(runs(expression, after, expected.length)).toEqual(expected);
  });

  it('finds leap days, skipping 2100 which is not a leap year', () => {
    expect(runs('0 0 29 2 *', '2024-03-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
    expect(runs('0 0 29 2 *', '2096-03-01T00:00:00Z', 1)).toEqual(['2104-02-29T00:00:00.000Z']);
    // 29 February that is also a Sunday (AND rule: the weekday field starts with *).
    expect(runs('0 0 29 2 */7', '2005-01-01T00:00:00Z', 2)).toEqual([
      '2032-02-29T00:00:00.000Z',
      '2060-02-29T00:00:00.000Z',
    ]);
    // Last day of February, leap or not, via the OR rule is not expressible; 28th and 29th both run.
    expect(runs('0 0 28,29 2 *', '2024-02-28T00:00:00Z', 2)).toEqual([
      '2024-02-29T00:00:00.000Z',
      '2025-02-28T00:00:00.000Z',
    ]);
  });

  it('rejects invalid dates', () => {
    expect(() => nextRun(parseCron('* * * * *'), new Date('nope'))).toThrow(
      'Cannot search cron runs: after is not a valid date',
    );
  });
});

describe('nextRun across daylight saving time', () => {
  // Europe/Berlin 2024: 31 March 02:00 CET -> 03:00 CEST at 01:00Z; 27 October 03:00 CEST -> 02:00 CET at 01:00Z.
  it('moves a skipped wall time to the jump and runs it once (Berlin, spring)', () => {
    expect(runs('30 2 * * *', '2024-03-30T12:00:00Z', 3, 'Europe/Berlin')).toEqual([
      '2024-03-31T01:00:00.000Z', // 02:30 does not exist; runs at 03:00 CEST
      '2024-04-01T00:30:00.000Z', // 02:30 CEST
      '2024-04-02T00:30:00.000Z',
    ]);
    // Four skipped slots collapse into one run.
    expect(runs('*/15 2 * * *', '2024-03-30T12:00:00Z', 3, 'Europe/Berlin')).toEqual([
      '2024-03-31T01:00:00.000Z',
      '2024-04-01T00:00:00.000Z',
      '2024-04-01T00:15:00.000Z',
    ]);
    // A 03:00 slot and the skipped 02:00 land on the same instant: one run.
    expect(runs('0 2,3 * * *', '2024-03-30T12:00:00Z', 3, 'Europe/Berlin')).toEqual([
      '2024-03-31T01:00:00.000Z',
      '2024-04-01T00:00:00.000Z',
      '2024-04-01T01:00:00.000Z',
    ]);
  });

  it('keeps hourly and sub-hourly schedules on real time (Berlin, spring)', () => {
    expect(runs('0 * * * *', '2024-03-30T22:30:00Z', 4, 'Europe/Berlin')).toEqual([
      '2024-03-30T23:00:00.000Z', // 00:00 CET
      '2024-03-31T00:00:00.000Z', // 01:00 CET
      '2024-03-31T01:00:00.000Z', // 03:00 CEST (02:00 skipped)
      '2024-03-31T02:00:00.000Z', // 04:00 CEST
    ]);
    expect(runs('*/20 * * * *', '2024-03-31T00:30:00Z', 4, 'Europe/Berlin')).toEqual([
      '2024-03-31T00:40:00.000Z', // 01:40 CET
      '2024-03-31T01:00:00.000Z', // 03:00 CEST; 02:00, 02:20, 02:40 collapsed into it
      '2024-03-31T01:20:00.000Z',
      '2024-03-31T01:40:00.000Z',
    ]);
  });

  it('runs a repeated wall time once, at its first occurrence (Berlin, autumn)', () => {
    expect(runs('30 2 * * *', '2024-10-26T12:00:00Z', 3, 'Europe/Berlin')).toEqual([
      '2024-10-27T00:30:00.000Z', // 02:30 CEST, not again at 02:30 CET
      '2024-10-28T01:30:00.000Z', // 02:30 CET
      '2024-10-29T01:30:00.000Z',
    ]);
    // Asked from inside the second pass, the repeated slot is already spent.
    expect(runs('30 2 * * *', '2024-10-27T01:10:00Z', 1, 'Europe/Berlin')).toEqual([
      '2024-10-28T01:30:00.000Z',
    ]);
    expect(runs('*/30 2 * * *', '2024-10-26T12:00:00Z', 3, 'Europe/Berlin')).toEqual([
      '2024-10-27T00:00:00.000Z',
      '2024-10-27T00:30:00.000Z',
      '2024-10-28T01:00:00.000Z',
    ]);
  });

  it('runs every-hour schedules in both passes of the repeated hour (Berlin, autumn)', () => {
    expect(runs('0 * * * *', '2024-10-26T22:30:00Z', 5, 'Europe/Berlin')).toEqual([
      '2024-10-26T23:00:00.000Z', // 01:00 CEST
      '2024-10-27T00:00:00.000Z', // 02:00 CEST
      '2024-10-27T01:00:00.000Z', // 02:00 CET
      '2024-10-27T02:00:00.000Z', // 03:00 CET
      '2024-10-27T03:00:00.000Z',
    ]);
    expect(runs('30 * * * *', '2024-10-27T00:40:00Z', 2, 'Europe/Berlin')).toEqual([
      '2024-10-27T01:30:00.000Z', // 02:30 CET
      '2024-10-27T02:30:00.000Z',
    ]);
    const every20 = runs('*/20 * * * *', '2024-10-26T23:50:00Z', 8, 'Europe/Berlin');
    const gaps = every20.slice(1).map((t, i) => Date.parse(t) - Date.parse(every20[i]!));
    expect(gaps).toEqual(new Array<number>(7).fill(20 * 60_000));
  });

  // America/New_York 2024: 10 March 02:00 EST -> 03:00 EDT at 07:00Z; 3 November 02:00 EDT -> 01:00 EST at 06:00Z.
  it('handles America/New_York in spring and autumn', () => {
    expect(runs('30 2 * * *', '2024-03-09T12:00:00Z', 2, 'America/New_York')).toEqual([
      '2024-03-10T07:00:00.000Z', // 02:30 skipped; 03:00 EDT
      '2024-03-11T06:30:00.000Z', // 02:30 EDT
    ]);
    expect(runs('30 1 * * *', '2024-11-02T12:00:00Z', 2, 'America/New_York')).toEqual([
      '2024-11-03T05:30:00.000Z', // 01:30 EDT only
      '2024-11-04T06:30:00.000Z', // 01:30 EST
    ]);
    expect(runs('0 * * * *', '2024-11-03T03:30:00Z', 4, 'America/New_York')).toEqual([
      '2024-11-03T04:00:00.000Z', // 00:00 EDT
      '2024-11-03T05:00:00.000Z', // 01:00 EDT
      '2024-11-03T06:00:00.000Z', // 01:00 EST
      '2024-11-03T07:00:00.000Z', // 02:00 EST
    ]);
    expect(runs('0 0 * * *', '2024-03-09T12:00:00Z', 2, 'America/New_York')).toEqual([
      '2024-03-10T05:00:00.000Z',
      '2024-03-11T04:00:00.000Z',
    ]);
  });

  it('matches a brute-force minute scan around every 2024 transition', () => {
    const cases: [string, string, string][] = [
      ['Europe/Berlin', '2024-03-30T00:00:00Z', '2024-04-01T00:00:00Z'],
      ['Europe/Berlin', '2024-10-26T00:00:00Z', '2024-10-28T00:00:00Z'],
      ['America/New_York', '2024-03-09T00:00:00Z', '2024-03-11T12:00:00Z'],
      ['America/New_York', '2024-11-02T00:00:00Z', '2024-11-04T12:00:00Z'],
    ];
    const expressions = ['*/10 * * * *', '5 * * * *', '*/7 1-3 * * *', '0,45 2 * * *', '59 1 * * *'];
    for (const [tz, from, to] of cases) {
      for (const expression of expressions) {
        const schedule = parseCron(expression, { timeZone: tz });
        const expected = bruteForce(schedule, Date.parse(from), Date.parse(to));
        const actual: number[] = [];
        let t = Date.parse(from);
        for (;;) {
          t = nextRun(schedule, new Date(t)).getTime();
          if (t > Date.parse(to)) break;
          actual.push(t);
        }
        expect(
          actual.map((x) => new Date(x).toISOString()),
          `${expression} in ${tz} from ${from}`,
        ).toEqual(expected.map((x) => new Date(x).toISOString()));
      }
    }
  });
});

/**
 * An independent oracle: walk every minute of real time and decide from the wall clock alone. A minute fires when
 * its wall time matches and (every hour is selected, or it is that wall time's first occurrence). The minute the
 * clocks jump forward also fires when any skipped wall time matched.
 */
function bruteForce(schedule: CronSchedule, from: number, to: number): number[] {
  const zone = timeZone(schedule.timeZone);
  const fired: number[] = [];
  const seen = new Set<number>();
  for (let t = from - 3 * HOUR; t <= from; t += 60_000) seen.add(zone.wallAt(t));
  for (let t = from + 60_000; t <= to; t += 60_000) {
    const wall = zone.wallAt(t);
    const previousWall = zone.wallAt(t - 60_000);
    const firstOccurrence = !seen.has(wall);
    seen.add(wall);
    let fires = wallMatches(schedule, wall) && (schedule.everyHour || firstOccurrence);
    if (wall - previousWall > 60_000) {
      for (let skipped = previousWall + 60_000; skipped < wall; skipped += 60_000) {
        if (wallMatches(schedule, skipped)) fires = true;
      }
    }
    if (fires) fired.push(t);
  }
  return fired;
}

function wallMatches(s: CronSchedule, wall: number): boolean {
  const d = new Date(wall);
  const dom = s.daysOfMonth[d.getUTCDate()] === true;
  const dow = s.daysOfWeek[d.getUTCDay()] === true;
  return (
    s.months[d.getUTCMonth() + 1] === true &&
    (s.dayRule === 'or' ? dom || dow : dom && dow) &&
    s.hours[d.getUTCHours()] === true &&
    s.minutes[d.getUTCMinutes()] === true
  );
}

describe('previousRun', () => {
  it('brackets any instant with nextRun', () => {
    const cases: [string, string | undefined][] = [
      ['*/5 * * * *', undefined],
      ['30 2 * * *', 'Europe/Berlin'],
      ['0 * * * *', 'Europe/Berlin'],
      ['0 9 * * 1-5', 'America/New_York'],
      ['0 0 29 2 *', undefined],
    ];
    const instants = [
      '2024-03-31T00:59:59Z',
      '2024-03-31T01:00:00Z',
      '2024-10-27T00:30:00Z',
      '2024-10-27T01:10:00Z',
      '2025-06-01T12:34:56.789Z',
    ];
    for (const [expression, tz] of cases) {
      const schedule = parseCron(expression, tz === undefined ? {} : { timeZone: tz });
      for (const at of instants) {
        const t = new Date(at);
        const previous = previousRun(schedule, t)!;
        const next = nextRun(schedule, t);
        expect(previous.getTime(), `${expression} at ${at}`).toBeLessThanOrEqual(t.getTime());
        expect(nextRun(schedule, previous).getTime(), `${expression} at ${at}`).toBe(next.getTime());
        expect(previousRun(schedule, next)!.getTime()).toBe(next.getTime());
      }
    }
  });

  it('returns the slot itself when asked at it, and finds the last leap day', () => {
    const hourly = parseCron('0 * * * *');
    expect(previousRun(hourly, new Date('2024-05-01T10:00:00Z'))!.toISOString()).toBe(
      '2024-05-01T10:00:00.000Z',
    );
    expect(previousRun(hourly, new Date('2024-05-01T09:59:59.999Z'))!.toISOString()).toBe(
      '2024-05-01T09:00:00.000Z',
    );
    expect(previousRun(parseCron('0 0 29 2 *'), new Date('2025-06-01T00:00:00Z'))!.toISOString()).toBe(
      '2024-02-29T00:00:00.000Z',
    );
    expect(
      previousRun(
        parseCron('30 2 * * *', { timeZone: 'Europe/Berlin' }),
        new Date('2024-03-31T12:00:00Z'),
      )!.toISOString(),
    ).toBe('2024-03-31T01:00:00.000Z');
  });
});

describe('interval helpers', () => {
  it('measures the run period containing an instant', () => {
    expect(intervalAt(parseCron('*/5 * * * *'), new Date('2024-05-01T10:02:00Z'))).toBe(5 * 60_000);
    const berlinDaily = parseCron('0 12 * * *', { timeZone: 'Europe/Berlin' });
    expect(intervalAt(berlinDaily, new Date('2024-03-30T18:00:00Z'))).toBe(23 * HOUR);
    expect(intervalAt(berlinDaily, new Date('2024-10-26T18:00:00Z'))).toBe(25 * HOUR);
    expect(intervalAt(parseCron('0 9 * * 1-5'), new Date('2024-06-08T00:00:00Z'))).toBe(3 * DAY);
  });

  it('flags staleness after two intervals, run by run', () => {
    const hourly = parseCron('0 * * * *');
    expect(staleAfter(hourly, new Date('2024-05-01T10:05:00Z')).toISOString()).toBe(
      '2024-05-01T12:05:00.000Z',
    );
    expect(staleAfter(hourly, new Date('2024-05-01T10:05:00Z'), 3).toISOString()).toBe(
      '2024-05-01T13:05:00.000Z',
    );
    // Weekdays: a Friday success is not stale over the weekend, but is once Monday and Tuesday have passed.
    const weekdays = parseCron('0 9 * * 1-5');
    expect(staleAfter(weekdays, new Date('2024-06-07T09:05:00Z')).toISOString()).toBe(
      '2024-06-11T09:05:00.000Z',
    );
    expect(() => staleAfter(hourly, new Date(), 0)).toThrow(RangeError);
  });

  it('finds the longest gap for comparison with binlog retention', () => {
    expect(longestInterval(parseCron('0 9 * * 1-5'), new Date('2024-06-01T00:00:00Z'))).toBe(3 * DAY);
    expect(
      longestInterval(parseCron('*/10 * * * *'), new Date('2024-06-01T00:00:00Z'), { horizonDays: 1 }),
    ).toBe(10 * 60_000);
    expect(longestInterval(parseCron('0 0 29 2 *'), new Date('2024-06-01T00:00:00Z'))).toBe(
      Date.parse('2032-02-29T00:00:00Z') - Date.parse('2028-02-29T00:00:00Z'),
    );
    expect(longestInterval(parseCron('0 0 1 * *'), new Date('2024-06-01T00:00:00Z'))).toBe(31 * DAY);
  });
});
