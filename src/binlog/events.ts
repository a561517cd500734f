import type { CanonicalValue, ColumnDef } from './column-types.js';
import type { EventHeader } from './header.js';

/**
 * The typed events the decoder produces. Bodies are discriminated by `kind` (the event family); the event's own
 * type name (`WRITE_ROWS_V1`, `QUERY_COMPRESSED`...) is on the envelope. No event holds a view into the bytes it
 * was decoded from: every Buffer in a body is a copy, so callers may keep events after the input chunk is reused.
 */
export interface DecodedEvent {
  /** The binlog file the event belongs to, when known (file reader, or the last ROTATE of a stream). */
  readonly file: string | undefined;
  /** Byte offset of the event in its file. Events inside a TRANSACTION_PAYLOAD carry the payload's offset. */
  readonly pos: number;
  /** Offset of the next event (the payload's for events inside a TRANSACTION_PAYLOAD). */
  readonly nextPos: number;
  /** Printed type name, e.g. `WRITE_ROWS_V1`, or `UNKNOWN_100`. */
  readonly type: string;
  readonly header: EventHeader;
  /** The GTID of the transaction the event belongs to, when known. */
  readonly gtid: string | undefined;
  /** 0-based index inside the enclosing TRANSACTION_PAYLOAD; undefined for top-level events. */
  readonly payloadIndex: number | undefined;
  readonly body: EventBody;
}

export type EventBody =
  | FormatDescriptionBody
  | RotateBody
  | QueryBody
  | XidBody
  | StopBody
  | HeartbeatBody
  | IntvarBody
  | RandBody
  | UserVarBody
  | RowsQueryBody
  | IncidentBody
  | BinlogCheckpointBody
  | XaPrepareBody
  | TableMapBody
  | RowsBody
  | TransactionPayloadBody
  | MysqlGtidBody
  | PreviousGtidsBody
  | MariadbGtidBody
  | GtidListBody
  | RawBody;

export interface FormatDescriptionBody {
  readonly kind: 'format_description';
  readonly binlogVersion: number;
  readonly serverVersion: string;
  readonly createTimestamp: number;
  readonly headerLength: number;
  /** `crc32`, `off`, or `undefined` (servers older than 5.6.1 / MariaDB 5.3 write no checksum information). */
  readonly checksum: 'crc32' | 'off' | 'undefined' | `unknown_${number}`;
  readonly flavor: 'mysql' | 'mariadb';
}

export interface RotateBody {
  readonly kind: 'rotate';
  /** Position of the first event in the next file. */
  readonly position: number;
  readonly nextFile: string;
}

/** QUERY status variables that were present (MySQL `statement_events.h`, MariaDB `log_event.cc`). */
export interface QueryStatusVars {
  flags2?: number;
  sqlMode?: bigint;
  catalog?: string;
  autoIncrementIncrement?: number;
  autoIncrementOffset?: number;
  charsetClient?: number;
  collationConnection?: number;
  collationServer?: number;
  timeZone?: string;
  lcTimeNames?: number;
  charsetDatabase?: number;
  tableMapForUpdate?: bigint;
  masterDataWritten?: number;
  invoker?: { readonly user: string; readonly host: string };
  updatedDbNames?: readonly string[];
  microseconds?: number;
  explicitDefaultsForTimestamp?: number;
  ddlXid?: bigint;
  defaultCollationForUtf8mb4?: number;
  sqlRequirePrimaryKey?: number;
  defaultTableEncryption?: number;
  /** MariaDB Q_HRNOW: microseconds of the statement start. */
  hrnow?: number;
  /** MariaDB Q_XID. */
  xid?: bigint;
  /** MariaDB Q_GTID_FLAGS3 and the start-alter sequence number it may carry. */
  gtidFlags3?: number;
  startAlterSeqNo?: bigint;
  /** MariaDB Q_CHARACTER_SET_COLLATIONS: (character set id, collation id) pairs. */
  characterSetCollations?: readonly (readonly [number, number])[];
  /** Status variables after the first unknown code, which cannot be skipped individually. */
  unparsed?: Buffer;
}

export interface QueryBody {
  readonly kind: 'query';
  readonly threadId: number;
  readonly execTime: number;
  readonly errorCode: number;
  readonly schema: string;
  readonly query: string;
  readonly statusVars: QueryStatusVars;
}

export interface XidBody {
  readonly kind: 'xid';
  readonly xid: bigint;
}

export interface StopBody {
  readonly kind: 'stop';
}

export interface HeartbeatBody {
  readonly kind: 'heartbeat';
  readonly logFile: string;
  /** HEARTBEAT_V2 carries the position explicitly; v1 has it in the header's log_pos. */
  readonly logPos: number;
}

export interface IntvarBody {
  readonly kind: 'intvar';
  readonly intvarType: 'LAST_INSERT_ID' | 'INSERT_ID' | `UNKNOWN_${number}`;
  readonly value: bigint;
}

export interface RandBody {
  readonly kind: 'rand';
  readonly seed1: bigint;
  readonly seed2: bigint;
}

export interface UserVarBody {
  readonly kind: 'user_var';
  readonly name: string;
  /** Item_result: `string`, `real`, `int`, `decimal`; undefined when the value is NULL. */
  readonly valueType: 'string' | 'real' | 'int' | 'row' | 'decimal' | `unknown_${number}` | undefined;
  readonly collation: number | undefined;
  readonly unsigned: boolean;
  /** Canonical value (exact text, `{hex}` for binary strings), null for NULL. */
  readonly value: CanonicalValue;
}

export interface RowsQueryBody {
  readonly kind: 'rows_query';
  readonly query: string;
}

export interface IncidentBody {
  readonly kind: 'incident';
  readonly incident: number;
  readonly message: string;
}

export interface BinlogCheckpointBody {
  readonly kind: 'binlog_checkpoint';
  readonly logFile: string;
}

export interface XaPrepareBody {
  readonly kind: 'xa_prepare';
  readonly onePhase: boolean;
  readonly formatId: number;
  readonly gtrid: Buffer;
  readonly bqual: Buffer;
}

/** A table definition as described by a TABLE_MAP event (plus schema history, when a resolver supplied names). */
export interface TableMap {
  readonly tableId: number;
  readonly flags: number;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly ColumnDef[];
  /** Where the column names came from: the binlog's optional metadata, the caller's resolver, or `@1`, `@2`... */
  readonly columnsSource: 'binlog' | 'resolver' | 'positional';
  /** PRIMARY_KEY_WITH_PREFIX / SIMPLE_PRIMARY_KEY: column index and prefix length (0 for the whole column). */
  readonly primaryKey: readonly { readonly index: number; readonly prefix: number }[];
  /** VECTOR_DIMENSIONALITY per vector column (MySQL 9), keyed by column index. */
  readonly vectorDimensions: ReadonlyMap<number, number>;
}

export interface TableMapBody {
  readonly kind: 'table_map';
  readonly tableMap: TableMap;
}

/** One row image keyed by column name; a column absent from a partial image is absent, never null. */
export type RowImage = Record<string, CanonicalValue>;

export interface RowChange {
  readonly before: RowImage | null;
  readonly after: RowImage | null;
}

export interface RowsBody {
  readonly kind: 'rows';
  readonly op: 'insert' | 'update' | 'delete';
  readonly tableId: number;
  readonly flags: number;
  readonly schema: string;
  readonly table: string;
  /** Column names of the table, in table order. */
  readonly columns: readonly string[];
  readonly rows: readonly RowChange[];
  /** The table map the rows were decoded with (undefined for an empty rows event without one). */
  readonly tableMap: TableMap | undefined;
  /** Rows v2 extra data (partition ids, NDB info), when present. */
  readonly extra?: { partitionId?: number; sourcePartitionId?: number; ndbInfo?: Buffer };
  /**
   * PARTIAL_UPDATE_ROWS diffs that could not be applied because the before image lacks the JSON column
   * (binlog_row_image=MINIMAL): the column is absent from `after`; apply `diffs` to the column's prior value.
   */
  readonly unappliedJsonDiffs?: readonly UnappliedJsonDiff[];
}

export interface UnappliedJsonDiff {
  /** Index into `rows`. */
  readonly row: number;
  readonly column: string;
  /** The binary diff list without its 4-byte length, as `values/json-diff.ts` applyJsonDiffs takes it. */
  readonly diffs: Buffer;
}

export interface TransactionPayloadBody {
  readonly kind: 'transaction_payload';
  readonly compression: 'zstd' | 'none' | `unknown_${number}`;
  readonly payloadSize: number;
  readonly uncompressedSize: number;
  /** The transaction's events, decoded in order; each carries this event's position and its payloadIndex. */
  readonly events: readonly DecodedEvent[];
}

export interface MysqlGtidBody {
  readonly kind: 'mysql_gtid';
  /** `uuid:gno`, `uuid:tag:gno`, or undefined for ANONYMOUS_GTID. */
  readonly gtid: string | undefined;
  readonly uuid: string;
  readonly tag: string | undefined;
  readonly gno: bigint;
  readonly flags: number;
  readonly lastCommitted: bigint | undefined;
  readonly sequenceNumber: bigint | undefined;
  /** Microseconds since the epoch. */
  readonly immediateCommitTimestamp: bigint | undefined;
  readonly originalCommitTimestamp: bigint | undefined;
  readonly transactionLength: bigint | undefined;
  readonly immediateServerVersion: number | undefined;
  readonly originalServerVersion: number | undefined;
  readonly commitGroupTicket: bigint | undefined;
}

export interface GtidInterval {
  readonly start: bigint;
  /** Exclusive, as stored. */
  readonly end: bigint;
}

export interface PreviousGtidsBody {
  readonly kind: 'previous_gtids';
  /** MySQL text form, e.g. `3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:tag:1-2`. */
  readonly gtidSet: string;
  readonly sids: readonly {
    readonly uuid: string;
    readonly tag: string;
    readonly intervals: readonly GtidInterval[];
  }[];
}

export interface MariadbGtidBody {
  readonly kind: 'mariadb_gtid';
  /** `domain-server-seq`. */
  readonly gtid: string;
  readonly domainId: number;
  readonly seqNo: bigint;
  readonly flags2: number;
  /** FL_STANDALONE: no terminating COMMIT/XID follows (DDL). */
  readonly standalone: boolean;
  readonly commitId: bigint | undefined;
  readonly xa: { readonly formatId: number; readonly gtrid: Buffer; readonly bqual: Buffer } | undefined;
  readonly flagsExtra: number;
  readonly extraEngines: number | undefined;
  readonly startAlterSeqNo: bigint | undefined;
  readonly threadId: number | undefined;
}

export interface GtidListBody {
  readonly kind: 'gtid_list';
  readonly flags: number;
  readonly gtids: readonly string[];
}

/** An event kept as bytes: unknown types (Aurora's 100...) and known ones dbtrail has no use for. */
export interface RawBody {
  readonly kind: 'raw';
  readonly raw: Buffer;
}
