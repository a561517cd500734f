import type { Clock } from '../../lib/clock.js';
import {
  checkSegment,
  fileSequence,
  type ArchiveGap,
  type BinlogArchiveRepository,
  type BinlogSegment,
  type NewArchiveGap,
  type NewBinlogSegment,
  type SegmentListOptions,
} from '../binlog-archive.js';
import type { ItemResult } from '../catalog.js';
import { DuplicateError, InvalidValueError, NotFoundError, StoreError } from '../errors.js';
import { isUuid, newId } from '../ids.js';
import { checkId } from '../validate.js';
import { settle, translate, type SqliteConnection } from './driver.js';
import { fromDbTime, toDbTime } from './rows.js';

// Shared with the other backends; they live beside the interface.
export { checkSegment, fileSequence } from '../binlog-archive.js';

interface SegmentRow {
  id: string;
  server_id: string;
  binlog_file: string;
  start_position: bigint;
  end_position: bigint;
  ends_file: bigint;
  start_gtid_set: string | null;
  end_gtid_set: string | null;
  first_gtid: string | null;
  last_gtid: string | null;
  first_commit_us: bigint | null;
  last_commit_us: bigint | null;
  transactions: bigint;
  bytes: bigint;
  sha256: string;
  object_key: string;
  created_at: string;
}

interface GapRow {
  id: string;
  server_id: string;
  from_file: string;
  from_position: bigint;
  from_gtid_set: string | null;
  to_file: string;
  to_position: bigint;
  to_gtid_set: string | null;
  reason: string;
  detail: string;
  recorded_at: string;
}

const SEGMENT_COLUMNS = `id, server_id, binlog_file, start_position, end_position, ends_file, start_gtid_set,
  end_gtid_set, first_gtid, last_gtid, first_commit_us, last_commit_us, transactions, bytes, sha256, object_key,
  created_at`;
const ORDER = 'ORDER BY file_seq, binlog_file, start_position';

export class SqliteBinlogArchiveRepository implements BinlogArchiveRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  add(segment: NewBinlogSegment): Promise<BinlogSegment> {
    return settle(() => {
      checkSegment(segment);
      const action = `Cannot record binlog segment ${segment.file}:${segment.startPosition}`;
      return this.#conn.write(action, (c) => {
        const existing = c
          .bigintStatement(
            `SELECT ${SEGMENT_COLUMNS} FROM binlog_segments WHERE server_id = ? AND binlog_file = ? AND start_position = ?`,
          )
          .get(segment.serverId, segment.file, segment.startPosition) as SegmentRow | undefined;
        if (existing !== undefined) {
          if (existing.sha256 === segment.sha256 && Number(existing.end_position) === segment.endPosition) {
            return toSegment(existing);
          }
          throw new DuplicateError(
            `${action}: another segment (sha256 ${existing.sha256.slice(0, 12)}...) is recorded at that start`,
            {
              fields: { file: segment.file, position: segment.startPosition, objectKey: existing.object_key },
            },
          );
        }
        const known = c.statement('SELECT 1 FROM servers WHERE id = ?').get(segment.serverId);
        if (known === undefined) {
          throw new NotFoundError(`${action}: server ${segment.serverId} is not registered`, {
            fields: { serverId: segment.serverId },
          });
        }
        const id = newId();
        const createdAt = toDbTime(this.#clock.now());
        c.statement(
          `INSERT INTO binlog_segments (id, server_id, binlog_file, file_seq, start_position, end_position, ends_file,
             start_gtid_set, end_gtid_set, first_gtid, last_gtid, first_commit_us, last_commit_us, transactions,
             bytes, sha256, object_key, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          id,
          segment.serverId,
          segment.file,
          fileSequence(segment.file),
          segment.startPosition,
          segment.endPosition,
          segment.endsFile ? 1 : 0,
          segment.startGtidSet,
          segment.endGtidSet,
          segment.firstGtid,
          segment.lastGtid,
          segment.firstCommitUs,
          segment.lastCommitUs,
          segment.transactions,
          segment.bytes,
          segment.sha256,
          segment.objectKey,
          createdAt,
        );
        return { ...segment, id, createdAt: fromDbTime(createdAt) };
      });
    });
  }

  list(serverId: string, options: SegmentListOptions = {}): Promise<readonly BinlogSegment[]> {
    return settle(() => {
      checkId('server id', serverId);
      return this.#conn.read(`Cannot list binlog segments of server ${serverId}`, (c) => {
        const after = options.endingAfter;
        const rows =
          after === undefined
            ? c
                .bigintStatement(
                  `SELECT ${SEGMENT_COLUMNS} FROM binlog_segments WHERE server_id = ? ${ORDER}`,
                )
                .all(serverId)
            : c
                .bigintStatement(
                  `SELECT ${SEGMENT_COLUMNS} FROM binlog_segments
                   WHERE server_id = ? AND (file_seq > ? OR (file_seq = ? AND (binlog_file <> ? OR end_position > ?)))
                   ${ORDER}`,
                )
                .all(
                  serverId,
                  fileSequence(after.file),
                  fileSequence(after.file),
                  after.file,
                  after.position,
                );
        return (rows as SegmentRow[]).map(toSegment);
      });
    });
  }

  last(serverId: string): Promise<BinlogSegment | undefined> {
    return settle(() => {
      checkId('server id', serverId);
      return this.#conn.read(`Cannot read the last binlog segment of server ${serverId}`, (c) => {
        const row = c
          .bigintStatement(
            `SELECT ${SEGMENT_COLUMNS} FROM binlog_segments WHERE server_id = ?
             ORDER BY file_seq DESC, binlog_file DESC, start_position DESC LIMIT 1`,
          )
          .get(serverId) as SegmentRow | undefined;
        return row === undefined ? undefined : toSegment(row);
      });
    });
  }

  delete(ids: readonly string[]): Promise<readonly ItemResult[]> {
    return settle(() =>
      ids.map((id): ItemResult => {
        try {
          if (!isUuid(id)) {
            throw new InvalidValueError(`Cannot delete binlog segment "${id}": expected a lower-case UUID`, {
              fields: { segmentId: id },
            });
          }
          this.#conn.write(`Cannot delete binlog segment ${id}`, (c) => {
            const { changes } = c.statement('DELETE FROM binlog_segments WHERE id = ?').run(id);
            if (changes === 0) {
              throw new NotFoundError(`Cannot delete binlog segment ${id}: there is no such segment`, {
                fields: { segmentId: id },
              });
            }
          });
          return { id, ok: true };
        } catch (err) {
          return {
            id,
            ok: false,
            error: err instanceof StoreError ? err : translate(err, `Cannot delete binlog segment ${id}`),
          };
        }
      }),
    );
  }

  recordGap(serverId: string, gap: NewArchiveGap): Promise<ArchiveGap> {
    return settle(() => {
      checkId('server id', serverId);
      for (const [name, c] of [
        ['from', gap.from],
        ['to', gap.to],
      ] as const) {
        if (c.file === '' || !Number.isSafeInteger(c.position) || c.position < 0) {
          throw new InvalidValueError(
            `Cannot record archive gap: "${name}" must name a file and a position of at least 0, got ${c.file}:${c.position}`,
            { fields: { [name]: c } },
          );
        }
      }
      return this.#conn.write(`Cannot record an archive gap for server ${serverId}`, (c) => {
        const id = newId();
        const recordedAt = toDbTime(this.#clock.now());
        c.statement(
          `INSERT INTO binlog_archive_gaps (id, server_id, from_file, from_position, from_gtid_set, to_file,
             to_position, to_gtid_set, reason, detail, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          id,
          serverId,
          gap.from.file,
          gap.from.position,
          gap.from.gtidSet,
          gap.to.file,
          gap.to.position,
          gap.to.gtidSet,
          gap.reason,
          gap.detail,
          recordedAt,
        );
        return { ...gap, id, serverId, recordedAt: fromDbTime(recordedAt) };
      });
    });
  }

  gaps(serverId: string): Promise<readonly ArchiveGap[]> {
    return settle(() => {
      checkId('server id', serverId);
      return this.#conn.read(`Cannot list archive gaps of server ${serverId}`, (c) => {
        const rows = c
          .bigintStatement(`SELECT * FROM binlog_archive_gaps WHERE server_id = ? ORDER BY recorded_at, id`)
          .all(serverId) as GapRow[];
        return rows.map((r): ArchiveGap => ({
          id: r.id,
          serverId: r.server_id,
          from: { file: r.from_file, position: Number(r.from_position), gtidSet: r.from_gtid_set },
          to: { file: r.to_file, position: Number(r.to_position), gtidSet: r.to_gtid_set },
          reason: r.reason,
          detail: r.detail,
          recordedAt: fromDbTime(r.recorded_at),
        }));
      });
    });
  }
}

function toSegment(r: SegmentRow): BinlogSegment {
  return {
    id: r.id,
    serverId: r.server_id,
    file: r.binlog_file,
    startPosition: Number(r.start_position),
    endPosition: Number(r.end_position),
    endsFile: r.ends_file === 1n,
    startGtidSet: r.start_gtid_set,
    endGtidSet: r.end_gtid_set,
    firstGtid: r.first_gtid,
    lastGtid: r.last_gtid,
    firstCommitUs: r.first_commit_us,
    lastCommitUs: r.last_commit_us,
    transactions: Number(r.transactions),
    bytes: Number(r.bytes),
    sha256: r.sha256,
    objectKey: r.object_key,
    createdAt: fromDbTime(r.created_at),
  };
}
