/**
 * Temporal values as SELECT prints them, from their binlog (row image) formats.
 *
 * Spec: MySQL `mysys/my_time.cc` (`my_time_packed_from_binary`, `my_datetime_packed_from_binary`,
 * `my_timestamp_from_binary`, `TIME_from_longlong_*_packed`), MariaDB `sql-common/my_time.c` (same layouts), and
 * `sql/log_event.cc` `log_event_print_value` for the pre-5.6 formats.
 *
 * Fractional seconds: `fsp` (the column's declared precision, the table map metadata of TIME2/DATETIME2/
 * TIMESTAMP2) decides both the stored size (`(fsp + 1) / 2` bytes after the integer part) and the printed digits:
 * exactly fsp digits, as SELECT shows them (`.500000` for TIME(6), `.5` for TIME(1)).
 */

const PAD2: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + String(i));

function pad2(n: number): string {
  return n < 100 ? (PAD2[n] as string) : String(n);
}

function pad4(n: number): string {
  if (n >= 1000) return String(n);
  if (n >= 100) return '0' + String(n);
  return '00' + pad2(n);
}

/** `.ffffff` cut to fsp digits; microseconds are always a multiple of 10^(6 - fsp), so cutting is exact. */
function fraction(micros: number, fsp: number): string {
  if (fsp <= 0) return '';
  if (micros === 0) return ZERO_FRACTIONS[fsp > 6 ? 6 : fsp] as string;
  const six = String(micros);
  const padded = six.length >= 6 ? six : '000000'.slice(six.length) + six;
  return '.' + (fsp >= 6 ? padded : padded.slice(0, fsp));
}

const ZERO_FRACTIONS = ['', '.0', '.00', '.000', '.0000', '.00000', '.000000'] as const;

// Row events of one transaction mostly share a date: the last date text is kept per format and reused.
let lastYmd = -1;
let lastYmdText = '';
let lastDays = Number.NaN;
let lastDaysText = '';

/** Byte size of the fractional part of TIME2/DATETIME2/TIMESTAMP2 for a given fsp. */
export function fractionBytes(fsp: number): number {
  return (fsp + 1) >> 1;
}

function readFraction(buf: Buffer, p: number, fsp: number): number {
  switch (fractionBytes(fsp)) {
    case 0:
      return 0;
    case 1:
      return (buf[p] as number) * 10000;
    case 2:
      return (((buf[p] as number) << 8) | (buf[p + 1] as number)) * 100;
    default:
      return ((buf[p] as number) << 16) | ((buf[p + 1] as number) << 8) | (buf[p + 2] as number);
  }
}

function dateText(year: number, month: number, day: number): string {
  return pad4(year) + '-' + pad2(month) + '-' + pad2(day);
}

function clockText(hour: number, minute: number, second: number): string {
  return pad2(hour) + ':' + pad2(minute) + ':' + pad2(second);
}

/** DATE (type 10): 3 bytes little-endian, day in bits 0-4, month in 5-8, year above (MySQL `Field_newdate`). */
export function date2FromBinary(buf: Buffer, p: number): string {
  const v = (buf[p] as number) | ((buf[p + 1] as number) << 8) | ((buf[p + 2] as number) << 16);
  return dateText(v >>> 9, (v >>> 5) & 15, v & 31);
}

/**
 * TIME2 (type 19): 3 bytes big-endian integer part offset by 0x800000 (TIMEF_INT_OFS), then the fraction. The
 * integer part packs hours (10 bits), minutes (6) and seconds (6). A negative TIME stores the two's complement of
 * the whole value, fraction included, so a negative value with a fraction borrows one from the integer part.
 * Hours reach 838, so they are read as 10 bits, never as a byte.
 */
export function time2FromBinary(buf: Buffer, p: number, fsp: number): string {
  let intPart = buf.readUIntBE(p, 3) - 0x800000;
  let frac = 0;
  switch (fractionBytes(fsp)) {
    case 0:
      break;
    case 1:
      frac = buf[p + 3] as number;
      if (intPart < 0 && frac !== 0) {
        intPart++;
        frac -= 0x100;
      }
      frac *= 10000;
      break;
    case 2:
      frac = buf.readUInt16BE(p + 3);
      if (intPart < 0 && frac !== 0) {
        intPart++;
        frac -= 0x10000;
      }
      frac *= 100;
      break;
    default:
      // fsp 5 and 6: the 6 bytes are one big-endian number offset by 0x800000000000 (TIMEF_OFS), already in
      // the packed form (integer part << 24 | microseconds).
      intPart = 0;
      frac = buf.readUIntBE(p, 6) - 0x800000000000;
  }
  const packed = intPart * 0x1000000 + frac;
  const negative = packed < 0;
  const abs = negative ? -packed : packed;
  const hms = Math.floor(abs / 0x1000000);
  const micros = abs - hms * 0x1000000;
  const hour = (hms >>> 12) % 1024;
  const minute = (hms >>> 6) & 63;
  const second = hms & 63;
  return (negative ? '-' : '') + clockText(hour, minute, second) + fraction(micros, fsp);
}

/**
 * DATETIME2 (type 18): 5 bytes big-endian offset by 0x8000000000 (DATETIMEF_INT_OFS), packing
 * year*13+month (17 bits), day (5), hour (5), minute (6), second (6); then the fraction.
 */
export function datetime2FromBinary(buf: Buffer, p: number, fsp: number): string {
  const intPart =
    ((buf[p] as number) - 0x80) * 0x100000000 +
    (((buf[p + 1] as number) << 24) >>> 0) +
    (((buf[p + 2] as number) << 16) | ((buf[p + 3] as number) << 8) | (buf[p + 4] as number));
  const micros = readFraction(buf, p + 5, fsp);
  const ymdhms = intPart < 0 ? -intPart : intPart;
  const ymd = Math.floor(ymdhms / 0x20000);
  const hms = ymdhms - ymd * 0x20000;
  if (ymd !== lastYmd) {
    const ym = ymd >>> 5;
    lastYmdText = dateText(Math.floor(ym / 13), ym % 13, ymd & 31);
    lastYmd = ymd;
  }
  return (
    (intPart < 0 ? '-' : '') +
    lastYmdText +
    ' ' +
    clockText(hms >>> 12, (hms >>> 6) & 63, hms & 63) +
    fraction(micros, fsp)
  );
}

/**
 * TIMESTAMP2 (type 17): 4 bytes big-endian seconds since the epoch, then the fraction. Rendered in UTC; 0 is the
 * zero timestamp `0000-00-00 00:00:00`.
 */
export function timestamp2FromBinary(buf: Buffer, p: number, fsp: number): string {
  return timestampText(buf.readUInt32BE(p), readFraction(buf, p + 4, fsp), fsp);
}

/** TIMESTAMP (type 7, before MySQL 5.6.4): 4 bytes little-endian seconds, no fraction. */
export function timestampFromBinary(buf: Buffer, p: number): string {
  return timestampText(buf.readUInt32LE(p), 0, 0);
}

/** Seconds since the epoch as UTC `YYYY-MM-DD HH:MM:SS[.f]`, without a Date object. */
export function timestampText(seconds: number, micros: number, fsp: number): string {
  if (seconds === 0 && micros === 0) return '0000-00-00 00:00:00' + fraction(0, fsp);
  const days = Math.floor(seconds / 86400);
  const sod = seconds - days * 86400;
  const hour = Math.floor(sod / 3600);
  const minute = Math.floor((sod - hour * 3600) / 60);
  const second = sod - hour * 3600 - minute * 60;
  if (days !== lastDays) {
    lastDaysText = civilDate(days);
    lastDays = days;
  }
  return lastDaysText + ' ' + clockText(hour, minute, second) + fraction(micros, fsp);
}

/** Civil date from days since 1970-01-01 (proleptic Gregorian), computed in 400-year eras without a Date. */
function civilDate(days: number): string {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return dateText(year, month, day);
}

/** TIME (type 11, before 5.6.4): 3 bytes little-endian signed integer HHMMSS. */
export function timeFromBinary(buf: Buffer, p: number): string {
  const v = buf.readIntLE(p, 3);
  const abs = v < 0 ? -v : v;
  const hour = Math.floor(abs / 10000);
  return (v < 0 ? '-' : '') + clockText(hour, Math.floor(abs / 100) % 100, abs % 100);
}

/** DATETIME (type 12, before 5.6.4): 8 bytes little-endian integer YYYYMMDDHHMMSS. */
export function datetimeFromBinary(buf: Buffer, p: number): string {
  // The largest value, 99991231235959, is far below 2^53.
  const v = buf.readUInt32LE(p) + buf.readUInt32LE(p + 4) * 0x100000000;
  const date = Math.floor(v / 1000000);
  const time = v - date * 1000000;
  return (
    dateText(Math.floor(date / 10000), Math.floor(date / 100) % 100, date % 100) +
    ' ' +
    clockText(Math.floor(time / 10000), Math.floor(time / 100) % 100, time % 100)
  );
}

/**
 * A MySQL "packed" temporal longlong (JSON opaque DATETIME/TIMESTAMP/DATE/TIME values, MySQL
 * `TIME_from_longlong_datetime_packed` / `TIME_from_longlong_time_packed`): the integer part shifted left 24 bits
 * plus microseconds. `kind` chooses the layout of the integer part; JSON prints 6 fraction digits (`my_TIME_to_str(t,
 * 6)` in `json_dom.cc`), and a DATE without time.
 */
export function packedTemporalText(packed: bigint, kind: 'datetime' | 'date' | 'time'): string {
  const negative = packed < 0n;
  const abs = negative ? -packed : packed;
  const micros = Number(abs & 0xffffffn);
  const intPart = Number(abs >> 24n);
  if (kind === 'time') {
    const hour = (intPart >>> 12) % 1024;
    return (negative ? '-' : '') + clockText(hour, (intPart >>> 6) & 63, intPart & 63) + fraction(micros, 6);
  }
  const ymd = Math.floor(intPart / 0x20000);
  const hms = intPart - ymd * 0x20000;
  const ym = ymd >>> 5;
  const date = dateText(Math.floor(ym / 13), ym % 13, ymd & 31);
  if (kind === 'date') return date;
  return (
    (negative ? '-' : '') +
    date +
    ' ' +
    clockText(hms >>> 12, (hms >>> 6) & 63, hms & 63) +
    fraction(micros, 6)
  );
}

/** 10^n for n = 0..6. */
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000] as const;

/** Big-endian unsigned integer of 1..8 bytes as a BigInt. */
function readBigBE(buf: Buffer, p: number, size: number): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(buf[p + i] as number);
  return v;
}

/**
 * MariaDB 5.3 hires TIMESTAMP(fsp) (MariaDB sql/field.cc `Field_timestamp_hires`): 4 bytes big-endian seconds,
 * then the fraction divided by 10^(6 - fsp) in (fsp + 1) / 2 big-endian bytes.
 */
export function timestampHiresFromBinary(buf: Buffer, p: number, size: number, fsp: number): string {
  const seconds = buf.readUInt32BE(p);
  const frac = size > 4 ? buf.readUIntBE(p + 4, size - 4) : 0;
  return timestampText(seconds, frac * (POW10[6 - fsp] as number), fsp);
}

/**
 * MariaDB 5.3 hires DATETIME(fsp) (`Field_datetime_hires`): big-endian
 * ((((((year * 13 + month) * 32 + day) * 24 + hour) * 60 + minute) * 60 + second) * 10^6 + micros) / 10^(6 - fsp).
 */
export function datetimeHiresFromBinary(buf: Buffer, p: number, size: number, fsp: number): string {
  let v = readBigBE(buf, p, size) * BigInt(POW10[6 - fsp] as number);
  const micros = Number(v % 1000000n);
  v /= 1000000n;
  const second = Number(v % 60n);
  v /= 60n;
  const minute = Number(v % 60n);
  v /= 60n;
  const hour = Number(v % 24n);
  v /= 24n;
  const day = Number(v % 32n);
  v /= 32n;
  const month = Number(v % 13n);
  const year = Number(v / 13n);
  return dateText(year, month, day) + ' ' + clockText(hour, minute, second) + fraction(micros, fsp);
}

/**
 * MariaDB 5.3 hires TIME(fsp) (`Field_time_hires`): big-endian (signed microseconds / 10^(6 - fsp)) offset by
 * the zero point (TIME_MAX_VALUE_SECONDS + 1) * 10^fsp, so that the bytes sort like the values.
 */
export function timeHiresFromBinary(buf: Buffer, p: number, size: number, fsp: number): string {
  const zeroPoint = 3020400 * (POW10[fsp] as number);
  const packed = (buf.readUIntBE(p, size) - zeroPoint) * (POW10[6 - fsp] as number);
  const negative = packed < 0;
  const abs = negative ? -packed : packed;
  const micros = abs % 1000000;
  const seconds = (abs - micros) / 1000000;
  const hour = Math.floor(seconds / 3600);
  const minute = Math.floor((seconds - hour * 3600) / 60);
  return (negative ? '-' : '') + clockText(hour, minute, seconds % 60) + fraction(micros, fsp);
}
