import { describe, expect, it } from 'vitest';
import { NdjsonOutput, viewOf } from './ndjson-output.js';

describe('NdjsonOutput', () => {
  it('hands out what was written, and bytes taken stay intact when later writes move to a new slab', () => {
    const out = new NdjsonOutput(16);
    out.ascii('{"a":1}\n');
    const first = out.take();
    out.string('{"é":"😀"}\n');
    const mark = out.pending;
    out.ascii('{"half-written":');
    out.truncate(mark);
    out.bytes(Buffer.from('0123456789abcdefXYZ'), 16, 19);
    const second = out.take();
    expect(first.toString('utf8')).toBe('{"a":1}\n');
    expect(second.toString('utf8')).toBe('{"é":"😀"}\nXYZ');
    expect(out.pending).toBe(0);
  });

  it('copies four bytes at a time without writing past what it reports', () => {
    const out = new NdjsonOutput(8);
    const table = viewOf(Buffer.from('abcdefg\0\0\0\0', 'latin1'));
    out.words(table, 1, 5);
    out.words(table, 0, 1);
    out.ascii('!');
    expect(out.take().toString('latin1')).toBe('bcdefa!');
  });

  it('with reuse, writes over taken bytes in the same slab and keeps the untaken ones', () => {
    const out = new NdjsonOutput(16, true);
    const slab = out.buf;
    out.ascii('0123456789');
    expect(out.take().toString('latin1')).toBe('0123456789');
    out.ascii('abcdef');
    // 10 taken + 6 pending fill the slab: the next bytes move the pending ones to its start, in place.
    out.ascii('gh');
    expect(out.buf).toBe(slab);
    expect(out.take().toString('latin1')).toBe('abcdefgh');
    expect(slab.toString('latin1', 0, 8)).toBe('abcdefgh');
    // More than a slab at once still gets room (a larger slab).
    out.ascii('x'.repeat(40));
    expect(out.take().toString('latin1')).toBe('x'.repeat(40));
  });
});
