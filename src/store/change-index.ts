import type { CanonicalValue } from '../binlog/column-types.js';

/**
 * The change index: every captured row change of every tracked server, with full before and after images in the
 * canonical value encoding, written one source transaction at a time in the same store transaction as the
 * checkpoint. This interface is public surface (the on-disk schema behind it is versioned by migrations).
 *
 * Sequence numbers are per server, strictly increasing and gap-free in commit order; they are exact integers
 * (bigint), since an index can outgrow 2^53 changes over its life only in theory, but a JS number must never be
 * trusted to say so.
 */
export type RowImage = Readonly<Record<string, CanonicalValue>>;

/** A position in a server's binlog history. */
export interface BinlogCoordinates {
  readonly file: string;
  readonly position: number;
  /** The executed GTID set at this point (MySQL `uuid:1-42,...`, MariaDB `0-1-100,...`), when known. */
  readonly gtidSet: string | null;
}

export interface CapturedRowChange {
  readonly schema: string;
  readonly table: string;
  readonly type: 'insert' | 'update' | 'delete';
  /**
   * The primary key as canonical text: a JSON array of the PK columns' canonical values in key order. For a table
   * without a primary key it is the JSON array of the whole before image (after image for inserts), and
   * `pkIsFullImage` is true.
   */
  readonly pk: string;
  readonly pkColumns: readonly string[];
  readonly pkIsFullImage: boolean;
  readonly before: RowImage | null;
  readonly after: RowImage | null;
  /** Updates: the columns whose value differs between before and after. Null for inserts and deletes. */
  readonly changedColumns: readonly string[] | null;
}

export interface CapturedDdl {
  readonly schema: string | null;
  readonly statement: string;
}

/** One source transaction, never split. */
export interface CapturedTransaction {
  /** MySQL `uuid:n` / `uuid:tag:n` or MariaDB `domain-server-seq`; null without GTIDs. */
  readonly gtid: string | null;
  /** Coordinates of the transaction's first event (its GTID event, or BEGIN). */
  readonly file: string;
  readonly position: number;
  /** Position right after its last event (XID/COMMIT): where a resume continues. */
  readonly endPosition: number;
  /** Commit time in microseconds since the epoch (exact; seconds*1e6 when the server gives only seconds). */
  readonly commitTimeUs: bigint;
  readonly threadId: number | null;
  /** Row changes in binlog order. */
  readonly changes: readonly CapturedRowChange[];
  /** DDL statements (a DDL is its own transaction in the binlog, so normally changes is empty then). */
  readonly ddl: readonly CapturedDdl[];
}

export interface Checkpoint {
  readonly serverId: string;
  readonly coordinates: BinlogCoordinates;
  /** Identity of the source the checkpoint belongs to, checked on every (re)connect. */
  readonly identity: ServerIdentity;
  readonly updatedAt: Date;
}

export interface ServerIdentity {
  readonly serverUuid: string | null;
  readonly serverId: string;
  readonly hostname: string;
  readonly flavor: 'mysql' | 'mariadb';
}

export interface Gap {
  readonly id: string;
  readonly serverId: string;
  readonly from: BinlogCoordinates;
  readonly to: BinlogCoordinates;
  /** Time range the missing changes fall in, when known (microseconds since the epoch). */
  readonly fromTimeUs: bigint | null;
  readonly toTimeUs: bigint | null;
  readonly reason: 'binlog_purged' | 'pruned' | 'accepted_restart' | 'other';
  readonly detail: string;
  readonly recordedAt: Date;
}

/** A stored change as returned by queries. */
export interface ChangeRecord extends CapturedRowChange {
  readonly serverId: string;
  readonly seq: bigint;
  readonly gtid: string | null;
  readonly file: string;
  readonly position: number;
  readonly commitTimeUs: bigint;
  readonly threadId: number | null;
}

export type ChangeType = CapturedRowChange['type'];
export const CHANGE_TYPES: readonly ChangeType[] = Object.freeze(['insert', 'update', 'delete']);

/** What a caller hands to `recordGap` (and `commit`'s `gap`): the store adds id, server and time. */
export type NewGap = Omit<Gap, 'id' | 'recordedAt' | 'serverId'>;

/** One column of a table definition in the schema history. */
export interface TableColumn {
  readonly name: string;
  /** The SQL column type as `information_schema.COLUMNS.COLUMN_TYPE` gives it, e.g. `decimal(20,0) unsigned`. */
  readonly type: string;
  readonly unsigned: boolean;
  readonly charset: string | null;
  readonly collation: string | null;
  readonly nullable: boolean;
}

/**
 * A table definition valid from a point in a server's binlog history until the next entry for the same table.
 * Used to decode row events of binlogs written without full row metadata (`binlog_row_metadata=MINIMAL`).
 */
export interface TableSchemaEntry {
  readonly schema: string;
  readonly table: string;
  /** The first binlog position the definition applies to: the end of the DDL that made it, or where a snapshot was taken. */
  readonly validFrom: BinlogCoordinates;
  /**
   * The first change sequence number it applies to. When omitted, the store derives it: in `recordTableSchema`
   * the next seq to be assigned; in `commit` the seq of the first transaction of the batch at or after
   * `validFrom` (or the next seq after the batch when none is).
   */
  readonly validFromSeq?: bigint;
  readonly columns: readonly TableColumn[];
  /** PK column names in key order; empty for a table without a primary key. */
  readonly primaryKey: readonly string[];
}

/** A stored DDL event. DDL shares the per-server sequence with row changes, so the two interleave as in the binlog. */
export interface DdlRecord {
  readonly serverId: string;
  readonly seq: bigint;
  readonly gtid: string | null;
  readonly file: string;
  readonly position: number;
  readonly commitTimeUs: bigint;
  readonly threadId: number | null;
  readonly schema: string | null;
  readonly statement: string;
}

export interface DdlFilter {
  readonly schema?: string;
  /** Only DDL with a seq greater than this. */
  readonly afterSeq?: bigint;
  /** Only DDL with a seq up to and including this. */
  readonly untilSeq?: bigint;
  /** 1..MAX_CHANGE_QUERY_LIMIT; DEFAULT_CHANGE_QUERY_LIMIT when omitted. */
  readonly limit?: number;
}

export const DEFAULT_CHANGE_QUERY_LIMIT = 100;
export const MAX_CHANGE_QUERY_LIMIT = 100_000;

/**
 * A search of one server's changes. Every filter narrows (AND). Results are in commit order: by commit time,
 * then seq (binlog order) for equal times; `order: 'desc'` reverses it.
 */
export interface ChangeQuery {
  /** Always required: the server must belong to this tenant, else NotFoundError. */
  readonly tenantId: string;
  readonly serverId: string;
  readonly schema?: string;
  /** Requires `schema`. */
  readonly table?: string;
  /** Canonical PK text (see `pkText`); requires `schema` and `table`. */
  readonly pk?: string;
  /** Commit time at or after this (microseconds since the epoch). */
  readonly sinceUs?: bigint;
  /** Commit time before this (exclusive). */
  readonly untilUs?: bigint;
  readonly type?: ChangeType | readonly ChangeType[];
  /** The transaction's GTID, exactly as recorded (`0-1-100`, `uuid:42`). */
  readonly gtid?: string;
  /** Updates whose changed columns include this one. */
  readonly changedColumn?: string;
  /** Changes whose before or after image has this column equal to this canonical value (text, or `{hex}`). */
  readonly columnEq?: { readonly column: string; readonly value: string | { readonly hex: string } };
  readonly limit?: number;
  readonly order?: 'asc' | 'desc';
  /** Paging: only changes after this seq in the chosen order (the seq of the last change of the previous page). */
  readonly afterSeq?: bigint;
  /**
   * Only changes whose seq is greater than `after` and at most `until` (either bound optional). Seqs follow
   * binlog order exactly, which commit times do not (a transaction's time is when its statement started), so
   * undo and replay select by seq range; a range with both bounds is read through the seq index.
   */
  readonly seqRange?: { readonly after?: bigint; readonly until?: bigint };
}

export interface ChangeStats {
  /** Row changes held (after pruning). */
  readonly rowChanges: bigint;
  /** Transactions with row changes held (after pruning). */
  readonly transactions: bigint;
  readonly ddlEvents: bigint;
  readonly firstCommitTimeUs: bigint | null;
  readonly lastCommitTimeUs: bigint | null;
  /** The highest seq ever assigned (0 when none): survives pruning. */
  readonly lastSeq: bigint;
}

/** A gap with its time span resolved as far as the index can (see `ChangeIndex.coverage`). */
export interface ResolvedGap {
  readonly gap: Gap;
  /** gap.fromTimeUs, else the checkpoint's last commit time when the gap was recorded; null when unknown. */
  readonly fromUs: bigint | null;
  /** gap.toTimeUs, else the commit time of the first change captured after it; null when none yet. */
  readonly toUs: bigint | null;
}

/** The facts `coveredWindows` (src/store/windows.ts) needs about one server. */
export interface Coverage {
  /** Commit time of the first transaction ever committed to the index for the server; null when none. */
  readonly startUs: bigint | null;
  /** Commit time of the newest transaction the checkpoint covers; null when none. */
  readonly endUs: bigint | null;
  readonly gaps: readonly ResolvedGap[];
}

export interface CommitBatch {
  readonly transactions: readonly CapturedTransaction[];
  readonly checkpoint: { readonly coordinates: BinlogCoordinates; readonly identity: ServerIdentity };
  /** null = "there must be no checkpoint yet"; undefined = no fencing. */
  readonly expectPrevious?: BinlogCoordinates | null;
  readonly gap?: NewGap;
  /** Schema history entries made by this batch's DDL, written in the same transaction. */
  readonly tableSchemas?: readonly TableSchemaEntry[];
}

export interface CommitResult {
  readonly firstSeq: bigint | null;
  readonly lastSeq: bigint | null;
}

/**
 * The change index of all servers. Changes are keyed by (server id, seq); server ids are dbtrail's UUIDs from
 * the servers table (a server must be registered before its changes are committed). Every method is atomic.
 */
export interface ChangeIndex {
  /**
   * Atomically: append the transactions' changes and DDL (assigning per-server seq numbers), and move the
   * checkpoint to `checkpoint`. With `expectPrevious`, refuses (CheckpointConflictError, nothing written) when the
   * stored checkpoint's coordinates differ: fencing against two writers and double-apply on replay. An optional
   * `gap` (and `tableSchemas`) are recorded in the same transaction. Returns the seq range written (null when the
   * batch held no changes and no DDL).
   */
  commit(serverId: string, batch: CommitBatch): Promise<CommitResult>;
  checkpoint(serverId: string): Promise<Checkpoint | undefined>;
  recordGap(serverId: string, gap: NewGap): Promise<Gap>;
  /** Oldest first. Gaps are never deleted. */
  gaps(serverId: string): Promise<readonly Gap[]>;
  query(filter: ChangeQuery): Promise<readonly ChangeRecord[]>;
  /** In seq order. */
  ddl(serverId: string, filter?: DdlFilter): Promise<readonly DdlRecord[]>;
  stats(serverId: string): Promise<ChangeStats>;
  /** What the covered windows of a server are computed from. */
  coverage(serverId: string): Promise<Coverage>;
  /**
   * Deletes changes committed before the cutoff and records a 'pruned' gap covering them, atomically. Deletes
   * the longest run of oldest changes (in seq order) that all committed before the cutoff, so the deleted
   * history is one contiguous stretch of binlog. DDL and schema history are kept.
   */
  prune(
    serverId: string,
    olderThanUs: bigint,
  ): Promise<{ readonly deleted: bigint; readonly gap: Gap | null }>;
  /** Schema history for binlogs without full row metadata: table definitions valid from given coordinates. */
  recordTableSchema(serverId: string, entry: TableSchemaEntry): Promise<void>;
  /**
   * The definition valid at a seq or at coordinates (the newest entry starting at or before it); with neither,
   * the newest entry. Coordinates compare by binlog file number (the numeric suffix), then position.
   */
  tableSchemaAt(
    serverId: string,
    schema: string,
    table: string,
    at: { readonly seq?: bigint; readonly coordinates?: BinlogCoordinates },
  ): Promise<TableSchemaEntry | undefined>;
}

/**
 * The canonical PK text of a change: the JSON array of the PK columns' canonical values in key order, with no
 * spaces (`["42","abc"]`, `[{"hex":"0A"}]`). Capture and query both build it here so that they agree byte for byte.
 */
export function pkText(values: readonly CanonicalValue[]): string {
  return JSON.stringify(values.map((v) => (v === null || typeof v === 'string' ? v : { hex: v.hex })));
}

/**
 * A commit time as ISO 8601 UTC with microseconds (`2024-05-01T10:00:00.123456Z`), computed exactly from the
 * bigint: the output format of `query` and `status`.
 */
export function isoMicros(us: bigint): string {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const micros = us - ms * 1000n;
  const base = new Date(Number(ms)).toISOString();
  // base is YYYY-MM-DDTHH:MM:SS.mmmZ; the micros extend the milliseconds by three digits.
  return `${base.slice(0, 23)}${micros.toString().padStart(3, '0')}Z`;
}
