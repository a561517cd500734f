import { crc32 } from '../binlog/checksum.js';
import { BINLOG_MAGIC, CHECKSUM_LEN, EventType, LOG_EVENT_HEADER_LEN } from '../binlog/event-types.js';
import {
  HEADER_EVENT_SIZE_OFFSET,
  HEADER_FLAGS_OFFSET,
  HEADER_LOG_POS_OFFSET,
  HEADER_SERVER_ID_OFFSET,
  HEADER_TIMESTAMP_OFFSET,
  HEADER_TYPE_OFFSET,
} from '../binlog/header.js';
import { joinKey } from '../objects/store.js';
import { MysqlGtidSet, parseMariadbGtidList } from '../source/replication/gtid.js';

/**
 * The byte layout of an archive segment: a binlog file `mariadb-binlog`/`mysqlbinlog` read as they read the
 * server's own files.
 *
 *   4 bytes   magic 0xfe 'b' 'i' 'n'
 *   FORMAT_DESCRIPTION_EVENT   exactly as the source sent it (its checksum algorithm applies to every event)
 *   GTID context               MariaDB: GTID_LIST of the GTID state at the segment's start;
 *                              MySQL: PREVIOUS_GTIDS of the executed set there (written by us, see below)
 *   events of whole transactions, byte for byte as the source sent them
 *
 * Event headers are not rewritten: each event keeps the source's log_pos (end offset in the source's file), so a
 * reader shows the source coordinates as `end_log_pos`, while it walks the segment by the event sizes. Readers
 * never check log_pos against the offset in the file they read (MariaDB `mysqlbinlog.cc` reads by event length;
 * its `--start-position/--stop-position` are offsets in the segment, its `--start-position=GTID` and
 * `--stop-datetime` work as on any binlog).
 *
 * Left out: what the replication protocol adds (heartbeats, the artificial ROTATE, the re-sent FORMAT_DESCRIPTION
 * and GTID_LIST), ROTATE and STOP at the end of a source file (a segment never spans files), and MariaDB's
 * BINLOG_CHECKPOINT (crash recovery bookkeeping of the source, meaningless in a copy).
 */

/** Event types that are file or stream context, never part of a transaction: not copied into segments. */
const CONTEXT_TYPES: ReadonlySet<number> = new Set([
  EventType.FORMAT_DESCRIPTION,
  EventType.ROTATE,
  EventType.STOP,
  EventType.HEARTBEAT,
  EventType.HEARTBEAT_V2,
  EventType.PREVIOUS_GTIDS,
  EventType.GTID_LIST,
  EventType.BINLOG_CHECKPOINT,
  EventType.START_ENCRYPTION,
]);

export function isContextEvent(typeCode: number): boolean {
  return CONTEXT_TYPES.has(typeCode);
}

/**
 * The GTID context event of a segment that starts at GTID state `gtidSet`, or undefined when there is none to
 * write (no GTIDs; a MySQL set with tags, whose PREVIOUS_GTIDS form only MySQL 8.3+ readers know).
 *
 * Layouts (header as every event; log_pos 0 and flags 0, as for an event that is not at a source position):
 * - MariaDB GTID_LIST (`log_event.h` Gtid_list_log_event): 4 bytes count (low 28 bits; the high 4 bits are
 *   flags, 0 here), then per domain: domain_id (4), server_id (4), seq_no (8), all little-endian.
 * - MySQL PREVIOUS_GTIDS (`control_events.h` Previous_gtids_event): the body is `Gtid_set::encode`.
 */
export function gtidContextEvent(input: {
  readonly flavor: 'mysql' | 'mariadb';
  readonly gtidSet: string | null;
  readonly serverId: number;
  readonly timestamp: number;
  readonly checksum: boolean;
}): Buffer | undefined {
  const { gtidSet } = input;
  if (gtidSet === null) return undefined;
  let type: number;
  let body: Buffer;
  if (input.flavor === 'mariadb') {
    const list = parseMariadbGtidList(gtidSet);
    body = Buffer.alloc(4 + 16 * list.length);
    body.writeUInt32LE(list.length, 0);
    list.forEach((g, i) => {
      body.writeUInt32LE(g.domainId, 4 + 16 * i);
      body.writeUInt32LE(g.serverId, 8 + 16 * i);
      body.writeBigUInt64LE(g.seqNo, 12 + 16 * i);
    });
    type = EventType.GTID_LIST;
  } else {
    if (
      /:[a-z_]/i.test(gtidSet.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, ''))
    )
      return undefined;
    body = MysqlGtidSet.parse(gtidSet).encode();
    type = EventType.PREVIOUS_GTIDS;
  }
  return buildEvent({
    type,
    serverId: input.serverId,
    timestamp: input.timestamp,
    body,
    checksum: input.checksum,
  });
}

/** One event with a v4 header, log_pos 0 and flags 0, and a CRC32 trailer when `checksum`. */
export function buildEvent(input: {
  readonly type: number;
  readonly serverId: number;
  readonly timestamp: number;
  readonly body: Buffer;
  readonly checksum: boolean;
}): Buffer {
  const size = LOG_EVENT_HEADER_LEN + input.body.length + (input.checksum ? CHECKSUM_LEN : 0);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(input.timestamp >>> 0, HEADER_TIMESTAMP_OFFSET);
  out[HEADER_TYPE_OFFSET] = input.type;
  out.writeUInt32LE(input.serverId >>> 0, HEADER_SERVER_ID_OFFSET);
  out.writeUInt32LE(size, HEADER_EVENT_SIZE_OFFSET);
  out.writeUInt32LE(0, HEADER_LOG_POS_OFFSET);
  out.writeUInt16LE(0, HEADER_FLAGS_OFFSET);
  input.body.copy(out, LOG_EVENT_HEADER_LEN);
  if (input.checksum) out.writeUInt32LE(crc32(out.subarray(0, size - CHECKSUM_LEN)), size - CHECKSUM_LEN);
  return out;
}

/** The bytes a segment starts with: magic, the source's FORMAT_DESCRIPTION, the GTID context event if any. */
export function segmentHeader(fde: Buffer, context: Buffer | undefined): Buffer {
  return Buffer.concat(context === undefined ? [BINLOG_MAGIC, fde] : [BINLOG_MAGIC, fde, context]);
}

const POSITION_DIGITS = 12;

/**
 * Where a segment lives: `<base>/binlogs/<source file>/<start>-<end>.binlog`, positions zero-padded to 12 digits
 * so that keys sort by coordinates within a file, and files (same base name, fixed-width sequence) sort in order.
 */
export function segmentKey(base: string, file: string, start: number, end: number): string {
  return joinKey(
    base,
    'binlogs',
    file,
    `${String(start).padStart(POSITION_DIGITS, '0')}-${String(end).padStart(POSITION_DIGITS, '0')}.binlog`,
  );
}
