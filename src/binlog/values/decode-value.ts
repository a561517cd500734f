import { isUtf8 } from 'node:buffer';
import type { Cursor } from '../cursor.js';
import { ColumnType, type CanonicalValue, type ColumnDef } from '../column-types.js';
import { charsetForCollation, type Charset } from './charset.js';
import { decimalBinarySize, decimalToText } from './decimal.js';
import { MalformedValueError, UnsupportedValueError } from './errors.js';
import { formatDouble, formatFloat } from './float-text.js';
import { jsonBinaryToText } from './json-binary.js';
import {
  date2FromBinary,
  datetime2FromBinary,
  datetimeFromBinary,
  datetimeHiresFromBinary,
  time2FromBinary,
  timeFromBinary,
  timeHiresFromBinary,
  timestamp2FromBinary,
  timestampFromBinary,
  timestampHiresFromBinary,
  fractionBytes,
} from './temporal.js';

/**
 * Decodes one non-NULL column value of a row image at `cur.pos` into the canonical value encoding (see
 * `CanonicalValue` in ../column-types.ts) and advances the cursor past it. NULLs never reach here: the row
 * decoder reads the NULL bitmap.
 *
 * Byte layouts: MySQL `sql/log_event.cc` `log_event_print_value` and `libbinlogevents` `calc_field_size`, MariaDB
 * `sql/log_event_client.cc` (the same). `col.meta` is the column's table-map metadata as one number, unpacked the way
 * MySQL's `table_def` (sql/rpl_utility.cc) does:
 * - NEWDECIMAL: precision << 8 | scale;
 * - STRING (CHAR/BINARY, and ENUM/SET before resolution): byte0 << 8 | byte1, where byte0 is the real type with the
 *   two high bits of the maximum byte length folded in (XOR 0x30) and byte1 the low 8 bits of that length;
 *   ENUM/SET resolved by the table-map decoder keep that meta (byte1 = storage size);
 * - BIT: bytes << 8 | bits (M = bytes * 8 + bits);
 * - VARCHAR/VAR_STRING: the maximum byte length (a 2-byte length prefix above 255);
 * - BLOB/TEXT/JSON/GEOMETRY/VECTOR: the size of the length prefix (1-4 bytes);
 * - TIME2/DATETIME2/TIMESTAMP2: the fractional-second precision (fsp, 0-6);
 * - FLOAT/DOUBLE: the byte size.
 *
 * Choices where the binlog alone cannot give SELECT's text (documented in the canonical encoding):
 * - MariaDB UUID and INET6 arrive as BINARY(16) columns (type STRING, binary collation): the table map does not
 *   say which, so they come out as `{hex}` of the 16 stored bytes, which equals `HEX(col)` (SELECT shows the
 *   formatted text);
 * - ENUM/SET without member strings (binlog_row_metadata=MINIMAL and no schema history): the stored number as
 *   decimal text (ENUM index, 1-based, 0 for the '' error value; SET bitmask);
 * - a character column whose collation is unknown (no optional metadata): UTF-8 text when the bytes are valid
 *   UTF-8, else `{hex}`, so that bytes are never mangled;
 * - MariaDB 5.3 "hires" TIME/DATETIME/TIMESTAMP (types 11/12/7 with fractional seconds, mysql56_temporal_format=OFF)
 *   carry no precision in the table map; with meta 0 they are read as the pre-5.6 formats, and a caller that knows
 *   the precision from schema history passes it as meta to have them read correctly;
 * - FLOAT(M,D)/DOUBLE(M,D) and ZEROFILL print differently in SELECT, but neither D nor ZEROFILL is in the binlog;
 * - the old pre-5.0 DECIMAL (type 0) has no metadata to size it and is rejected as unsupported.
 */
export function decodeValue(cur: Cursor, col: ColumnDef): CanonicalValue {
  return decodeCompiled(cur, compiledColumn(col));
}

/** How the bytes of a character or binary column become a value (see `text`). */
const TEXT_UNKNOWN = 0;
const TEXT_BINARY = 1;
const TEXT_UTF8 = 2;
const TEXT_CHARSET = 3;

/**
 * A column definition with everything the value decoder derives from its type and metadata worked out once:
 * the row decoder compiles each table map's columns and calls `decodeCompiled` per value. Every instance has the
 * same shape (unlike ColumnDef, whose optional fields vary), which keeps the value loop monomorphic.
 */
export interface CompiledColumn {
  readonly def: ColumnDef;
  /** The type to dispatch on: ColumnType, with a STRING column that holds ENUM or SET resolved to that type. */
  readonly type: number;
  readonly meta: number;
  readonly unsigned: boolean;
  /** Stored size of fixed-size values (integers, DECIMAL, temporal, BIT, ENUM/SET width); 0 for the others. */
  readonly size: number;
  /** Length-prefix bytes of variable-length values (1-4); 0 for fixed-size ones. */
  readonly prefix: number;
  /** BINARY(n) pads its value to this many bytes. */
  readonly padTo: number;
  /** TEXT_UNKNOWN, TEXT_BINARY, TEXT_UTF8 or TEXT_CHARSET. */
  readonly textMode: number;
  readonly charset: Charset | undefined;
  /** A character column whose bytes below 0x80 always decode to the same ASCII characters (UTF-8, latin1...). */
  readonly asciiText: boolean;
  /** A character column in the binary charset: its value is `{hex}`. */
  readonly binaryText: boolean;
  /** DECIMAL precision and scale, TIME2/DATETIME2/TIMESTAMP2 (and hires) fsp in `scale`. */
  readonly precision: number;
  readonly scale: number;
}

const compiledCache = new WeakMap<ColumnDef, CompiledColumn>();

/** The compiled form of a column, cached per ColumnDef object. */
export function compiledColumn(col: ColumnDef): CompiledColumn {
  let c = compiledCache.get(col);
  if (c === undefined) {
    c = compileColumn(col);
    compiledCache.set(col, c);
  }
  return c;
}

/** Works out, once per column, what `decodeCompiled` needs besides the bytes. */
export function compileColumn(col: ColumnDef): CompiledColumn {
  let type = col.type;
  let size = 0;
  let prefix = 0;
  let padTo = 0;
  let precision = 0;
  let scale = 0;
  const meta = col.meta;
  switch (type) {
    case ColumnType.TINY:
    case ColumnType.YEAR:
      size = 1;
      break;
    case ColumnType.SHORT:
      size = 2;
      break;
    case ColumnType.INT24:
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      size = 3;
      break;
    case ColumnType.LONG:
    case ColumnType.FLOAT:
      size = 4;
      break;
    case ColumnType.LONGLONG:
    case ColumnType.DOUBLE:
      size = 8;
      break;
    case ColumnType.NEWDECIMAL:
      precision = meta >> 8;
      scale = meta & 0xff;
      size = decimalBinarySize(precision, scale);
      break;
    case ColumnType.TIME2:
      scale = meta;
      size = 3 + fractionBytes(meta);
      break;
    case ColumnType.DATETIME2:
      scale = meta;
      size = 5 + fractionBytes(meta);
      break;
    case ColumnType.TIMESTAMP2:
      scale = meta;
      size = 4 + fractionBytes(meta);
      break;
    case ColumnType.TIME:
      scale = Math.min(meta, 6);
      size = meta > 0 ? (TIME_HIRES_BYTES[scale] as number) : 3;
      break;
    case ColumnType.DATETIME:
      scale = Math.min(meta, 6);
      size = meta > 0 ? (DATETIME_HIRES_BYTES[scale] as number) : 8;
      break;
    case ColumnType.TIMESTAMP:
      scale = Math.min(meta, 6);
      size = meta > 0 ? (TIMESTAMP_HIRES_BYTES[scale] as number) : 4;
      break;
    case ColumnType.BIT:
      // M = bytes * 8 + bits; the value is ceil(M / 8) bytes, big-endian, as SELECT returns them.
      size = (meta >> 8) + ((meta & 0xff) > 0 ? 1 : 0);
      break;
    case ColumnType.ENUM:
      size = enumWidth(col, meta & 0xff);
      break;
    case ColumnType.SET:
      size = setWidth(col, meta & 0xff);
      break;
    case ColumnType.STRING: {
      // CHAR/BINARY: the metadata folds the real type and a maximum byte length up to 1023 into two bytes
      // (MySQL `Field_string::do_save_field_metadata`); a maximum above 255 bytes means a 2-byte length prefix.
      const byte0 = meta >> 8;
      const byte1 = meta & 0xff;
      let realType = byte0;
      let maxLength = byte1;
      if (byte0 !== 0 && (byte0 & 0x30) !== 0x30) {
        maxLength = byte1 | (((byte0 & 0x30) ^ 0x30) << 4);
        realType = byte0 | 0x30;
      }
      if (realType === ColumnType.ENUM) {
        type = ColumnType.ENUM;
        size = enumWidth(col, byte1);
      } else if (realType === ColumnType.SET) {
        type = ColumnType.SET;
        size = setWidth(col, byte1);
      } else {
        prefix = maxLength > 255 ? 2 : 1;
        padTo = maxLength;
      }
      break;
    }
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      prefix = meta > 255 ? 2 : 1;
      break;
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.JSON:
    case ColumnType.GEOMETRY:
    case ColumnType.VECTOR:
      prefix = blobPrefix(col);
      break;
    default:
      break;
  }
  const cs = col.collation === undefined ? undefined : charsetForCollation(col.collation);
  let textMode = TEXT_CHARSET;
  if (cs === undefined) textMode = TEXT_UNKNOWN;
  else if (cs.binary) textMode = TEXT_BINARY;
  else if (cs.name === 'utf8mb4' || cs.name === 'utf8mb3') textMode = TEXT_UTF8;
  const isText =
    prefix > 0 && type !== ColumnType.JSON && type !== ColumnType.GEOMETRY && type !== ColumnType.VECTOR;
  return {
    def: col,
    type,
    meta,
    unsigned: col.unsigned,
    size,
    prefix,
    padTo,
    textMode,
    charset: cs,
    asciiText:
      isText &&
      (textMode === TEXT_UTF8 ||
        textMode === TEXT_UNKNOWN ||
        (textMode === TEXT_CHARSET && (cs?.name === 'latin1' || cs?.name === 'ascii'))),
    binaryText: isText && textMode === TEXT_BINARY,
    precision,
    scale,
  };
}

/** What a truncation error calls the value of each type. */
function valueName(type: number): string {
  switch (type) {
    case ColumnType.TINY:
      return 'TINYINT value';
    case ColumnType.SHORT:
      return 'SMALLINT value';
    case ColumnType.INT24:
      return 'MEDIUMINT value';
    case ColumnType.LONG:
      return 'INT value';
    case ColumnType.LONGLONG:
      return 'BIGINT value';
    case ColumnType.YEAR:
      return 'YEAR value';
    case ColumnType.FLOAT:
      return 'FLOAT value';
    case ColumnType.DOUBLE:
      return 'DOUBLE value';
    case ColumnType.NEWDECIMAL:
      return 'DECIMAL value';
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      return 'DATE value';
    case ColumnType.TIME2:
    case ColumnType.TIME:
      return 'TIME value';
    case ColumnType.DATETIME2:
    case ColumnType.DATETIME:
      return 'DATETIME value';
    case ColumnType.TIMESTAMP2:
    case ColumnType.TIMESTAMP:
      return 'TIMESTAMP value';
    case ColumnType.BIT:
      return 'BIT value';
    case ColumnType.SET:
      return 'SET value';
    case ColumnType.STRING:
      return 'CHAR value';
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      return 'VARCHAR value';
    case ColumnType.JSON:
      return 'JSON value';
    case ColumnType.GEOMETRY:
      return 'GEOMETRY value';
    case ColumnType.VECTOR:
      return 'VECTOR value';
    default:
      return 'BLOB value';
  }
}

/**
 * `decodeValue` for a compiled column: the row decoder's hot loop. Bounds are checked against `cur.end` before
 * any byte is read; a value that does not fit throws the cursor's TruncatedError.
 */
export function decodeCompiled(cur: Cursor, c: CompiledColumn): CanonicalValue {
  const buf = cur.buf;
  const p = cur.pos;
  const type = c.type;
  if (c.prefix === 0) {
    const size = c.size;
    // ENUM/SET read their own width; NULL and unknown types read nothing.
    if (size > 0 && type !== ColumnType.ENUM && p + size > cur.end) cur.need(size, valueName(type));
    switch (type) {
      // Integers are assembled from bytes (shifts sign-extend): Buffer's readInt32LE and friends validate their
      // offset argument on every call, which shows on this path.
      case ColumnType.TINY: {
        cur.pos = p + 1;
        const v = buf[p] as number;
        return String(c.unsigned ? v : (v << 24) >> 24);
      }
      case ColumnType.SHORT: {
        cur.pos = p + 2;
        const v = (buf[p] as number) | ((buf[p + 1] as number) << 8);
        return String(c.unsigned ? v : (v << 16) >> 16);
      }
      case ColumnType.INT24: {
        cur.pos = p + 3;
        const v = (buf[p] as number) | ((buf[p + 1] as number) << 8) | ((buf[p + 2] as number) << 16);
        return String(c.unsigned ? v : (v << 8) >> 8);
      }
      case ColumnType.LONG: {
        cur.pos = p + 4;
        const v = int32At(buf, p);
        return String(c.unsigned ? v >>> 0 : v);
      }
      case ColumnType.LONGLONG:
        cur.pos = p + 8;
        return int64Text(buf, p, c.unsigned);
      case ColumnType.YEAR: {
        cur.pos = p + 1;
        const y = buf[p] as number;
        // YEAR stores year - 1900; 0 is the zero year, which SELECT prints as 0000.
        return y === 0 ? '0000' : String(1900 + y);
      }
      case ColumnType.FLOAT:
        cur.pos = p + 4;
        return formatFloat(buf.readFloatLE(p));
      case ColumnType.DOUBLE:
        cur.pos = p + 8;
        return formatDouble(buf.readDoubleLE(p));
      case ColumnType.NEWDECIMAL: {
        const text = decimalToText(buf, p, c.precision, c.scale);
        cur.pos = p + size;
        return text;
      }
      case ColumnType.DATE:
      case ColumnType.NEWDATE:
        cur.pos = p + 3;
        return date2FromBinary(buf, p);
      case ColumnType.TIME2:
        cur.pos = p + size;
        return time2FromBinary(buf, p, c.scale);
      case ColumnType.DATETIME2:
        cur.pos = p + size;
        return datetime2FromBinary(buf, p, c.scale);
      case ColumnType.TIMESTAMP2:
        cur.pos = p + size;
        return timestamp2FromBinary(buf, p, c.scale);
      case ColumnType.TIME:
        cur.pos = p + size;
        return c.meta > 0 ? timeHiresFromBinary(buf, p, size, c.scale) : timeFromBinary(buf, p);
      case ColumnType.DATETIME:
        cur.pos = p + size;
        return c.meta > 0 ? datetimeHiresFromBinary(buf, p, size, c.scale) : datetimeFromBinary(buf, p);
      case ColumnType.TIMESTAMP:
        cur.pos = p + size;
        return c.meta > 0 ? timestampHiresFromBinary(buf, p, size, c.scale) : timestampFromBinary(buf, p);
      case ColumnType.BIT:
        cur.pos = p + size;
        return hex(buf, p, p + size);
      case ColumnType.ENUM:
        return enumValue(cur, c.def, size);
      case ColumnType.SET:
        return setValue(cur, c.def, size);
      case ColumnType.NULL:
        return null;
      default:
        throw new UnsupportedValueError(
          `Cannot decode column "${c.def.name}": column type ${type} (${typeName(type)}) has no binlog value format dbtrail can read`,
          { fields: { column: c.def.name, type } },
        );
    }
  }
  // Variable-length values: a little-endian length prefix, then the bytes.
  const len = readLength(cur, c.prefix);
  const start = cur.pos;
  if (start + len > cur.end) cur.need(len, valueName(type));
  const end = start + len;
  cur.pos = end;
  switch (type) {
    case ColumnType.JSON:
      if (c.def.flavor === 'mariadb') return buf.toString('utf8', start, end);
      return jsonBinaryToText(buf.subarray(start, end));
    case ColumnType.GEOMETRY:
    case ColumnType.VECTOR:
      // GEOMETRY: 4-byte SRID + WKB, exactly what HEX(col) shows. VECTOR (MySQL 9): float32 array bytes.
      return hex(buf, start, end);
    default:
      // CHAR/BINARY, VARCHAR/VARBINARY, TEXT/BLOB. MariaDB's JSON is a LONGTEXT alias: it arrives here with a
      // utf8mb4 collation and decodes as text.
      return text(buf, start, end, c);
  }
}

function typeName(type: number): string {
  for (const [name, code] of Object.entries(ColumnType)) if (code === type) return name;
  return 'unknown';
}

/** Upper-case hex of buf[start, end), as `{hex}`. */
function hex(buf: Buffer, start: number, end: number): { readonly hex: string } {
  return { hex: buf.toString('hex', start, end).toUpperCase() };
}

/** The little-endian int32 at p (the caller checked the bounds). */
function int32At(buf: Buffer, p: number): number {
  return (
    (buf[p] as number) |
    ((buf[p + 1] as number) << 8) |
    ((buf[p + 2] as number) << 16) |
    ((buf[p + 3] as number) << 24)
  );
}

/** 64-bit integer as exact decimal text: a number while the value is below 2^53, a BigInt only beyond. */
function int64Text(buf: Buffer, p: number, unsigned: boolean): string {
  const lo = int32At(buf, p) >>> 0;
  if (unsigned) {
    const hi = int32At(buf, p + 4) >>> 0;
    return hi < 0x200000 ? String(hi * 0x100000000 + lo) : buf.readBigUInt64LE(p).toString();
  }
  const hi = int32At(buf, p + 4);
  return hi >= -0x200000 && hi < 0x200000 ? String(hi * 0x100000000 + lo) : buf.readBigInt64LE(p).toString();
}

/** A little-endian length prefix of n bytes (1-4); leaves the cursor on the data. */
function readLength(cur: Cursor, n: number): number {
  switch (n) {
    case 1:
      return cur.u8();
    case 2:
      return cur.u16();
    case 3:
      return cur.u24();
    case 4:
      return cur.u32();
    default:
      throw new MalformedValueError(`Cannot decode value: a length prefix of ${n} bytes is not 1 to 4`, {
        fields: { offset: cur.pos },
      });
  }
}

/** The length-prefix size of a BLOB-like column: the metadata, or the size implied by the type when it is 0. */
function blobPrefix(col: ColumnDef): number {
  if (col.meta >= 1 && col.meta <= 4) return col.meta;
  switch (col.type) {
    case ColumnType.TINY_BLOB:
      return 1;
    case ColumnType.BLOB:
      return 2;
    case ColumnType.MEDIUM_BLOB:
      return 3;
    default:
      return 4;
  }
}

/**
 * Character data in the column's charset, `{hex}` in the binary charset (right-padded with 0x00 to `padTo` bytes:
 * MySQL strips trailing zeros of BINARY(n) in the binlog, SELECT returns all n bytes).
 */
function text(buf: Buffer, start: number, end: number, c: CompiledColumn): CanonicalValue {
  switch (c.textMode) {
    case TEXT_UTF8:
      return utf8Text(buf, start, end);
    case TEXT_UNKNOWN:
      if (isUtf8(buf.subarray(start, end))) return buf.toString('utf8', start, end);
      return hex(buf, start, end);
    case TEXT_BINARY: {
      const padTo = c.padTo;
      if (end - start >= padTo) return hex(buf, start, end);
      return { hex: buf.toString('hex', start, end).toUpperCase() + '00'.repeat(padTo - (end - start)) };
    }
    default: {
      const s = (c.charset as Charset).decode(buf, start, end);
      return s ?? hex(buf, start, end);
    }
  }
}

/**
 * UTF-8 text; equal to `buf.toString('utf8', start, end)`, which (Node's lib/buffer.js) looks the encoding up and
 * then calls the Buffer's own `utf8Slice`: called directly where it exists, saving a third of a short value's cost.
 */
const utf8Text: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as unknown as Partial<Utf8Sliceable>).utf8Slice === 'function'
    ? (buf, start, end) => (buf as unknown as Utf8Sliceable).utf8Slice(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}

/** ENUM storage width: 1 or 2 bytes from the metadata, else from the member count. */
function enumWidth(col: ColumnDef, size: number): number {
  const members = col.enumValues;
  return size === 1 || size === 2 ? size : members !== undefined && members.length > 255 ? 2 : 1;
}

/** SET storage width: 1-8 bytes from the metadata, else from the member count. */
function setWidth(col: ColumnDef, size: number): number {
  if (size >= 1 && size <= 8) return size;
  const n = col.setValues?.length ?? 64;
  return n <= 8 ? 1 : n <= 16 ? 2 : n <= 24 ? 3 : n <= 32 ? 4 : 8;
}

/** ENUM: the 1-based member index in 1 or 2 bytes (0 is the '' error value SELECT shows as empty). */
function enumValue(cur: Cursor, col: ColumnDef, width: number): CanonicalValue {
  const members = col.enumValues;
  const index = width === 1 ? cur.u8() : cur.u16();
  if (members === undefined) return String(index);
  if (index === 0) return '';
  return members[index - 1] ?? String(index);
}

/** SET: a little-endian bitmask of 1-8 bytes, member i at bit i; SELECT lists members in definition order. */
function setValue(cur: Cursor, col: ColumnDef, width: number): CanonicalValue {
  const members = col.setValues;
  const buf = cur.buf;
  const p = cur.pos;
  cur.pos = p + width;
  const lo = buf.readUIntLE(p, Math.min(width, 4));
  const hi = width > 4 ? buf.readUIntLE(p + 4, width - 4) : 0;
  if (members === undefined) {
    return hi < 0x200000 ? String(hi * 0x100000000 + lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
  }
  let out = '';
  let first = true;
  for (let i = 0; i < members.length && i < 64; i++) {
    const bit = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (bit === 1) {
      out = first ? (members[i] as string) : out + ',' + (members[i] as string);
      first = false;
    }
  }
  return out;
}

/** MariaDB 5.3 hires formats: stored size by fsp 0..6 (MariaDB sql/field.cc `*_hires_bytes`). */
const TIME_HIRES_BYTES = [3, 4, 4, 5, 5, 5, 6] as const;
const DATETIME_HIRES_BYTES = [5, 6, 6, 7, 7, 7, 8] as const;
const TIMESTAMP_HIRES_BYTES = [4, 5, 5, 6, 6, 7, 7] as const;
