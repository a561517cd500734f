/**
 * FLOAT and DOUBLE as the server prints them for `SELECT col`: MySQL/MariaDB `my_gcvt()` (strings/dtoa.c),
 * called by `Field_float::val_str` / `Field_double::val_str` with a field width far larger than any value needs.
 *
 * Digits: `dtoa(x, mode 4, ndigits)` on the value widened to double, with ndigits = FLT_DIG (6) for FLOAT, and
 * the width (enough for the shortest round-trip digits) for DOUBLE. So a FLOAT shows at most 6 significant digits,
 * rounded half-to-even on the exact binary value (`SELECT` of FLOAT 123456789 is `123457000`, of 16777217 is
 * `16777200`): the server's text, not the float32 round-trip text, is the canonical form.
 * Layout: the fixed form when -14 <= decpt <= 15 (decpt = position of the decimal point relative to the first
 * digit; MAX_DECPT_FOR_F_FORMAT = DBL_DIG) or when an integer part longer than 15 digits still has a fraction;
 * otherwise `d.ddde[-]N` with no `+` and no exponent padding: `1e20`, `1.5e-7` is `0.00000015`, `1e-15`.
 *
 * A FLOAT(M,D)/DOUBLE(M,D) column prints with D fixed decimals, but the binlog does not carry D (the table map
 * metadata of FLOAT/DOUBLE is only the byte size), so such columns come out in this default form.
 */

/** Largest exponent (decpt) still written in the fixed form: DBL_DIG. */
const MAX_DECPT_FOR_F_FORMAT = 15;

/** The text of a DOUBLE value (SELECT of a DOUBLE column, and doubles inside MySQL JSON before the `.0` rule). */
export function formatDouble(value: number): string {
  if (value === 0) return '0';
  // Between 1e-6 and 1e15 JavaScript's own shortest text is already the fixed form with the same digits; only
  // outside it do the exponent rules differ (JavaScript: 1e-7 and 1e21; the server: 1e-15 and 1e15).
  const abs = value < 0 ? -value : value;
  if (abs >= 1e-6 && abs < 1e15) return String(value);
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  // toExponential() without an argument gives exactly the shortest digits that read back as the same double,
  // which is what dtoa mode 4 returns when ndigits exceeds 17.
  const exp = value.toExponential();
  return layout(exp);
}

/** The text of a FLOAT value: at most FLT_DIG (6) significant digits, rounded half-to-even. */
export function formatFloat(value: number): string {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  let exp = value.toExponential(5);
  // toExponential rounds a tie away from zero; dtoa rounds it to an even last digit. A tie needs the exact value
  // to have exactly 7 significant digits ending in 5, so only then is the exact comparison worth making.
  const seven = value.toExponential(6);
  const e = seven.indexOf('e');
  if (seven.charCodeAt(e - 1) === 0x35 /* '5' */ && isExactly(value, seven)) {
    const lastKept = seven.charCodeAt(e - 2) - 0x30;
    if (lastKept % 2 === 0) {
      // Round toward zero: keep the first 6 digits as they are.
      exp = seven.slice(0, e - 1) + seven.slice(e);
    }
  }
  return layout(exp);
}

/**
 * Lays out `[-]d[.ddd]e[+-]N` (JavaScript's toExponential form) the way my_gcvt does, dropping trailing zeros
 * of the mantissa as dtoa does.
 */
function layout(exp: string): string {
  const negative = exp.charCodeAt(0) === 0x2d;
  const start = negative ? 1 : 0;
  const e = exp.indexOf('e');
  let digits =
    exp.charCodeAt(start + 1) === 0x2e ? exp[start]! + exp.slice(start + 2, e) : exp.slice(start, e);
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  if (end !== digits.length) digits = digits.slice(0, end);
  const decpt = Number(exp.slice(e + 1)) + 1;
  const len = digits.length;
  let out = negative ? '-' : '';
  if (decpt >= -MAX_DECPT_FOR_F_FORMAT + 1 && (decpt <= MAX_DECPT_FOR_F_FORMAT || len > decpt)) {
    if (decpt <= 0) {
      out += '0.' + '0'.repeat(-decpt) + digits;
    } else if (decpt < len) {
      out += digits.slice(0, decpt) + '.' + digits.slice(decpt);
    } else {
      out += digits + '0'.repeat(decpt - len);
    }
    return out;
  }
  out += digits[0]!;
  if (len > 1) out += '.' + digits.slice(1);
  return out + 'e' + String(decpt - 1);
}

/** Whether the double equals the decimal `[-]d.dddddde[+-]N` exactly (BigInt arithmetic, no rounding). */
function isExactly(value: number, exp: string): boolean {
  const e = exp.indexOf('e');
  const mantissa = exp.slice(0, e).replace('.', '').replace('-', '');
  const fracDigits = exp.slice(0, e).split('.')[1]?.length ?? 0;
  // decimal = D * 10^q
  const D = BigInt(mantissa);
  const q = Number(exp.slice(e + 1)) - fracDigits;
  // binary = m * 2^k, from the IEEE-754 bits.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(value));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const m = biased === 0 ? fraction : fraction | (1n << 52n);
  const k = (biased === 0 ? 1 : biased) - 1075;
  let left = m;
  let right = D;
  if (k >= 0) left <<= BigInt(k);
  else right <<= BigInt(-k);
  if (q >= 0) right *= 10n ** BigInt(q);
  else left *= 10n ** BigInt(-q);
  return left === right;
}
