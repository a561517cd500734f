import { ColumnType, type ColumnDef } from './column-types.js';
import { Cursor } from './cursor.js';
import { MalformedEventError } from './errors.js';
import { EventType } from './event-types.js';
import type { TableMap } from './events.js';
import type { FormatDescription } from './format-description.js';
import { postHeaderLength } from './format-description.js';
import { decodeText } from './text.js';

/**
 * TABLE_MAP (MySQL `rows_event.h` Table_map_event):
 *   post-header: table_id (6 bytes; 4 when the post-header is 6 bytes long), flags (2)
 *   body: schema (1-byte length, bytes, NUL), table (1-byte length, bytes, NUL), column_count (packed),
 *         column types (1 byte each), metadata length (packed), metadata block, NULL bitmap
 *         ((column_count + 7) / 8 bytes, LSB first), then optional metadata as TLV (type 1 byte, length packed).
 *
 * ColumnDef.meta packs the per-column metadata into one number the way MySQL's `table_def` does, so the value
 * decoder sees the same numbers the server uses:
 *   FLOAT, DOUBLE, BLOB, GEOMETRY, JSON, TIMESTAMP2, DATETIME2, TIME2, VECTOR: the single metadata byte
 *   VARCHAR, VAR_STRING: 2 bytes little-endian (maximum length in bytes)
 *   NEWDECIMAL: precision << 8 | scale
 *   BIT: bits | bytes << 8  (first byte: bits in the last byte, second: whole bytes)
 *   STRING (and ENUM/SET resolved from it): first byte << 8 | second byte (real type / length, see below)
 *   every other type: 0
 */

/** Optional metadata field types (Table_map_event::Optional_metadata_field_type). */
export const OptionalMetadata = {
  SIGNEDNESS: 1,
  DEFAULT_CHARSET: 2,
  COLUMN_CHARSET: 3,
  COLUMN_NAME: 4,
  SET_STR_VALUE: 5,
  ENUM_STR_VALUE: 6,
  GEOMETRY_TYPE: 7,
  SIMPLE_PRIMARY_KEY: 8,
  PRIMARY_KEY_WITH_PREFIX: 9,
  ENUM_AND_SET_DEFAULT_CHARSET: 10,
  ENUM_AND_SET_COLUMN_CHARSET: 11,
  COLUMN_VISIBILITY: 12,
  VECTOR_DIMENSIONALITY: 13,
} as const;

/** Size in bytes of a column's entry in the metadata block. */
function metadataLength(type: number, buf: Buffer, pos: number): number {
  switch (type) {
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.BLOB:
    case ColumnType.GEOMETRY:
    case ColumnType.JSON:
    case ColumnType.TIMESTAMP2:
    case ColumnType.DATETIME2:
    case ColumnType.TIME2:
    case ColumnType.VECTOR:
      return 1;
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
    case ColumnType.BIT:
    case ColumnType.NEWDECIMAL:
    case ColumnType.STRING:
    case ColumnType.ENUM:
    case ColumnType.SET:
      return 2;
    case ColumnType.TYPED_ARRAY: {
      // Element type byte, then that type's own metadata.
      const elem = buf[pos];
      return elem === undefined || elem === ColumnType.TYPED_ARRAY
        ? 1
        : 1 + metadataLength(elem, buf, pos + 1);
    }
    default:
      return 0;
  }
}

function readMeta(type: number, buf: Buffer, pos: number, len: number): number {
  const b0 = buf[pos] as number;
  const b1 = buf[pos + 1] as number;
  switch (type) {
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      return b0 | (b1 << 8);
    case ColumnType.BIT:
      return b0 | (b1 << 8);
    case ColumnType.NEWDECIMAL:
    case ColumnType.STRING:
    case ColumnType.ENUM:
    case ColumnType.SET:
      return (b0 << 8) | b1;
    case ColumnType.TYPED_ARRAY: {
      let v = 0;
      for (let i = 0; i < len; i++) v = v * 256 + (buf[pos + i] as number);
      return v;
    }
    default:
      return len === 1 ? b0 : 0;
  }
}

/**
 * The real type of a STRING column: the first metadata byte holds it, except that CHAR columns longer than 255
 * bytes fold bits 8-9 of the length into it (Field_string::do_save_field_metadata): when `(b0 & 0x30) != 0x30` the
 * real type is `b0 | 0x30`.
 */
export function stringRealType(meta: number): number {
  const b0 = meta >> 8;
  return (b0 & 0x30) !== 0x30 ? b0 | 0x30 : b0;
}

function isNumeric(type: number): boolean {
  switch (type) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG:
    case ColumnType.NEWDECIMAL:
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
      return true;
    default:
      return false;
  }
}

/**
 * Columns that take part in DEFAULT_CHARSET / COLUMN_CHARSET. MySQL (`log_event.cc` is_character_type) counts
 * STRING, VAR_STRING, VARCHAR, BLOB and VECTOR; MariaDB counts GEOMETRY (a BLOB underneath) instead of VECTOR.
 * ENUM and SET have their own charset fields.
 */
function isCharacter(type: number, flavor: 'mysql' | 'mariadb'): boolean {
  switch (type) {
    case ColumnType.STRING:
    case ColumnType.VAR_STRING:
    case ColumnType.VARCHAR:
    case ColumnType.BLOB:
      return true;
    case ColumnType.VECTOR:
      return flavor === 'mysql';
    case ColumnType.GEOMETRY:
      return flavor === 'mariadb';
    default:
      return false;
  }
}

/** What schema history knows of a column; every field is optional and only fills gaps the binlog leaves. */
export interface ColumnInfo {
  readonly name?: string;
  readonly unsigned?: boolean;
  readonly collation?: number;
  readonly enumValues?: readonly string[];
  readonly setValues?: readonly string[];
  readonly geometryType?: number;
  readonly primaryKey?: boolean;
  readonly visible?: boolean;
}

/**
 * Supplies column definitions from schema history for a table map that lacks names
 * (binlog_row_metadata=MINIMAL, MySQL 5.7, MariaDB before 10.5). Return undefined when unknown; an array whose
 * length differs from the table map's column count is ignored (the table changed shape).
 */
export type ColumnResolver = (table: {
  readonly schema: string;
  readonly table: string;
  readonly tableId: number;
  readonly columns: readonly ColumnDef[];
}) => readonly ColumnInfo[] | undefined;

interface OptionalFields {
  signedness?: boolean[];
  defaultCharset?: { def: number; pairs: [number, number][] };
  columnCharset?: number[];
  names?: string[];
  setValues?: Buffer[][];
  enumValues?: Buffer[][];
  geometryTypes?: number[];
  primaryKey?: { index: number; prefix: number }[];
  enumSetDefaultCharset?: { def: number; pairs: [number, number][] };
  enumSetColumnCharset?: number[];
  visibility?: boolean[];
  vectorDimensions?: number[];
}

function packed(cur: Cursor, what: string): number {
  const v = cur.lenenc();
  if (v < 0)
    throw new MalformedEventError(`Cannot decode TABLE_MAP ${what}: NULL where a number was expected`);
  return v;
}

function bitsMsbFirst(bytes: Buffer): boolean[] {
  const out: boolean[] = [];
  for (const b of bytes) for (let m = 0x80; m !== 0; m >>= 1) out.push((b & m) !== 0);
  return out;
}

function parseDefaultCharset(cur: Cursor): { def: number; pairs: [number, number][] } {
  const def = packed(cur, 'default charset');
  const pairs: [number, number][] = [];
  while (cur.remaining > 0)
    pairs.push([packed(cur, 'charset column index'), packed(cur, 'charset collation')]);
  return { def, pairs };
}

function parseStrValues(cur: Cursor): Buffer[][] {
  const out: Buffer[][] = [];
  while (cur.remaining > 0) {
    const count = packed(cur, 'ENUM/SET member count');
    // Each member takes at least its length byte: refuse counts the field cannot hold.
    if (count > cur.remaining)
      throw new MalformedEventError(
        `Cannot decode TABLE_MAP ENUM/SET members: ${count} members do not fit in ${cur.remaining} bytes`,
      );
    const members: Buffer[] = [];
    for (let i = 0; i < count; i++) members.push(cur.lenencBytes('ENUM/SET member'));
    out.push(members);
  }
  return out;
}

function parseOptionalMetadata(cur: Cursor): OptionalFields {
  const f: OptionalFields = {};
  const field = new Cursor(cur.buf);
  while (cur.remaining > 0) {
    const type = cur.u8();
    const len = packed(cur, 'optional metadata length');
    const value = cur.bytes(len, 'optional metadata field');
    field.reset(value);
    switch (type) {
      case OptionalMetadata.SIGNEDNESS:
        f.signedness = bitsMsbFirst(value);
        break;
      case OptionalMetadata.DEFAULT_CHARSET:
        f.defaultCharset = parseDefaultCharset(field);
        break;
      case OptionalMetadata.COLUMN_CHARSET: {
        const list: number[] = [];
        while (field.remaining > 0) list.push(packed(field, 'column charset'));
        f.columnCharset = list;
        break;
      }
      case OptionalMetadata.COLUMN_NAME: {
        const names: string[] = [];
        while (field.remaining > 0) names.push(field.lenencBytes('column name').toString('utf8'));
        f.names = names;
        break;
      }
      case OptionalMetadata.SET_STR_VALUE:
        f.setValues = parseStrValues(field);
        break;
      case OptionalMetadata.ENUM_STR_VALUE:
        f.enumValues = parseStrValues(field);
        break;
      case OptionalMetadata.GEOMETRY_TYPE: {
        const list: number[] = [];
        while (field.remaining > 0) list.push(packed(field, 'geometry type'));
        f.geometryTypes = list;
        break;
      }
      case OptionalMetadata.SIMPLE_PRIMARY_KEY: {
        const list: { index: number; prefix: number }[] = [];
        while (field.remaining > 0) list.push({ index: packed(field, 'primary key column'), prefix: 0 });
        f.primaryKey = list;
        break;
      }
      case OptionalMetadata.PRIMARY_KEY_WITH_PREFIX: {
        const list: { index: number; prefix: number }[] = [];
        while (field.remaining > 0) {
          list.push({
            index: packed(field, 'primary key column'),
            prefix: packed(field, 'primary key prefix'),
          });
        }
        f.primaryKey = list;
        break;
      }
      case OptionalMetadata.ENUM_AND_SET_DEFAULT_CHARSET:
        f.enumSetDefaultCharset = parseDefaultCharset(field);
        break;
      case OptionalMetadata.ENUM_AND_SET_COLUMN_CHARSET: {
        const list: number[] = [];
        while (field.remaining > 0) list.push(packed(field, 'ENUM/SET charset'));
        f.enumSetColumnCharset = list;
        break;
      }
      case OptionalMetadata.COLUMN_VISIBILITY:
        f.visibility = bitsMsbFirst(value);
        break;
      case OptionalMetadata.VECTOR_DIMENSIONALITY: {
        const list: number[] = [];
        while (field.remaining > 0) list.push(packed(field, 'vector dimensionality'));
        f.vectorDimensions = list;
        break;
      }
      default:
        // Unknown optional metadata is skipped by its length: servers add types over time.
        break;
    }
  }
  return f;
}

/** Charset per member of a group (character columns, or ENUM/SET columns), from either encoding. */
function charsetsFor(
  count: number,
  def: { def: number; pairs: [number, number][] } | undefined,
  list: number[] | undefined,
): (number | undefined)[] {
  const out: (number | undefined)[] = new Array<number | undefined>(count).fill(undefined);
  if (list !== undefined) {
    for (let i = 0; i < count; i++) out[i] = list[i];
  } else if (def !== undefined) {
    out.fill(def.def);
    for (const [idx, coll] of def.pairs) if (idx < count) out[idx] = coll;
  }
  return out;
}

/** The parsed pieces of a TABLE_MAP before names are settled (schema history may fill them in). */
export interface TableMapParts {
  readonly tableId: number;
  readonly flags: number;
  readonly schema: string;
  readonly table: string;
  readonly columns: ColumnDef[];
  readonly hasNames: boolean;
  readonly hasSignedness: boolean;
  readonly hasCharsets: boolean;
  readonly primaryKey: { index: number; prefix: number }[];
  readonly vectorDimensions: Map<number, number>;
}

/** Decodes a TABLE_MAP event body into column definitions (without consulting schema history). */
export function decodeTableMap(cur: Cursor, fde: FormatDescription): TableMapParts {
  const postHeader = postHeaderLength(fde, EventType.TABLE_MAP);
  const tableId = postHeader === 6 ? cur.u32() : cur.u48();
  const flags = cur.u16();
  if (postHeader > 8) cur.skip(postHeader - 8);
  const schemaLen = cur.u8();
  const schema = cur.bytes(schemaLen, 'schema name').toString('utf8');
  if (cur.u8() !== 0)
    throw new MalformedEventError(
      `Cannot decode TABLE_MAP event: schema name "${schema}" is not NUL-terminated`,
    );
  const tableLen = cur.u8();
  const table = cur.bytes(tableLen, 'table name').toString('utf8');
  if (cur.u8() !== 0)
    throw new MalformedEventError(
      `Cannot decode TABLE_MAP event for "${schema}": table name is not NUL-terminated`,
    );
  const columnCount = packed(cur, 'column count');
  const types = cur.bytes(columnCount, 'column types');
  const metaLen = packed(cur, 'metadata length');
  const metaStart = cur.pos;
  cur.need(metaLen, 'column metadata');
  const buf = cur.buf;
  const flavor = fde.flavor;
  const columns: ColumnDef[] = [];
  const raw: { type: number; meta: number }[] = [];
  let mp = metaStart;
  const metaEnd = metaStart + metaLen;
  for (let i = 0; i < columnCount; i++) {
    let type = types[i] as number;
    const len = metadataLength(type, buf, mp);
    if (mp + len > metaEnd) {
      throw new MalformedEventError(
        `Cannot decode TABLE_MAP event for table "${schema}.${table}": metadata block of ${metaLen} bytes ends before column ${i + 1} of ${columnCount}`,
      );
    }
    const meta = readMeta(type, buf, mp, len);
    mp += len;
    if (type === ColumnType.STRING) {
      const real = stringRealType(meta);
      if (real === ColumnType.ENUM || real === ColumnType.SET) type = real;
    }
    raw.push({ type, meta });
  }
  cur.pos = metaEnd;
  const nullBits = cur.bytes((columnCount + 7) >> 3, 'NULL bitmap');
  const opt = cur.remaining > 0 ? parseOptionalMetadata(cur) : {};

  let numericIdx = 0;
  let charIdx = 0;
  let enumSetIdx = 0;
  let enumIdx = 0;
  let setIdx = 0;
  let geomIdx = 0;
  let vectorIdx = 0;
  const charCount = raw.filter((c) => isCharacter(c.type, flavor)).length;
  const enumSetCount = raw.filter((c) => c.type === ColumnType.ENUM || c.type === ColumnType.SET).length;
  const charCharsets = charsetsFor(charCount, opt.defaultCharset, opt.columnCharset);
  const enumSetCharsets = charsetsFor(enumSetCount, opt.enumSetDefaultCharset, opt.enumSetColumnCharset);
  const pkSet = new Set((opt.primaryKey ?? []).map((p) => p.index));
  const vectorDimensions = new Map<number, number>();
  for (let i = 0; i < columnCount; i++) {
    const { type, meta } = raw[i] as { type: number; meta: number };
    const nullable = (((nullBits[i >> 3] as number) >> (i & 7)) & 1) === 1;
    let unsigned = false;
    if (isNumeric(type)) unsigned = opt.signedness?.[numericIdx++] ?? false;
    let collation: number | undefined;
    let enumValues: readonly string[] | undefined;
    let setValues: readonly string[] | undefined;
    let geometryType: number | undefined;
    if (isCharacter(type, flavor)) collation = charCharsets[charIdx++];
    if (type === ColumnType.ENUM || type === ColumnType.SET) {
      collation = enumSetCharsets[enumSetIdx++];
      if (type === ColumnType.ENUM)
        enumValues = opt.enumValues?.[enumIdx++]?.map((b) => decodeText(b, collation));
      else setValues = opt.setValues?.[setIdx++]?.map((b) => decodeText(b, collation));
    }
    if (type === ColumnType.GEOMETRY) geometryType = opt.geometryTypes?.[geomIdx++];
    if (type === ColumnType.VECTOR && opt.vectorDimensions !== undefined) {
      const dims = opt.vectorDimensions[vectorIdx++];
      if (dims !== undefined) vectorDimensions.set(i, dims);
    }
    const name = opt.names?.[i] ?? `@${i + 1}`;
    const def: ColumnDef = {
      index: i,
      name,
      type,
      meta,
      nullable,
      unsigned,
      flavor,
      ...(collation !== undefined ? { collation } : {}),
      ...(enumValues !== undefined ? { enumValues } : {}),
      ...(setValues !== undefined ? { setValues } : {}),
      ...(geometryType !== undefined ? { geometryType } : {}),
      ...(opt.primaryKey !== undefined ? { primaryKey: pkSet.has(i) } : {}),
      ...(opt.visibility !== undefined ? { visible: opt.visibility[i] ?? true } : {}),
    };
    columns.push(def);
  }
  return {
    tableId,
    flags,
    schema,
    table,
    columns,
    hasNames: opt.names !== undefined && opt.names.length >= columnCount,
    hasSignedness: opt.signedness !== undefined,
    hasCharsets: opt.defaultCharset !== undefined || opt.columnCharset !== undefined,
    primaryKey: opt.primaryKey ?? [],
    vectorDimensions,
  };
}

/**
 * Settles names (and fills other gaps) from schema history when the binlog lacks them. The binlog's own type and
 * metadata always win: they describe the bytes actually written.
 */
export function finishTableMap(parts: TableMapParts, resolver: ColumnResolver | undefined): TableMap {
  let columns: readonly ColumnDef[] = parts.columns;
  let columnsSource: TableMap['columnsSource'] = parts.hasNames ? 'binlog' : 'positional';
  if (!parts.hasNames && resolver !== undefined) {
    const info = resolver({
      schema: parts.schema,
      table: parts.table,
      tableId: parts.tableId,
      columns: parts.columns,
    });
    if (info !== undefined && info.length === parts.columns.length) {
      columnsSource = 'resolver';
      columns = parts.columns.map((c, i) => {
        const ci = info[i] as ColumnInfo;
        return {
          ...c,
          name: ci.name ?? c.name,
          unsigned: parts.hasSignedness ? c.unsigned : (ci.unsigned ?? c.unsigned),
          ...(c.collation === undefined && ci.collation !== undefined ? { collation: ci.collation } : {}),
          ...(c.enumValues === undefined && ci.enumValues !== undefined ? { enumValues: ci.enumValues } : {}),
          ...(c.setValues === undefined && ci.setValues !== undefined ? { setValues: ci.setValues } : {}),
          ...(c.geometryType === undefined && ci.geometryType !== undefined
            ? { geometryType: ci.geometryType }
            : {}),
          ...(c.primaryKey === undefined && ci.primaryKey !== undefined ? { primaryKey: ci.primaryKey } : {}),
          ...(c.visible === undefined && ci.visible !== undefined ? { visible: ci.visible } : {}),
        };
      });
    }
  }
  return {
    tableId: parts.tableId,
    flags: parts.flags,
    schema: parts.schema,
    table: parts.table,
    columns,
    columnsSource,
    primaryKey: parts.primaryKey,
    vectorDimensions: parts.vectorDimensions,
  };
}
