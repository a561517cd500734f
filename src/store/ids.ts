import { randomUUID } from 'node:crypto';

/**
 * Record ids are UUIDs (RFC 9562 version 4), made by dbtrail rather than the database, so every backend stores
 * the same ids and `migrate-state` can move records without renumbering. Stored lower-case with dashes.
 */
export function newId(): string {
  return randomUUID();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Fewest hex digits accepted as a short id: fewer would match too much to be useful. */
export const MIN_ID_PREFIX = 4;

/**
 * The inclusive range of UUIDs that start with a hex prefix (dashes optional, any case), or undefined when the
 * text is not such a prefix. Both bounds are full UUIDs, so a prefix lookup is a range scan of the primary key on
 * any backend (text ids sort like PostgreSQL's `uuid` type: byte by byte).
 */
export function idPrefixRange(prefix: string): { readonly low: string; readonly high: string } | undefined {
  const hex = prefix.toLowerCase().replaceAll('-', '');
  if (!/^[0-9a-f]+$/.test(hex) || hex.length < MIN_ID_PREFIX || hex.length > 32) return undefined;
  if (dashed(hex.padEnd(32, '0')).slice(0, prefix.length) !== prefix.toLowerCase() && prefix.includes('-')) {
    // Dashes in the wrong places: `abcd-ef` is not the start of any UUID.
    return undefined;
  }
  return { low: dashed(hex.padEnd(32, '0')), high: dashed(hex.padEnd(32, 'f')) };
}

function dashed(hex32: string): string {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;
}
