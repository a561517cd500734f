/**
 * FLOAT and DOUBLE as text, laid out the way MySQL/MariaDB print numbers for `SELECT col`: `my_gcvt()`
 * (strings/dtoa.c), called by `Field_float::val_str` / `Field_double::val_str` with a field width far larger than
 * any value needs.
 *
 * DOUBLE: exactly the server's text. Digits: `dtoa(x, mode 4, ndigits)` with ndigits = the width, which gives the
 * shortest digits that read back as the same double.
 *
 * FLOAT: the shortest digits that read back as the same float32 (`Math.fround(Number(text)) === value`, which is
 * also how the server stores the text into a FLOAT column: parsed as a double, then narrowed), in the server's
 * layout. The server itself prints only FLT_DIG (6) significant digits, rounded half-to-even on the exact binary
 * value (`SELECT` of FLOAT 123456789 is `123457000`), and that text does not always identify the stored value
 * (`123457000` is not the float32 `123456792`): SQL built from it could not restore the value. So where the six
 * digits identify the value they are used (the text is then the server's exactly, `0.1`, `3.40282e38` is not among
 * them); otherwise 7 to 9 digits are (`123456790`, `3.4028235e38`, `16777216`). A reader that needs the server's
 * display form can print `Math.fround(Number(text))` with 6 significant digits.
 *
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

/** The smallest normal float32, 2^-126: below it precision thins out (subnormals). */
const FLT_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * The text of a FLOAT value (`value` is a float32 widened to a double): the shortest digits that read back as the
 * same float32, in the server's layout.
 */
export function formatFloat(value: number): string {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  let digits = 1;
  if ((value < 0 ? -value : value) >= FLT_MIN_NORMAL) {
    // A normal float32 is within 2^-24 of itself (relative) of every decimal that reads back as it, far less than
    // half a step of 6 significant digits: if one with 6 digits or fewer exists, rounding the value to 6 digits
    // finds it. So the server's own text is the answer whenever it reads back, and identical to what it prints.
    const six = serverFloatDigits(value);
    if (Math.fround(Number(six)) === value) return layout(six);
    digits = 7;
  }
  // Nine significant digits always identify a float32, so one of these lengths succeeds.
  for (; digits < 9; digits++) {
    const exp = roundTripDigits(value, digits);
    if (exp !== undefined) return layout(exp);
  }
  return layout(roundTripDigits(value, 9) ?? value.toExponential(8));
}

/** What the server prints for `SELECT` of a FLOAT column: FLT_DIG (6) significant digits, half-to-even. */
export function serverFloatText(value: number): string {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : value < 0 ? '-inf' : 'nan';
  return layout(serverFloatDigits(value));
}

/** The server's FLOAT digits: FLT_DIG (6) significant digits rounded half-to-even, in toExponential form. */
function serverFloatDigits(value: number): string {
  const exp = value.toExponential(5);
  // toExponential rounds a tie away from zero; dtoa rounds it to an even last digit. A tie needs the exact value
  // to have exactly 7 significant digits ending in 5, so only then is the exact comparison worth making.
  const seven = value.toExponential(6);
  const e = seven.indexOf('e');
  if (seven.charCodeAt(e - 1) === 0x35 /* '5' */ && isExactly(value, seven)) {
    const lastKept = seven.charCodeAt(e - 2) - 0x30;
    // Round toward zero: keep the first 6 digits as they are.
    if (lastKept % 2 === 0) return seven.slice(0, e - 1) + seven.slice(e);
  }
  return exp;
}

/**
 * The `digits`-digit decimal (toExponential form) closest to `value` that reads back as the same float32, or
 * undefined when none does. The nearest one almost always is; at a power of two the float32's rounding interval
 * is lopsided, so its neighbours one unit in the last place away are tried too. An exact tie between two
 * candidates goes to the even one, as shortest-digit printers (and JavaScript's own Number printing) do.
 */
function roundTripDigits(value: number, digits: number): string | undefined {
  const nearest = value.toExponential(digits - 1);
  const e = nearest.indexOf('e');
  const negative = value < 0;
  // The mantissa as an integer M (digits long) and the power of ten of its last digit: value ~ M * 10^q.
  const m = Number(nearest.slice(negative ? 1 : 0, e).replace('.', ''));
  const q = Number(nearest.slice(e + 1)) - (digits - 1);
  const sign = negative ? '-' : '';
  const reads = (mantissa: number): boolean => Math.fround(Number(`${sign}${mantissa}e${q}`)) === value;
  let best: number | undefined;
  if (reads(m)) {
    best = m;
    // toExponential rounds an exact tie away from zero: the other candidate of the tie is m - 1.
    if (m % 2 === 1 && reads(m - 1)) {
      const longer = value.toExponential(digits);
      const le = longer.indexOf('e');
      if (longer.charCodeAt(le - 1) === 0x35 && isExactly(value, longer)) best = m - 1;
    }
  } else {
    const down = reads(m - 1);
    const up = reads(m + 1);
    if (down && up) {
      const magnitude = negative ? -value : value;
      best =
        Math.abs(Number(`${m - 1}e${q}`) - magnitude) <= Math.abs(Number(`${m + 1}e${q}`) - magnitude)
          ? m - 1
          : m + 1;
    } else if (down) best = m - 1;
    else if (up) best = m + 1;
  }
  if (best === undefined) return undefined;
  // Back to toExponential form; m +- 1 may have gained or lost a digit (999 + 1, 1000 - 1).
  const text = String(best);
  const exponent = q + text.length - 1;
  return `${sign}${text[0]!}${text.length > 1 ? '.' + text.slice(1) : ''}e${exponent < 0 ? '' : '+'}${exponent}`;
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
