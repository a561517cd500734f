import { ColumnType } from '../column-types.js';
import { decimalBinarySize, decimalToText } from './decimal.js';
import { MalformedValueError } from './errors.js';
import { formatDouble } from './float-text.js';
import { packedTemporalText } from './temporal.js';

/**
 * MySQL's binary JSON (the storage and binlog form of a JSON column) to the JSON text MySQL prints for it.
 *
 * Spec: MySQL `sql-common/json_binary.cc` (format description at the top of the file) and `json_dom.cc`
 * (`wrapper_to_string`, `double_quote`). A document is a type byte and a value:
 *
 *   0x00 small object | 0x01 large object | 0x02 small array | 0x03 large array
 *   0x04 literal (0x00 null, 0x01 true, 0x02 false) | 0x05 int16 | 0x06 uint16 | 0x07 int32 | 0x08 uint32
 *   0x09 int64 | 0x0a uint64 | 0x0b double | 0x0c utf8mb4 string | 0x0f opaque (MySQL field type + bytes)
 *
 * Objects and arrays: element count and total byte size (2 bytes each when small, 4 when large), then for an
 * object the key entries (key offset: 2/4 bytes, key length: 2 bytes), then the value entries (type byte + 2/4
 * bytes holding either the value itself, for literals and 16-bit ints (and 32-bit ints when large), or its
 * offset). Offsets count from the first byte of the element count. Strings and opaque data carry a variable-length
 * size: 7 bits per byte, low group first, high bit = more bytes follow (at most 5 bytes). All integers are
 * little-endian.
 *
 * Text form (what `SELECT json_col` returns): `{"a": 1, "b": [1, 2]}` (", " and ": " separators); strings escape
 * `"`, `\`, \b \f \n \r \t and other bytes <= 0x1f as \u00xx (lower-case hex), nothing else; doubles as `my_gcvt`
 * with width 34 plus `.0` when that shows neither a point nor an exponent; opaque DECIMAL as its digits; opaque
 * DATE/TIME/DATETIME/TIMESTAMP as quoted text with 6 fraction digits (a DATE without time); opaque VAR_STRING as
 * a string; any other opaque value as `"base64:type<N>:<base64, a newline after every 76 characters>"`.
 */
const SMALL_OBJECT = 0x00;
const LARGE_OBJECT = 0x01;
const SMALL_ARRAY = 0x02;
const LARGE_ARRAY = 0x03;
const LITERAL = 0x04;
const INT16 = 0x05;
const UINT16 = 0x06;
const INT32 = 0x07;
const UINT32 = 0x08;
const INT64 = 0x09;
const UINT64 = 0x0a;
const DOUBLE = 0x0b;
const STRING = 0x0c;
const OPAQUE = 0x0f;

/** MySQL's JSON nesting limit (JSON_DOCUMENT_MAX_DEPTH); deeper input is corrupt, not a bigger document. */
const MAX_DEPTH = 100;

/** The JSON text of one binary JSON document. An empty value (length 0) is JSON null, as MySQL reads it. */
export function jsonBinaryToText(buf: Buffer): string {
  if (buf.length === 0) return 'null';
  const reader = new Reader(buf);
  return reader.value(buf[0] as number, 1, 0, buf.length, 0);
}

class Reader {
  readonly buf: Buffer;
  /**
   * Elements still allowed: each needs at least one byte of input, so a legitimate document never runs out, while
   * offsets that point back at a shared container cannot blow the output up.
   */
  budget: number;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.budget = buf.length + 16;
  }

  fail(what: string, offset: number): never {
    throw new MalformedValueError(`Cannot decode binary JSON: ${what} at offset ${offset}`, {
      fields: { offset },
    });
  }

  need(p: number, n: number, end: number, what: string): void {
    if (p < 0 || p + n > end) this.fail(`${what} needs ${n} bytes, the value ends first`, p);
  }

  /** The text of the value of `type` whose data starts at `p`; [start, end) bounds the enclosing container. */
  value(type: number, p: number, start: number, end: number, depth: number): string {
    if (--this.budget < 0) this.fail('more elements than the document has bytes', p);
    const buf = this.buf;
    switch (type) {
      case SMALL_OBJECT:
      case LARGE_OBJECT:
      case SMALL_ARRAY:
      case LARGE_ARRAY:
        if (depth >= MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`, p);
        return this.container(type, p, end, depth + 1);
      case LITERAL:
        this.need(p, 1, end, 'literal');
        return this.literal(buf[p] as number, p);
      case INT16:
        this.need(p, 2, end, 'int16');
        return String(buf.readInt16LE(p));
      case UINT16:
        this.need(p, 2, end, 'uint16');
        return String(buf.readUInt16LE(p));
      case INT32:
        this.need(p, 4, end, 'int32');
        return String(buf.readInt32LE(p));
      case UINT32:
        this.need(p, 4, end, 'uint32');
        return String(buf.readUInt32LE(p));
      case INT64:
        this.need(p, 8, end, 'int64');
        return buf.readBigInt64LE(p).toString();
      case UINT64:
        this.need(p, 8, end, 'uint64');
        return buf.readBigUInt64LE(p).toString();
      case DOUBLE: {
        this.need(p, 8, end, 'double');
        const text = formatDouble(buf.readDoubleLE(p));
        return text.includes('.') || text.includes('e') ? text : text + '.0';
      }
      case STRING: {
        const [len, q] = this.varLength(p, end);
        this.need(q, len, end, 'string');
        return quoteJsonString(buf.toString('utf8', q, q + len));
      }
      case OPAQUE:
        return this.opaque(p, end);
      default:
        return this.fail(`unknown value type 0x${type.toString(16)}`, p - 1);
    }
  }

  literal(code: number, p: number): string {
    if (code === 0x00) return 'null';
    if (code === 0x01) return 'true';
    if (code === 0x02) return 'false';
    return this.fail(`unknown literal 0x${code.toString(16)}`, p);
  }

  container(type: number, p: number, parentEnd: number, depth: number): string {
    const buf = this.buf;
    const large = type === LARGE_OBJECT || type === LARGE_ARRAY;
    const isObject = type === SMALL_OBJECT || type === LARGE_OBJECT;
    const w = large ? 4 : 2;
    this.need(p, 2 * w, parentEnd, isObject ? 'object header' : 'array header');
    const count = large ? buf.readUInt32LE(p) : buf.readUInt16LE(p);
    const size = large ? buf.readUInt32LE(p + w) : buf.readUInt16LE(p + w);
    const end = p + size;
    if (size < 2 * w || end > parentEnd)
      this.fail(`container size ${size} does not fit its ${parentEnd - p} bytes`, p);
    const keyEntrySize = w + 2;
    const valueEntrySize = 1 + w;
    const headerSize = 2 * w + count * ((isObject ? keyEntrySize : 0) + valueEntrySize);
    if (headerSize > size) this.fail(`${count} entries do not fit a container of ${size} bytes`, p);
    const valueEntries = p + 2 * w + (isObject ? count * keyEntrySize : 0);
    let out = isObject ? '{' : '[';
    for (let i = 0; i < count; i++) {
      if (i > 0) out += ', ';
      if (isObject) {
        const k = p + 2 * w + i * keyEntrySize;
        const keyOffset = large ? buf.readUInt32LE(k) : buf.readUInt16LE(k);
        const keyLength = buf.readUInt16LE(k + w);
        this.need(p + keyOffset, keyLength, end, 'object key');
        out += quoteJsonString(buf.toString('utf8', p + keyOffset, p + keyOffset + keyLength)) + ': ';
      }
      out += this.entry(valueEntries + i * valueEntrySize, p, end, large, depth);
    }
    return out + (isObject ? '}' : ']');
  }

  /** One value entry: inlined scalar or an offset (from the container start `base`) to the value. */
  entry(e: number, base: number, end: number, large: boolean, depth: number): string {
    const buf = this.buf;
    const type = buf[e] as number;
    switch (type) {
      case LITERAL:
        return this.literal(buf[e + 1] as number, e + 1);
      case INT16:
        return String(buf.readInt16LE(e + 1));
      case UINT16:
        return String(buf.readUInt16LE(e + 1));
      case INT32:
        if (large) return String(buf.readInt32LE(e + 1));
        break;
      case UINT32:
        if (large) return String(buf.readUInt32LE(e + 1));
        break;
    }
    const offset = large ? buf.readUInt32LE(e + 1) : buf.readUInt16LE(e + 1);
    // A value lies after the entries it is referenced from; pointing back into the header is corruption.
    if (base + offset <= e || base + offset >= end)
      this.fail(`value offset ${offset} outside its container`, e + 1);
    return this.value(type, base + offset, base, end, depth);
  }

  varLength(p: number, end: number): [number, number] {
    let len = 0;
    for (let i = 0; i < 5; i++) {
      this.need(p + i, 1, end, 'length');
      const b = this.buf[p + i] as number;
      len += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (len > 0xffffffff) break;
        return [len, p + i + 1];
      }
    }
    return this.fail('variable-length size longer than 5 bytes', p);
  }

  opaque(p: number, end: number): string {
    this.need(p, 1, end, 'opaque type');
    const fieldType = this.buf[p] as number;
    const [len, q] = this.varLength(p + 1, end);
    this.need(q, len, end, 'opaque value');
    return opaqueText(this.buf.subarray(q, q + len), fieldType, q);
  }
}

function opaqueText(data: Buffer, fieldType: number, offset: number): string {
  switch (fieldType) {
    case ColumnType.NEWDECIMAL: {
      // Json_decimal: precision byte, scale byte, then the DECIMAL binary form.
      if (data.length >= 2) {
        const precision = data[0] as number;
        const scale = data[1] as number;
        if (precision >= 1 && scale <= precision && data.length >= 2 + decimalBinarySize(precision, scale)) {
          return decimalToText(data, 2, precision, scale);
        }
      }
      throw new MalformedValueError(
        `Cannot decode binary JSON: opaque DECIMAL of ${data.length} bytes is malformed at offset ${offset}`,
        {
          fields: { offset },
        },
      );
    }
    case ColumnType.DATETIME:
    case ColumnType.TIMESTAMP:
    case ColumnType.DATE:
    case ColumnType.TIME:
      if (data.length >= 8) {
        const packed = data.readBigInt64LE(0);
        const kind =
          fieldType === ColumnType.TIME ? 'time' : fieldType === ColumnType.DATE ? 'date' : 'datetime';
        return '"' + packedTemporalText(packed, kind) + '"';
      }
      throw new MalformedValueError(
        `Cannot decode binary JSON: opaque temporal value of ${data.length} bytes (need 8) at offset ${offset}`,
        {
          fields: { offset },
        },
      );
    case ColumnType.VAR_STRING:
      return quoteJsonString(data.toString('utf8'));
    default:
      return quoteJsonString(`base64:type${fieldType}:${base64Lines(data)}`);
  }
}

/** Base64 as MySQL's `base64_encode` writes it: a newline after every 76 characters, none at the end. */
function base64Lines(data: Buffer): string {
  const b64 = data.toString('base64');
  if (b64.length <= 76) return b64;
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\n');
}

// Characters MySQL escapes in JSON strings (json_dom.cc double_quote / escape_character).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
// eslint-disable-next-line no-control-regex
const ESCAPE_ALL = /["\\\u0000-\u001f]/g;
const HEX = '0123456789abcdef';

function escapeChar(c: string): string {
  switch (c) {
    case '"':
      return '\\"';
    case '\\':
      return '\\\\';
    case '\b':
      return '\\b';
    case '\f':
      return '\\f';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default: {
      const code = c.charCodeAt(0);
      return '\\u00' + HEX[code >> 4]! + HEX[code & 15]!;
    }
  }
}

/** A JSON string literal escaped exactly as MySQL prints it. */
export function quoteJsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  return '"' + s.replace(ESCAPE_ALL, escapeChar) + '"';
}
