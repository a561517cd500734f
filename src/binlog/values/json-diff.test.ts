import { describe, expect, it } from 'vitest';
import { JsonDiffError } from './errors.js';
import { applyJsonDiffs } from './json-diff.js';

/** One diff: operation byte, length-encoded path, and for REPLACE/INSERT a length-encoded binary JSON value. */
function diff(op: 0 | 1 | 2, path: string, value?: Buffer): Buffer {
  const p = Buffer.from(path, 'utf8');
  const parts: Buffer[] = [Buffer.from([op, p.length]), p];
  if (value !== undefined) parts.push(Buffer.from([value.length]), value);
  return Buffer.concat(parts);
}

const int16 = (n: number): Buffer => {
  const b = Buffer.from([0x05, 0, 0]);
  b.writeInt16LE(n, 1);
  return b;
};
const str = (s: string): Buffer => Buffer.concat([Buffer.from([0x0c, Buffer.byteLength(s)]), Buffer.from(s)]);

describe('applyJsonDiffs', () => {
  it('applies the REPLACE a MySQL 8.0.22 server logged for JSON_SET(col, "$.age", 26)', () => {
    // From the PARTIAL_UPDATE_ROWS event of the json.binlog.000001 fixture: op 0, path "$.age", int16 26.
    const bytes = Buffer.from('0005242e6167650305 1a00'.replace(/ /g, ''), 'hex');
    const before = '{"age": 25, "data": "xxxxxxxxxx", "name": "Joe"}';
    expect(applyJsonDiffs(before, bytes)).toBe('{"age": 26, "data": "xxxxxxxxxx", "name": "Joe"}');
    // The same list with its 4-byte length in front.
    const withLength = Buffer.concat([Buffer.from([bytes.length, 0, 0, 0]), bytes]);
    expect(applyJsonDiffs(before, withLength)).toBe('{"age": 26, "data": "xxxxxxxxxx", "name": "Joe"}');
  });

  it('inserts members in MySQL key order and array cells at their index', () => {
    const before = '{"b": 1, "aa": [1, 2]}';
    const list = Buffer.concat([
      diff(1, '$.a', int16(0)),
      diff(1, '$.ccc', str('x')),
      diff(1, '$.aa[1]', int16(9)),
      diff(1, '$.aa[10]', int16(3)),
    ]);
    expect(applyJsonDiffs(before, list)).toBe('{"a": 0, "b": 1, "aa": [1, 9, 2, 3], "ccc": "x"}');
  });

  it('removes and replaces by quoted keys and last-based indexes, keeping number text untouched', () => {
    const before = '{"a b": [1.50, 2e20, 18446744073709551615], "k": {"x\\"y": true}}';
    const list = Buffer.concat([
      diff(2, '$."a b"[last]'),
      diff(0, '$.k."x\\"y"', str('new')),
      diff(2, '$."a b"[0]'),
    ]);
    expect(applyJsonDiffs(before, list)).toBe('{"a b": [2e20], "k": {"x\\"y": "new"}}');
  });

  it('replaces the whole document for the root path', () => {
    expect(applyJsonDiffs('[1]', diff(0, '$', str('s')))).toBe('"s"');
  });

  it('rejects a NULL before image, missing paths, unknown operations and truncated lists', () => {
    expect(() => applyJsonDiffs(null, diff(2, '$.a'))).toThrow(JsonDiffError);
    expect(() => applyJsonDiffs('{"a": 1}', diff(0, '$.b', int16(1)))).toThrow(/does not exist/);
    expect(() => applyJsonDiffs('{"a": 1}', diff(2, '$.a.b'))).toThrow(JsonDiffError);
    expect(() => applyJsonDiffs('{"a": 1}', Buffer.from([7, 1, 0x24]))).toThrow(/unknown operation/);
    expect(() => applyJsonDiffs('{"a": 1}', diff(0, '$.a', int16(1)).subarray(0, 8))).toThrow(JsonDiffError);
    expect(() => applyJsonDiffs('{"a": 1}', diff(2, 'a'))).toThrow(/must start with \$/);
    expect(() => applyJsonDiffs('not json', diff(2, '$.a'))).toThrow(/not JSON text/);
  });
});
