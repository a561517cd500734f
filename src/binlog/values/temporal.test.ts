import { describe, expect, it } from 'vitest';
import { Cursor } from '../cursor.js';
import { ColumnType, type ColumnDef } from '../column-types.js';
import { decodeValue } from './decode-value.js';
import { packedTemporalText, timestampText } from './temporal.js';

function col(type: number, meta = 0): ColumnDef {
  return { index: 0, name: 't', type, meta, nullable: true, unsigned: false, flavor: 'mysql' };
}

function decode(hex: string, c: ColumnDef): string {
  const raw = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  const cur = new Cursor(Buffer.concat([raw, Buffer.from([0xee])]));
  const value = decodeValue(cur, c);
  expect(cur.pos).toBe(raw.length);
  return value as string;
}

/**
 * TIME2 bytes from the format description (MySQL my_time_packed_to_binary): packed = (h << 12 | m << 6 | s) << 24
 * | microseconds, negated for a negative time; stored as the integer part (floor(packed / 2^24)) + 0x800000 in 3
 * big-endian bytes, then the fraction (packed % 2^24 with C's sign) cut to the fsp's bytes.
 */
function time2(neg: boolean, h: number, m: number, s: number, micros: number, fsp: number): string {
  const abs = BigInt((h << 12) | (m << 6) | s) * 0x1000000n + BigInt(micros);
  const packed = neg ? -abs : abs;
  if (fsp >= 5) return (packed + 0x800000000000n).toString(16).padStart(12, '0');
  const intPart = packed >> 24n; // arithmetic shift: floor
  const frac = packed - (packed / 0x1000000n) * 0x1000000n; // C remainder: sign of the dividend
  const head = (intPart + 0x800000n).toString(16).padStart(6, '0');
  if (fsp === 0) return head;
  const bytes = fsp <= 2 ? 1 : 2;
  const unit = fsp <= 2 ? 10000n : 100n;
  const stored = BigInt.asUintN(8 * bytes, frac / unit);
  return head + stored.toString(16).padStart(2 * bytes, '0');
}

describe('TIME2', () => {
  it('matches bytes a MySQL 8.0 server wrote for -16:08:04 and -16:08:04.250', () => {
    expect(decode('7efdfc', col(ColumnType.TIME2, 0))).toBe('-16:08:04');
    expect(decode('7efdfb f63c', col(ColumnType.TIME2, 3))).toBe('-16:08:04.250');
    expect(decode('7efdfb fc2f70', col(ColumnType.TIME2, 6))).toBe('-16:08:04.250000');
  });

  const cases: [boolean, number, number, number, number, number, string][] = [
    [false, 0, 0, 0, 0, 0, '00:00:00'],
    [true, 0, 0, 1, 0, 0, '-00:00:01'],
    [true, 838, 59, 59, 0, 0, '-838:59:59'],
    [false, 838, 59, 59, 0, 0, '838:59:59'],
    [true, 507, 48, 27, 0, 0, '-507:48:27'],
    [true, 0, 0, 0, 500000, 1, '-00:00:00.5'],
    [true, 0, 0, 0, 500000, 2, '-00:00:00.50'],
    [true, 0, 0, 1, 990000, 2, '-00:00:01.99'],
    [true, 0, 0, 0, 1000, 3, '-00:00:00.001'],
    [true, 12, 0, 0, 123400, 4, '-12:00:00.1234'],
    [false, 12, 0, 0, 123400, 4, '12:00:00.1234'],
    [true, 0, 0, 0, 1, 6, '-00:00:00.000001'],
    [true, 838, 59, 58, 999999, 6, '-838:59:58.999999'],
    [false, 838, 59, 59, 999999, 6, '838:59:59.999999'],
    [true, 1, 2, 3, 456780, 5, '-01:02:03.45678'],
    [false, 23, 59, 59, 0, 6, '23:59:59.000000'],
  ];
  it.each(cases)('negative=%s %i:%i:%i.%i fsp %i prints %s', (neg, h, m, s, us, fsp, text) => {
    expect(decode(time2(neg, h, m, s, us, fsp), col(ColumnType.TIME2, fsp))).toBe(text);
  });
});

describe('DATETIME2 and TIMESTAMP2', () => {
  /** DATETIME2 from the format: ((year * 13 + month) << 22 | day << 17 | h << 12 | m << 6 | s) + 2^39, 5 bytes. */
  function datetime2(y: number, mo: number, d: number, h: number, mi: number, s: number): string {
    const v = ((BigInt(y * 13 + mo) << 22n) | BigInt((d << 17) | (h << 12) | (mi << 6) | s)) + 0x8000000000n;
    return v.toString(16).padStart(10, '0');
  }

  it('prints zero, minimum, maximum and leap-day values with the declared fraction digits', () => {
    expect(decode(datetime2(0, 0, 0, 0, 0, 0), col(ColumnType.DATETIME2, 0))).toBe('0000-00-00 00:00:00');
    expect(decode(datetime2(0, 0, 0, 0, 0, 0) + '000000', col(ColumnType.DATETIME2, 6))).toBe(
      '0000-00-00 00:00:00.000000',
    );
    expect(decode(datetime2(1000, 1, 1, 0, 0, 0) + '01', col(ColumnType.DATETIME2, 1))).toBe(
      '1000-01-01 00:00:00.0',
    );
    expect(decode(datetime2(9999, 12, 31, 23, 59, 59) + '0f423f', col(ColumnType.DATETIME2, 6))).toBe(
      '9999-12-31 23:59:59.999999',
    );
    expect(decode(datetime2(2024, 2, 29, 23, 59, 59) + '0d80', col(ColumnType.DATETIME2, 4))).toBe(
      '2024-02-29 23:59:59.3456',
    );
  });

  it('renders TIMESTAMP2 in UTC and 0 as the zero timestamp', () => {
    expect(decode('7fffffff', col(ColumnType.TIMESTAMP2, 0))).toBe('2038-01-19 03:14:07');
    expect(decode('7fffffff 0f423f', col(ColumnType.TIMESTAMP2, 6))).toBe('2038-01-19 03:14:07.999999');
    expect(decode('00000001 0001', col(ColumnType.TIMESTAMP2, 4))).toBe('1970-01-01 00:00:01.0001');
    expect(decode('00000000', col(ColumnType.TIMESTAMP2, 0))).toBe('0000-00-00 00:00:00');
    expect(decode('00000000 000000', col(ColumnType.TIMESTAMP2, 6))).toBe('0000-00-00 00:00:00.000000');
    expect(decode('386d4380 05', col(ColumnType.TIMESTAMP2, 1))).toBe('2000-01-01 00:00:00.0');
  });

  it('agrees with Date on civil dates across eras and leap years', () => {
    for (const seconds of [1, 86399, 86400, 951782400, 951868800, 4102444799, 4294967295, 1709251199]) {
      const iso = new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
      expect(timestampText(seconds, 0, 0)).toBe(iso);
    }
  });
});

describe('DATE, old TIME/DATETIME/TIMESTAMP, YEAR', () => {
  it('reads DATE as day | month << 5 | year << 9, little-endian', () => {
    const date = (y: number, m: number, d: number): string =>
      Buffer.from([d | ((m & 7) << 5), (m >> 3) | ((y & 127) << 1), y >> 7]).toString('hex');
    expect(decode(date(0, 0, 0), col(ColumnType.DATE))).toBe('0000-00-00');
    expect(decode(date(1000, 1, 1), col(ColumnType.DATE))).toBe('1000-01-01');
    expect(decode(date(9999, 12, 31), col(ColumnType.DATE))).toBe('9999-12-31');
    expect(decode(date(2024, 2, 29), col(ColumnType.DATE))).toBe('2024-02-29');
  });

  it('reads the pre-5.6 formats', () => {
    // TIME: signed HHMMSS, 3 bytes little-endian.
    expect(decode('ffffff', col(ColumnType.TIME))).toBe('-00:00:01');
    expect(decode('590a80', col(ColumnType.TIME))).toBe('-838:59:59');
    expect(decode('a7f57f', col(ColumnType.TIME))).toBe('838:59:59');
    // DATETIME: YYYYMMDDhhmmss as 8 bytes little-endian (10000101000000 from a MariaDB binlog).
    expect(decode('40c3775418090000', col(ColumnType.DATETIME))).toBe('1000-01-01 00:00:00');
    expect(decode('0000000000000000', col(ColumnType.DATETIME))).toBe('0000-00-00 00:00:00');
    // TIMESTAMP: seconds, 4 bytes little-endian.
    expect(decode('01000000', col(ColumnType.TIMESTAMP))).toBe('1970-01-01 00:00:01');
    expect(decode('00000000', col(ColumnType.TIMESTAMP))).toBe('0000-00-00 00:00:00');
  });

  it('reads MariaDB 5.3 hires formats when the precision is supplied as meta', () => {
    // Bytes from a MariaDB 10.11 binlog written with mysql56_temporal_format=OFF.
    expect(decode('0000000f4241', col(ColumnType.TIME, 6))).toBe('-838:59:58.999999');
    expect(decode('7fffffff01e240', col(ColumnType.TIMESTAMP, 6))).toBe('2038-01-19 03:14:07.123456');
    const packed =
      (((((2024n * 13n + 2n) * 32n + 29n) * 24n + 23n) * 60n + 59n) * 60n + 59n) * 1000000n + 999999n;
    expect(decode(packed.toString(16).padStart(16, '0'), col(ColumnType.DATETIME, 6))).toBe(
      '2024-02-29 23:59:59.999999',
    );
    const packed3 = packed / 1000n;
    expect(decode(packed3.toString(16).padStart(14, '0'), col(ColumnType.DATETIME, 3))).toBe(
      '2024-02-29 23:59:59.999',
    );
  });
});

describe('packedTemporalText (JSON opaque temporals)', () => {
  it('prints DATETIME, DATE and TIME packed longlongs with 6 fraction digits', () => {
    const dt = (((2012n * 13n + 3n) << 22n) | (18n << 17n) | (11n << 12n) | (30n << 6n) | 45n) << 24n;
    expect(packedTemporalText(dt, 'datetime')).toBe('2012-03-18 11:30:45.000000');
    expect(packedTemporalText(dt, 'date')).toBe('2012-03-18');
    const t = (((87n << 12n) | (31n << 6n) | 46n) << 24n) + 654321n;
    expect(packedTemporalText(t, 'time')).toBe('87:31:46.654321');
    expect(packedTemporalText(-t, 'time')).toBe('-87:31:46.654321');
  });
});
