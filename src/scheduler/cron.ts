import { CronExpressionError, CronNoRunError } from './errors.js';
import { gapTransition, timeZone, type TimeZone } from './time-zone.js';

/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week) evaluated in an IANA time zone.
 *
 * Syntax, as in crontab(5): `*`, numbers, lists `1,5`, ranges `1-5`, steps `*\/15` and `1-10/2`, month names
 * jan-dec and weekday names sun-sat (case-insensitive), 7 as well as 0 for Sunday. `a/n` means `a-max/n`. The
 * macros @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly stand for their usual expansions.
 *
 * Day rule (crontab(5), "Note: The day of a command's execution..."): when both day of month and day of week are
 * restricted, that is neither field starts with `*`, a day matches if EITHER matches; otherwise both must match.
 *
 * Daylight saving time, in the schedule's zone:
 * - a wall time the clocks skip (02:30 on a spring-forward night in Europe/Berlin) is moved to the instant of the
 *   jump (03:00 CEST); several skipped slots collapse into that one run;
 * - a wall time the clocks show twice (02:30 on a fall-back night) runs once, at its first occurrence;
 * - except when the expression selects every hour (`*` in the hour field): such a schedule is about minutes
 *   within each hour, the repeated hour is a real hour, and it runs in both, as cron does for its wildcard jobs.
 *
 * Pure: no clock, no I/O. Callers pass the instant to search from.
 */
export interface CronSchedule {
  /** The expression as given, trimmed. */
  readonly expression: string;
  /** Canonical IANA name. */
  readonly timeZone: string;
  /** Allowed values, indexed by value: minutes 0-59, hours 0-23, days 1-31, months 1-12, weekdays 0-6. */
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  readonly daysOfMonth: readonly boolean[];
  readonly months: readonly boolean[];
  readonly daysOfWeek: readonly boolean[];
  /** `or` when both day fields are restricted (crontab(5) rule), `and` otherwise. */
  readonly dayRule: 'and' | 'or';
  /** Every hour selected: repeated wall times run in both occurrences. */
  readonly everyHour: boolean;
}

export interface CronOptions {
  /** IANA time zone name; UTC when omitted. */
  readonly timeZone?: string;
}

const MINUTE_MS = 60_000;
/** How far nextRun searches. 29 February on a given weekday recurs within 40 years; 100 leaves margin. */
const HORIZON_YEARS = 100;

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** What a valid value looks like, for messages. */
  readonly expected: string;
  /** Names in order; the first name stands for `min`. */
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59, expected: '0-59' },
  { name: 'hour', min: 0, max: 23, expected: '0-23' },
  { name: 'day of month', min: 1, max: 31, expected: '1-31' },
  {
    name: 'month',
    min: 1,
    max: 12,
    expected: '1-12 or a name jan-dec',
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  {
    name: 'day of week',
    min: 0,
    max: 7,
    expected: '0-7 (0 and 7 are Sunday) or a name sun-sat',
    names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  },
];

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Days in each month of a leap year: the most a month can have. */
const MAX_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Parses and validates an expression; throws CronExpressionError or TimeZoneError naming the problem. */
export function parseCron(expression: string, options: CronOptions = {}): CronSchedule {
  const zone = timeZone(options.timeZone ?? 'UTC');
  const trimmed = expression.trim();
  let text = trimmed;
  if (text.startsWith('@')) {
    const expansion = MACROS[text.toLowerCase()];
    if (expansion === undefined) {
      throw new CronExpressionError(
        expression,
        `unknown macro "${text}": expected one of ${Object.keys(MACROS).join(', ')}`,
      );
    }
    text = expansion;
  }
  const parts = text === '' ? [] : text.split(/\s+/);
  if (parts.length !== FIELDS.length) {
    throw new CronExpressionError(
      expression,
      `expected 5 fields (minute, hour, day of month, month, day of week), got ${parts.length}`,
    );
  }
  const sets = parts.map((part, i) => parseField(expression, part, FIELDS[i]!));
  const [minutes, hours, daysOfMonth, months, weekdays] = sets as [
    boolean[],
    boolean[],
    boolean[],
    boolean[],
    boolean[],
  ];
  // 7 is another name for Sunday.
  const daysOfWeek = weekdays.slice(0, 7);
  if (weekdays[7] === true) daysOfWeek[0] = true;

  const domText = parts[2]!;
  const dowText = parts[4]!;
  const dayRule = domText.startsWith('*') || dowText.startsWith('*') ? 'and' : 'or';
  if (
    dayRule === 'and' &&
    !months.some((on, m) => on && daysOfMonth.some((d, day) => d && day <= MAX_DAYS[m]!))
  ) {
    throw new CronExpressionError(
      expression,
      `day of month "${domText}" never occurs in month "${parts[3]!}"`,
      'day of month',
    );
  }

  return Object.freeze({
    expression: trimmed,
    timeZone: zone.name,
    minutes: Object.freeze(minutes),
    hours: Object.freeze(hours),
    daysOfMonth: Object.freeze(daysOfMonth),
    months: Object.freeze(months),
    daysOfWeek: Object.freeze(daysOfWeek),
    dayRule,
    everyHour: hours.every(Boolean),
  });
}

/** The reason an expression is invalid (for field-level API errors), or undefined when it is valid. */
export function cronProblem(expression: string, options: CronOptions = {}): string | undefined {
  try {
    parseCron(expression, options);
    return undefined;
  } catch (error) {
    if (error instanceof CronExpressionError) return error.reason;
    throw error;
  }
}

function parseField(expression: string, text: string, spec: FieldSpec): boolean[] {
  const set = new Array<boolean>(spec.max + 1).fill(false);
  for (const item of text.split(',')) {
    if (item === '') {
      throw new CronExpressionError(
        expression,
        `${spec.name} has an empty list item in "${text}"`,
        spec.name,
      );
    }
    const pieces = item.split('/');
    if (pieces.length > 2) {
      throw new CronExpressionError(expression, `${spec.name} has more than one "/" in "${item}"`, spec.name);
    }
    const [base, stepText] = pieces as [string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      step = /^\d{1,4}$/.test(stepText) ? Number(stepText) : 0;
      if (step === 0) {
        throw new CronExpressionError(
          expression,
          `${spec.name} step must be a positive whole number, got "${stepText}"`,
          spec.name,
        );
      }
    }
    let lo: number;
    let hi: number;
    if (base === '*') {
      lo = spec.min;
      hi = spec.max;
    } else if (base.includes('-')) {
      const ends = base.split('-');
      if (ends.length !== 2) {
        throw new CronExpressionError(
          expression,
          `${spec.name} range "${base}" must be "low-high"`,
          spec.name,
        );
      }
      lo = parseValue(expression, ends[0]!, spec);
      hi = parseValue(expression, ends[1]!, spec);
      if (lo > hi) {
        throw new CronExpressionError(
          expression,
          `${spec.name} range "${base}" must run from low to high`,
          spec.name,
        );
      }
    } else {
      lo = parseValue(expression, base, spec);
      hi = stepText === undefined ? lo : spec.max;
    }
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  return set;
}

function parseValue(expression: string, text: string, spec: FieldSpec): number {
  if (/^\d{1,4}$/.test(text)) {
    const n = Number(text);
    if (n >= spec.min && n <= spec.max) return n;
    throw new CronExpressionError(
      expression,
      `${spec.name} must be ${spec.expected}, got ${text}`,
      spec.name,
    );
  }
  const index = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (index >= 0) return spec.min + index;
  throw new CronExpressionError(
    expression,
    `${spec.name} must be ${spec.expected}, got "${text}"`,
    spec.name,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Searching for runs

/** The first run strictly after `after`. */
export function nextRun(schedule: CronSchedule, after: Date): Date {
  return new Date(nextRunMs(schedule, instantOf(after, 'after')));
}

/** The next `count` runs strictly after `after`, ascending. */
export function nextRuns(schedule: CronSchedule, after: Date, count: number): Date[] {
  const runs: Date[] = [];
  let t = instantOf(after, 'after');
  for (let i = 0; i < count; i++) {
    t = nextRunMs(schedule, t);
    runs.push(new Date(t));
  }
  return runs;
}

/**
 * The latest run at or before `atOrBefore`, or undefined when there is none within the search horizon. Together
 * with nextRun it brackets any instant: previousRun(t) <= t < nextRun(t).
 */
export function previousRun(schedule: CronSchedule, atOrBefore: Date): Date | undefined {
  const at = instantOf(atOrBefore, 'atOrBefore');
  // Gallop back until some run falls in (at - width, at], then bisect for the last such run: nextRun is
  // monotonic in its argument, so the largest t with nextRun(t) <= at yields the latest run.
  const limit = HORIZON_YEARS * 366 * 86_400_000;
  let width = MINUTE_MS;
  let lo: number | undefined;
  while (width <= limit) {
    const t = at - width;
    if (nextRunMs(schedule, t) <= at) {
      lo = t;
      break;
    }
    width *= 2;
  }
  if (lo === undefined) return undefined;
  let low: number = lo;
  let high = at;
  while (high - low > 1) {
    const mid = low + Math.floor((high - low) / 2);
    if (nextRunMs(schedule, mid) <= at) low = mid;
    else high = mid;
  }
  return new Date(nextRunMs(schedule, low));
}

/** Length in ms of the run period containing `at`: from the latest run at or before it to the next run after it. */
export function intervalAt(schedule: CronSchedule, at: Date): number {
  const next = nextRunMs(schedule, instantOf(at, 'at'));
  const previous = previousRun(schedule, at);
  if (previous !== undefined) return next - previous.getTime();
  return nextRunMs(schedule, next) - next;
}

/**
 * When a schedule whose last success was at `lastSuccess` becomes stale: "not succeeded within `factor` times its
 * interval". Intervals are measured run by run from the period of the last success, so a weekday schedule is not
 * flagged over a weekend and an hourly one is flagged after two hours: lastSuccess + (run[factor] - run[0]),
 * where run[0] is the latest run at or before lastSuccess.
 */
export function staleAfter(schedule: CronSchedule, lastSuccess: Date, factor = 2): Date {
  if (!Number.isSafeInteger(factor) || factor < 1) {
    throw new RangeError(
      `Cannot compute staleness: factor must be a whole number of at least 1, got ${factor}`,
    );
  }
  const success = instantOf(lastSuccess, 'lastSuccess');
  const first = previousRun(schedule, lastSuccess)?.getTime() ?? success;
  let run = first;
  for (let i = 0; i < factor; i++) run = nextRunMs(schedule, run);
  return new Date(success + (run - first));
}

/**
 * The longest gap in ms between consecutive runs from `from` over `horizonDays` (at least one gap is always
 * measured, however sparse the schedule). Used to compare a dump schedule with binlog retention.
 */
export function longestInterval(
  schedule: CronSchedule,
  from: Date,
  options: { horizonDays?: number; maxRuns?: number } = {},
): number {
  const start = instantOf(from, 'from');
  const end = start + (options.horizonDays ?? 400) * 86_400_000;
  const maxRuns = options.maxRuns ?? 5000;
  let previous = nextRunMs(schedule, start);
  let longest = 0;
  for (let i = 0; i < maxRuns; i++) {
    const next = nextRunMs(schedule, previous);
    longest = Math.max(longest, next - previous);
    if (next > end) break;
    previous = next;
  }
  return longest;
}

function instantOf(date: Date, name: string): number {
  const t = date.getTime();
  if (!Number.isFinite(t)) throw new RangeError(`Cannot search cron runs: ${name} is not a valid date`);
  return t;
}

function nextRunMs(schedule: CronSchedule, after: number): number {
  const zone = timeZone(schedule.timeZone);
  const wallAfter = zone.wallAt(after);
  let start = floorMinute(wallAfter) + MINUTE_MS;

  if (schedule.everyHour) {
    // If `after` lies in the first pass through a repeated period, wall times earlier than its own will come
    // round again: look at the whole repeated period first, taking the earliest occurrence after `after`.
    const fold = foldStartingBefore(zone, after, wallAfter);
    if (fold !== undefined) {
      let best: number | undefined;
      for (let wall = ceilMinute(fold.startWall); wall < fold.endWall; wall += MINUTE_MS) {
        if (!matches(schedule, wall)) continue;
        for (const instant of zone.instantsOf(wall)) {
          if (instant > after && (best === undefined || instant < best)) best = instant;
        }
      }
      if (best !== undefined) return best;
      start = Math.max(start, ceilMinute(fold.endWall));
    }
  }

  const limitYear = new Date(start).getUTCFullYear() + HORIZON_YEARS;
  let wall = start;
  for (;;) {
    const d = new Date(wall);
    const year = d.getUTCFullYear();
    const month = d.getUTCMonth();
    const day = d.getUTCDate();
    const hour = d.getUTCHours();
    if (year > limitYear) {
      throw new CronNoRunError(schedule.expression, schedule.timeZone, new Date(after), HORIZON_YEARS);
    }
    if (!schedule.months[month + 1]) {
      wall = Date.UTC(year, month + 1, 1);
      continue;
    }
    if (!dayMatches(schedule, d)) {
      wall = Date.UTC(year, month, day + 1);
      continue;
    }
    const h = nextIndex(schedule.hours, hour);
    if (h !== hour) {
      wall = h < 0 ? Date.UTC(year, month, day + 1) : Date.UTC(year, month, day, h);
      continue;
    }
    const minute = d.getUTCMinutes();
    const m = nextIndex(schedule.minutes, minute);
    if (m !== minute) {
      wall = m < 0 ? Date.UTC(year, month, day, hour + 1) : Date.UTC(year, month, day, hour, m);
      continue;
    }
    const instant = firstInstantAfter(schedule, zone, wall, after);
    if (instant !== undefined) return instant;
    wall += MINUTE_MS;
  }
}

/** The instant this matching wall time runs at, if later than `after`. */
function firstInstantAfter(
  schedule: CronSchedule,
  zone: TimeZone,
  wall: number,
  after: number,
): number | undefined {
  const instants = zone.instantsOf(wall);
  if (instants.length === 0) {
    const moved = gapTransition(zone, wall);
    return moved > after ? moved : undefined;
  }
  // A repeated wall time runs at its first occurrence only, unless every hour is selected.
  const candidates = schedule.everyHour ? instants : instants.slice(0, 1);
  return candidates.find((t) => t > after);
}

/**
 * When `after` is in the first pass through a repeated period (clocks about to go back), that period's wall
 * times: [startWall, endWall). Otherwise undefined.
 */
function foldStartingBefore(
  zone: TimeZone,
  after: number,
  wallAfter: number,
): { startWall: number; endWall: number } | undefined {
  const instants = zone.instantsOf(wallAfter);
  if (instants.length !== 2 || instants[0] !== after) return undefined;
  const transition = zone.transitionBetween(after, instants[1]!);
  const before = zone.offsetAt(after);
  const afterwards = zone.offsetAt(transition);
  return { startWall: transition + afterwards, endWall: transition + before };
}

function matches(schedule: CronSchedule, wall: number): boolean {
  const d = new Date(wall);
  return (
    schedule.months[d.getUTCMonth() + 1] === true &&
    dayMatches(schedule, d) &&
    schedule.hours[d.getUTCHours()] === true &&
    schedule.minutes[d.getUTCMinutes()] === true
  );
}

function dayMatches(schedule: CronSchedule, d: Date): boolean {
  const dom = schedule.daysOfMonth[d.getUTCDate()] === true;
  const dow = schedule.daysOfWeek[d.getUTCDay()] === true;
  return schedule.dayRule === 'or' ? dom || dow : dom && dow;
}

/** The smallest allowed value >= from, or -1. */
function nextIndex(set: readonly boolean[], from: number): number {
  for (let i = from; i < set.length; i++) if (set[i]) return i;
  return -1;
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

function ceilMinute(ms: number): number {
  return Math.ceil(ms / MINUTE_MS) * MINUTE_MS;
}
