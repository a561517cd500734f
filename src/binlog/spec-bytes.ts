import { crc32 } from './checksum.js';
import { ColumnType } from './column-types.js';
import { EventType } from './event-types.js';

/**
 * Builders of binlog bytes straight from the format documentation, for tests: they share no code with the
 * decoder except CRC32, so a decoder bug cannot hide behind a builder with the same bug.
 */

export function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
export function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntLE(n, 0, 3);
  return b;
}
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
export function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntLE(n, 0, 6);
  return b;
}
export function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
/** net_field_length / length-encoded integer. */
export function lenenc(n: number): Buffer {
  if (n < 0xfb) return u8(n);
  if (n < 0x10000) return Buffer.concat([u8(0xfc), u16(n)]);
  if (n < 0x1000000) return Buffer.concat([u8(0xfd), u24(n)]);
  return Buffer.concat([u8(0xfe), u64(n)]);
}
export function lenstr(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([lenenc(b.length), b]);
}
export function cat(...parts: (Buffer | number[])[]): Buffer {
  return Buffer.concat(parts.map((p) => (Array.isArray(p) ? Buffer.from(p) : p)));
}

export interface EventOptions {
  timestamp?: number;
  serverId?: number;
  /** Position of the event; log_pos is set to pos + size. Default 4. */
  pos?: number;
  flags?: number;
  checksum?: boolean;
  /** Override log_pos (0 for events inside a payload). */
  logPos?: number;
}

/** A complete event: 19-byte header + body (+ CRC32). */
export function event(type: number, body: Buffer, o: EventOptions = {}): Buffer {
  const size = 19 + body.length + (o.checksum ? 4 : 0);
  const pos = o.pos ?? 4;
  const header = cat(
    u32(o.timestamp ?? 1_700_000_000),
    u8(type),
    u32(o.serverId ?? 1),
    u32(size),
    u32(o.logPos ?? pos + size),
    u16(o.flags ?? 0),
  );
  const withoutCrc = Buffer.concat([header, body]);
  return o.checksum ? Buffer.concat([withoutCrc, u32(crc32(withoutCrc))]) : withoutCrc;
}

/** Post-header lengths of MySQL 8.0 (index = type - 1), long enough for every MySQL type up to 42. */
export const MYSQL8_POST_HEADERS = [
  0, 13, 0, 8, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 95, 0, 4, 26, 8, 0, 0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10, 42,
  42, 0, 18, 52, 0, 10, 0, 0, 0,
];

/** A FORMAT_DESCRIPTION body: version 4, server version, timestamp 0, header 19, post-headers, checksum alg + CRC room. */
export function fdeBody(
  serverVersion: string,
  checksumAlg: number,
  postHeaders: number[] = MYSQL8_POST_HEADERS,
): Buffer {
  const version = Buffer.alloc(50);
  version.write(serverVersion, 'latin1');
  return cat(u16(4), version, u32(0), u8(19), Buffer.from(postHeaders), u8(checksumAlg));
}

/**
 * A FORMAT_DESCRIPTION event. Its checksum room (4 bytes) always exists; when `checksumAlg` is CRC32 the event
 * builder fills it, otherwise it is zero.
 */
export function fde(serverVersion = '8.0.36', checksumAlg = 1, o: EventOptions = {}): Buffer {
  const body = fdeBody(serverVersion, checksumAlg);
  if (checksumAlg === 1) return event(EventType.FORMAT_DESCRIPTION, body, { ...o, checksum: true });
  return event(EventType.FORMAT_DESCRIPTION, Buffer.concat([body, u32(0)]), { ...o, checksum: false });
}

/** Lays events out as a file: magic, then each event with its position and log_pos patched in. */
export function binlogFile(events: ((pos: number) => Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0xfe, 0x62, 0x69, 0x6e])];
  let pos = 4;
  for (const make of events) {
    const e = make(pos);
    parts.push(e);
    pos += e.length;
  }
  return Buffer.concat(parts);
}

/** A QUERY body: thread id, exec time, schema length, error code, status vars length, vars, schema, NUL, query. */
export function queryBody(
  schema: string,
  query: string | Buffer,
  statusVars: Buffer = Buffer.alloc(0),
): Buffer {
  const s = Buffer.from(schema, 'utf8');
  return cat(
    u32(77),
    u32(0),
    u8(s.length),
    u16(0),
    u16(statusVars.length),
    statusVars,
    s,
    u8(0),
    typeof query === 'string' ? Buffer.from(query) : query,
  );
}

export interface TableMapColumn {
  type: number;
  /** Metadata bytes as written in the metadata block. */
  meta: number[];
  nullable: boolean;
}

/** A TABLE_MAP body (6-byte table id). `optional` is the raw optional-metadata TLV block. */
export function tableMapBody(
  tableId: number,
  schema: string,
  table: string,
  cols: TableMapColumn[],
  optional: Buffer = Buffer.alloc(0),
): Buffer {
  const meta = Buffer.from(cols.flatMap((c) => c.meta));
  const nulls = Buffer.alloc((cols.length + 7) >> 3);
  cols.forEach((c, i) => {
    if (c.nullable) nulls[i >> 3] = (nulls[i >> 3] as number) | (1 << (i & 7));
  });
  return cat(
    u48(tableId),
    u16(1),
    u8(Buffer.byteLength(schema)),
    Buffer.from(schema),
    u8(0),
    u8(Buffer.byteLength(table)),
    Buffer.from(table),
    u8(0),
    lenenc(cols.length),
    Buffer.from(cols.map((c) => c.type)),
    lenenc(meta.length),
    meta,
    nulls,
    optional,
  );
}

/** One optional-metadata TLV field. */
export function tlv(type: number, value: Buffer): Buffer {
  return cat(u8(type), lenenc(value.length), value);
}

/** A bitmap with one bit per entry, LSB first (columns-present and NULL bitmaps). */
export function bitmap(bits: boolean[]): Buffer {
  const b = Buffer.alloc((bits.length + 7) >> 3);
  bits.forEach((on, i) => {
    if (on) b[i >> 3] = (b[i >> 3] as number) | (1 << (i & 7));
  });
  return b;
}

/** A bitmap MSB first (SIGNEDNESS, COLUMN_VISIBILITY). */
export function bitmapMsb(bits: boolean[]): Buffer {
  const b = Buffer.alloc((bits.length + 7) >> 3);
  bits.forEach((on, i) => {
    if (on) b[i >> 3] = (b[i >> 3] as number) | (0x80 >> (i & 7));
  });
  return b;
}

/** Rows event body: v1 (post-header 8) when `extra` is undefined, else v2 with the given extra data. */
export function rowsBody(
  tableId: number,
  width: number,
  present: Buffer[],
  rows: Buffer,
  extra?: Buffer,
): Buffer {
  const head =
    extra === undefined ? cat(u48(tableId), u16(1)) : cat(u48(tableId), u16(1), u16(extra.length + 2), extra);
  return cat(head, lenenc(width), ...present, rows);
}

/** A zstd frame holding `data` in one raw (stored) block: the smallest valid frame, for payload tests. */
export function zstdRawFrame(data: Buffer): Buffer {
  if (data.length > 255) throw new Error('zstdRawFrame: at most 255 bytes (1-byte frame content size)');
  // Magic, Frame_Header_Descriptor 0x20 (single segment, 1-byte content size), content size, block header
  // (last block, raw, size << 3).
  const blockHeader = u24((data.length << 3) | 1);
  return cat([0x28, 0xb5, 0x2f, 0xfd, 0x20, data.length], blockHeader, data);
}

/** MySQL serialization-library variable-length unsigned integer. */
export function varlen(value: bigint | number): Buffer {
  let v = BigInt(value);
  let bits = 0;
  for (let t = v; t > 0n; t >>= 1n) bits++;
  const n = bits === 64 ? 9 : Math.floor((bits * 575) / 4096) + 1;
  if (n === 9) return cat([0xff], u64(v));
  const out = Buffer.alloc(n);
  const marker = (1 << (n - 1)) - 1;
  out[0] = (marker | Number((v << BigInt(n)) & 0xffn)) & 0xff;
  v >>= BigInt(8 - n);
  for (let i = 1; i < n; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
/** Signed (zig-zag) variant. */
export function varlenSigned(value: bigint | number): Buffer {
  const v = BigInt(value);
  return varlen(v >= 0n ? v << 1n : (-(v + 1n) << 1n) | 1n);
}

// ---- A whole binlog file for output tests ----

const DECIMAL_DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** NEWDECIMAL bytes of decimal text (MySQL `decimal2bin`, see values/decimal.ts for the layout). */
export function decimalBytes(text: string, precision: number, scale: number): Buffer {
  const negative = text.startsWith('-');
  const [i = '', f = ''] = text.replace('-', '').split('.');
  const intg = precision - scale;
  const intDigits = i.padStart(intg, '0');
  const fracDigits = f.padEnd(scale, '0');
  const out: number[] = [];
  const push = (digits: string, bytes: number): void => {
    let v = Number(digits);
    const group: number[] = [];
    for (let k = 0; k < bytes; k++) {
      group.unshift(v % 256);
      v = Math.floor(v / 256);
    }
    out.push(...group);
  };
  const lead = intg % 9;
  if (lead > 0) push(intDigits.slice(0, lead), DECIMAL_DIG2BYTES[lead]!);
  for (let k = lead; k < intg; k += 9) push(intDigits.slice(k, k + 9), 4);
  const full = Math.floor(scale / 9) * 9;
  for (let k = 0; k < full; k += 9) push(fracDigits.slice(k, k + 9), 4);
  if (scale % 9 > 0) push(fracDigits.slice(full), DECIMAL_DIG2BYTES[scale % 9]!);
  const buf = Buffer.from(out);
  buf[0] = buf[0]! ^ 0x80;
  if (negative) for (let k = 0; k < buf.length; k++) buf[k] = buf[k]! ^ 0xff;
  return buf;
}

/** DATETIME2(fsp): 5 bytes big-endian offset by 0x8000000000, then (fsp + 1) / 2 fraction bytes. */
export function datetime2(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  micros: number,
  fsp: number,
): Buffer {
  const ymd = ((y * 13 + mo) << 5) | d;
  const hms = (h << 12) | (mi << 6) | s;
  const packed = BigInt(ymd) * 0x20000n + BigInt(hms) + 0x8000000000n;
  const b = Buffer.alloc(5);
  b.writeUIntBE(Number(packed), 0, 5);
  const fracBytes = (fsp + 1) >> 1;
  const frac = Buffer.alloc(fracBytes);
  if (fracBytes === 3) frac.writeUIntBE(micros, 0, 3);
  else if (fracBytes === 2) frac.writeUInt16BE(micros / 100);
  else if (fracBytes === 1) frac.writeUInt8(micros / 10000);
  return cat(b, frac);
}

/** TIMESTAMP2(3): 4 bytes big-endian seconds, 2 bytes big-endian hundreds of microseconds. */
function timestamp2ms(seconds: number, millis: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt32BE(seconds);
  b.writeUInt16BE(millis * 10, 4);
  return b;
}

const COLUMNS = [
  { name: 'id', type: ColumnType.LONGLONG, meta: [], nullable: false },
  { name: 'customer_id', type: ColumnType.LONG, meta: [], nullable: false },
  { name: 'status', type: ColumnType.VARCHAR, meta: [64, 0], nullable: false },
  { name: 'amount', type: ColumnType.NEWDECIMAL, meta: [12, 2], nullable: false },
  { name: 'tax', type: ColumnType.NEWDECIMAL, meta: [10, 4], nullable: false },
  { name: 'quantity', type: ColumnType.SHORT, meta: [], nullable: false },
  { name: 'sku', type: ColumnType.VARCHAR, meta: [32, 0], nullable: false },
  { name: 'note', type: ColumnType.VARCHAR, meta: [0x90, 0x01], nullable: true },
  { name: 'created_at', type: ColumnType.DATETIME2, meta: [6], nullable: false },
  { name: 'updated_at', type: ColumnType.DATETIME2, meta: [0], nullable: false },
  { name: 'we"ird\\name\u0001', type: ColumnType.BLOB, meta: [2], nullable: true },
  { name: '__proto__', type: ColumnType.LONG, meta: [], nullable: true },
  { name: 'big', type: ColumnType.NEWDECIMAL, meta: [65, 30], nullable: true },
  { name: 't', type: ColumnType.TIMESTAMP2, meta: [3], nullable: true },
  { name: 'e', type: ColumnType.STRING, meta: [ColumnType.ENUM, 1], nullable: true },
];
const WIDTH = COLUMNS.length;
const TABLE_ID = 77;

const OPTIONAL = cat(
  // Numeric columns in order: id, customer_id, amount, tax, quantity, __proto__, big.
  tlv(1, bitmapMsb([true, true, false, false, false, false, false])),
  // Character columns: status, sku, note, the BLOB: utf8mb4 by default, sku latin1, the BLOB binary.
  tlv(2, cat(lenenc(45), lenenc(1), lenenc(8), lenenc(3), lenenc(63))),
  tlv(4, cat(...COLUMNS.map((c) => lenstr(c.name)))),
  tlv(6, cat(lenenc(3), lenstr('small'), lenstr('la"rge'), lenstr('\\x'))),
  tlv(10, lenenc(45)),
);

interface Row {
  id: bigint;
  customer: number;
  status: Buffer;
  amount: string;
  tax: string;
  quantity: number;
  sku: Buffer;
  note: Buffer | null;
  created: Buffer;
  updated: Buffer;
  blob: Buffer | null;
  proto: number | null;
  big: string | null;
  t: Buffer | null;
  e: number | null;
}

function image(r: Row): Buffer {
  const nulls = bitmap([
    false,
    false,
    false,
    false,
    false,
    false,
    false,
    r.note === null,
    false,
    false,
    r.blob === null,
    r.proto === null,
    r.big === null,
    r.t === null,
    r.e === null,
  ]);
  const parts: Buffer[] = [
    nulls,
    u64(r.id),
    u32(r.customer),
    u8(r.status.length),
    r.status,
    decimalBytes(r.amount, 12, 2),
    decimalBytes(r.tax, 10, 4),
    u16(r.quantity & 0xffff),
    u8(r.sku.length),
    r.sku,
  ];
  if (r.note !== null) parts.push(u16(r.note.length), r.note);
  parts.push(r.created, r.updated);
  if (r.blob !== null) parts.push(u16(r.blob.length), r.blob);
  if (r.proto !== null) parts.push(u32(r.proto));
  if (r.big !== null) parts.push(decimalBytes(r.big, 65, 30));
  if (r.t !== null) parts.push(r.t);
  if (r.e !== null) parts.push(u8(r.e));
  return cat(...parts);
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const base: Row = {
  id: 1n,
  customer: 4_000_000_000,
  status: utf8('new'),
  amount: '1000.99',
  tax: '0.0042',
  quantity: 3,
  sku: utf8('SKU-00000001'),
  note: utf8('order note for customer 1 with some text'),
  created: datetime2(2026, 1, 1, 0, 0, 1, 1, 6),
  updated: datetime2(2026, 1, 1, 0, 0, 1, 0, 0),
  blob: null,
  proto: null,
  big: null,
  t: null,
  e: null,
};

/** Strings that exercise every JSON escape, surrogate pairs, invalid UTF-8 and latin1's cp1252 row. */
const ROWS: Row[] = [
  base,
  { ...base, id: 2n, status: utf8('pa"id'), note: utf8(''), amount: '-0.05', quantity: -32768 },
  { ...base, id: 3n, status: utf8('back\\slash'), note: null, e: 2, proto: 7 },
  { ...base, id: 4n, status: utf8('\u0000\u0001\b\t\n\f\r\u001f'), note: utf8('\u007f\u0080\u00ff'), e: 0 },
  { ...base, id: 5n, status: utf8('\u2028\u2029</script>'), note: utf8('😀 é ✓ 𝄞'), e: 3 },
  { ...base, id: 6n, status: Buffer.from([0x61, 0xff, 0xfe, 0xc3]), note: Buffer.from([0xed, 0xa0, 0x80]) },
  {
    ...base,
    id: 18446744073709551615n,
    customer: 0,
    sku: Buffer.from([0x80, 0x81, 0x8d, 0x9f, 0xa0, 0xe9, 0x22, 0x5c, 0x0a]),
    blob: Buffer.from([0x00, 0xff, 0x22, 0x5c]),
    big: '-12345678901234567890123456789012345.123456789012345678901234567891',
    t: timestamp2ms(1_767_225_600, 5),
    amount: '9999999999.99',
    tax: '-999999.9999',
  },
  { ...base, id: 9007199254740993n, blob: Buffer.alloc(0), big: '0', t: timestamp2ms(0, 0), proto: -1 >>> 0 },
];

const C = { checksum: true };

/**
 * A MySQL 8 binlog file (CRC32) with the bench's OLTP table plus every value the JSON output must escape or keep
 * exact: quotes, backslashes, control characters, surrogate pairs, invalid UTF-8, latin1's cp1252 row, BINARY
 * padding, a column named `__proto__`, a quoted table name, BIGINT beyond 2^53, DECIMAL(65,30), MINIMAL images.
 * 11 events: FORMAT_DESCRIPTION, BEGIN, then TABLE_MAP + WRITE/UPDATE/UPDATE(minimal)/DELETE, XID.
 */
export function oltpSpecBinlog(): Buffer {
  const tm = (pos: number): Buffer =>
    event(EventType.TABLE_MAP, tableMapBody(TABLE_ID, 'app', 'or"ders', COLUMNS, OPTIONAL), { ...C, pos });
  const all = bitmap(COLUMNS.map(() => true));
  const minimal = bitmap(COLUMNS.map((_, i) => i === 0 || i === 7));
  const v2 = Buffer.alloc(0);
  const updated = ROWS.slice(0, 3).map((r) => ({ ...r, status: utf8('refun\u0000ded'), amount: '1.50' }));
  const minimalBefore = (r: Row): Buffer =>
    cat(
      bitmap([false, r.note === null]),
      u64(r.id),
      r.note === null ? Buffer.alloc(0) : cat(u16(r.note.length), r.note),
    );
  return binlogFile([
    (pos) => fde('8.0.36', 1, { pos }),
    (pos) => event(EventType.QUERY, queryBody('app', 'BEGIN'), { ...C, pos }),
    tm,
    (pos) =>
      event(EventType.WRITE_ROWS, rowsBody(TABLE_ID, WIDTH, [all], cat(...ROWS.map(image)), v2), {
        ...C,
        pos,
      }),
    tm,
    (pos) =>
      event(
        EventType.UPDATE_ROWS,
        rowsBody(
          TABLE_ID,
          WIDTH,
          [all, all],
          cat(...ROWS.slice(0, 3).flatMap((r, i) => [image(r), image(updated[i]!)])),
          v2,
        ),
        { ...C, pos },
      ),
    tm,
    (pos) =>
      event(
        EventType.UPDATE_ROWS,
        rowsBody(TABLE_ID, WIDTH, [minimal, all], cat(minimalBefore(ROWS[1]!), image(ROWS[1]!)), v2),
        { ...C, pos },
      ),
    tm,
    (pos) =>
      event(
        EventType.DELETE_ROWS,
        rowsBody(TABLE_ID, WIDTH, [all], cat(image(ROWS[4]!), image(ROWS[6]!)), v2),
        {
          ...C,
          pos,
        },
      ),
    (pos) => event(EventType.XID, u64(42n), { ...C, pos }),
  ]);
}
