import * as zlib from 'node:zlib';
import { EventFlag, EventType } from './event-types.js';
import { HEADER_FLAGS_OFFSET, HEADER_TYPE_OFFSET } from './header.js';

/**
 * CRC32 (the zlib / ISO-HDLC polynomial MySQL uses for binlog_checksum=CRC32). Node has `zlib.crc32` since
 * 20.15 / 22.2; older runtimes fall back to a table implementation so the decoder never silently skips checks.
 */
type Crc32 = (data: Uint8Array, initial?: number) => number;

const nativeCrc32: Crc32 | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? zlib.crc32 : undefined;

let table: Uint32Array | undefined;

function tableCrc32(data: Uint8Array, initial = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  const t = table;
  let crc = ~initial >>> 0;
  for (let i = 0; i < data.length; i++) crc = (t[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

export const crc32: Crc32 = nativeCrc32 ?? tableCrc32;
export { tableCrc32 as crc32Portable };

/** Binlog checksum algorithms as stored in the FORMAT_DESCRIPTION event (binlog_event.h enum_binlog_checksum_alg). */
export const ChecksumAlg = { OFF: 0, CRC32: 1, UNDEF: 255 } as const;

/**
 * Computes the CRC32 of one event (all bytes but the 4-byte trailer) and returns it with the stored value.
 * For a FORMAT_DESCRIPTION event the LOG_EVENT_BINLOG_IN_USE_F flag is cleared first: the server sets it in place
 * while the file is open without recomputing the checksum (MySQL `Log_event_footer::event_checksum_test`).
 */
export function eventChecksums(
  buf: Buffer,
  offset: number,
  size: number,
): { computed: number; stored: number } {
  const end = offset + size - 4;
  const stored = buf.readUInt32LE(end);
  const flags = buf.readUInt16LE(offset + HEADER_FLAGS_OFFSET);
  if (
    buf[offset + HEADER_TYPE_OFFSET] === EventType.FORMAT_DESCRIPTION &&
    (flags & EventFlag.BINLOG_IN_USE) !== 0
  ) {
    const cleared = flags & ~EventFlag.BINLOG_IN_USE;
    let crc = crc32(buf.subarray(offset, offset + HEADER_FLAGS_OFFSET));
    crc = crc32(Buffer.from([cleared & 0xff, cleared >>> 8]), crc);
    crc = crc32(buf.subarray(offset + HEADER_FLAGS_OFFSET + 2, end), crc);
    return { computed: crc, stored };
  }
  return { computed: crc32(new Uint8Array(buf.buffer, buf.byteOffset + offset, size - 4)), stored };
}

/**
 * CRC-32 of a message followed by its own CRC (little-endian) is this constant: checking the whole event against
 * it needs no slicing, which matters on the hot path.
 */
const CRC32_RESIDUE = 0x2144df1c;

/** Fast check of an event's CRC32 trailer (not for a FORMAT_DESCRIPTION with the in-use flag set). */
export function eventChecksumOk(buf: Buffer, offset: number, size: number): boolean {
  return crc32(new Uint8Array(buf.buffer, buf.byteOffset + offset, size)) === CRC32_RESIDUE;
}
