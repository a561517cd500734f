import type { App } from '../../app.js';
import type { CanonicalValue } from '../../binlog/column-types.js';
import { CHANGE_TYPES } from '../../store/change-index.js';
import { NotFoundError } from '../../store/errors.js';
import type { ServerRecord } from '../../store/servers.js';
import type { Tenant } from '../../store/tenants.js';
import type { FlagSpec } from '../command.js';
import { UsageError } from '../errors.js';

/**
 * Parsing of the arguments shared by `query`, `status` and `prune`: times, durations, primary-key values and
 * column matches. Pure, except `resolveServer`. Every failure is a UsageError naming the flag, the value and
 * what was expected.
 */

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A point in time as microseconds since the epoch, exactly (a JS Date holds only milliseconds).
 *
 * Accepted: ISO 8601 (`2024-05-01T10:00:00Z`, `2024-05-01T12:00:00.123456+02:00`) and the MySQL form
 * `YYYY-MM-DD HH:MM:SS[.ffffff]`, also `YYYY-MM-DD` (midnight) and without seconds. A value without a zone is
 * read in `tz` (`UTC`, `+02:00`, or an IANA name such as `Europe/Berlin`); without `tz` it is refused, since
 * guessing the zone of a recovery point is how the wrong data gets restored.
 */
export function parseTimeArg(flag: string, text: string, tz: string | undefined): bigint {
  const m = DATE_TIME.exec(text.trim());
  const bad = (why: string) =>
    new UsageError(`Cannot parse --${flag} "${text}": ${why}`, { flag: `--${flag}`, value: text });
  if (m === null) {
    throw bad('expected ISO 8601 (2024-05-01T10:00:00Z) or YYYY-MM-DD HH:MM:SS[.ffffff] with a time zone');
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  if (frac.length > 6) throw bad('fractions finer than microseconds are not kept; give at most 6 digits');
  const fields = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)] as const;
  const wallMs = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);
  const check = new Date(wallMs);
  if (
    fields[0] < 1970 ||
    check.getUTCFullYear() !== fields[0] ||
    check.getUTCMonth() !== fields[1] - 1 ||
    check.getUTCDate() !== fields[2] ||
    fields[3] > 23 ||
    fields[4] > 59 ||
    fields[5] > 59
  ) {
    throw bad('not a valid date and time (from 1970 on)');
  }
  const micros = BigInt(frac.padEnd(6, '0'));
  let offsetMs: number;
  if (zone !== undefined) {
    offsetMs = zone.toUpperCase() === 'Z' ? 0 : parseOffset(zone);
  } else if (tz !== undefined) {
    offsetMs = zoneOffsetMs(tz, wallMs);
  } else {
    throw bad(
      'the time has no zone; add Z or an offset such as +02:00, or give --tz (e.g. --tz UTC or --tz Europe/Berlin)',
    );
  }
  return BigInt(wallMs - offsetMs) * 1000n + micros;
}

/** `+02:00` / `-0530` as milliseconds east of UTC. */
function parseOffset(text: string): number {
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (m === null || Number(m[2]) > 14 || Number(m[3]) > 59) {
    throw new UsageError(`Cannot use time zone offset "${text}": expected +HH:MM or -HH:MM`, { value: text });
  }
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

/** Checks a --tz value up front, so that a typo is reported even when no time needs it. */
export function checkTimeZone(tz: string): void {
  zoneOffsetMs(tz, 0);
}

/**
 * The offset of zone `tz` at the wall-clock time `wallMs` (a UTC-based reading of the local time). For an IANA
 * zone the offset is found from Intl in two steps (the offset at the guessed instant, then at the corrected one),
 * which settles DST transitions on the earlier reading of an ambiguous local time.
 */
function zoneOffsetMs(tz: string, wallMs: number): number {
  if (/^(utc|z|gmt)$/i.test(tz)) return 0;
  if (/^[+-]/.test(tz)) return parseOffset(tz);
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new UsageError(
      `Cannot use time zone "${tz}": expected UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin`,
      { flag: '--tz', value: tz },
    );
  }
  const offsetAt = (instantMs: number): number => {
    const parts = Object.fromEntries(format.formatToParts(new Date(instantMs)).map((p) => [p.type, p.value]));
    const local = Date.UTC(
      Number(parts['year']),
      Number(parts['month']) - 1,
      Number(parts['day']),
      Number(parts['hour']),
      Number(parts['minute']),
      Number(parts['second']),
    );
    return local - Math.floor(instantMs / 1000) * 1000;
  };
  const first = offsetAt(wallMs);
  return offsetAt(wallMs - first);
}

const UNITS: Readonly<Record<string, bigint>> = {
  s: 1_000_000n,
  m: 60_000_000n,
  h: 3_600_000_000n,
  d: 86_400_000_000n,
  w: 604_800_000_000n,
};

/** `30d`, `12h`, `90m`, `2w`, `45s` as microseconds; at least one second, at most 100 years. */
export function parseDurationArg(flag: string, text: string): bigint {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  const us = m === null ? 0n : BigInt(m[1]!) * UNITS[m[2]!]!;
  if (m === null || us === 0n || us > 100n * 365n * UNITS['d']!) {
    throw new UsageError(
      `Cannot parse --${flag} "${text}": expected a positive duration such as 30d, 12h, 90m, 2w or 45s`,
      { flag: `--${flag}`, value: text },
    );
  }
  return us;
}

/**
 * Splits a --pk value into the key's column values: `|` separates them, `\|` is a literal bar and `\\` a literal
 * backslash; any other backslash stays as it is.
 */
export function splitPkArg(text: string): string[] {
  const values: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === '\\' && (next === '|' || next === '\\')) {
      current += next;
      i++;
    } else if (ch === '|') {
      values.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  values.push(current);
  return values;
}

/** The --pk text as it appears in tables: values joined with `|`, escaped as `splitPkArg` reads them. */
export function joinPk(values: readonly string[]): string {
  return values.map((v) => v.replaceAll('\\', '\\\\').replaceAll('|', '\\|')).join('|');
}

/** `x'00FF'` (SQL hex literal) names a binary value; everything else is text, compared exactly. */
export function parseValueArg(text: string): string | { readonly hex: string } {
  const m = /^x'([0-9a-f]*)'$/i.exec(text);
  if (m !== null && m[1]!.length % 2 === 0) return { hex: m[1]!.toUpperCase() };
  return text;
}

/** `col=value` for --column-eq; the value may contain `=`. */
export function parseColumnEqArg(text: string): { column: string; value: string | { readonly hex: string } } {
  const eq = text.indexOf('=');
  if (eq <= 0) {
    throw new UsageError(`Cannot parse --column-eq "${text}": expected COLUMN=VALUE, e.g. status=active`, {
      flag: '--column-eq',
      value: text,
    });
  }
  return { column: text.slice(0, eq), value: parseValueArg(text.slice(eq + 1)) };
}

/**
 * The canonical values for a --pk given as text, shaped like a stored PK of the table (`sample`, a canonical pk
 * text): where the stored value is binary, the given one is read as hex (`0A1B`, `0x0A1B` or `x'0A1B'`).
 */
export function pkValues(
  given: readonly string[],
  sample: readonly CanonicalValue[] | undefined,
  columns: readonly string[],
): CanonicalValue[] {
  return given.map((v, i) => {
    const like = sample?.[i];
    if (like !== null && typeof like === 'object') {
      const hex = /^(?:0x|x')?([0-9a-f]*)'?$/i.exec(v)?.[1];
      if (hex === undefined || hex.length % 2 !== 0) {
        throw new UsageError(
          `Cannot parse --pk value "${v}" for binary column ${columns[i] ?? i + 1}: expected hex digits such as 0A1B`,
          { flag: '--pk', value: v },
        );
      }
      return { hex: hex.toUpperCase() };
    }
    return v;
  });
}

/**
 * The CLI's tenant (config `tenant`, created when missing) and the named server in it. An unknown name is a
 * NotFoundError listing what the tenant does have.
 */
export async function resolveServer(
  app: App,
  serverName: string,
): Promise<{ tenant: Tenant; server: ServerRecord }> {
  const tenant = await app.store.tenants.ensure(app.config.tenant);
  const server = await app.store.servers.findByName(tenant.id, serverName);
  if (server === undefined) {
    const known = (await app.store.servers.list(tenant.id)).map((s) => s.name);
    throw new NotFoundError(
      `Cannot find server "${serverName}" in tenant "${tenant.name}": ${
        known.length === 0 ? 'the tenant has no servers' : `expected one of ${known.join(', ')}`
      }`,
      { fields: { tenant: tenant.name, server: serverName } },
    );
  }
  return { tenant, server };
}

/** The change filters `query` and `recover` share, so that both take the same flags with the same meaning. */
export const CHANGE_FILTER_FLAGS: readonly FlagSpec[] = [
  {
    name: 'schema',
    type: 'string',
    value: 'SCHEMA',
    description: 'Only changes in this schema (database)',
  },
  {
    name: 'table',
    type: 'string',
    value: 'TABLE',
    description: 'Only changes of this table (needs --schema)',
  },
  {
    name: 'pk',
    type: 'string',
    value: 'V',
    description:
      'Only changes of the row with this primary key; composite keys as a|b (\\| is a literal bar)',
  },
  {
    name: 'since',
    type: 'string',
    value: 'TIME',
    description: 'Committed at or after TIME: ISO 8601 with zone, or YYYY-MM-DD HH:MM:SS[.ffffff] with --tz',
  },
  {
    name: 'until',
    type: 'string',
    value: 'TIME',
    description: 'Committed before TIME (same forms as --since)',
  },
  {
    name: 'tz',
    type: 'string',
    value: 'ZONE',
    description: 'Zone of --since/--until values without one: UTC, +02:00 or an IANA name',
  },
  {
    name: 'type',
    type: 'string',
    value: 'TYPE',
    choices: CHANGE_TYPES,
    description: 'Only inserts, updates or deletes',
  },
  { name: 'gtid', type: 'string', value: 'GTID', description: 'Only the transaction with this GTID' },
  { name: 'changed-column', type: 'string', value: 'C', description: 'Only updates that changed column C' },
  {
    name: 'column-eq',
    type: 'string',
    value: 'COL=VALUE',
    description: "Only changes whose before or after row has COL = VALUE (x'0A1B' for bytes)",
  },
];
