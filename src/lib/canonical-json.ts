/**
 * Canonical JSON: the one byte form that signatures and hashes are computed over, so that the same value always
 * gives the same bytes whatever the key order or whitespace it was stored with.
 *
 * The rules (a subset of RFC 8785, JSON Canonicalization Scheme, sufficient because dbtrail never signs floats):
 * - objects: members sorted by key, compared as UTF-16 code units (JavaScript's default string order, as in
 *   RFC 8785 section 3.2.3); no whitespace anywhere; `,` and `:` as separators;
 * - strings: as `JSON.stringify` writes them (`"`, `\` and control characters below U+0020 escaped, everything
 *   else literal UTF-8);
 * - numbers: safe integers only (|n| < 2^53), written in decimal without exponent; anything else is refused, so
 *   no value depends on float formatting; a bigint is refused too: exact 64-bit values go in as strings;
 * - `true`, `false`, `null`; `undefined` members are refused rather than silently dropped;
 * - the text is encoded as UTF-8 without a byte order mark and without a trailing newline.
 *
 * For values of that shape the bytes equal what `jq -cS .` prints without its trailing newline, which lets an
 * auditor rebuild them with standard tools (see README "Verifying signed manifests").
 */
export type CanonicalValue =
  string | number | boolean | null | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

export class CanonicalJsonError extends Error {}

export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalJsonError(`Cannot canonicalize ${path}: ${value} is not a safe integer`);
      }
      // Object.is(-0, 0) is false; JSON has no negative zero worth keeping.
      return value === 0 ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError(`Cannot canonicalize ${path}: not a plain object`);
      }
      const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${write(v, `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`Cannot canonicalize ${path}: a ${typeof value} has no JSON form`);
  }
}
