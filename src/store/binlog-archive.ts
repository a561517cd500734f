import type { ItemResult } from './catalog.js';
import type { BinlogCoordinates } from './change-index.js';
import { InvalidValueError } from './errors.js';
import { checkId } from './validate.js';

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The catalog of the raw binlog archive: segments of a server's binlog byte stream stored as objects (see
 * src/archive/), each a readable binlog file covering a coordinate range of one source file, and the archive
 * gaps (ranges the archive can never cover). Positions are byte offsets in the source's binlog file.
 *
 * A segment covers [startPosition, endPosition) of `file`: every transaction that starts at or after
 * startPosition and ends at or before endPosition is in it, whole. Consecutive segments of a server chain: the
 * next one starts where the previous one ended, or at position 4 of the next file when the previous one
 * `endsFile`, unless an archive gap lies between them.
 */
export interface BinlogSegment {
  readonly id: string;
  readonly serverId: string;
  /** The source binlog file the segment's events come from. */
  readonly file: string;
  readonly startPosition: number;
  readonly endPosition: number;
  /** The source rotated after this segment: it covers `file` to its end. */
  readonly endsFile: boolean;
  /** GTID state before the first and after the last transaction (null when the server has no GTIDs). */
  readonly startGtidSet: string | null;
  readonly endGtidSet: string | null;
  readonly firstGtid: string | null;
  readonly lastGtid: string | null;
  /** Commit times of the first and last transaction, microseconds since the epoch. */
  readonly firstCommitUs: bigint | null;
  readonly lastCommitUs: bigint | null;
  readonly transactions: number;
  /** Size of the segment object. */
  readonly bytes: number;
  /** Lower-case hex SHA-256 of the segment object. */
  readonly sha256: string;
  /** Key of the segment object, relative to the object store's root. */
  readonly objectKey: string;
  readonly createdAt: Date;
}

export type NewBinlogSegment = Omit<BinlogSegment, 'id' | 'createdAt'>;

export interface ArchiveGap {
  readonly id: string;
  readonly serverId: string;
  /** The archive holds everything up to `from` and resumes at `to`. */
  readonly from: BinlogCoordinates;
  readonly to: BinlogCoordinates;
  /** `capture_gap` (the source purged binlogs), `archive_behind` (the spool lost its tail), `archive_off`... */
  readonly reason: string;
  readonly detail: string;
  readonly recordedAt: Date;
}

export type NewArchiveGap = Omit<ArchiveGap, 'id' | 'serverId' | 'recordedAt'>;

export interface SegmentListOptions {
  /** Only segments that end after these coordinates (same file and a larger end, or a later file). */
  readonly endingAfter?: { readonly file: string; readonly position: number };
}

export interface BinlogArchiveRepository {
  /**
   * Records an uploaded segment. Idempotent: recording the same segment again (same server, file, start and
   * SHA-256) returns the stored one; another segment at the same start throws DuplicateError.
   */
  add(segment: NewBinlogSegment): Promise<BinlogSegment>;
  /** A server's segments in coordinate order (file sequence, then start position). */
  list(serverId: string, options?: SegmentListOptions): Promise<readonly BinlogSegment[]>;
  /** The segment with the highest coordinates, if any. */
  last(serverId: string): Promise<BinlogSegment | undefined>;
  /** Removes catalog rows (the caller deleted the objects first). One result per id. */
  delete(ids: readonly string[]): Promise<readonly ItemResult[]>;
  recordGap(serverId: string, gap: NewArchiveGap): Promise<ArchiveGap>;
  /** Oldest first. Never deleted. */
  gaps(serverId: string): Promise<readonly ArchiveGap[]>;
}

/**
 * Orders files by the number after the last dot (binlog.999999 < binlog.1000000); a name without one sorts
 * first, then by its text.
 */
export function fileSequence(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  return m === null ? -1 : Number(m[1]);
}

/** Refuses a segment record that cannot be right, with the same messages on every backend. */
export function checkSegment(s: NewBinlogSegment): void {
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new InvalidValueError(
      `Cannot record binlog segment: "${field}" must be ${expected}, got ${JSON.stringify(typeof got === 'bigint' ? got.toString() : got)}`,
      { fields: { field } },
    );
  };
  checkId('server id', s.serverId);
  if (s.file === '' || /[/\\\0]/.test(s.file)) bad('file', 'a binlog file name', s.file);
  if (!Number.isSafeInteger(s.startPosition) || s.startPosition < 4)
    bad('startPosition', 'an offset of at least 4', s.startPosition);
  if (!Number.isSafeInteger(s.endPosition) || s.endPosition < s.startPosition)
    bad('endPosition', 'an offset not before startPosition', s.endPosition);
  if (!Number.isSafeInteger(s.transactions) || s.transactions < 0)
    bad('transactions', 'a count of at least 0', s.transactions);
  if (!Number.isSafeInteger(s.bytes) || s.bytes < 4) bad('bytes', 'a size of at least 4', s.bytes);
  if (!SHA256.test(s.sha256)) bad('sha256', '64 lower-case hex digits', s.sha256);
  if (s.objectKey === '') bad('objectKey', 'an object key', s.objectKey);
}
