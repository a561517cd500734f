import { describe, expect, it } from 'vitest';
import { Cursor } from '../cursor.js';
import { ColumnType, type CanonicalValue, type ColumnDef } from '../column-types.js';
import { TruncatedError } from '../errors.js';
import { decodeValue } from './decode-value.js';
import { UnsupportedValueError } from './errors.js';

function col(type: number, meta = 0, extra: Partial<ColumnDef> = {}): ColumnDef {
  return { index: 0, name: 'c', type, meta, nullable: true, unsigned: false, flavor: 'mariadb', ...extra };
}

/** Decodes one value from hex bytes followed by a 0xEE sentinel, and checks the cursor stopped on the sentinel. */
function decode(bytes: Buffer | string, c: ColumnDef): CanonicalValue {
  const raw = typeof bytes === 'string' ? Buffer.from(bytes.replace(/\s+/g, ''), 'hex') : bytes;
  const cur = new Cursor(Buffer.concat([raw, Buffer.from([0xee])]));
  const value = decodeValue(cur, c);
  expect(cur.pos).toBe(raw.length);
  return value;
}

const le = (n: bigint, size: number): Buffer => {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = Number((BigInt.asUintN(size * 8, n) >> BigInt(8 * i)) & 0xffn);
  return b;
};

describe('decodeValue: integers', () => {
  const cases: [string, number, number, bigint, string, string][] = [
    // name, type, size, stored, signed text, unsigned text
    ['TINYINT', ColumnType.TINY, 1, 0x80n, '-128', '128'],
    ['TINYINT', ColumnType.TINY, 1, 0x7fn, '127', '127'],
    ['TINYINT', ColumnType.TINY, 1, 0xffn, '-1', '255'],
    ['SMALLINT', ColumnType.SHORT, 2, 0x8000n, '-32768', '32768'],
    ['SMALLINT', ColumnType.SHORT, 2, 0xffffn, '-1', '65535'],
    ['MEDIUMINT', ColumnType.INT24, 3, 0x800000n, '-8388608', '8388608'],
    ['MEDIUMINT', ColumnType.INT24, 3, 0xffffffn, '-1', '16777215'],
    ['INT', ColumnType.LONG, 4, 0x80000000n, '-2147483648', '2147483648'],
    ['INT', ColumnType.LONG, 4, 0xffffffffn, '-1', '4294967295'],
    ['BIGINT', ColumnType.LONGLONG, 8, 0x8000000000000000n, '-9223372036854775808', '9223372036854775808'],
    ['BIGINT', ColumnType.LONGLONG, 8, 0x7fffffffffffffffn, '9223372036854775807', '9223372036854775807'],
    ['BIGINT', ColumnType.LONGLONG, 8, 0xffffffffffffffffn, '-1', '18446744073709551615'],
    ['BIGINT', ColumnType.LONGLONG, 8, 9007199254740993n, '9007199254740993', '9007199254740993'],
    ['BIGINT', ColumnType.LONGLONG, 8, -9007199254740993n, '-9007199254740993', '18437736874454810623'],
    ['BIGINT', ColumnType.LONGLONG, 8, 9007199254740991n, '9007199254740991', '9007199254740991'],
    ['BIGINT', ColumnType.LONGLONG, 8, -9007199254740991n, '-9007199254740991', '18437736874454810625'],
    ['BIGINT', ColumnType.LONGLONG, 8, 0n, '0', '0'],
  ];
  it.each(cases)('%s stored as %s', (_name, type, size, stored, signed, unsigned) => {
    expect(decode(le(stored, size), col(type))).toBe(signed);
    expect(decode(le(stored, size), col(type, 0, { unsigned: true }))).toBe(unsigned);
  });

  it('throws a typed truncation error when the bytes run out', () => {
    expect(() => decodeValue(new Cursor(Buffer.from([1, 2, 3])), col(ColumnType.LONG))).toThrow(
      TruncatedError,
    );
    expect(() =>
      decodeValue(new Cursor(Buffer.from([1, 2, 3, 4, 5, 6, 7])), col(ColumnType.LONGLONG)),
    ).toThrow(TruncatedError);
  });
});

describe('decodeValue: YEAR, FLOAT, DOUBLE, DECIMAL', () => {
  it('prints YEAR 0 as 0000 and others as 1900 + the byte', () => {
    expect(decode('00', col(ColumnType.YEAR))).toBe('0000');
    expect(decode('01', col(ColumnType.YEAR))).toBe('1901');
    expect(decode('7c', col(ColumnType.YEAR))).toBe('2024');
    expect(decode('ff', col(ColumnType.YEAR))).toBe('2155');
  });

  it('prints FLOAT and DOUBLE with the shortest digits that identify the stored value', () => {
    const f = Buffer.alloc(4);
    // The float32 nearest 123456789 is 123456792; the server's 6 digits (123457000) would name another float32.
    f.writeFloatLE(123456789);
    expect(decode(f, col(ColumnType.FLOAT, 4))).toBe('123456790');
    f.writeFloatLE(0.1);
    expect(decode(f, col(ColumnType.FLOAT, 4))).toBe('0.1');
    const d = Buffer.alloc(8);
    d.writeDoubleLE(-1.5e-7);
    expect(decode(d, col(ColumnType.DOUBLE, 8))).toBe('-0.00000015');
    d.writeDoubleLE(1e20);
    expect(decode(d, col(ColumnType.DOUBLE, 8))).toBe('1e20');
  });

  it('reads DECIMAL with precision and scale from the metadata', () => {
    // DECIMAL(10,2): 8 integer digits in 4 bytes, 2 fraction digits in 1 byte; 12 -> 0x0000000C, 50 -> 0x32.
    // The sign bit is set for a positive value; a negative value complements every byte.
    const positive = Buffer.from([0x80, 0x00, 0x00, 0x0c, 0x32]);
    expect(decode(positive, col(ColumnType.NEWDECIMAL, (10 << 8) | 2))).toBe('12.50');
    const negative = Buffer.from(positive.map((b) => b ^ 0xff));
    expect(decode(negative, col(ColumnType.NEWDECIMAL, (10 << 8) | 2))).toBe('-12.50');
  });
});

describe('decodeValue: BIT', () => {
  it('returns ceil(M/8) big-endian bytes as hex', () => {
    // BIT(64): meta bytes=8, bits=0
    expect(decode('0000000000000001', col(ColumnType.BIT, 8 << 8))).toEqual({ hex: '0000000000000001' });
    expect(decode('ffffffffffffffff', col(ColumnType.BIT, 8 << 8))).toEqual({ hex: 'FFFFFFFFFFFFFFFF' });
    // BIT(3): meta bytes=0, bits=3 -> 1 byte
    expect(decode('05', col(ColumnType.BIT, 3))).toEqual({ hex: '05' });
    // BIT(1)
    expect(decode('01', col(ColumnType.BIT, 1))).toEqual({ hex: '01' });
    // BIT(10): 1 whole byte + 2 bits -> 2 bytes
    expect(decode('03ff', col(ColumnType.BIT, (1 << 8) | 2))).toEqual({ hex: '03FF' });
  });
});

describe('decodeValue: ENUM and SET', () => {
  const enumValues = ['a', "b'c", 'd"e'];
  it('maps ENUM indexes to members, 0 to the empty string, unknown members to the number', () => {
    const e = col(ColumnType.ENUM, 0xf701, { enumValues });
    expect(decode('01', e)).toBe('a');
    expect(decode('02', e)).toBe("b'c");
    expect(decode('03', e)).toBe('d"e');
    expect(decode('00', e)).toBe('');
    expect(decode('09', e)).toBe('9');
    expect(decode('02', col(ColumnType.ENUM, 0xf701))).toBe('2');
    expect(decode('0201', col(ColumnType.ENUM, 0xf702))).toBe('258');
  });

  it('resolves ENUM and SET still typed STRING from the real type in the metadata', () => {
    expect(decode('02', col(ColumnType.STRING, 0xf701, { enumValues }))).toBe("b'c");
    expect(decode('05', col(ColumnType.STRING, 0xf801, { setValues: ['x', 'y', 'z'] }))).toBe('x,z');
  });

  it('lists SET members in definition order and prints the bitmask when members are unknown', () => {
    const s = col(ColumnType.SET, 0xf801, { setValues: ['x', 'y', 'z'] });
    expect(decode('00', s)).toBe('');
    expect(decode('07', s)).toBe('x,y,z');
    expect(decode('02', s)).toBe('y');
    expect(decode('06', col(ColumnType.SET, 0xf801))).toBe('6');
    const members64 = Array.from({ length: 64 }, (_, i) => `m${i}`);
    const wide = col(ColumnType.SET, 0xf808, { setValues: members64 });
    expect(decode('0100000000000080', wide)).toBe('m0,m63');
    expect(decode('ffffffffffffffff', col(ColumnType.SET, 0xf808))).toBe('18446744073709551615');
  });
});

describe('decodeValue: character and binary strings', () => {
  const utf8mb4 = { collation: 45 };
  it('decodes VARCHAR with a 1-byte or 2-byte length by the maximum byte length', () => {
    const smile = Buffer.from('a😀', 'utf8');
    expect(
      decode(Buffer.concat([Buffer.from([smile.length]), smile]), col(ColumnType.VARCHAR, 255, utf8mb4)),
    ).toBe('a😀');
    expect(
      decode(Buffer.concat([Buffer.from([smile.length, 0]), smile]), col(ColumnType.VARCHAR, 256, utf8mb4)),
    ).toBe('a😀');
    expect(decode('00', col(ColumnType.VARCHAR, 40, utf8mb4))).toBe('');
  });

  it('decodes latin1 as MySQL does: cp1252 with C1 controls at its five holes', () => {
    const bytes = Buffer.from([0x80, 0x81, 0x8a, 0x8d, 0x9f, 0xe9, 0x41]);
    expect(
      decode(
        Buffer.concat([Buffer.from([bytes.length]), bytes]),
        col(ColumnType.VARCHAR, 10, { collation: 8 }),
      ),
    ).toBe('\u20ac\u0081\u0160\u008d\u0178\u00e9A');
  });

  it('uses a 2-byte length for CHAR when the maximum byte length passes 255', () => {
    // CHAR(100) utf8mb4 = 400 bytes: 400 = 0x190, byte0 = 0xfe ^ ((0x100 >> 4) & 0x30) = 0xee, byte1 = 0x90.
    const meta = (0xee << 8) | 0x90;
    expect(decode('0300616263', col(ColumnType.STRING, meta, utf8mb4))).toBe('abc');
    // CHAR(10) utf8mb4 = 40 bytes: 1-byte length
    expect(decode('03616263', col(ColumnType.STRING, (0xfe << 8) | 40, utf8mb4))).toBe('abc');
  });

  it('pads BINARY(n) back to n bytes and leaves VARBINARY as stored', () => {
    expect(decode('026162', col(ColumnType.STRING, (0xfe << 8) | 5, { collation: 63 }))).toEqual({
      hex: '6162000000',
    });
    expect(decode('00', col(ColumnType.STRING, (0xfe << 8) | 5, { collation: 63 }))).toEqual({
      hex: '0000000000',
    });
    expect(decode('026100', col(ColumnType.VARCHAR, 5, { collation: 63 }))).toEqual({ hex: '6100' });
  });

  it('reads BLOB/TEXT length prefixes of 1 to 4 bytes', () => {
    expect(decode('03010203', col(ColumnType.BLOB, 1, { collation: 63 }))).toEqual({ hex: '010203' });
    expect(decode('0300010203', col(ColumnType.BLOB, 2, { collation: 63 }))).toEqual({ hex: '010203' });
    expect(decode('030000010203', col(ColumnType.BLOB, 3, { collation: 63 }))).toEqual({ hex: '010203' });
    expect(decode('03000000616263', col(ColumnType.BLOB, 4, utf8mb4))).toBe('abc');
    expect(decode('00000000', col(ColumnType.BLOB, 4, utf8mb4))).toBe('');
  });

  it('decodes utf16, ucs2, utf32 and gbk text', () => {
    expect(decode('06d83dde000041', col(ColumnType.VARCHAR, 40, { collation: 54 }))).toBe('😀A');
    expect(decode('0400e90041', col(ColumnType.VARCHAR, 40, { collation: 35 }))).toBe('éA');
    expect(decode('080001f60000000041', col(ColumnType.VARCHAR, 40, { collation: 60 }))).toBe('😀A');
    expect(decode('02c4e3', col(ColumnType.VARCHAR, 40, { collation: 28 }))).toBe('你');
  });

  it('keeps bytes as hex when the charset cannot decode them, or the collation is unknown and not UTF-8', () => {
    // cp850 (collation 4) has no decoder: ASCII passes, other bytes stay bytes.
    expect(decode('024142', col(ColumnType.VARCHAR, 40, { collation: 4 }))).toBe('AB');
    expect(decode('0182', col(ColumnType.VARCHAR, 40, { collation: 4 }))).toEqual({ hex: '82' });
    expect(decode('02c3a9', col(ColumnType.VARCHAR, 40))).toBe('é');
    expect(decode('02ff00', col(ColumnType.VARCHAR, 40))).toEqual({ hex: 'FF00' });
  });
});

describe('decodeValue: JSON, GEOMETRY, VECTOR', () => {
  it('prints MySQL binary JSON as text and MariaDB JSON as the stored text', () => {
    // {"a": 1}: small object, count 1, size 12, key entry (offset 11, length 1), value entry (int16 inline 1), key.
    const bin = Buffer.from([0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x05, 0x01, 0x00, 0x61]);
    const withLength = Buffer.concat([le(BigInt(bin.length), 4), bin]);
    expect(decode(withLength, col(ColumnType.JSON, 4, { flavor: 'mysql' }))).toBe('{"a": 1}');
    const text = Buffer.from('{"a":1}');
    expect(decode(Buffer.concat([le(BigInt(text.length), 4), text]), col(ColumnType.JSON, 4))).toBe(
      '{"a":1}',
    );
    expect(decode('00000000', col(ColumnType.JSON, 4, { flavor: 'mysql' }))).toBe('null');
  });

  it('returns GEOMETRY and VECTOR bytes as hex', () => {
    const point = '000000000101000000000000000000f03f0000000000000040';
    const len = le(BigInt(point.length / 2), 4).toString('hex');
    expect(decode(len + point, col(ColumnType.GEOMETRY, 4))).toEqual({ hex: point.toUpperCase() });
    expect(decode('080000000000803f00000040', col(ColumnType.VECTOR, 4))).toEqual({
      hex: '0000803F00000040',
    });
  });
});

describe('decodeValue: unsupported types', () => {
  it('rejects the pre-5.0 DECIMAL with a typed error naming the column', () => {
    expect(() => decode('00', col(ColumnType.DECIMAL, 0, { name: 'price' }))).toThrow(UnsupportedValueError);
    expect(() => decode('00', col(ColumnType.DECIMAL, 0, { name: 'price' }))).toThrow(/column "price"/);
  });

  it('returns null for the NULL type without reading', () => {
    expect(decode('', col(ColumnType.NULL))).toBeNull();
  });
});
