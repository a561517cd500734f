import { describe, expect, it } from 'vitest';
import { digitCount, putPadded, putUint } from './ascii-digits.js';

function text(v: number): string {
  const out = Buffer.alloc(32, 0x78);
  const end = putUint(out, 3, v);
  return out.toString('latin1', 3, end);
}

describe('putUint', () => {
  it('writes what String(n) prints, at every digit count up to 2^53 - 1', () => {
    const edges = [0, 1, 9, 10, 99, 100, 65535, 999999, 1000000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32];
    for (let p = 10; p <= 1e15; p *= 10) edges.push(p - 1, p, p + 1);
    edges.push(Number.MAX_SAFE_INTEGER, 1e9 * 1e6 + 7, 4294967295 * 2097151);
    for (const v of edges) expect(text(v), String(v)).toBe(String(v));
    let seed = 12345;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = Math.floor((seed / 2 ** 31) * 2 ** (i % 54));
      expect(text(v)).toBe(String(v));
    }
  });
  it('leaves the bytes around the digits alone', () => {
    const out = Buffer.alloc(12, 0x78);
    expect(putUint(out, 2, 1234567)).toBe(9);
    expect(out.toString('latin1')).toBe('xx1234567xxx');
  });
});

describe('putPadded and digitCount', () => {
  it('zero-pads on the left to the requested width', () => {
    const out = Buffer.alloc(10, 0x78);
    expect(putPadded(out, 1, 42, 6)).toBe(7);
    expect(out.toString('latin1')).toBe('x000042xxx');
    expect(putPadded(out, 0, 0, 0)).toBe(0);
  });
  it('counts digits of int32 values', () => {
    for (const v of [0, 9, 10, 99999, 100000, 9999999, 10000000, 999999999, 1000000000, 2147483647]) {
      expect(digitCount(v)).toBe(String(v).length);
    }
  });
});
