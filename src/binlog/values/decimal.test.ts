import { describe, expect, it } from 'vitest';
import { decimalBinarySize, decimalToText, writeSmallDecimal } from './decimal.js';
import { MalformedValueError } from './errors.js';

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/**
 * Encodes decimal text into NEWDECIMAL bytes, straight from the format description (decimal2bin): integer digits
 * right-aligned in groups of 9 with the leftover group first, fraction digits left-aligned with the leftover last,
 * big-endian groups, sign bit inverted, every byte complemented when negative.
 */
function encode(text: string, precision: number, scale: number): Buffer {
  const negative = text.startsWith('-');
  const [intText = '', fracText = ''] = text.replace('-', '').split('.');
  const intg = precision - scale;
  const intDigits = intText.padStart(intg, '0');
  const fracDigits = fracText.padEnd(scale, '0');
  const out: number[] = [];
  const push = (digits: string, bytes: number): void => {
    let v = Number(digits);
    const group: number[] = [];
    for (let i = 0; i < bytes; i++) {
      group.unshift(v % 256);
      v = Math.floor(v / 256);
    }
    out.push(...group);
  };
  const lead = intg % 9;
  if (lead > 0) push(intDigits.slice(0, lead), DIG2BYTES[lead]!);
  for (let i = lead; i < intg; i += 9) push(intDigits.slice(i, i + 9), 4);
  const full = Math.floor(scale / 9) * 9;
  for (let i = 0; i < full; i += 9) push(fracDigits.slice(i, i + 9), 4);
  if (scale % 9 > 0) push(fracDigits.slice(full), DIG2BYTES[scale % 9]!);
  const buf = Buffer.from(out);
  buf[0] = buf[0]! ^ 0x80;
  if (negative) for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! ^ 0xff;
  expect(buf.length).toBe(decimalBinarySize(precision, scale));
  return buf;
}

describe('decimalToText', () => {
  const cases: [string, number, number, string][] = [
    // input, precision, scale, SELECT text
    ['0', 10, 2, '0.00'],
    ['-0', 10, 2, '0.00'],
    ['12.5', 10, 2, '12.50'],
    ['-12.5', 10, 2, '-12.50'],
    ['-0.05', 10, 2, '-0.05'],
    ['99999999.99', 10, 2, '99999999.99'],
    ['-99999999.99', 10, 2, '-99999999.99'],
    ['0.00001', 5, 5, '0.00001'],
    ['-0.99999', 5, 5, '-0.99999'],
    ['9', 1, 0, '9'],
    ['-9', 1, 0, '-9'],
    ['0', 1, 0, '0'],
    ['1234567890', 10, 0, '1234567890'],
    ['-1000000000', 18, 0, '-1000000000'],
    [
      '99999999999999999999999999999999999.999999999999999999999999999999',
      65,
      30,
      '99999999999999999999999999999999999.999999999999999999999999999999',
    ],
    [
      '-99999999999999999999999999999999999.999999999999999999999999999999',
      65,
      30,
      '-99999999999999999999999999999999999.999999999999999999999999999999',
    ],
    ['-0.000000000000000000000000000001', 65, 30, '-0.000000000000000000000000000001'],
    ['0', 65, 30, '0.000000000000000000000000000000'],
    [
      '-12345678901234567890123456789012345.12345678901234567890123456789',
      65,
      30,
      '-12345678901234567890123456789012345.123456789012345678901234567890',
    ],
    ['9'.repeat(65), 65, 0, '9'.repeat(65)],
    ['-1' + '0'.repeat(64), 65, 0, '-1' + '0'.repeat(64)],
    ['0.' + '9'.repeat(30), 30, 30, '0.' + '9'.repeat(30)],
    ['123456789.123456789', 18, 9, '123456789.123456789'],
    ['100', 19, 9, '100.000000000'],
  ];

  it.each(cases)('%s as DECIMAL(%i,%i) prints %s', (input, precision, scale, expected) => {
    const bytes = Buffer.concat([Buffer.from([0xaa]), encode(input, precision, scale), Buffer.from([0xbb])]);
    expect(decimalToText(bytes, 1, precision, scale)).toBe(expected);
  });

  it('matches bytes the server wrote: DECIMAL(10,2) 0.00 stored from -0.00', () => {
    expect(decimalToText(Buffer.from('8000000000', 'hex'), 0, 10, 2)).toBe('0.00');
  });

  it('prints a negative-zero image as zero, as the server normalises it', () => {
    // Every byte of +0 complemented, sign bit cleared: -0.00.
    expect(decimalToText(Buffer.from('7fffffffff', 'hex'), 0, 10, 2)).toBe('0.00');
  });

  it('rejects a digit group above its digit count and an impossible precision', () => {
    // DECIMAL(10,2): first group of 8 digits holding 0x7FFFFFFF (2147483647 > 99999999).
    expect(() => decimalToText(Buffer.from('ffffffff00', 'hex'), 0, 10, 2)).toThrow(MalformedValueError);
    expect(() => decimalToText(Buffer.alloc(40), 0, 66, 2)).toThrow(MalformedValueError);
    expect(() => decimalToText(Buffer.alloc(40), 0, 10, 11)).toThrow(/not a valid DECIMAL/);
  });

  it('computes binary sizes as decimal_bin_size does', () => {
    expect(decimalBinarySize(10, 2)).toBe(5);
    expect(decimalBinarySize(65, 30)).toBe(30);
    expect(decimalBinarySize(1, 0)).toBe(1);
    expect(decimalBinarySize(18, 9)).toBe(8);
  });
});

describe('writeSmallDecimal', () => {
  /** Random bytes of a DECIMAL(p,s) value: a valid one most of the time, any bytes otherwise. */
  function randomValue(next: () => number, precision: number, scale: number): Buffer {
    const size = decimalBinarySize(precision, scale);
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = next() & 0xff;
    return b;
  }

  it('writes exactly the text decimalToText returns, or throws the same error, for every small declaration', () => {
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const out = Buffer.alloc(40);
    for (let precision = 1; precision <= 24; precision++) {
      for (let scale = 0; scale <= Math.min(9, precision); scale++) {
        if (precision - scale > 15) continue;
        for (let i = 0; i < 200; i++) {
          const bytes =
            i === 0
              ? Buffer.alloc(decimalBinarySize(precision, scale), 0x7f)
              : randomValue(next, precision, scale);
          let expected: string | Error;
          try {
            expected = decimalToText(bytes, 0, precision, scale);
          } catch (err) {
            expected = err as Error;
          }
          if (expected instanceof Error) {
            expect(() => writeSmallDecimal(bytes, 0, precision, scale, out, 0)).toThrow(MalformedValueError);
          } else {
            const end = writeSmallDecimal(bytes, 0, precision, scale, out, 3);
            expect(
              out.toString('latin1', 3, end),
              `DECIMAL(${precision},${scale}) ${bytes.toString('hex')}`,
            ).toBe(expected);
          }
        }
      }
    }
  });

  it('declines declarations outside the small case, writing nothing', () => {
    const out = Buffer.alloc(8, 0x78);
    expect(writeSmallDecimal(Buffer.alloc(30), 0, 65, 30, out, 0)).toBe(-1);
    expect(writeSmallDecimal(Buffer.alloc(30), 0, 20, 2, out, 0)).toBe(-1);
    expect(writeSmallDecimal(Buffer.alloc(30), 0, 5, 6, out, 0)).toBe(-1);
    expect(writeSmallDecimal(Buffer.alloc(30), 0, 0, 0, out, 0)).toBe(-1);
    expect(out.toString('latin1')).toBe('xxxxxxxx');
  });
});
