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
import { translate, type PgConnection } from './driver.js';

interface SegmentRow {
  id: string;
  server_id: string;
  binlog_file: string;
  start_position: bigint;
  end_position: bigint;
  ends_file: boolean;
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
  created_at: Date;
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
  recorded_at: Date;
}

const SEGMENT_COLUMNS = `id, server_id, binlog_file, start_position, end_position, ends_file, start_gtid_set,
  end_gtid_set, first_gtid, last_gtid, first_commit_us, last_commit_us, transactions, bytes, sha256, object_key,
  created_at`;
const ORDER = 'ORDER BY file_seq, binlog_file, start_position';

export class PostgresBinlogArchiveRepository implements BinlogArchiveRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async add(segment: NewBinlogSegment): Promise<BinlogSegment> {
    checkSegment(segment);
    const action = `Cannot record binlog segment ${segment.file}:${segment.startPosition}`;
    return this.#conn.write(action, async (q) => {
      if ((await q.row('SELECT 1 FROM servers WHERE id = $1', [segment.serverId])) === undefined) {
        throw new NotFoundError(`${action}: server ${segment.serverId} is not registered`, {
          fields: { serverId: segment.serverId },
        });
      }
      // ON CONFLICT waits for a racing insert at the same start and then does nothing: the row read below is
      // whichever segment won, compared with ours.
      const inserted = await q.row<SegmentRow>(
        `INSERT INTO binlog_segments (id, server_id, binlog_file, file_seq, start_position, end_position, ends_file,
           start_gtid_set, end_gtid_set, first_gtid, last_gtid, first_commit_us, last_commit_us, transactions,
           bytes, sha256, object_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (server_id, binlog_file, start_position) DO NOTHING
         RETURNING ${SEGMENT_COLUMNS}`,
        [
          newId(),
          segment.serverId,
          segment.file,
          fileSequence(segment.file),
          segment.startPosition,
          segment.endPosition,
          segment.endsFile,
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
          this.#clock.now(),
        ],
      );
      if (inserted !== undefined) return toSegment(inserted);
      const existing = (await q.row<SegmentRow>(
        `SELECT ${SEGMENT_COLUMNS} FROM binlog_segments WHERE server_id = $1 AND binlog_file = $2 AND start_position = $3`,
        [segment.serverId, segment.file, segment.startPosition],
      ))!;
      if (existing.sha256 === segment.sha256 && Number(existing.end_position) === segment.endPosition) {
        return toSegment(existing);
      }
      throw new DuplicateError(
        `${action}: another segment (sha256 ${existing.sha256.slice(0, 12)}...) is recorded at that start`,
        { fields: { file: segment.file, position: segment.startPosition, objectKey: existing.object_key } },
      );
    });
  }

  async list(serverId: string, options: SegmentListOptions = {}): Promise<readonly BinlogSegment[]> {
    checkId('server id', serverId);
    const after = options.endingAfter;
    const rows = await this.#conn.read(`Cannot list binlog segments of server ${serverId}`, (q) =>
      after === undefined
        ? q.rows<SegmentRow>(`SELECT ${SEGMENT_COLUMNS} FROM binlog_segments WHERE server_id = $1 ${ORDER}`, [
            serverId,
          ])
        : q.rows<SegmentRow>(
            `SELECT ${SEGMENT_COLUMNS} FROM binlog_segments
             WHERE server_id = $1 AND (file_seq > $2 OR (file_seq = $2 AND (binlog_file <> $3 OR end_position > $4)))
             ${ORDER}`,
            [serverId, fileSequence(after.file), after.file, after.position],
          ),
    );
    return rows.map(toSegment);
  }

  async last(serverId: string): Promise<BinlogSegment | undefined> {
    checkId('server id', serverId);
    const row = await this.#conn.read(`Cannot read the last binlog segment of server ${serverId}`, (q) =>
      q.row<SegmentRow>(
        `SELECT ${SEGMENT_COLUMNS} FROM binlog_segments WHERE server_id = $1
         ORDER BY file_seq DESC, binlog_file DESC, start_position DESC LIMIT 1`,
        [serverId],
      ),
    );
    return row === undefined ? undefined : toSegment(row);
  }

  async delete(ids: readonly string[]): Promise<readonly ItemResult[]> {
    const results: ItemResult[] = [];
    for (const id of ids) {
      try {
        if (!isUuid(id)) {
          throw new InvalidValueError(`Cannot delete binlog segment "${id}": expected a lower-case UUID`, {
            fields: { segmentId: id },
          });
        }
        const changed = await this.#conn.write(`Cannot delete binlog segment ${id}`, (q) =>
          q.run('DELETE FROM binlog_segments WHERE id = $1', [id]),
        );
        if (changed === 0) {
          throw new NotFoundError(`Cannot delete binlog segment ${id}: there is no such segment`, {
            fields: { segmentId: id },
          });
        }
        results.push({ id, ok: true });
      } catch (err) {
        results.push({
          id,
          ok: false,
          error: err instanceof StoreError ? err : translate(err, `Cannot delete binlog segment ${id}`),
        });
      }
    }
    return results;
  }

  async recordGap(serverId: string, gap: NewArchiveGap): Promise<ArchiveGap> {
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
    const id = newId();
    const recordedAt = this.#clock.now();
    await this.#conn.write(`Cannot record an archive gap for server ${serverId}`, (q) =>
      q.run(
        `INSERT INTO binlog_archive_gaps (id, server_id, from_file, from_position, from_gtid_set, to_file,
           to_position, to_gtid_set, reason, detail, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
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
        ],
      ),
    );
    return { ...gap, id, serverId, recordedAt };
  }

  async gaps(serverId: string): Promise<readonly ArchiveGap[]> {
    checkId('server id', serverId);
    const rows = await this.#conn.read(`Cannot list archive gaps of server ${serverId}`, (q) =>
      q.rows<GapRow>('SELECT * FROM binlog_archive_gaps WHERE server_id = $1 ORDER BY recorded_at, gap_no', [
        serverId,
      ]),
    );
    return rows.map((r): ArchiveGap => ({
      id: r.id,
      serverId: r.server_id,
      from: { file: r.from_file, position: Number(r.from_position), gtidSet: r.from_gtid_set },
      to: { file: r.to_file, position: Number(r.to_position), gtidSet: r.to_gtid_set },
      reason: r.reason,
      detail: r.detail,
      recordedAt: r.recorded_at,
    }));
  }
}

function toSegment(r: SegmentRow): BinlogSegment {
  return {
    id: r.id,
    serverId: r.server_id,
    file: r.binlog_file,
    startPosition: Number(r.start_position),
    endPosition: Number(r.end_position),
    endsFile: r.ends_file,
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
    createdAt: r.created_at,
  };
}
