import { ChecksumAlg } from './checksum.js';
import type { Cursor } from './cursor.js';
import { MalformedEventError } from './errors.js';
import { CHECKSUM_LEN, EventType, LOG_EVENT_HEADER_LEN } from './event-types.js';
import type { FormatDescriptionBody } from './events.js';

/**
 * The decoding state a FORMAT_DESCRIPTION event sets for the rest of its file or stream.
 *
 * Spec: MySQL `control_events.h` (Format_description_event) and `control_events.cpp`:
 *   offset 0   binlog_version     2 bytes (4 for every server dbtrail reads)
 *   offset 2   server_version     50 bytes, NUL padded
 *   offset 52  create_timestamp   4 bytes
 *   offset 56  header_length      1 byte (19)
 *   offset 57  post_header_len    one byte per event type, up to the end minus 5 bytes
 *   end - 5    checksum_alg       1 byte, present for servers >= 5.6.1 (MariaDB >= 5.3)
 *   end - 4    checksum           4 bytes, always present (a placeholder when the algorithm is OFF)
 */
export interface FormatDescription {
  readonly binlogVersion: number;
  readonly serverVersion: string;
  readonly createTimestamp: number;
  readonly headerLength: number;
  /** Post-header length per event type, indexed by `type - 1`. */
  readonly postHeaderLengths: Uint8Array;
  /** ChecksumAlg value; UNDEF when the server predates checksums. */
  readonly checksumAlg: number;
  readonly flavor: 'mysql' | 'mariadb';
}

const FDE_BINLOG_VERSION_OFFSET = 0;
const FDE_SERVER_VERSION_OFFSET = 2;
const FDE_SERVER_VERSION_LEN = 50;
const FDE_CREATE_TIMESTAMP_OFFSET = 52;
const FDE_HEADER_LENGTH_OFFSET = 56;
const FDE_POST_HEADER_LENGTHS_OFFSET = 57;
const FDE_CHECKSUM_ALG_LEN = 1;

/**
 * Post-header lengths of a v4 binlog for the types dbtrail decodes, used before any FORMAT_DESCRIPTION was seen
 * (a stream that starts with a fake ROTATE) and for types beyond the FDE's array.
 */
const DEFAULT_POST_HEADER: Readonly<Record<number, number>> = {
  [EventType.QUERY]: 13,
  [EventType.ROTATE]: 8,
  [EventType.FORMAT_DESCRIPTION]: 84,
  [EventType.TABLE_MAP]: 8,
  [EventType.WRITE_ROWS_V1]: 8,
  [EventType.UPDATE_ROWS_V1]: 8,
  [EventType.DELETE_ROWS_V1]: 8,
  [EventType.INCIDENT]: 2,
  [EventType.WRITE_ROWS]: 10,
  [EventType.UPDATE_ROWS]: 10,
  [EventType.DELETE_ROWS]: 10,
  [EventType.GTID]: 42,
  [EventType.ANONYMOUS_GTID]: 42,
  [EventType.PARTIAL_UPDATE_ROWS]: 10,
  [EventType.BINLOG_CHECKPOINT]: 4,
  [EventType.MARIADB_GTID]: 19,
  [EventType.GTID_LIST]: 4,
  [EventType.QUERY_COMPRESSED]: 13,
  [EventType.WRITE_ROWS_COMPRESSED_V1]: 8,
  [EventType.UPDATE_ROWS_COMPRESSED_V1]: 8,
  [EventType.DELETE_ROWS_COMPRESSED_V1]: 8,
  [EventType.WRITE_ROWS_COMPRESSED]: 10,
  [EventType.UPDATE_ROWS_COMPRESSED]: 10,
  [EventType.DELETE_ROWS_COMPRESSED]: 10,
};

/** What a decoder assumes before it has seen a FORMAT_DESCRIPTION. */
export function defaultFormatDescription(checksumAlg: number = ChecksumAlg.OFF): FormatDescription {
  return {
    binlogVersion: 4,
    serverVersion: '',
    createTimestamp: 0,
    headerLength: LOG_EVENT_HEADER_LEN,
    postHeaderLengths: new Uint8Array(0),
    checksumAlg,
    flavor: 'mysql',
  };
}

/** The post-header length of an event type under this format. */
export function postHeaderLength(fde: FormatDescription, typeCode: number): number {
  const fromFde = fde.postHeaderLengths[typeCode - 1];
  if (fromFde !== undefined) return fromFde;
  return DEFAULT_POST_HEADER[typeCode] ?? 0;
}

/** Major/minor/patch from a server version string such as `8.0.32-log` or `10.11.6-MariaDB-log`. */
export function versionSplit(version: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m === null) return [0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function versionAtLeast(v: [number, number, number], min: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    if ((v[i] as number) !== (min[i] as number)) return (v[i] as number) > (min[i] as number);
  }
  return true;
}

/**
 * Decodes a FORMAT_DESCRIPTION event body. `cur` spans the whole body including the trailing checksum bytes,
 * because whether those exist is only known from the server version inside.
 */
export function decodeFormatDescription(cur: Cursor): FormatDescription {
  const start = cur.pos;
  const length = cur.end - start;
  if (length < FDE_POST_HEADER_LENGTHS_OFFSET) {
    throw new MalformedEventError(
      `Cannot decode FORMAT_DESCRIPTION event: body is ${length} bytes, expected at least ${FDE_POST_HEADER_LENGTHS_OFFSET}`,
    );
  }
  const buf = cur.buf;
  const binlogVersion = buf.readUInt16LE(start + FDE_BINLOG_VERSION_OFFSET);
  const versionBytes = buf.subarray(
    start + FDE_SERVER_VERSION_OFFSET,
    start + FDE_SERVER_VERSION_OFFSET + FDE_SERVER_VERSION_LEN,
  );
  const nul = versionBytes.indexOf(0);
  const serverVersion = versionBytes.toString('latin1', 0, nul === -1 ? versionBytes.length : nul);
  const createTimestamp = buf.readUInt32LE(start + FDE_CREATE_TIMESTAMP_OFFSET);
  const headerLength = buf[start + FDE_HEADER_LENGTH_OFFSET] as number;
  if (binlogVersion !== 4) {
    throw new MalformedEventError(
      `Cannot decode FORMAT_DESCRIPTION event: binlog version is ${binlogVersion}, only version 4 (MySQL 5.0+, MariaDB) is supported`,
      { fields: { binlogVersion } },
    );
  }
  if (headerLength < LOG_EVENT_HEADER_LEN) {
    throw new MalformedEventError(
      `Cannot decode FORMAT_DESCRIPTION event: common header length is ${headerLength}, expected at least ${LOG_EVENT_HEADER_LEN}`,
    );
  }
  const flavor = /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
  const split = versionSplit(serverVersion);
  const checksumAware = versionAtLeast(split, flavor === 'mariadb' ? [5, 3, 0] : [5, 6, 1]);
  let postEnd = cur.end;
  let checksumAlg: number = ChecksumAlg.UNDEF;
  if (checksumAware) {
    postEnd = cur.end - FDE_CHECKSUM_ALG_LEN - CHECKSUM_LEN;
    if (postEnd < start + FDE_POST_HEADER_LENGTHS_OFFSET) {
      throw new MalformedEventError(
        `Cannot decode FORMAT_DESCRIPTION event: body is ${length} bytes, too short for the checksum algorithm and checksum`,
      );
    }
    checksumAlg = buf[postEnd] as number;
  }
  const postHeaderLengths = Uint8Array.from(buf.subarray(start + FDE_POST_HEADER_LENGTHS_OFFSET, postEnd));
  cur.pos = cur.end;
  return {
    binlogVersion,
    serverVersion,
    createTimestamp,
    headerLength,
    postHeaderLengths,
    checksumAlg,
    flavor,
  };
}

export function formatDescriptionBody(fde: FormatDescription): FormatDescriptionBody {
  const checksum: FormatDescriptionBody['checksum'] =
    fde.checksumAlg === ChecksumAlg.CRC32
      ? 'crc32'
      : fde.checksumAlg === ChecksumAlg.OFF
        ? 'off'
        : fde.checksumAlg === ChecksumAlg.UNDEF
          ? 'undefined'
          : `unknown_${fde.checksumAlg}`;
  return {
    kind: 'format_description',
    binlogVersion: fde.binlogVersion,
    serverVersion: fde.serverVersion,
    createTimestamp: fde.createTimestamp,
    headerLength: fde.headerLength,
    checksum,
    flavor: fde.flavor,
  };
}
