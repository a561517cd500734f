import { ColumnType, type CanonicalValue, type ColumnDef } from './column-types.js';
import { mariadbUncompress } from './compression.js';
import { Cursor } from './cursor.js';
import { MalformedEventError, MissingTableMapError } from './errors.js';
import { EventType, rowsEventKind } from './event-types.js';
import type { RowChange, RowImage, RowsBody, TableMap, UnappliedJsonDiff } from './events.js';
import type { FormatDescription } from './format-description.js';
import { postHeaderLength } from './format-description.js';
import { compileColumn, decodeCompiled, decodeValue, type CompiledColumn } from './values/decode-value.js';

/**
 * Rows events: WRITE/UPDATE/DELETE_ROWS v1 and v2, PARTIAL_UPDATE_ROWS (MySQL) and MariaDB's compressed variants.
 *
 * Layout (MySQL `rows_event.h` Rows_event, MariaDB `log_event.cc` row_log_event_uncompress):
 *   post-header: table_id (6 bytes; 4 with a 6-byte post-header), flags (2); v2 adds extra_data_len (2, counting
 *                itself) and the extra data TLVs (type 0 NDB: length byte counting the 2-byte header, format, data;
 *                type 1 partition: partition_id (2), plus source_partition_id (2) for updates)
 *   body: width (packed), columns-present bitmap, a second bitmap for updates (after image), then rows to the end.
 *         Compressed variants compress everything after the bitmaps with MariaDB's zlib header.
 *   row image: NULL bitmap with one bit per present column ((present + 7) / 8 bytes, LSB first), then the values of
 *         present, non-NULL columns in table order.
 *   PARTIAL_UPDATE_ROWS: before image, then value_options (packed; bit 0 = PARTIAL_JSON_UPDATES) and, when set,
 *         partial_bits (one bit per JSON column of the table, LSB first), then the after image, in which a partial
 *         JSON column holds a 4-byte length and a binary JSON diff list (`sql/rpl_record.h`, `json_diff.cc`).
 */

/** Decodes one non-NULL column value at cur.pos and advances past it (`values/decode-value.ts`). */
export type ValueDecoder = (cur: Cursor, col: ColumnDef) => CanonicalValue;
/** Applies a MySQL binary JSON diff list (without its 4-byte length) to the before value (`values/json-diff.ts`). */
export type JsonDiffApplier = (beforeJsonText: string | null, diffs: Buffer) => string;

export interface ValueCodec {
  readonly decodeValue: ValueDecoder;
  readonly applyJsonDiffs: JsonDiffApplier;
}

const PARTIAL_JSON_UPDATES = 1;

/** Per-table-map data the row loop needs, computed once and cached. */
export interface RowPlan {
  readonly names: readonly string[];
  readonly defs: readonly ColumnDef[];
  /** The columns compiled for the default value decoder (`decodeCompiled`). */
  readonly compiled: readonly CompiledColumn[];
  /** For each column, its ordinal among the table's JSON columns, or -1. */
  readonly jsonOrdinal: Int32Array;
  /** A column named `__proto__` needs defineProperty to become an own property. */
  readonly hasProtoName: boolean;
  /**
   * Every column set to null, in table order: an image with every column present starts as a copy of it, which
   * gives the image its final shape in one step instead of one shape transition per column.
   */
  readonly fullImage: RowImage | undefined;
}

const plans = new WeakMap<TableMap, RowPlan>();

/** The row plan of a table map, made once per table map. */
export function rowPlan(tm: TableMap): RowPlan {
  let plan = plans.get(tm);
  if (plan === undefined) {
    const jsonOrdinal = new Int32Array(tm.columns.length).fill(-1);
    let j = 0;
    const hasProtoName = tm.columns.some((c) => c.name === '__proto__');
    tm.columns.forEach((c, i) => {
      if (c.type === ColumnType.JSON) jsonOrdinal[i] = j++;
    });
    plan = {
      names: tm.columns.map((c) => c.name),
      defs: tm.columns,
      compiled: tm.columns.map(compileColumn),
      jsonOrdinal,
      hasProtoName,
      fullImage: hasProtoName ? undefined : fullImage(tm.columns),
    };
    plans.set(tm, plan);
  }
  return plan;
}

function fullImage(columns: readonly ColumnDef[]): RowImage {
  const img: RowImage = {};
  for (const c of columns) img[c.name] = null;
  return img;
}

export function popcount(bitmap: Buffer, off: number, width: number): number {
  let n = 0;
  for (let i = 0; i < width; i++) if ((((bitmap[off + (i >> 3)] as number) >> (i & 7)) & 1) === 1) n++;
  return n;
}

function setValue(img: RowImage, plan: RowPlan, name: string, value: CanonicalValue): void {
  if (plan.hasProtoName && name === '__proto__') {
    Object.defineProperty(img, name, { value, enumerable: true, writable: true, configurable: true });
  } else img[name] = value;
}

/**
 * Reads one row image. `partialBits`/`before` are set only for the after image of a PARTIAL_UPDATE_ROWS event.
 * Written without closures: this is the hot loop of the decoder.
 */
function readImage(
  rc: Cursor,
  plan: RowPlan,
  present: Buffer,
  presentOff: number,
  presentCount: number,
  width: number,
  codec: ValueCodec,
  partialBits: Buffer | undefined,
  before: RowImage | null,
  unapplied: UnappliedJsonDiff[] | undefined,
  rowIndex: number,
): RowImage {
  const nullStart = rc.pos;
  rc.skip((presentCount + 7) >> 3);
  const buf = rc.buf;
  const names = plan.names;
  const defs = plan.defs;
  const decode = codec.decodeValue;
  // The default codec decodes from the compiled columns; a caller's own codec gets the column definitions.
  const compiled = decode === decodeValue ? plan.compiled : undefined;
  const template = plan.fullImage;
  if (template !== undefined && partialBits === undefined && presentCount === defs.length) {
    // Every column present (so width is the table's column count): values go in table order over the copy.
    const full: RowImage = { ...template };
    for (let i = 0; i < width; i++) {
      full[names[i] as string] =
        (((buf[nullStart + (i >> 3)] as number) >> (i & 7)) & 1) === 1
          ? null
          : compiled !== undefined
            ? decodeCompiled(rc, compiled[i] as CompiledColumn)
            : decode(rc, defs[i] as ColumnDef);
    }
    return full;
  }
  const protoName = plan.hasProtoName;
  const img: RowImage = {};
  let bit = 0;
  for (let i = 0; i < width; i++) {
    if ((((present[presentOff + (i >> 3)] as number) >> (i & 7)) & 1) === 0) continue;
    const isNull = (((buf[nullStart + (bit >> 3)] as number) >> (bit & 7)) & 1) === 1;
    bit++;
    const name = names[i] as string;
    if (protoName) {
      setValue(
        img,
        plan,
        name,
        isNull ? null : decodeOne(rc, plan, i, codec, partialBits, before, unapplied, rowIndex),
      );
      continue;
    }
    if (isNull) {
      img[name] = null;
      continue;
    }
    if (partialBits !== undefined) {
      const ord = plan.jsonOrdinal[i] as number;
      if (ord >= 0 && (((partialBits[ord >> 3] as number) >> (ord & 7)) & 1) === 1) {
        const len = rc.u32();
        const diffs = rc.bytes(len, `JSON diff of column "${name}"`);
        const prior = before === null ? undefined : before[name];
        // Without the column in the before image (binlog_row_image=MINIMAL) there is no document to apply the diff
        // to: the column stays absent and the diff is handed out as is.
        if (prior === undefined || (prior !== null && typeof prior !== 'string')) {
          unapplied?.push({ row: rowIndex, column: name, diffs: Buffer.from(diffs) });
          continue;
        }
        img[name] = codec.applyJsonDiffs(prior, diffs);
        continue;
      }
    }
    img[name] =
      compiled !== undefined
        ? decodeCompiled(rc, compiled[i] as CompiledColumn)
        : decode(rc, defs[i] as ColumnDef);
  }
  return img;
}

/** The slow path for a table with a column named `__proto__`: one value, partial JSON included. */
function decodeOne(
  rc: Cursor,
  plan: RowPlan,
  i: number,
  codec: ValueCodec,
  partialBits: Buffer | undefined,
  before: RowImage | null,
  unapplied: UnappliedJsonDiff[] | undefined,
  rowIndex: number,
): CanonicalValue {
  const name = plan.names[i] as string;
  if (partialBits !== undefined) {
    const ord = plan.jsonOrdinal[i] as number;
    if (ord >= 0 && (((partialBits[ord >> 3] as number) >> (ord & 7)) & 1) === 1) {
      const len = rc.u32();
      const diffs = rc.bytes(len, `JSON diff of column "${name}"`);
      const prior = before === null || !Object.hasOwn(before, name) ? undefined : before[name];
      if (prior === undefined || (prior !== null && typeof prior !== 'string')) {
        unapplied?.push({ row: rowIndex, column: name, diffs: Buffer.from(diffs) });
        return null;
      }
      return codec.applyJsonDiffs(prior, diffs);
    }
  }
  return codec.decodeValue(rc, plan.defs[i] as ColumnDef);
}

function isCompressed(typeCode: number): boolean {
  return typeCode >= EventType.WRITE_ROWS_COMPRESSED_V1 && typeCode <= EventType.DELETE_ROWS_COMPRESSED;
}

export interface RowsContext {
  readonly fde: FormatDescription;
  readonly tableMaps: ReadonlyMap<number, TableMap>;
  readonly codec: ValueCodec;
  readonly maxDecompressedSize: number;
}

/** A rows event up to its row images: what both the object decoder and the NDJSON writer start from. */
export interface RowsHeader {
  readonly op: 'insert' | 'update' | 'delete';
  readonly tableId: number;
  readonly flags: number;
  readonly extra: RowsBody['extra'];
  /** Number of columns the images cover. */
  readonly width: number;
  /** The buffer holding the columns-present bitmaps, at `beforeOff` (and `afterOff` for updates). */
  readonly bitmaps: Buffer;
  readonly beforeOff: number;
  readonly afterOff: number;
  /** The row images, to the end of the event (decompressed for MariaDB's compressed events). */
  readonly rows: Cursor;
  /** Undefined only for an event with no rows whose TABLE_MAP is unknown. */
  readonly tableMap: TableMap | undefined;
}

export function readRowsHeader(cur: Cursor, typeCode: number, ctx: RowsContext): RowsHeader {
  const op = rowsEventKind(typeCode);
  if (op === undefined)
    throw new MalformedEventError(`Cannot decode rows event: type ${typeCode} is not a rows event`);
  const postHeader = postHeaderLength(ctx.fde, typeCode);
  const start = cur.pos;
  const tableId = postHeader === 6 ? cur.u32() : cur.u48();
  const flags = cur.u16();
  let extra: RowsBody['extra'];
  if (postHeader >= 10) {
    cur.pos = start + postHeader - 2;
    const extraLen = cur.u16();
    if (extraLen < 2)
      throw new MalformedEventError(`Cannot decode rows event: extra data length ${extraLen} is below 2`);
    const ex = new Cursor(cur.bytes(extraLen - 2, 'rows extra data'));
    extra = decodeExtra(ex, typeCode);
  } else cur.pos = start + postHeader;

  const width = cur.lenenc();
  if (width < 0) throw new MalformedEventError('Cannot decode rows event: NULL column count');
  const bitmapLen = (width + 7) >> 3;
  // Bitmaps are read in place (offsets into cur.buf): no per-event Buffer views on the hot path.
  const beforeOff = cur.pos;
  cur.skip(bitmapLen);
  let afterOff = beforeOff;
  if (op === 'update') {
    afterOff = cur.pos;
    cur.skip(bitmapLen);
  }

  let rc = cur;
  if (isCompressed(typeCode)) {
    rc = new Cursor(mariadbUncompress(cur.rest(), 'compressed rows', ctx.maxDecompressedSize));
  }

  const tm = ctx.tableMaps.get(tableId);
  if (tm === undefined) {
    if (rc.remaining !== 0) {
      throw new MissingTableMapError(
        `Cannot decode rows event: no TABLE_MAP for table id ${tableId} precedes it`,
        {
          fields: { tableId },
        },
      );
    }
  } else if (width > tm.columns.length) {
    throw new MalformedEventError(
      `Cannot decode rows event for table "${tm.schema}.${tm.table}": column count is ${width}, table map has ${tm.columns.length}`,
      { fields: { schema: tm.schema, table: tm.table, width, tableMapColumns: tm.columns.length } },
    );
  }
  return { op, tableId, flags, extra, width, bitmaps: cur.buf, beforeOff, afterOff, rows: rc, tableMap: tm };
}

export function decodeRows(cur: Cursor, typeCode: number, ctx: RowsContext): RowsBody {
  const {
    op,
    tableId,
    flags,
    extra,
    width,
    beforeOff,
    afterOff,
    rows: rc,
    tableMap: tm,
  } = readRowsHeader(cur, typeCode, ctx);
  if (tm === undefined) {
    return {
      kind: 'rows',
      op,
      tableId,
      flags,
      schema: '',
      table: '',
      columns: [],
      rows: [],
      tableMap: undefined,
      ...(extra ? { extra } : {}),
    };
  }
  const plan = rowPlan(tm);
  const countBefore = popcount(cur.buf, beforeOff, width);
  const countAfter = op === 'update' ? popcount(cur.buf, afterOff, width) : countBefore;
  const partial = typeCode === EventType.PARTIAL_UPDATE_ROWS;
  const jsonColumns = partial ? plan.defs.filter((d) => d.type === ColumnType.JSON).length : 0;
  const codec = ctx.codec;
  const rows: RowChange[] = [];
  const unapplied: UnappliedJsonDiff[] | undefined = partial ? [] : undefined;
  while (rc.remaining > 0) {
    const rowStart = rc.pos;
    if (op === 'insert') {
      const after = readImage(
        rc,
        plan,
        cur.buf,
        beforeOff,
        countBefore,
        width,
        codec,
        undefined,
        null,
        undefined,
        0,
      );
      rows.push({ before: null, after });
    } else if (op === 'delete') {
      const before = readImage(
        rc,
        plan,
        cur.buf,
        beforeOff,
        countBefore,
        width,
        codec,
        undefined,
        null,
        undefined,
        0,
      );
      rows.push({ before, after: null });
    } else {
      const before = readImage(
        rc,
        plan,
        cur.buf,
        beforeOff,
        countBefore,
        width,
        codec,
        undefined,
        null,
        undefined,
        0,
      );
      let partialBits: Buffer | undefined;
      if (partial) {
        const options = rc.lenenc();
        if (options < 0)
          throw new MalformedEventError('Cannot decode PARTIAL_UPDATE_ROWS event: NULL value_options');
        if ((options & PARTIAL_JSON_UPDATES) !== 0)
          partialBits = rc.bytes((jsonColumns + 7) >> 3, 'partial JSON bitmap');
      }
      const after = readImage(
        rc,
        plan,
        cur.buf,
        afterOff,
        countAfter,
        width,
        codec,
        partialBits,
        before,
        unapplied,
        rows.length,
      );
      rows.push({ before, after });
    }
    // An image with no present columns reads nothing: refuse instead of looping forever on the remaining bytes.
    if (rc.pos === rowStart) {
      throw new MalformedEventError(
        `Cannot decode rows event for table "${tm.schema}.${tm.table}": a row image with no columns leaves ${rc.remaining} bytes unread`,
      );
    }
  }
  return {
    kind: 'rows',
    op,
    tableId,
    flags,
    schema: tm.schema,
    table: tm.table,
    columns: plan.names,
    rows,
    tableMap: tm,
    ...(extra ? { extra } : {}),
    ...(unapplied !== undefined && unapplied.length > 0 ? { unappliedJsonDiffs: unapplied } : {}),
  };
}

const EXTRA_NDB = 0;
const EXTRA_PARTITION = 1;

function decodeExtra(ex: Cursor, typeCode: number): RowsBody['extra'] {
  const out: { partitionId?: number; sourcePartitionId?: number; ndbInfo?: Buffer } = {};
  while (ex.remaining > 0) {
    const type = ex.u8();
    if (type === EXTRA_NDB) {
      const len = ex.u8();
      ex.pos -= 1;
      out.ndbInfo = ex.bytesCopy(len, 'NDB extra row info');
    } else if (type === EXTRA_PARTITION) {
      out.partitionId = ex.u16();
      if (typeCode === EventType.UPDATE_ROWS || typeCode === EventType.PARTIAL_UPDATE_ROWS)
        out.sourcePartitionId = ex.u16();
    } else break; // unknown code: nothing further is understood (Rows_event constructor does the same)
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
