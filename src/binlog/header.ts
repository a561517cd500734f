import { MalformedEventError, TruncatedError } from './errors.js';
import { LOG_EVENT_HEADER_LEN } from './event-types.js';

/**
 * The 19-byte v4 common header every event starts with.
 *
 * Spec: MySQL `binlog_event.h` (Log_event_header) and
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_replication_binlog_event.html
 *   offset 0  timestamp   4 bytes  seconds since the epoch when the statement started
 *   offset 4  type_code   1 byte
 *   offset 5  server_id   4 bytes  server that wrote the event
 *   offset 9  event_size  4 bytes  header + post-header + body + checksum
 *   offset 13 log_pos     4 bytes  position of the next event (0 in some artificial and nested events)
 *   offset 17 flags       2 bytes
 */
export interface EventHeader {
  readonly timestamp: number;
  readonly typeCode: number;
  readonly serverId: number;
  readonly eventSize: number;
  readonly logPos: number;
  readonly flags: number;
}

export const HEADER_TIMESTAMP_OFFSET = 0;
export const HEADER_TYPE_OFFSET = 4;
export const HEADER_SERVER_ID_OFFSET = 5;
export const HEADER_EVENT_SIZE_OFFSET = 9;
export const HEADER_LOG_POS_OFFSET = 13;
export const HEADER_FLAGS_OFFSET = 17;

/** Reads the declared event size from the header at `offset`; the caller guarantees 13 bytes are there. */
export function peekEventSize(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset + HEADER_EVENT_SIZE_OFFSET);
}

/** Decodes the common header of the event that starts at `offset` and spans `length` bytes of `buf`. */
export function decodeHeader(buf: Buffer, offset = 0, length = buf.length - offset): EventHeader {
  if (length < LOG_EVENT_HEADER_LEN) {
    throw new TruncatedError(
      `Cannot decode event header: need ${LOG_EVENT_HEADER_LEN} bytes, got ${length}`,
      {
        fields: { need: LOG_EVENT_HEADER_LEN, got: length },
      },
    );
  }
  const eventSize = buf.readUInt32LE(offset + HEADER_EVENT_SIZE_OFFSET);
  if (eventSize < LOG_EVENT_HEADER_LEN) {
    throw new MalformedEventError(
      `Cannot decode event header: event size is ${eventSize}, smaller than the ${LOG_EVENT_HEADER_LEN}-byte header`,
      { fields: { eventSize } },
    );
  }
  return {
    timestamp: buf.readUInt32LE(offset + HEADER_TIMESTAMP_OFFSET),
    typeCode: buf[offset + HEADER_TYPE_OFFSET] as number,
    serverId: buf.readUInt32LE(offset + HEADER_SERVER_ID_OFFSET),
    eventSize,
    logPos: buf.readUInt32LE(offset + HEADER_LOG_POS_OFFSET),
    flags: buf.readUInt16LE(offset + HEADER_FLAGS_OFFSET),
  };
}
