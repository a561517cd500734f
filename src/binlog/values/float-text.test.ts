import { describe, expect, it } from 'vitest';
import { formatDouble, formatFloat, serverFloatText } from './float-text.js';

// Expected server texts were read from MariaDB 10.11 with `SELECT col` on FLOAT and DOUBLE columns.
describe('serverFloatText', () => {
  const cases: [number, string][] = [
    [1e20, '1e20'],
    [-1.5e-7, '-0.00000015'],
    [0.1, '0.1'],
    [123456789, '123457000'],
    [3.4028234e38, '3.40282e38'],
    [-3.40282e38, '-3.40282e38'],
    [1.17549435e-38, '1.17549e-38'],
    [1e-45, '1.4013e-45'],
    [16777217, '16777200'],
    [1e-5, '0.00001'],
    [1e-4, '0.0001'],
    [1.0000001, '1'],
    [100, '100'],
    [1e14, '100000000000000'],
    [1e15, '1e15'],
    [0, '0'],
    [-0, '0'],
    [1.5, '1.5'],
    // Exact ties at the 6th digit round half to even, as dtoa does.
    [12345.25, '12345.2'],
    [1234565, '1234560'],
    [1234575, '1234580'],
    [999999.5, '1000000'],
    [9999995, '10000000'],
    [3.14159265, '3.14159'],
  ];
  it.each(cases)('FLOAT %s prints %s', (value, text) => {
    expect(serverFloatText(Math.fround(value))).toBe(text);
  });
});

describe('formatFloat', () => {
  // The server's text where it identifies the float32, else the shortest digits that do, in the server's layout.
  const cases: [number, string][] = [
    [1e20, '1e20'],
    [-1.5e-7, '-0.00000015'],
    [0.1, '0.1'],
    [0.3, '0.3'],
    [123456789, '123456790'],
    [-123456789, '-123456790'],
    [3.4028234e38, '3.4028235e38'],
    [-3.40282e38, '-3.40282e38'],
    [1.17549435e-38, '1.1754944e-38'],
    // Subnormals: the server's 6 digits (1.4013e-45) read back, but shorter digits do too.
    [1e-45, '1e-45'],
    [-2.8e-45, '-3e-45'],
    [16777217, '16777216'],
    [33554432, '33554432'],
    [1e-5, '0.00001'],
    [1.0000001, '1.0000001'],
    [100, '100'],
    [1e14, '100000000000000'],
    [1e15, '1e15'],
    [9.999999e14, '999999900000000'],
    [0, '0'],
    [-0, '0'],
    [1.5, '1.5'],
    [12345.25, '12345.25'],
    [1234565, '1234565'],
    [999999.5, '999999.5'],
    [3.14159265, '3.1415927'],
    [2.5e-10, '0.00000000025'],
    [7e-7, '0.0000007'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ];
  it.each(cases)('FLOAT %s is %s', (value, text) => {
    expect(formatFloat(Math.fround(value))).toBe(text);
  });

  /** Float32 values from bit patterns: every exponent, both signs, normal and subnormal. */
  function sampleFloats(count: number): number[] {
    const view = new DataView(new ArrayBuffer(4));
    const out: number[] = [];
    let seed = 0x9e3779b9;
    for (let i = 0; i < count; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      // Exponent field 0..254 (255 is inf/NaN); every 16th value subnormal.
      const exponent = i % 16 === 0 ? 0 : seed % 255;
      const mantissa = Math.imul(seed ^ (seed >>> 13), 2654435761) >>> 9;
      view.setUint32(0, ((i & 1) << 31) | (exponent << 23) | (mantissa & 0x7fffff));
      const v = view.getFloat32(0);
      if (v !== 0) out.push(v);
    }
    // Powers of two (lopsided rounding intervals) and the extremes.
    for (let e = -149; e <= 127; e++) out.push(2 ** e, -(2 ** e));
    out.push(Math.fround(3.4028234e38), 1.401298464324817e-45);
    return out;
  }

  /** Whether some decimal with `digits` significant digits reads back as `value` (the nearest or a neighbour). */
  function someDecimalReads(value: number, digits: number): boolean {
    const [mantissa, exponent] = value.toExponential(digits - 1).split('e') as [string, string];
    const m = Number(mantissa.replace('.', '').replace('-', ''));
    const q = Number(exponent) - (digits - 1);
    const sign = value < 0 ? '-' : '';
    return [m - 1, m, m + 1].some((c) => Math.fround(Number(`${sign}${c}e${q}`)) === value);
  }

  it('reads back as the same float32, with no shorter text that does, in the server layout', () => {
    for (const v of sampleFloats(8000)) {
      const text = formatFloat(v);
      expect(Math.fround(Number(text)), `${v} -> ${text}`).toBe(v);
      const significant = text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '');
      const digits = significant.replace(/0+$/, '').length;
      if (digits > 1) expect(someDecimalReads(v, digits - 1), `${v} -> ${text}`).toBe(false);
      // The server's notation: fixed, or d[.ddd]e[-]N with no '+' and no padding.
      expect(text).toMatch(/^-?(?:\d+(?:\.\d*[1-9])?|[1-9](?:\.\d*[1-9])?e-?[1-9]\d*)$/);
      // Wherever the server's 6 digits identify the value (always, for short values), the text is the server's.
      const server = serverFloatText(v);
      if (Math.abs(v) >= 1.1754943508222875e-38 && Math.fround(Number(server)) === v)
        expect(text).toBe(server);
    }
  });
});

describe('formatDouble', () => {
  const cases: [number, string][] = [
    [1e20, '1e20'],
    [-1.5e-7, '-0.00000015'],
    [0.1, '0.1'],
    [123456789, '123456789'],
    [1.7976931348623157e308, '1.7976931348623157e308'],
    [5e-324, '5e-324'],
    [2.2250738585072014e-308, '2.2250738585072014e-308'],
    [1e15, '1e15'],
    [1e16, '1e16'],
    [Number('123456789012345678'), '1.2345678901234568e17'],
    [Number('12345678901234567890'), '1.2345678901234567e19'],
    [0.30000000000000004, '0.30000000000000004'],
    [1e-7, '0.0000001'],
    [1e-14, '0.00000000000001'],
    [1e-15, '0.000000000000001'],
    [1e-16, '1e-16'],
    [Number('1234567890123456.7'), '1234567890123456.8'],
    [123456789012345.6, '123456789012345.6'],
    [100, '100'],
    [-0, '0'],
  ];
  it.each(cases)('DOUBLE %s prints %s', (value, text) => {
    expect(formatDouble(value)).toBe(text);
  });
});

describe('formatDouble round trip', () => {
  it('reads back as the same double for doubles of every magnitude', () => {
    const view = new DataView(new ArrayBuffer(8));
    let seed = 0x2545f491;
    for (let i = 0; i < 5000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const hi = (((i & 1) << 31) | ((seed % 2047) << 20) | (Math.imul(seed, 2654435761) >>> 12)) >>> 0;
      view.setUint32(0, hi);
      view.setUint32(4, Math.imul(seed ^ 0x5bd1e995, 16777619) >>> 0);
      const v = view.getFloat64(0);
      expect(Number(formatDouble(v)), String(v)).toBe(v === 0 ? 0 : v);
    }
  });
});
