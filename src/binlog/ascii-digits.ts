/**
 * Decimal digits written as ASCII bytes straight into a buffer, for the NDJSON writer: the same text as String(n)
 * for a non-negative integer, without making a string.
 */

/** Writes `v` (an integer, 0 <= v < 2^53) at `at`; returns the offset after its last digit. */
export function putUint(out: Buffer, at: number, v: number): number {
  if (v > 0x7fffffff) {
    // Nine low digits at a time keep the loops below in int32 arithmetic (2^53 / 10^9 < 2^31).
    const hi = Math.floor(v / 1e9);
    return putPadded(out, putUint(out, at, hi), v - hi * 1e9, 9);
  }
  const x = v | 0;
  return putPadded(out, at, x, digitCount(x));
}

/** "00" to "99" as ASCII pairs: two digits per division instead of one. */
export const DIGIT_PAIRS = Buffer.from(
  Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''),
  'latin1',
);

/** Writes `v` (0 <= v < 2^31) as exactly `digits` digits, zero-padded on the left; returns the end offset. */
export function putPadded(out: Buffer, at: number, v: number, digits: number): number {
  let x = v | 0;
  const end = at + digits;
  let i = end;
  while (i - at >= 2) {
    const q = (x / 100) | 0;
    const r = (x - q * 100) << 1;
    out[--i] = DIGIT_PAIRS[r + 1] as number;
    out[--i] = DIGIT_PAIRS[r] as number;
    x = q;
  }
  if (i > at) out[at] = 0x30 + (x - ((x / 10) | 0) * 10);
  return end;
}

/** Number of decimal digits of 0 <= x < 2^31. */
export function digitCount(x: number): number {
  if (x < 100000) {
    if (x < 100) return x < 10 ? 1 : 2;
    return x < 1000 ? 3 : x < 10000 ? 4 : 5;
  }
  if (x < 10000000) return x < 1000000 ? 6 : 7;
  return x < 100000000 ? 8 : x < 1000000000 ? 9 : 10;
}
