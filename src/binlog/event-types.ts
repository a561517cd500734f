/**
 * Binlog event type codes and the names dbtrail prints for them.
 *
 * Spec: MySQL `libs/mysql/binlog/event/binlog_event.h` (enum Log_event_type) and MariaDB `sql/log_event.h`
 * (codes 160 and up are MariaDB's own). A code missing from this table is still decoded: as an unknown event whose
 * bytes are kept raw.
 */
export const EventType = {
  UNKNOWN: 0,
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS: 30,
  UPDATE_ROWS: 31,
  DELETE_ROWS: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  GTID_TAGGED: 42,
  // MariaDB
  ANNOTATE_ROWS: 160,
  BINLOG_CHECKPOINT: 161,
  MARIADB_GTID: 162,
  GTID_LIST: 163,
  START_ENCRYPTION: 164,
  QUERY_COMPRESSED: 165,
  WRITE_ROWS_COMPRESSED_V1: 166,
  UPDATE_ROWS_COMPRESSED_V1: 167,
  DELETE_ROWS_COMPRESSED_V1: 168,
  WRITE_ROWS_COMPRESSED: 169,
  UPDATE_ROWS_COMPRESSED: 170,
  DELETE_ROWS_COMPRESSED: 171,
} as const;

const NAMES: Map<number, string> = new Map(Object.entries(EventType).map(([name, code]) => [code, name]));

/** The printed name of an event type; `UNKNOWN_<code>` for codes no server documents. */
export function eventTypeName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_${code}`;
}

/** Whether the code is one this decoder understands (everything else is kept raw). */
export function isKnownEventType(code: number): boolean {
  return NAMES.has(code);
}

/** Row operation of a rows event type, or undefined when the type is not a rows event. */
export function rowsEventKind(code: number): 'insert' | 'update' | 'delete' | undefined {
  switch (code) {
    case EventType.WRITE_ROWS_V1:
    case EventType.WRITE_ROWS:
    case EventType.WRITE_ROWS_COMPRESSED_V1:
    case EventType.WRITE_ROWS_COMPRESSED:
      return 'insert';
    case EventType.UPDATE_ROWS_V1:
    case EventType.UPDATE_ROWS:
    case EventType.PARTIAL_UPDATE_ROWS:
    case EventType.UPDATE_ROWS_COMPRESSED_V1:
    case EventType.UPDATE_ROWS_COMPRESSED:
      return 'update';
    case EventType.DELETE_ROWS_V1:
    case EventType.DELETE_ROWS:
    case EventType.DELETE_ROWS_COMPRESSED_V1:
    case EventType.DELETE_ROWS_COMPRESSED:
      return 'delete';
    default:
      return undefined;
  }
}

/** Common-header flags (binlog_event.h). */
export const EventFlag = {
  /** Set in the FORMAT_DESCRIPTION of a file that is open (or was not closed cleanly); not covered by its CRC. */
  BINLOG_IN_USE: 0x1,
  THREAD_SPECIFIC: 0x4,
  SUPPRESS_USE: 0x8,
  ARTIFICIAL: 0x20,
  RELAY_LOG: 0x40,
  IGNORABLE: 0x80,
} as const;

/** Sizes of the v4 format (binlog_event.h). */
export const LOG_EVENT_HEADER_LEN = 19;
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
export const CHECKSUM_LEN = 4;
