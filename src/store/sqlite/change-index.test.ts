import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pkText } from '../change-index.js';
import { PK_KEY_MAX_BYTES, pkHash, pkKey } from './change-index.js';

describe('pkHash', () => {
  it('is the first 8 bytes of SHA-256 of the pk text, big-endian and signed, as stored since migration 3', () => {
    const keys = [
      '["1"]',
      pkText(['42', 'a|b']),
      pkText([{ hex: '00FF' }, null]),
      '["é😀"]',
      'x'.repeat(500),
    ];
    for (const pk of keys) {
      const reference = createHash('sha256').update(pk, 'utf8').digest().readBigInt64BE(0);
      expect(pkHash(pk), pk).toBe(reference);
    }
    // A known value (sha256sum of the 5 bytes ["1"] starts with 43de3a417d75f481): positive as a signed integer.
    expect(pkHash('["1"]')).toBe(0x43de3a417d75f481n);
  });

  it('gives negative values when the first bit is set', () => {
    const negative = Array.from({ length: 64 }, (_, i) => `["${i}"]`).filter((pk) => pkHash(pk) < 0n);
    expect(negative.length).toBeGreaterThan(0);
    for (const pk of negative) {
      expect(pkHash(pk)).toBe(createHash('sha256').update(pk, 'utf8').digest().readBigInt64BE(0));
    }
  });
});

describe('pkKey', () => {
  it('is the pk text up to the byte limit and the hash beyond it', () => {
    const short = `["${'1'.repeat(PK_KEY_MAX_BYTES - 4)}"]`;
    expect(Buffer.byteLength(short)).toBe(PK_KEY_MAX_BYTES);
    expect(pkKey(short)).toBe(short);
    const long = `["${'1'.repeat(PK_KEY_MAX_BYTES - 3)}"]`;
    expect(pkKey(long)).toBe(pkHash(long));
  });

  it('counts UTF-8 bytes, as SQLite octet_length does, not UTF-16 units', () => {
    // 10 four-byte characters: 20 UTF-16 units but 40 bytes with the brackets and quotes, over the limit.
    const emoji = pkText(['😀'.repeat(10)]);
    expect(emoji.length).toBeLessThanOrEqual(PK_KEY_MAX_BYTES);
    expect(pkKey(emoji)).toBe(pkHash(emoji));
  });
});
