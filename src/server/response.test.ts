import { describe, expect, it } from 'vitest';
import { toJson } from './response.js';

describe('toJson', () => {
  it('finds a bigint or bytes however deep, and encodes them', () => {
    expect(toJson({ a: [{ b: [1, { c: 2n ** 64n - 1n }] }] })).toBe(
      '{"a":[{"b":[1,{"c":"18446744073709551615"}]}]}',
    );
    expect(toJson([null, 'x', { bytes: new Uint8Array([0, 255]) }])).toBe(
      '[null,"x",{"bytes":{"hex":"00ff"}}]',
    );
    expect(toJson({ buf: Buffer.from('hi') })).toBe('{"buf":{"hex":"6869"}}');
  });

  it('gives plain JSON for values without them, dates included', () => {
    const value = { s: 'é"\n', n: 1.5, t: true, z: null, d: new Date(0), list: [{ u: undefined }] };
    expect(toJson(value)).toBe(JSON.stringify(value));
  });

  it('still encodes values below a custom toJSON and beyond the walk depth', () => {
    const custom = { toJSON: () => ({ x: 1n }) };
    expect(toJson({ custom })).toBe('{"custom":{"x":"1"}}');
    let deep: unknown = { big: 7n };
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(toJson(deep)).toBe(`${'['.repeat(100)}{"big":"7"}${']'.repeat(100)}`);
  });
});
