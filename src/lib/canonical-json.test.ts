import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson, CanonicalJsonError } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every level, drops whitespace and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, { z: null, y: true }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,1,{"y":true,"z":null}]},"b":1}',
    );
  });

  it('orders keys by UTF-16 code units, as RFC 8785 does', () => {
    // "_" (U+005F) sorts after "Z" and before "a"; "é" after every ASCII letter.
    expect(canonicalJson({ a: 1, Z: 2, _: 3, é: 4 })).toBe('{"Z":2,"_":3,"a":1,"é":4}');
  });

  it('writes strings as JSON.stringify does and encodes as UTF-8', () => {
    expect(canonicalJson({ s: 'a"b\\c\n\u0001é😀' })).toBe('{"s":"a\\"b\\\\c\\n\\u0001é😀"}');
    expect(canonicalBytes({ s: 'é' }).toString('hex')).toBe(Buffer.from('{"s":"é"}', 'utf8').toString('hex'));
  });

  it('refuses values without one exact form: floats, unsafe integers, bigints, undefined, class instances', () => {
    expect(() => canonicalJson({ x: 1.5 })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ x: 2 ** 53 })).toThrow(/\$\.x: 9007199254740992 is not a safe integer/);
    expect(() => canonicalJson({ x: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson({ x: undefined })).toThrow(/undefined/);
    expect(() => canonicalJson({ x: new Date(0) })).toThrow(/not a plain object/);
    expect(canonicalJson(-0)).toBe('0');
  });

  it('gives the same bytes whatever the input key order', () => {
    const a = JSON.parse('{"files":[{"path":"a","size":1}],"version":2,"backup_id":"x"}') as unknown;
    const b = JSON.parse('{"backup_id":"x","version":2,"files":[{"size":1,"path":"a"}]}') as unknown;
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });
});
