/**
 * Text fields inside events (schema and table names, queries, ENUM/SET members) are in the connection or column
 * character set. Identifiers are always utf8; for the rest, latin1 collations decode as latin1 and everything
 * else as UTF-8 (the default of every supported server). Column values are the value decoder's business.
 *
 * latin1 collation ids: MySQL `SHOW COLLATION WHERE Charset = 'latin1'`.
 */
const LATIN1_COLLATIONS = new Set([5, 8, 15, 31, 47, 48, 49, 94]);

export function decodeText(bytes: Buffer, collation?: number): string {
  if (collation !== undefined && LATIN1_COLLATIONS.has(collation)) return bytes.toString('latin1');
  return bytes.toString('utf8');
}
