import { describe, expect, it } from 'vitest';
import { MalformedValueError } from './errors.js';
import { jsonBinaryToText, quoteJsonString } from './json-binary.js';

/** A JSON value for the test encoder, with explicit binary types where the format has a choice. */
type J =
  | null
  | boolean
  | string
  | { readonly int16: number }
  | { readonly uint16: number }
  | { readonly int32: number }
  | { readonly uint32: number }
  | { readonly int64: bigint }
  | { readonly uint64: bigint }
  | { readonly double: number }
  | { readonly opaque: number; readonly data: Buffer }
  | { readonly array: readonly J[]; readonly large?: boolean }
  | { readonly object: readonly (readonly [string, J])[]; readonly large?: boolean };

function varLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** Encodes a value following the json_binary.cc format description: [type byte, value bytes]. */
function encode(v: J): [number, Buffer] {
  if (v === null) return [0x04, Buffer.from([0x00])];
  if (v === true) return [0x04, Buffer.from([0x01])];
  if (v === false) return [0x04, Buffer.from([0x02])];
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return [0x0c, Buffer.concat([varLength(s.length), s])];
  }
  const b = Buffer.alloc(8);
  if ('int16' in v) return (b.writeInt16LE(v.int16), [0x05, b.subarray(0, 2)]);
  if ('uint16' in v) return (b.writeUInt16LE(v.uint16), [0x06, b.subarray(0, 2)]);
  if ('int32' in v) return (b.writeInt32LE(v.int32), [0x07, b.subarray(0, 4)]);
  if ('uint32' in v) return (b.writeUInt32LE(v.uint32), [0x08, b.subarray(0, 4)]);
  if ('int64' in v) return (b.writeBigInt64LE(v.int64), [0x09, b]);
  if ('uint64' in v) return (b.writeBigUInt64LE(v.uint64), [0x0a, b]);
  if ('double' in v) return (b.writeDoubleLE(v.double), [0x0b, b]);
  if ('opaque' in v)
    return [0x0f, Buffer.concat([Buffer.from([v.opaque]), varLength(v.data.length), v.data])];
  const isObject = 'object' in v;
  const large = v.large === true;
  const w = large ? 4 : 2;
  const members = isObject ? v.object : v.array.map((x) => ['', x] as const);
  const n = members.length;
  const header = 2 * w + n * ((isObject ? w + 2 : 0) + 1 + w);
  const keys = members.map(([k]) => Buffer.from(k, 'utf8'));
  const keyBytes = isObject ? keys.reduce((a, k) => a + k.length, 0) : 0;
  const entries: Buffer[] = [];
  const values: Buffer[] = [];
  let valueOffset = header + keyBytes;
  for (const [, value] of members) {
    const [type, bytes] = encode(value);
    const entry = Buffer.alloc(1 + w);
    entry[0] = type;
    const inline =
      type === 0x04 || type === 0x05 || type === 0x06 || (large && (type === 0x07 || type === 0x08));
    if (inline) bytes.copy(entry, 1);
    else {
      if (large) entry.writeUInt32LE(valueOffset, 1);
      else entry.writeUInt16LE(valueOffset, 1);
      values.push(bytes);
      valueOffset += bytes.length;
    }
    entries.push(entry);
  }
  const keyEntries: Buffer[] = [];
  let keyOffset = header;
  if (isObject) {
    for (const k of keys) {
      const e = Buffer.alloc(w + 2);
      if (large) e.writeUInt32LE(keyOffset, 0);
      else e.writeUInt16LE(keyOffset, 0);
      e.writeUInt16LE(k.length, w);
      keyEntries.push(e);
      keyOffset += k.length;
    }
  }
  const head = Buffer.alloc(2 * w);
  if (large) {
    head.writeUInt32LE(n, 0);
    head.writeUInt32LE(valueOffset, 4);
  } else {
    head.writeUInt16LE(n, 0);
    head.writeUInt16LE(valueOffset, 2);
  }
  const body = Buffer.concat([head, ...keyEntries, ...entries, ...(isObject ? keys : []), ...values]);
  return [isObject ? (large ? 0x01 : 0x00) : large ? 0x03 : 0x02, body];
}

function doc(v: J): Buffer {
  const [type, bytes] = encode(v);
  return Buffer.concat([Buffer.from([type]), bytes]);
}

describe('jsonBinaryToText', () => {
  it('prints objects and arrays with MySQL separators', () => {
    const v: J = {
      object: [
        ['a', { int16: 1 }],
        ['b', { array: [{ int16: 1 }, { int16: 2 }] }],
      ],
    };
    expect(jsonBinaryToText(doc(v))).toBe('{"a": 1, "b": [1, 2]}');
    expect(jsonBinaryToText(doc({ object: [] }))).toBe('{}');
    expect(jsonBinaryToText(doc({ array: [] }))).toBe('[]');
  });

  it('reads large containers with 4-byte offsets and inlined 32-bit integers', () => {
    const v: J = {
      large: true,
      object: [
        ['k', { int32: -2147483648 }],
        ['kk', { uint32: 4294967295 }],
        ['kkk', { array: [true, false, null, 'x'], large: true }],
      ],
    };
    expect(jsonBinaryToText(doc(v))).toBe(
      '{"k": -2147483648, "kk": 4294967295, "kkk": [true, false, null, "x"]}',
    );
  });

  it('prints every scalar type exactly', () => {
    expect(jsonBinaryToText(doc({ int64: -9223372036854775808n }))).toBe('-9223372036854775808');
    expect(jsonBinaryToText(doc({ uint64: 18446744073709551615n }))).toBe('18446744073709551615');
    expect(jsonBinaryToText(doc({ int64: 9007199254740993n }))).toBe('9007199254740993');
    expect(jsonBinaryToText(doc({ int16: -32768 }))).toBe('-32768');
    expect(jsonBinaryToText(doc({ uint16: 65535 }))).toBe('65535');
    expect(jsonBinaryToText(doc(null))).toBe('null');
    expect(jsonBinaryToText(doc(true))).toBe('true');
    expect(jsonBinaryToText(doc('héllo 😀'))).toBe('"héllo 😀"');
    expect(jsonBinaryToText(Buffer.alloc(0))).toBe('null');
  });

  it('prints doubles like my_gcvt, with .0 when neither a point nor an exponent shows', () => {
    expect(jsonBinaryToText(doc({ double: 1 }))).toBe('1.0');
    expect(jsonBinaryToText(doc({ double: -0 }))).toBe('0.0');
    expect(jsonBinaryToText(doc({ double: 2.5 }))).toBe('2.5');
    expect(jsonBinaryToText(doc({ double: 1e20 }))).toBe('1e20');
    expect(jsonBinaryToText(doc({ double: 1e15 }))).toBe('1e15');
    expect(jsonBinaryToText(doc({ double: 1e14 }))).toBe('100000000000000.0');
    expect(jsonBinaryToText(doc({ double: 0.1 }))).toBe('0.1');
    expect(jsonBinaryToText(doc({ double: -1.5e-7 }))).toBe('-0.00000015');
  });

  it('escapes strings as MySQL does: quote, backslash, named controls, other controls as \\u00xx', () => {
    expect(jsonBinaryToText(doc('a"b\\c\b\f\n\r\t\u0001\u001f\u007f/é'))).toBe(
      '"a\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u007f/é"',
    );
    expect(quoteJsonString('plain')).toBe('"plain"');
  });

  it('prints opaque DECIMAL, temporals, VAR_STRING and other types', () => {
    // DECIMAL(5,2) 123.45: precision, scale, then the binary decimal (3 integer digits in 2 bytes, 2 in 1 byte).
    const dec = Buffer.from([5, 2, 0x80, 0x7b, 0x2d]);
    expect(jsonBinaryToText(doc({ opaque: 246, data: dec }))).toBe('123.45');
    const packed = Buffer.alloc(8);
    packed.writeBigInt64LE(
      (((2012n * 13n + 3n) << 22n) | (18n << 17n) | (11n << 12n) | (30n << 6n) | 45n) << 24n,
    );
    expect(jsonBinaryToText(doc({ opaque: 12, data: packed }))).toBe('"2012-03-18 11:30:45.000000"');
    expect(jsonBinaryToText(doc({ opaque: 7, data: packed }))).toBe('"2012-03-18 11:30:45.000000"');
    expect(jsonBinaryToText(doc({ opaque: 10, data: packed }))).toBe('"2012-03-18"');
    const time = Buffer.alloc(8);
    time.writeBigInt64LE(((((87n << 12n) | (31n << 6n) | 46n) << 24n) + 654321n) * -1n);
    expect(jsonBinaryToText(doc({ opaque: 11, data: time }))).toBe('"-87:31:46.654321"');
    expect(jsonBinaryToText(doc({ opaque: 253, data: Buffer.from('text') }))).toBe('"text"');
    expect(jsonBinaryToText(doc({ opaque: 15, data: Buffer.from([0x55]) }))).toBe('"base64:type15:VQ=="');
    // MySQL's base64 breaks lines every 76 characters; the newline is escaped in JSON.
    const long = Buffer.alloc(60, 0xff);
    const b64 = long.toString('base64');
    expect(jsonBinaryToText(doc({ opaque: 252, data: long }))).toBe(
      `"base64:type252:${b64.slice(0, 76)}\\n${b64.slice(76)}"`,
    );
  });

  it('prints arrays mixing inlined integers and literals', () => {
    const v: J = { object: [['e', { array: [{ int16: 0 }, { int16: 1 }, true, false] }]] };
    expect(jsonBinaryToText(doc(v))).toBe('{"e": [0, 1, true, false]}');
  });

  it('rejects corrupt documents with typed errors instead of reading out of bounds or looping', () => {
    const good = doc({ object: [['a', 'xyz']] });
    for (let cut = 1; cut < good.length; cut++) {
      expect(() => jsonBinaryToText(good.subarray(0, cut))).toThrow(MalformedValueError);
    }
    expect(() => jsonBinaryToText(Buffer.from([0x0e]))).toThrow(/unknown value type/);
    expect(() => jsonBinaryToText(Buffer.from([0x04, 0x07]))).toThrow(/unknown literal/);
    // An array whose only element points back at the array itself.
    const loop = Buffer.from([0x02, 0x01, 0x00, 0x07, 0x00, 0x02, 0x00, 0x00]);
    expect(() => jsonBinaryToText(loop)).toThrow(MalformedValueError);
    // A string with a 6-byte length.
    expect(() => jsonBinaryToText(Buffer.from([0x0c, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(
      MalformedValueError,
    );
  });
});
