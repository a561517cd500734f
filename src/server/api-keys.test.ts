import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PREFIX,
  apiKeyMatches,
  apiKeyPrefix,
  generateApiKey,
  hashApiKey,
  isApiKeyFormat,
} from './api-keys.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function decode(random: string): bigint {
  let n = 0n;
  for (const c of random) n = n * 62n + BigInt(BASE62.indexOf(c));
  return n;
}

describe('generateApiKey', () => {
  it('makes bt_live_ keys of 43 base62 characters that encode the 32 random bytes exactly', () => {
    const bytes = Buffer.from('00ff10ef20df30cf40bf50af609f708f807f906fa05fb04fc03fd02fe01ff000', 'hex');
    const { key, hash, prefix } = generateApiKey(() => bytes);
    expect(key).toMatch(/^bt_live_[0-9A-Za-z]{43}$/);
    expect(decode(key.slice(API_KEY_PREFIX.length))).toBe(BigInt(`0x${bytes.toString('hex')}`));
    expect(hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(prefix).toBe(key.slice(0, 14));
    expect(prefix).toMatch(/^bt_live_[0-9A-Za-z]{6}$/);
  });

  it('covers the extremes of the byte range', () => {
    expect(generateApiKey(() => Buffer.alloc(32)).key).toBe(`bt_live_${'0'.repeat(43)}`);
    const max = generateApiKey(() => Buffer.alloc(32, 0xff)).key;
    expect(decode(max.slice(8))).toBe(2n ** 256n - 1n);
    expect(isApiKeyFormat(max)).toBe(true);
  });

  it('gives different keys each time and refuses short randomness', () => {
    const keys = new Set(Array.from({ length: 50 }, () => generateApiKey().key));
    expect(keys.size).toBe(50);
    expect(() => generateApiKey(() => Buffer.alloc(16))).toThrow(
      'Cannot generate API key: expected 32 random bytes, got 16',
    );
  });
});

describe('key checks', () => {
  it('recognises the key format', () => {
    const { key } = generateApiKey();
    expect(isApiKeyFormat(key)).toBe(true);
    expect(isApiKeyFormat(key.slice(0, -1))).toBe(false);
    expect(isApiKeyFormat(`${key}x`)).toBe(false);
    expect(isApiKeyFormat(key.replace('bt_live_', 'bt_test_'))).toBe(false);
    expect(isApiKeyFormat(`${key.slice(0, -1)}-`)).toBe(false);
  });

  it('matches a key against its stored hash only', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(apiKeyMatches(a.key, a.hash)).toBe(true);
    expect(apiKeyMatches(a.key, b.hash)).toBe(false);
    expect(apiKeyMatches(a.key, a.hash.toUpperCase())).toBe(false);
    expect(apiKeyMatches(a.key, 'not a hash')).toBe(false);
    expect(hashApiKey(a.key)).toBe(a.hash);
    expect(apiKeyPrefix(a.key)).toBe(a.prefix);
  });
});
