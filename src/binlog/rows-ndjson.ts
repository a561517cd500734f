import { DIGIT_PAIRS, putPadded, putUint } from './ascii-digits.js';
import { ColumnType } from './column-types.js';
import type { Cursor } from './cursor.js';
import { MalformedEventError } from './errors.js';
import type { TableMap } from './events.js';
import { viewOf, type NdjsonOutput } from './ndjson-output.js';
import { quote, rowsHeadJson } from './render.js';
import { popcount, rowPlan, type RowsHeader } from './rows.js';
import { writeSmallDecimal } from './values/decimal.js';
import { decodeCompiled, type CompiledColumn } from './values/decode-value.js';
import { datetime2FromBinary } from './values/temporal.js';

/**
 * Rows events written straight to NDJSON bytes, without building row objects: the `binlog decode` hot path.
 *
 * The output is byte for byte what `renderNdjson` prints for the event `decodeRows` returns (the render pin
 * tests hold both to the same files). Values of the common types are formatted from the row bytes here, with the
 * same rules as the value decoder (`values/`); everything else goes through `decodeCompiled` and the JSON
 * quoting of render.ts. Whatever is unusual (a value outside the ranges formatted here, bytes that need
 * escaping or are not ASCII) takes that general path too, so the fast paths only ever handle plain cases.
 */

/** How a column's values are written. */
const GENERAL = 0;
const INT = 1;
const INT64 = 2;
const DECIMAL = 3;
const DATETIME2 = 4;
const ASCII_TEXT = 5;
const BINARY_TEXT = 6;

interface WriterPlan {
  /**
   * `"name":` of each column as UTF-8 (at keyAt[i], keyLength[i] bytes), and `,"name":` for every column after
   * an image's first (at commaKeyAt[i], one byte longer), packed in one padded table for `NdjsonOutput.words`.
   */
  readonly keys: DataView;
  readonly keyAt: Int32Array;
  readonly keyLength: Int32Array;
  readonly commaKeyAt: Int32Array;
  readonly compiled: readonly CompiledColumn[];
  readonly modes: Uint8Array;
}

const writerPlans = new WeakMap<TableMap, WriterPlan | null>();

/** An array index ("0", "17"): JSON.stringify puts such keys first, before the table order the writer follows. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * The writer's plan for a table, or null when its images must go through row objects: column names that are
 * array indexes (objects list them first) or repeated (an object keeps one), neither of which a real table has.
 */
function writerPlan(tm: TableMap): WriterPlan | null {
  let plan = writerPlans.get(tm);
  if (plan === undefined) {
    const names = rowPlan(tm).names;
    const unique = new Set(names).size === names.length;
    const indexLike = names.some((n) => ARRAY_INDEX.test(n) && Number(n) < 2 ** 32 - 1);
    if (!unique || indexLike) plan = null;
    else {
      const compiled = rowPlan(tm).compiled;
      const parts: Buffer[] = [];
      const keyAt = new Int32Array(names.length);
      const keyLength = new Int32Array(names.length);
      const commaKeyAt = new Int32Array(names.length);
      let at = 0;
      names.forEach((n, i) => {
        const key = Buffer.from(`,${JSON.stringify(n)}:`, 'utf8');
        parts.push(key);
        commaKeyAt[i] = at;
        keyAt[i] = at + 1;
        keyLength[i] = key.length - 1;
        at += key.length;
      });
      parts.push(Buffer.alloc(4));
      plan = {
        keys: viewOf(Buffer.concat(parts)),
        keyAt,
        keyLength,
        commaKeyAt,
        compiled,
        modes: Uint8Array.from(compiled.map(modeOf)),
      };
    }
    writerPlans.set(tm, plan);
  }
  return plan;
}

function modeOf(c: CompiledColumn): number {
  switch (c.type) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
      return INT;
    case ColumnType.LONGLONG:
      return INT64;
    case ColumnType.NEWDECIMAL:
      return DECIMAL;
    case ColumnType.DATETIME2:
      return c.scale <= 6 ? DATETIME2 : GENERAL;
    default:
      if (c.asciiText && c.prefix <= 2) return ASCII_TEXT;
      if (c.binaryText && c.prefix <= 2) return BINARY_TEXT;
      return GENERAL;
  }
}

/**
 * Appends the NDJSON line of a rows event (`head` is its envelope, from `envelopeJson`) and returns true, or
 * returns false without writing when the event needs the object path (no table map, or a table `writerPlan`
 * refuses). PARTIAL_UPDATE_ROWS never comes here. Throws on malformed rows like `decodeRows`; the caller then
 * drops what was written.
 */
export function writeRowsNdjson(h: RowsHeader, head: string, out: NdjsonOutput): boolean {
  const tm = h.tableMap;
  if (tm === undefined) return false;
  const plan = writerPlan(tm);
  if (plan === null) return false;
  out.string(head + rowsHeadJson(tm.schema, tm.table, h.tableId, h.flags, rowPlan(tm).names, h.extra));
  const rc = h.rows;
  const src = viewOf(rc.buf);
  const width = h.width;
  const bitmaps = h.bitmaps;
  const countBefore = popcount(bitmaps, h.beforeOff, width);
  const countAfter = h.op === 'update' ? popcount(bitmaps, h.afterOff, width) : countBefore;
  let first = true;
  while (rc.remaining > 0) {
    const rowStart = rc.pos;
    if (first) out.words(LITERALS, BEFORE, BEFORE_LENGTH);
    else out.words(LITERALS, NEXT_BEFORE, NEXT_BEFORE_LENGTH);
    first = false;
    if (h.op === 'insert') {
      out.words(LITERALS, NULL_AFTER, NULL_AFTER_LENGTH);
      writeImage(out, rc, src, plan, bitmaps, h.beforeOff, countBefore, width);
    } else if (h.op === 'delete') {
      writeImage(out, rc, src, plan, bitmaps, h.beforeOff, countBefore, width);
      out.words(LITERALS, AFTER_NULL, AFTER_NULL_LENGTH);
    } else {
      writeImage(out, rc, src, plan, bitmaps, h.beforeOff, countBefore, width);
      out.words(LITERALS, AFTER, AFTER_LENGTH);
      writeImage(out, rc, src, plan, bitmaps, h.afterOff, countAfter, width);
    }
    out.ensure(1);
    out.buf[out.len++] = 0x7d; // }
    // An image with no present columns reads nothing: refuse instead of looping forever on the remaining bytes.
    if (rc.pos === rowStart) {
      throw new MalformedEventError(
        `Cannot decode rows event for table "${tm.schema}.${tm.table}": a row image with no columns leaves ${rc.remaining} bytes unread`,
      );
    }
  }
  out.ascii(']}\n');
  return true;
}

// The fixed pieces of a row, packed (and padded) for `NdjsonOutput.words`.
const BEFORE = 1;
const BEFORE_LENGTH = 10; // {"before":
const NEXT_BEFORE = 0;
const NEXT_BEFORE_LENGTH = 11; // ,{"before":
const NULL_AFTER = 11;
const NULL_AFTER_LENGTH = 13; // null,"after":
const AFTER = 15;
const AFTER_LENGTH = 9; // ,"after":
const AFTER_NULL = 15;
const AFTER_NULL_LENGTH = 13; // ,"after":null
const NULL = 11;
const LITERALS = viewOf(Buffer.from(',{"before":null,"after":null\0\0\0\0', 'latin1'));

/** One row image as a JSON object: the NULL bitmap, then the present columns in table order (rows.ts readImage). */
function writeImage(
  out: NdjsonOutput,
  rc: Cursor,
  src: DataView,
  plan: WriterPlan,
  present: Buffer,
  presentOff: number,
  presentCount: number,
  width: number,
): void {
  const nullStart = rc.pos;
  rc.skip((presentCount + 7) >> 3);
  const buf = rc.buf;
  const keys = plan.keys;
  const keyAt = plan.keyAt;
  const keyLength = plan.keyLength;
  const commaKeyAt = plan.commaKeyAt;
  const modes = plan.modes;
  const compiled = plan.compiled;
  // A full image (the usual case) has every column present: no need to test the present bitmap per column.
  const all = presentCount === width;
  out.ensure(1);
  out.buf[out.len++] = 0x7b; // {
  let bit = 0;
  for (let i = 0; i < width; i++) {
    if (!all && (((present[presentOff + (i >> 3)] as number) >> (i & 7)) & 1) === 0) continue;
    const isNull = (((buf[nullStart + (bit >> 3)] as number) >> (bit & 7)) & 1) === 1;
    if (bit === 0) out.words(keys, keyAt[i] as number, keyLength[i] as number);
    else out.words(keys, commaKeyAt[i] as number, (keyLength[i] as number) + 1);
    bit++;
    if (isNull) {
      out.words(LITERALS, NULL, 4);
      continue;
    }
    const c = compiled[i] as CompiledColumn;
    // Each fast path returns false, having written and read nothing, for a value it leaves to the general path.
    switch (modes[i]) {
      case INT:
        if (writeInt(out, rc, src, c)) continue;
        break;
      case INT64:
        if (writeInt64(out, rc, src, c)) continue;
        break;
      case DECIMAL:
        if (writeDecimal(out, rc, c)) continue;
        break;
      case DATETIME2:
        if (writeDatetime2(out, rc, src, c)) continue;
        break;
      case ASCII_TEXT:
        if (writeText(out, rc, src, c, false)) continue;
        break;
      case BINARY_TEXT:
        if (writeText(out, rc, src, c, true)) continue;
        break;
      default:
        break;
    }
    writeGeneral(out, rc, c);
  }
  out.ensure(1);
  out.buf[out.len++] = 0x7d; // }
}

const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000] as const;

const HEX = Buffer.from('0123456789ABCDEF', 'latin1');

/*
 * The fast paths read through a DataView of the rows buffer (`src`, same offsets as `rc.buf`): its reads compile
 * to plain loads, where Buffer's readUInt32LE and friends validate their offset argument on every call.
 */

/** TINY, SHORT, INT24, LONG. */
function writeInt(out: NdjsonOutput, rc: Cursor, src: DataView, c: CompiledColumn): boolean {
  const p = rc.pos;
  const size = c.size;
  if (p + size > rc.end) return false;
  let v: number;
  if (size === 4) v = c.unsigned ? src.getUint32(p, true) : src.getInt32(p, true);
  else if (size === 2) v = c.unsigned ? src.getUint16(p, true) : src.getInt16(p, true);
  else if (size === 1) v = c.unsigned ? src.getUint8(p) : src.getInt8(p);
  else {
    v = src.getUint16(p, true) + src.getUint8(p + 2) * 0x10000;
    if (!c.unsigned && v >= 0x800000) v -= 0x1000000;
  }
  rc.pos = p + size;
  quotedInteger(out, v);
  return true;
}

/** LONGLONG below 2^53 in magnitude, an exact number; beyond, BigInt text (values/decode-value.ts). */
function writeInt64(out: NdjsonOutput, rc: Cursor, src: DataView, c: CompiledColumn): boolean {
  const p = rc.pos;
  if (p + 8 > rc.end) return false;
  const lo = src.getUint32(p, true);
  if (c.unsigned) {
    const hi = src.getUint32(p + 4, true);
    if (hi >= 0x200000) return false;
    quotedInteger(out, hi * 0x100000000 + lo);
  } else {
    const hi = src.getInt32(p + 4, true);
    if (hi < -0x200000 || hi >= 0x200000) return false;
    quotedInteger(out, hi * 0x100000000 + lo);
  }
  rc.pos = p + 8;
  return true;
}

function writeDecimal(out: NdjsonOutput, rc: Cursor, c: CompiledColumn): boolean {
  const p = rc.pos;
  if (!(p + c.size <= rc.end)) return false;
  // DECIMAL text holds only digits, '-' and '.': nothing to escape.
  out.ensure(28);
  const end = writeSmallDecimal(rc.buf, p, c.precision, c.scale, out.buf, out.len + 1);
  if (end < 0) return false;
  out.buf[out.len] = 0x22;
  out.buf[end] = 0x22;
  out.len = end + 1;
  rc.pos = p + c.size;
  return true;
}

function writeDatetime2(out: NdjsonOutput, rc: Cursor, src: DataView, c: CompiledColumn): boolean {
  const p = rc.pos;
  if (p + c.size > rc.end) return false;
  datetime2(out, rc.buf, src, p, c.scale);
  rc.pos = p + c.size;
  return true;
}

/** A character value with a 1- or 2-byte length: ASCII copied as it is, or `{"hex"}` in the binary charset. */
function writeText(
  out: NdjsonOutput,
  rc: Cursor,
  src: DataView,
  c: CompiledColumn,
  binary: boolean,
): boolean {
  const buf = rc.buf;
  const p = rc.pos;
  const prefix = c.prefix;
  if (p + prefix > rc.end) return false;
  const len = prefix === 1 ? (buf[p] as number) : src.getUint16(p, true);
  const start = p + prefix;
  const end = start + len;
  if (end > rc.end) return false;
  if (binary) binaryText(out, buf, start, end, c.padTo);
  else if (!asciiText(out, src, buf, start, end)) return false;
  rc.pos = end;
  return true;
}

/** The general path: the value decoder's text (or its error), quoted as render.ts quotes it. */
function writeGeneral(out: NdjsonOutput, rc: Cursor, c: CompiledColumn): void {
  const v = decodeCompiled(rc, c);
  if (v === null) out.ascii('null');
  else if (typeof v === 'string') out.string(quote(v));
  else out.ascii(`{"hex":"${v.hex}"}`);
}

/** `"<digits>"` of an integer below 2^53 in magnitude, as String(n) prints it. */
function quotedInteger(out: NdjsonOutput, n: number): void {
  out.ensure(20);
  const buf = out.buf;
  let len = out.len;
  buf[len++] = 0x22;
  if (n < 0) buf[len++] = 0x2d;
  len = putUint(buf, len, n < 0 ? -n : n);
  buf[len++] = 0x22;
  out.len = len;
}

/**
 * DATETIME2(fsp) as `"YYYY-MM-DD HH:MM:SS[.f]"` (layout in values/temporal.ts `datetime2FromBinary`). Values
 * outside 0000..9999 or with a fraction field above 999999 (possible only in damaged bytes) are left to that
 * function.
 */
function datetime2(out: NdjsonOutput, buf: Buffer, src: DataView, p: number, fsp: number): void {
  // 40 bits big-endian with the sign bit set for non-negative values: 1 sign bit, 17 bits year * 13 + month,
  // 5 bits day (together `ymd`, 23 bits), then 17 bits hour/minute/second (`hms`). Read as bytes to stay in int32.
  const b0 = buf[p] as number;
  const b2 = buf[p + 2] as number;
  const ymd = ((b0 & 0x7f) << 15) | ((buf[p + 1] as number) << 7) | (b2 >> 1);
  const hms = ((b2 & 1) << 16) | ((buf[p + 3] as number) << 8) | (buf[p + 4] as number);
  let micros = 0;
  switch ((fsp + 1) >> 1) {
    case 0:
      break;
    case 1:
      micros = (buf[p + 5] as number) * 10000;
      break;
    case 2:
      micros = src.getUint16(p + 5) * 100;
      break;
    default:
      micros = ((buf[p + 5] as number) << 16) | ((buf[p + 6] as number) << 8) | (buf[p + 7] as number);
  }
  const ym = ymd >>> 5;
  const year = (ym / 13) | 0;
  if (b0 < 0x80 || micros > 999999 || year > 9999) {
    out.ensure(40);
    out.buf[out.len++] = 0x22;
    out.ascii(datetime2FromBinary(buf, p, fsp));
    out.buf[out.len++] = 0x22;
    return;
  }
  const month = ym - year * 13;
  const day = ymd & 31;
  const hour = hms >>> 12;
  const minute = (hms >>> 6) & 63;
  const second = hms & 63;
  out.ensure(32);
  const view = out.view;
  let n = out.len;
  const d = PAIR_CODES;
  // Every field is a non-negative int32 here, so `| 0` divisions are exact. The text is stored four bytes at a
  // time (little-endian words; a pair code holds two digit characters): `"YYY` `Y-MM` `-DD ` `HH:M` `M:SS`.
  // Seconds and minutes up to 63 and hours up to 31 stay within the pair table (damaged bytes print as digits).
  const century = (year / 100) | 0;
  const y = d[year - century * 100] as number;
  const mi = d[minute] as number;
  view.setUint32(n, 0x22 | ((d[century] as number) << 8) | ((y & 0xff) << 24), true);
  view.setUint32(n + 4, (y >> 8) | 0x2d00 | ((d[month] as number) << 16), true);
  view.setUint32(n + 8, 0x2d | ((d[day] as number) << 8) | 0x20000000, true);
  view.setUint32(n + 12, (d[hour] as number) | 0x3a0000 | ((mi & 0xff) << 24), true);
  view.setUint32(n + 16, (mi >> 8) | 0x3a00 | ((d[second] as number) << 16), true);
  n += 20;
  if (fsp === 6) {
    // `.ffffff"`: two more words.
    const f1 = (micros / 10000) | 0;
    const rest = micros - f1 * 10000;
    const f2 = (rest / 100) | 0;
    const p2 = d[f2] as number;
    view.setUint32(n, 0x2e | ((d[f1] as number) << 8) | ((p2 & 0xff) << 24), true);
    view.setUint32(n + 4, (p2 >> 8) | ((d[rest - f2 * 100] as number) << 8) | 0x22000000, true);
    out.len = n + 8;
    return;
  }
  const o = out.buf;
  if (fsp > 0) {
    o[n++] = 0x2e;
    // The first fsp of the six microsecond digits.
    n = putPadded(o, n, (micros / (POW10[6 - fsp] as number)) | 0, fsp);
  }
  o[n++] = 0x22;
  out.len = n;
}

/** "00" to "99" as 16-bit little-endian codes: the tens digit's character in the low byte. */
const PAIR_CODES = Uint16Array.from({ length: 100 }, (_, i) => DIGIT_PAIRS.readUInt16LE(2 * i));

/**
 * A character value copied as it is when every byte is printable ASCII other than `"` and `\`: such bytes are
 * their own characters in the column's charset and need no escape. Returns false, having written nothing, for
 * anything else.
 */
function asciiText(out: NdjsonOutput, src: DataView, buf: Buffer, start: number, end: number): boolean {
  out.ensure(end - start + 5);
  const o = out.buf;
  const view = out.view;
  let n = out.len;
  o[n++] = 0x22;
  let i = start;
  // Four bytes at a time: a byte >= 0x80, a byte < 0x20 (x - 0x20 borrows into bit 7), or a byte equal to 0x22
  // or 0x5c (x ^ c is zero there) sends the value to the general path. The tests are exact as yes/no answers
  // (Bit Twiddling Hacks, "determine if a word has a byte less than n" / "has a zero byte").
  for (; i + 4 <= end; i += 4) {
    const w = src.getUint32(i, true);
    const q = w ^ 0x22222222;
    const b = w ^ 0x5c5c5c5c;
    if (
      ((w | ((w - 0x20202020) & ~w) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080) !==
      0
    ) {
      return false;
    }
    view.setUint32(n, w, true);
    n += 4;
  }
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) return false;
    o[n++] = c;
  }
  o[n++] = 0x22;
  out.len = n;
  return true;
}

/** `{"hex":"..."}`, upper case, BINARY(n) right-padded with 00 to n bytes as SELECT returns it. */
function binaryText(out: NdjsonOutput, buf: Buffer, start: number, end: number, padTo: number): void {
  const pad = end - start < padTo ? padTo - (end - start) : 0;
  out.ensure((end - start + pad) * 2 + 12);
  const o = out.buf;
  let n = out.len;
  for (let i = 0; i < 8; i++) o[n++] = OPEN_HEX[i] as number;
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    o[n++] = HEX[b >> 4] as number;
    o[n++] = HEX[b & 15] as number;
  }
  for (let i = 0; i < pad; i++) {
    o[n++] = 0x30;
    o[n++] = 0x30;
  }
  o[n++] = 0x22;
  o[n++] = 0x7d;
  out.len = n;
}

const OPEN_HEX = Buffer.from('{"hex":"', 'latin1');
