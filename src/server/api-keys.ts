import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys: `bt_live_` followed by 32 random bytes in base62 (43 characters).
 *
 * Only the SHA-256 of a key is stored. A fast hash is enough here, unlike for passwords: slow, salted hashes
 * (bcrypt, argon2) exist to make guessing low-entropy secrets expensive, but a key carries 256 bits of entropy,
 * so no amount of guessing reaches it however fast each guess is, and no precomputed table can cover the space.
 * A fast, unsalted hash also lets the server find a key with one indexed lookup by hash on every request,
 * instead of spending tens of milliseconds of CPU per request on a deliberately slow function.
 *
 * The display prefix (`bt_live_` and the first 6 random characters, about 36 of the 256 bits) tells keys apart
 * in listings and logs without being usable.
 */
export const API_KEY_PREFIX = 'bt_live_';
const RANDOM_BYTES = 32;
/** ceil(256 / log2(62)) = 43: every 32-byte value fits, so the encoding is a bijection and uniform. */
const RANDOM_CHARS = 43;
const DISPLAY_CHARS = 6;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${RANDOM_CHARS}}$`);

export interface NewApiKey {
  /** Shown to the user once; never stored or logged. */
  readonly key: string;
  /** Lower-case hex SHA-256 of the key: what the store keeps. */
  readonly hash: string;
  /** Non-secret, for listings: `bt_live_3f2aB9`. */
  readonly prefix: string;
}

/** A fresh key. `random` is injectable so tests can pin the bytes. */
export function generateApiKey(random: (size: number) => Uint8Array = randomBytes): NewApiKey {
  const bytes = random(RANDOM_BYTES);
  if (bytes.byteLength !== RANDOM_BYTES) {
    throw new RangeError(
      `Cannot generate API key: expected ${RANDOM_BYTES} random bytes, got ${bytes.byteLength}`,
    );
  }
  const key = API_KEY_PREFIX + base62(bytes);
  return { key, hash: hashApiKey(key), prefix: apiKeyPrefix(key) };
}

/** Whether a string has the shape of a key; checked before any lookup so that garbage never reaches the store. */
export function isApiKeyFormat(token: string): boolean {
  return KEY_PATTERN.test(token);
}

/** Lower-case hex SHA-256 of the key's UTF-8 bytes. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The non-secret display prefix of a key. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + DISPLAY_CHARS);
}

/**
 * Whether a presented key matches a stored hash, in time independent of where they differ: a comparison that
 * stops at the first differing character would let a caller learn the hash byte by byte from response times.
 */
export function apiKeyMatches(key: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKey(key), 'hex');
  const wellFormed = /^[0-9a-f]{64}$/.test(storedHash);
  // Compare even against a malformed stored hash, so that the time does not reveal that either.
  const stored = Buffer.from(wellFormed ? storedHash : '0'.repeat(64), 'hex');
  return timingSafeEqual(presented, stored) && wellFormed;
}

function base62(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
  let out = '';
  for (let i = 0; i < RANDOM_CHARS; i++) {
    out = BASE62[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return out;
}
