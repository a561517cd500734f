import { putPadded, putUint } from '../ascii-digits.js';
import { MalformedValueError } from './errors.js';

/**
 * NEWDECIMAL's binary format (MySQL/MariaDB `strings/decimal.c`, `decimal2bin` / `bin2decimal`).
 *
 * A DECIMAL(p,s) has intg = p - s integer digits and s fraction digits. Each side is cut into groups of 9 digits
 * stored as 4-byte big-endian integers; the integer side's leftover (intg % 9) digits come first, the fraction
 * side's leftover (s % 9) digits come last, each in DIG2BYTES[n] bytes:
 *
 *   [lead: DIG2BYTES[intg % 9]] [intg / 9 groups x 4] [s / 9 groups x 4] [tail: DIG2BYTES[s % 9]]
 *
 * The sign is the top bit of the first byte, inverted (set = positive) so that the bytes sort like the numbers;
 * a negative number also has every byte inverted (one's complement).
 *
 * The text is what SELECT prints: no leading zeros (but `0` before the point), exactly s fraction digits, and
 * `-` only for a non-zero value (the server stores -0.00 as 0.00, so a negative-zero image prints as zero).
 */
const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4] as const;
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000] as const;

/** The largest DECIMAL: 65 digits, 30 of them after the point (MySQL DECIMAL_MAX_PRECISION/SCALE). */
export const DECIMAL_MAX_PRECISION = 65;
export const DECIMAL_MAX_SCALE = 30;

/** Byte size of a DECIMAL(precision, scale) value (MySQL `decimal_bin_size`). */
export function decimalBinarySize(precision: number, scale: number): number {
  const intg = precision - scale;
  return (
    Math.floor(intg / 9) * 4 +
    (DIG2BYTES[intg % 9] as number) +
    Math.floor(scale / 9) * 4 +
    (DIG2BYTES[scale % 9] as number)
  );
}

// One reused scratch area: sign + 65 digits + point, written as ASCII and sliced once into the result string.
const scratch = Buffer.alloc(80);

/**
 * Reads an n-byte big-endian digit group at `p`: `flipSign` undoes the inverted sign bit (first byte of the
 * value only), `complement` undoes a negative value's one's complement.
 */
function readGroup(buf: Buffer, p: number, n: number, flipSign: boolean, complement: boolean): number {
  const mask = complement ? 0xff : 0;
  let v = (buf[p] as number) ^ (flipSign ? 0x80 : 0) ^ mask;
  for (let i = 1; i < n; i++) v = v * 256 + ((buf[p + i] as number) ^ mask);
  return v;
}

/** Writes `v` as exactly `digits` ASCII digits at scratch[w..]. */
function putDigits(v: number, digits: number, w: number): void {
  for (let i = digits - 1; i >= 0; i--) {
    scratch[w + i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

function badGroup(
  precision: number,
  scale: number,
  digits: number,
  value: number,
  offset: number,
): MalformedValueError {
  return new MalformedValueError(
    `Cannot decode DECIMAL(${precision},${scale}) value: a ${digits}-digit group holds ${value}`,
    { fields: { precision, scale, offset } },
  );
}

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000', '00000000', '000000000'] as const;

// The parts of the last small DECIMAL read by readSmallDecimal (module state: no object per value).
let smallNegative = false;
let smallInt = 0;
let smallFrac = 0;

/**
 * The common case, at most 15 integer digits and 9 fraction digits (DECIMAL(10,2), DECIMAL(19,4)...): the integer
 * part fits a JS number exactly and the fraction is one group, so the value is read as two numbers.
 */
function readSmallDecimal(buf: Buffer, pos: number, intg: number, scale: number): void {
  const negative = ((buf[pos] as number) & 0x80) === 0;
  const lead = intg % 9;
  let p = pos;
  let first = true;
  let intValue = 0;
  if (lead > 0) {
    const n = DIG2BYTES[lead] as number;
    const v = readGroup(buf, p, n, true, negative);
    if (v >= (POW10[lead] as number)) throw badGroup(intg + scale, scale, lead, v, p);
    intValue = v;
    first = false;
    p += n;
  }
  if (intg >= 9) {
    const v = readGroup(buf, p, 4, first, negative);
    if (v >= 1000000000) throw badGroup(intg + scale, scale, 9, v, p);
    intValue = intValue * 1000000000 + v;
    first = false;
    p += 4;
  }
  let fracValue = 0;
  if (scale > 0) {
    const n = scale === 9 ? 4 : (DIG2BYTES[scale] as number);
    fracValue = readGroup(buf, p, n, first, negative);
    if (fracValue >= (POW10[scale] as number)) throw badGroup(intg + scale, scale, scale, fracValue, p);
  }
  smallNegative = negative;
  smallInt = intValue;
  smallFrac = fracValue;
}

function smallDecimalToText(buf: Buffer, pos: number, intg: number, scale: number): string {
  readSmallDecimal(buf, pos, intg, scale);
  const intValue = smallInt;
  const fracValue = smallFrac;
  const sign = smallNegative && (intValue !== 0 || fracValue !== 0) ? '-' : '';
  if (scale === 0) return sign + String(intValue);
  const frac = String(fracValue);
  return (
    sign +
    String(intValue) +
    '.' +
    (frac.length < scale ? (ZEROS[scale - frac.length] as string) + frac : frac)
  );
}

/**
 * Writes what `decimalToText` returns, as ASCII bytes, into `out` from `at`, for a DECIMAL(precision, scale) with
 * at most 15 integer and 9 fraction digits (the small case); returns the offset after the text, or -1 without
 * writing for any other declaration. `out` must have room for 26 bytes. Throws what `decimalToText` throws.
 */
export function writeSmallDecimal(
  buf: Buffer,
  pos: number,
  precision: number,
  scale: number,
  out: Buffer,
  at: number,
): number {
  const intg = precision - scale;
  if (!(precision >= 1 && scale >= 0 && intg >= 0 && intg <= 15 && scale <= 9)) return -1;
  // readSmallDecimal, unrolled for the row writer's hot path: the same groups, checks and errors, read inline.
  const mask = ((buf[pos] as number) & 0x80) === 0 ? 0xff : 0;
  let flip = 0x80;
  let p = pos;
  let v = 0;
  const lead = intg % 9;
  if (lead > 0) {
    const n = DIG2BYTES[lead] as number;
    let g = (buf[p] as number) ^ flip ^ mask;
    for (let i = 1; i < n; i++) g = g * 256 + ((buf[p + i] as number) ^ mask);
    if (g >= (POW10[lead] as number)) throw badGroup(precision, scale, lead, g, p);
    v = g;
    flip = 0;
    p += n;
  }
  if (intg >= 9) {
    const g =
      ((((buf[p] as number) ^ flip ^ mask) << 24) >>> 0) +
      ((((buf[p + 1] as number) ^ mask) << 16) |
        (((buf[p + 2] as number) ^ mask) << 8) |
        ((buf[p + 3] as number) ^ mask));
    if (g >= 1000000000) throw badGroup(precision, scale, 9, g, p);
    v = v * 1000000000 + g;
    flip = 0;
    p += 4;
  }
  let frac = 0;
  if (scale > 0) {
    const n = scale === 9 ? 4 : (DIG2BYTES[scale] as number);
    let g = (buf[p] as number) ^ flip ^ mask;
    for (let i = 1; i < n; i++) g = g * 256 + ((buf[p + i] as number) ^ mask);
    if (g >= (POW10[scale] as number)) throw badGroup(precision, scale, scale, g, p);
    frac = g;
  }
  let w = at;
  if (mask !== 0 && (v !== 0 || frac !== 0)) out[w++] = 0x2d;
  w = putUint(out, w, v);
  if (scale > 0) {
    out[w++] = 0x2e;
    // Exactly `scale` fraction digits, zero-padded on the left (frac < 10^scale <= 10^9 fits an int32).
    w = putPadded(out, w, frac, scale);
  }
  return w;
}

/**
 * The text of the DECIMAL(precision, scale) value stored at buf[pos..pos + decimalBinarySize). The caller has
 * checked that the bytes are there.
 */
export function decimalToText(buf: Buffer, pos: number, precision: number, scale: number): string {
  if (
    precision < 1 ||
    precision > DECIMAL_MAX_PRECISION ||
    scale < 0 ||
    scale > DECIMAL_MAX_SCALE ||
    scale > precision
  ) {
    throw new MalformedValueError(
      `Cannot decode DECIMAL value: precision ${precision} and scale ${scale} are not a valid DECIMAL(M,D) (1 <= M <= 65, 0 <= D <= 30, D <= M)`,
      { fields: { precision, scale } },
    );
  }
  const intg = precision - scale;
  if (intg <= 15 && scale <= 9) return smallDecimalToText(buf, pos, intg, scale);
  const intg0 = Math.floor(intg / 9);
  const intg0x = intg % 9;
  const frac0 = Math.floor(scale / 9);
  const frac0x = scale % 9;
  const negative = ((buf[pos] as number) & 0x80) === 0;
  let p = pos;
  let first = true;
  let w = 1; // scratch[0] is kept for the sign

  if (intg0x > 0) {
    const n = DIG2BYTES[intg0x] as number;
    const v = readGroup(buf, p, n, first, negative);
    if (v >= (POW10[intg0x] as number)) throw badGroup(precision, scale, intg0x, v, p);
    first = false;
    putDigits(v, intg0x, w);
    p += n;
    w += intg0x;
  }
  for (let i = 0; i < intg0; i++) {
    const v = readGroup(buf, p, 4, first, negative);
    if (v >= 1000000000) throw badGroup(precision, scale, 9, v, p);
    first = false;
    putDigits(v, 9, w);
    p += 4;
    w += 9;
  }
  // Leading zeros of the integer part go; a zero integer part prints as one `0`.
  let intStart = 1;
  if (w === 1) {
    scratch[1] = 0x30;
    w = 2;
  } else {
    while (intStart < w - 1 && scratch[intStart] === 0x30) intStart++;
  }
  let zero = intStart === w - 1 && scratch[intStart] === 0x30;
  if (scale > 0) {
    scratch[w++] = 0x2e;
    for (let i = 0; i < frac0; i++) {
      const v = readGroup(buf, p, 4, first, negative);
      if (v >= 1000000000) throw badGroup(precision, scale, 9, v, p);
      if (v !== 0) zero = false;
      first = false;
      putDigits(v, 9, w);
      p += 4;
      w += 9;
    }
    if (frac0x > 0) {
      const n = DIG2BYTES[frac0x] as number;
      const v = readGroup(buf, p, n, first, negative);
      if (v >= (POW10[frac0x] as number)) throw badGroup(precision, scale, frac0x, v, p);
      if (v !== 0) zero = false;
      putDigits(v, frac0x, w);
      w += frac0x;
    }
  }
  let start = intStart;
  if (negative && !zero) scratch[--start] = 0x2d;
  return scratch.toString('latin1', start, w);
}
