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
