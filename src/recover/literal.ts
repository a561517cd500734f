import type { CanonicalValue } from '../binlog/column-types.js';
import { RecoverGenerateError } from './errors.js';

/**
 * SQL literals and comparisons for canonical values (src/binlog/column-types.ts), exact for every column type.
 *
 * The rules, and why:
 * - Integers, DECIMAL, YEAR: bare numeric literals from the exact text. A quoted number compared with an integer
 *   column is compared as DOUBLE, which confuses values above 2^53.
 * - FLOAT/DOUBLE: the canonical text identifies the stored value (FLOAT: `Math.fround(Number(text))`). The literal
 *   is that value's shortest double representation with an exponent (`0.10000000149011612E0`): with an exponent
 *   the server parses a DOUBLE (without one, a DECIMAL), so both an INSERT and `col = literal` are exact.
 * - Temporal values: quoted text with every fractional digit; TIMESTAMP text is UTC, so scripts and appliers run
 *   with `time_zone = '+00:00'` (see SESSION_SETUP).
 * - Character data: the text is Unicode (decoded from the column's charset), and scripts are UTF-8, so every
 *   string carries the `_utf8mb4` introducer: it names the charset of the literal's bytes, whatever the client's
 *   `SET NAMES`, and the server converts it exactly into the column's charset (latin1, gbk, utf16...). A
 *   `_latin1'é'` in a UTF-8 script would store two characters. Comparisons use a binary NO PAD collation, so a
 *   case-insensitive or PAD SPACE column collation cannot hide a change to `'ABC'` or `'abc '`.
 * - Binary data (BINARY/VARBINARY/BLOB, GEOMETRY, UUID, INET6...): `X'..'`; BIT: `b'..'`.
 * - JSON: text on MariaDB (a JSON column is LONGTEXT there), `CAST(.. AS JSON)` on MySQL.
 * - ENUM/SET: their member text, as strings.
 * - NULL: `NULL` in values, `IS NULL` in comparisons (never `= NULL`).
 * Strings are escaped fully (backslash, quote, NUL, newline, carriage return, Ctrl-Z) for the default sql_mode,
 * which the session setup sets (no NO_BACKSLASH_ESCAPES).
 */

export type Flavor = 'mysql' | 'mariadb';

/** How a column's values are written. */
export type ColumnKind =
  | 'integer'
  | 'decimal'
  | 'float'
  | 'double'
  | 'year'
  | 'bit'
  | 'temporal'
  | 'timestamp'
  | 'string'
  | 'json'
  | 'binary';

export interface ColumnShape {
  readonly name: string;
  readonly kind: ColumnKind;
  /** The COLUMN_TYPE text it was classified from, for messages. */
  readonly type: string;
}

/** Classifies `information_schema.COLUMNS.COLUMN_TYPE` (e.g. `decimal(30,10)`, `int(10) unsigned zerofill`). */
export function columnKind(columnType: string): ColumnKind {
  const t = columnType.trim().toLowerCase();
  const base = /^[a-z0-9_]+/.exec(t)?.[0] ?? '';
  switch (base) {
    case 'tinyint':
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'integer':
    case 'bigint':
    case 'bool':
    case 'boolean':
      return 'integer';
    case 'decimal':
    case 'numeric':
    case 'dec':
    case 'fixed':
      return 'decimal';
    case 'float': {
      // FLOAT(p) with p > 24 is a DOUBLE (COLUMN_TYPE normally says so already).
      const p = /^float\((\d+)\)$/.exec(t)?.[1];
      return p !== undefined && Number(p) > 24 ? 'double' : 'float';
    }
    case 'double':
    case 'real':
      return 'double';
    case 'year':
      return 'year';
    case 'bit':
      return 'bit';
    case 'date':
    case 'time':
    case 'datetime':
      return 'temporal';
    case 'timestamp':
      return 'timestamp';
    case 'json':
      return 'json';
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set':
    case 'nchar':
    case 'nvarchar':
      return 'string';
    default:
      // BINARY, VARBINARY, BLOBs, GEOMETRY and its subtypes, UUID, INET4/6, VECTOR: their canonical values are
      // bytes ({hex}); a text value in such a column is still written as a quoted string.
      return 'binary';
  }
}

const INTEGER = /^-?\d+$/;
const DECIMAL = /^-?\d+(?:\.\d+)?$/;
const YEAR = /^\d{1,4}$/;

const quoted = new Map<string, string>();

/** `name` quoted as an identifier. */
export function quoteIdent(name: string): string {
  let q = quoted.get(name);
  if (q === undefined) {
    q = `\`${name.replaceAll('`', '``')}\``;
    // Names repeat on every statement; the cache stays small (bounded, in case of unusual workloads).
    if (quoted.size < 10_000) quoted.set(name, q);
  }
  return q;
}

/** `schema`.`table`. */
export function quoteTable(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** The text between the quotes of a string literal, escaped for the default sql_mode. */
export function escapeString(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x27) rep = "''";
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x00) rep = '\\0';
    else if (c === 0x0a) rep = '\\n';
    else if (c === 0x0d) rep = '\\r';
    else if (c === 0x1a) rep = '\\Z';
    if (rep !== undefined) {
      out += text.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A Unicode string literal whose charset does not depend on the connection's. */
export function stringLiteral(text: string): string {
  return `_utf8mb4'${escapeString(text)}'`;
}

/** The shortest double literal, with an exponent so that the server reads a DOUBLE. */
export function doubleLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  if (Object.is(value, -0)) return '-0E0';
  const s = String(value);
  return s.includes('e') ? s.toUpperCase() : `${s}E0`;
}

/** `b'0101'` for the bytes of a BIT value. */
export function bitLiteral(hex: string): string {
  let bits = '';
  for (let i = 0; i < hex.length; i += 2)
    bits += parseInt(hex.slice(i, i + 2), 16)
      .toString(2)
      .padStart(8, '0');
  return `b'${bits === '' ? '0' : bits}'`;
}

const HEX = /^(?:[0-9A-Fa-f]{2})*$/;

function fail(column: ColumnShape, value: CanonicalValue, why: string): never {
  throw new RecoverGenerateError(
    `Cannot write a literal for column ${column.name} (${column.type}): ${why}, got ${JSON.stringify(value)}`,
    { fields: { column: column.name, type: column.type } },
  );
}

/**
 * The SQL literal of a canonical value in a column: what an INSERT or a SET assigns. Throws RecoverGenerateError
 * when the value cannot be what the column holds (a statement that cannot be generated exactly is never written).
 */
export function sqlLiteral(value: CanonicalValue, column: ColumnShape, flavor: Flavor): string {
  if (value === null) return 'NULL';
  if (typeof value === 'object') {
    if (typeof value.hex !== 'string' || !HEX.test(value.hex)) fail(column, value, 'expected hex digits');
    if (column.kind === 'bit') return bitLiteral(value.hex);
    return `X'${value.hex.toUpperCase()}'`;
  }
  switch (column.kind) {
    case 'integer':
      if (!INTEGER.test(value)) fail(column, value, 'expected an integer');
      return value;
    case 'decimal':
      if (!DECIMAL.test(value)) fail(column, value, 'expected a decimal number');
      return value;
    case 'year':
      if (!YEAR.test(value)) fail(column, value, 'expected a year');
      return value;
    case 'float':
    case 'double': {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) fail(column, value, 'expected a finite number');
      return doubleLiteral(column.kind === 'float' ? Math.fround(n) : n);
    }
    case 'bit':
      // BIT values are bytes in the canonical encoding; a decimal text is accepted as the number it is.
      if (!INTEGER.test(value)) fail(column, value, 'expected bytes or an integer');
      return value;
    case 'temporal':
    case 'timestamp':
      return `'${escapeString(value)}'`;
    case 'json':
      return flavor === 'mysql' ? `CAST(${stringLiteral(value)} AS JSON)` : stringLiteral(value);
    case 'string':
    case 'binary':
      return stringLiteral(value);
  }
}

/** The binary NO PAD collation of utf8mb4 on each flavour: compares code points exactly, trailing spaces too. */
export function exactCollation(flavor: Flavor): string {
  return flavor === 'mysql' ? 'utf8mb4_0900_bin' : 'utf8mb4_nopad_bin';
}

/**
 * A predicate that holds exactly when the column holds the value. `key` marks a primary-key column: its
 * comparison keeps the plain `col = literal` form too, so the server looks the row up through the key.
 */
export function sqlMatch(value: CanonicalValue, column: ColumnShape, flavor: Flavor, key = false): string {
  const col = quoteIdent(column.name);
  if (value === null) return `${col} IS NULL`;
  const literal = sqlLiteral(value, column, flavor);
  if (
    typeof value === 'string' &&
    (column.kind === 'string' || (column.kind === 'json' && flavor === 'mariadb'))
  ) {
    const exact = `${col} = ${literal} COLLATE ${exactCollation(flavor)}`;
    return key ? `${col} = ${literal} AND ${exact}` : exact;
  }
  return `${col} = ${literal}`;
}
