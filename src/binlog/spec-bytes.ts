import { crc32 } from './checksum.js';
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
