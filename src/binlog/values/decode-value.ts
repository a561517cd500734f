import { isUtf8 } from 'node:buffer';
import type { Cursor } from '../cursor.js';
import { ColumnType, type CanonicalValue, type ColumnDef } from '../column-types.js';
import { charsetForCollation } from './charset.js';
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
  const buf = cur.buf;
  const p = cur.pos;
  switch (col.type) {
    case ColumnType.TINY:
      cur.need(1, 'TINYINT value');
      cur.pos = p + 1;
      return String(col.unsigned ? (buf[p] as number) : buf.readInt8(p));
    case ColumnType.SHORT:
      cur.need(2, 'SMALLINT value');
      cur.pos = p + 2;
      return String(col.unsigned ? buf.readUInt16LE(p) : buf.readInt16LE(p));
    case ColumnType.INT24:
      cur.need(3, 'MEDIUMINT value');
      cur.pos = p + 3;
      return String(col.unsigned ? buf.readUIntLE(p, 3) : buf.readIntLE(p, 3));
    case ColumnType.LONG:
      cur.need(4, 'INT value');
      cur.pos = p + 4;
      return String(col.unsigned ? buf.readUInt32LE(p) : buf.readInt32LE(p));
    case ColumnType.LONGLONG:
      cur.need(8, 'BIGINT value');
      cur.pos = p + 8;
      return int64Text(buf, p, col.unsigned);
    case ColumnType.YEAR: {
      cur.need(1, 'YEAR value');
      cur.pos = p + 1;
      const y = buf[p] as number;
      // YEAR stores year - 1900; 0 is the zero year, which SELECT prints as 0000.
      return y === 0 ? '0000' : String(1900 + y);
    }
    case ColumnType.FLOAT:
      cur.need(4, 'FLOAT value');
      cur.pos = p + 4;
      return formatFloat(buf.readFloatLE(p));
    case ColumnType.DOUBLE:
      cur.need(8, 'DOUBLE value');
      cur.pos = p + 8;
      return formatDouble(buf.readDoubleLE(p));
    case ColumnType.NEWDECIMAL: {
      const precision = col.meta >> 8;
      const scale = col.meta & 0xff;
      const size = decimalBinarySize(precision, scale);
      cur.need(size, 'DECIMAL value');
      const text = decimalToText(buf, p, precision, scale);
      cur.pos = p + size;
      return text;
    }
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      cur.need(3, 'DATE value');
      cur.pos = p + 3;
      return date2FromBinary(buf, p);
    case ColumnType.TIME2: {
      const size = 3 + fractionBytes(col.meta);
      cur.need(size, 'TIME value');
      cur.pos = p + size;
      return time2FromBinary(buf, p, col.meta);
    }
    case ColumnType.DATETIME2: {
      const size = 5 + fractionBytes(col.meta);
      cur.need(size, 'DATETIME value');
      cur.pos = p + size;
      return datetime2FromBinary(buf, p, col.meta);
    }
    case ColumnType.TIMESTAMP2: {
      const size = 4 + fractionBytes(col.meta);
      cur.need(size, 'TIMESTAMP value');
      cur.pos = p + size;
      return timestamp2FromBinary(buf, p, col.meta);
    }
    case ColumnType.TIME: {
      if (col.meta > 0) return hires(cur, col, TIME_HIRES_BYTES, timeHiresFromBinary, 'TIME value');
      cur.need(3, 'TIME value');
      cur.pos = p + 3;
      return timeFromBinary(buf, p);
    }
    case ColumnType.DATETIME: {
      if (col.meta > 0)
        return hires(cur, col, DATETIME_HIRES_BYTES, datetimeHiresFromBinary, 'DATETIME value');
      cur.need(8, 'DATETIME value');
      cur.pos = p + 8;
      return datetimeFromBinary(buf, p);
    }
    case ColumnType.TIMESTAMP: {
      if (col.meta > 0)
        return hires(cur, col, TIMESTAMP_HIRES_BYTES, timestampHiresFromBinary, 'TIMESTAMP value');
      cur.need(4, 'TIMESTAMP value');
      cur.pos = p + 4;
      return timestampFromBinary(buf, p);
    }
    case ColumnType.BIT: {
      // M = bytes * 8 + bits; the value is ceil(M / 8) bytes, big-endian, as SELECT returns them.
      const size = (col.meta >> 8) + ((col.meta & 0xff) > 0 ? 1 : 0);
      cur.need(size, 'BIT value');
      cur.pos = p + size;
      return hex(buf, p, p + size);
    }
    case ColumnType.ENUM:
      return enumValue(cur, col, col.meta & 0xff);
    case ColumnType.SET:
      return setValue(cur, col, col.meta & 0xff);
    case ColumnType.STRING:
      return stringValue(cur, col);
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING: {
      const len = col.meta > 255 ? readLength(cur, 2) : readLength(cur, 1);
      const start = cur.pos;
      cur.need(len, 'VARCHAR value');
      cur.pos = start + len;
      return text(buf, start, start + len, col, 0);
    }
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB: {
      const len = readLength(cur, blobPrefix(col));
      const start = cur.pos;
      cur.need(len, 'BLOB value');
      cur.pos = start + len;
      // MariaDB's JSON is a LONGTEXT alias: it arrives here with a utf8mb4 collation and decodes as text.
      return text(buf, start, start + len, col, 0);
    }
    case ColumnType.JSON: {
      const len = readLength(cur, blobPrefix(col));
      const start = cur.pos;
      cur.need(len, 'JSON value');
      cur.pos = start + len;
      if (col.flavor === 'mariadb') return buf.toString('utf8', start, start + len);
      return jsonBinaryToText(buf.subarray(start, start + len));
    }
    case ColumnType.GEOMETRY:
    case ColumnType.VECTOR: {
      // GEOMETRY: 4-byte SRID + WKB, exactly what HEX(col) shows. VECTOR (MySQL 9): float32 array bytes.
      const len = readLength(cur, blobPrefix(col));
      const start = cur.pos;
      cur.need(len, col.type === ColumnType.GEOMETRY ? 'GEOMETRY value' : 'VECTOR value');
      cur.pos = start + len;
      return hex(buf, start, start + len);
    }
    case ColumnType.NULL:
      return null;
    default:
      throw new UnsupportedValueError(
        `Cannot decode column "${col.name}": column type ${col.type} (${typeName(col.type)}) has no binlog value format dbtrail can read`,
        { fields: { column: col.name, type: col.type } },
      );
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

/** 64-bit integer as exact decimal text: a number while the value is below 2^53, a BigInt only beyond. */
function int64Text(buf: Buffer, p: number, unsigned: boolean): string {
  const lo = buf.readUInt32LE(p);
  if (unsigned) {
    const hi = buf.readUInt32LE(p + 4);
    return hi < 0x200000 ? String(hi * 0x100000000 + lo) : buf.readBigUInt64LE(p).toString();
  }
  const hi = buf.readInt32LE(p + 4);
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
function text(buf: Buffer, start: number, end: number, col: ColumnDef, padTo: number): CanonicalValue {
  const collation = col.collation;
  const cs = collation === undefined ? undefined : charsetForCollation(collation);
  if (cs === undefined) {
    if (isUtf8(buf.subarray(start, end))) return buf.toString('utf8', start, end);
    return hex(buf, start, end);
  }
  if (cs.binary) {
    if (end - start >= padTo) return hex(buf, start, end);
    return { hex: buf.toString('hex', start, end).toUpperCase() + '00'.repeat(padTo - (end - start)) };
  }
  const s = cs.decode(buf, start, end);
  return s ?? hex(buf, start, end);
}

/**
 * STRING (CHAR/BINARY): the metadata folds the real type and a maximum byte length up to 1023 into two bytes
 * (MySQL `Field_string::do_save_field_metadata`); a maximum above 255 bytes means a 2-byte length prefix.
 */
function stringValue(cur: Cursor, col: ColumnDef): CanonicalValue {
  const byte0 = col.meta >> 8;
  const byte1 = col.meta & 0xff;
  let realType = byte0;
  let maxLength = byte1;
  if (byte0 !== 0 && (byte0 & 0x30) !== 0x30) {
    maxLength = byte1 | (((byte0 & 0x30) ^ 0x30) << 4);
    realType = byte0 | 0x30;
  }
  if (realType === ColumnType.ENUM) return enumValue(cur, col, byte1);
  if (realType === ColumnType.SET) return setValue(cur, col, byte1);
  const len = maxLength > 255 ? readLength(cur, 2) : readLength(cur, 1);
  const start = cur.pos;
  cur.need(len, 'CHAR value');
  cur.pos = start + len;
  return text(cur.buf, start, start + len, col, maxLength);
}

/** ENUM: the 1-based member index in 1 or 2 bytes (0 is the '' error value SELECT shows as empty). */
function enumValue(cur: Cursor, col: ColumnDef, size: number): CanonicalValue {
  const members = col.enumValues;
  const width = size === 1 || size === 2 ? size : members !== undefined && members.length > 255 ? 2 : 1;
  const index = width === 1 ? cur.u8() : cur.u16();
  if (members === undefined) return String(index);
  if (index === 0) return '';
  return members[index - 1] ?? String(index);
}

/** SET: a little-endian bitmask of 1-8 bytes, member i at bit i; SELECT lists members in definition order. */
function setValue(cur: Cursor, col: ColumnDef, size: number): CanonicalValue {
  const members = col.setValues;
  let width = size;
  if (width < 1 || width > 8) {
    const n = members?.length ?? 64;
    width = n <= 8 ? 1 : n <= 16 ? 2 : n <= 24 ? 3 : n <= 32 ? 4 : 8;
  }
  cur.need(width, 'SET value');
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

function hires(
  cur: Cursor,
  col: ColumnDef,
  sizes: readonly number[],
  read: (buf: Buffer, p: number, size: number, fsp: number) => string,
  what: string,
): string {
  const fsp = Math.min(col.meta, 6);
  const size = sizes[fsp] as number;
  cur.need(size, what);
  const p = cur.pos;
  cur.pos = p + size;
  return read(cur.buf, p, size, fsp);
}
