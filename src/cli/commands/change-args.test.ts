import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import {
  joinPk,
  parseColumnEqArg,
  parseDurationArg,
  parseTimeArg,
  pkValues,
  splitPkArg,
} from './change-args.js';

const US = (iso: string, micros = 0n) => BigInt(Date.parse(iso)) * 1000n + micros;

describe('parseTimeArg', () => {
  it('reads ISO 8601 with a zone, to the microsecond', () => {
    expect(parseTimeArg('since', '2024-05-01T10:00:00Z', undefined)).toBe(US('2024-05-01T10:00:00Z'));
    expect(parseTimeArg('since', '2024-05-01T12:00:00.123456+02:00', undefined)).toBe(
      US('2024-05-01T10:00:00Z', 123_456n),
    );
    expect(parseTimeArg('since', '2024-05-01 10:00:00.5-0130', undefined)).toBe(
      US('2024-05-01T11:30:00.500Z'),
    );
    expect(parseTimeArg('since', '2024-05-01T10:00Z', undefined)).toBe(US('2024-05-01T10:00:00Z'));
  });

  it('reads the MySQL form in the --tz zone: UTC, an offset or an IANA name across DST', () => {
    expect(parseTimeArg('since', '2024-05-01 10:00:00.000001', 'UTC')).toBe(US('2024-05-01T10:00:00Z', 1n));
    expect(parseTimeArg('since', '2024-05-01 10:00:00', '+05:30')).toBe(US('2024-05-01T04:30:00Z'));
    expect(parseTimeArg('until', '2024-01-15 12:00:00', 'Europe/Berlin')).toBe(US('2024-01-15T11:00:00Z'));
    expect(parseTimeArg('until', '2024-07-15 12:00:00', 'Europe/Berlin')).toBe(US('2024-07-15T10:00:00Z'));
    expect(parseTimeArg('until', '2024-05-01', 'UTC')).toBe(US('2024-05-01T00:00:00Z'));
  });

  it('refuses a time without a zone, malformed or impossible values, naming the flag', () => {
    expect(() => parseTimeArg('since', '2024-05-01 10:00:00', undefined)).toThrow(
      'Cannot parse --since "2024-05-01 10:00:00": the time has no zone; add Z or an offset such as +02:00, or give --tz (e.g. --tz UTC or --tz Europe/Berlin)',
    );
    expect(() => parseTimeArg('since', 'yesterday', 'UTC')).toThrow(
      /^Cannot parse --since "yesterday": expected ISO 8601/,
    );
    expect(() => parseTimeArg('until', '2024-02-30 10:00:00', 'UTC')).toThrow(/not a valid date and time/);
    expect(() => parseTimeArg('until', '2024-05-01 24:00:00', 'UTC')).toThrow(/not a valid date and time/);
    expect(() => parseTimeArg('until', '2024-05-01 10:00:00.1234567Z', 'UTC')).toThrow(
      /finer than microseconds/,
    );
    expect(() => parseTimeArg('until', '2024-05-01 10:00:00', 'Mars/Olympus')).toThrow(
      /^Cannot use time zone "Mars\/Olympus": expected UTC/,
    );
    expect(() => parseTimeArg('since', 'x', undefined)).toThrow(UsageError);
  });
});

describe('parseDurationArg', () => {
  it('reads s, m, h, d and w', () => {
    expect(parseDurationArg('older-than', '30d')).toBe(30n * 86_400_000_000n);
    expect(parseDurationArg('older-than', '12h')).toBe(12n * 3_600_000_000n);
    expect(parseDurationArg('older-than', '90m')).toBe(90n * 60_000_000n);
    expect(parseDurationArg('older-than', '2w')).toBe(14n * 86_400_000_000n);
    expect(parseDurationArg('older-than', '45s')).toBe(45_000_000n);
  });

  it('refuses zero, negative, unitless and absurd durations', () => {
    for (const bad of ['0d', '-1d', '30', 'd', '1.5d', '30 days', '999999999w']) {
      expect(() => parseDurationArg('older-than', bad), bad).toThrow(
        `Cannot parse --older-than "${bad}": expected a positive duration such as 30d, 12h, 90m, 2w or 45s`,
      );
    }
  });
});

describe('primary key values', () => {
  it('splits on bars, with \\| and \\\\ escapes, and joins back the same', () => {
    expect(splitPkArg('42')).toEqual(['42']);
    expect(splitPkArg('1|a\\|b')).toEqual(['1', 'a|b']);
    expect(splitPkArg('a\\\\|b')).toEqual(['a\\', 'b']);
    expect(splitPkArg('|')).toEqual(['', '']);
    expect(splitPkArg('c:\\dir')).toEqual(['c:\\dir']);
    for (const values of [['1', 'a|b'], ['a\\', 'b'], ['x\\|y']])
      expect(splitPkArg(joinPk(values))).toEqual(values);
  });

  it('reads hex for binary key columns, shaped like a stored key', () => {
    expect(pkValues(['7', '0x0a1b'], ['1', { hex: '00' }], ['id', 'tag'])).toEqual(['7', { hex: '0A1B' }]);
    expect(pkValues(["x'FF'"], [{ hex: '00' }], ['tag'])).toEqual([{ hex: 'FF' }]);
    expect(() => pkValues(['zz'], [{ hex: '00' }], ['tag'])).toThrow(
      'Cannot parse --pk value "zz" for binary column tag: expected hex digits such as 0A1B',
    );
  });

  it('reads --column-eq, keeping = in the value and x hex literals as bytes', () => {
    expect(parseColumnEqArg('status=active')).toEqual({ column: 'status', value: 'active' });
    expect(parseColumnEqArg('expr=a=b')).toEqual({ column: 'expr', value: 'a=b' });
    expect(parseColumnEqArg('note=')).toEqual({ column: 'note', value: '' });
    expect(parseColumnEqArg("data=x'00ff'")).toEqual({ column: 'data', value: { hex: '00FF' } });
    expect(() => parseColumnEqArg('=x')).toThrow(
      'Cannot parse --column-eq "=x": expected COLUMN=VALUE, e.g. status=active',
    );
    expect(() => parseColumnEqArg('status')).toThrow(UsageError);
  });
});
