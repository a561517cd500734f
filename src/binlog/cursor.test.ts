import { describe, expect, it } from 'vitest';
import { Cursor } from './cursor.js';
import { TruncatedError } from './errors.js';

describe('Cursor', () => {
  it('reads little-endian integers of every width, unsigned', () => {
    const buf = Buffer.from([
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    const c = new Cursor(buf);
    expect(c.u8()).toBe(255);
    expect(c.u16()).toBe(65535);
    expect(c.u24()).toBe(16777215);
    expect(c.u64()).toBe(18446744073709551615n);
    expect(c.remaining).toBe(1);
  });

  it('reads length-encoded integers and the NULL marker', () => {
    const c = new Cursor(
      Buffer.from([0xfa, 0xfb, 0xfc, 0x34, 0x12, 0xfd, 1, 2, 3, 0xfe, 1, 0, 0, 0, 0, 0, 0, 0]),
    );
    expect(c.lenenc()).toBe(250);
    expect(c.lenenc()).toBe(-1);
    expect(c.lenenc()).toBe(0x1234);
    expect(c.lenenc()).toBe(0x030201);
    expect(c.lenenc()).toBe(1);
  });

  it('refuses to read past end, even when the buffer continues', () => {
    const c = new Cursor(Buffer.from([1, 2, 3, 4]), 0, 2);
    expect(() => c.u32()).toThrow(TruncatedError);
    expect(c.pos).toBe(0);
    expect(() => c.bytes(3)).toThrow(/need 3 bytes at offset 0, only 2 left/);
  });

  it('fails instead of looping when a terminator is missing', () => {
    const c = new Cursor(Buffer.from('abc'));
    expect(() => c.nulTerminated('schema name')).toThrow(/Cannot read schema name: no terminating zero byte/);
  });

  it('refuses 64-bit values that would lose precision as numbers', () => {
    const c = new Cursor(Buffer.from([0, 0, 0, 0, 0, 0, 0x20, 0]));
    expect(() => c.u64Number('position')).toThrow(/exceeds the largest exact number/);
  });
});
