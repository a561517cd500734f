/**
 * Reading the raw binlog archive back, for restore and drills.
 *
 * ```ts
 * import { segmentsCovering, fetchSegments } from '../archive/fetch.js';
 * // Which segments replay everything after a backup's coordinates up to a target (or to the end):
 * const plan = await segmentsCovering(store.binlogArchive, serverId, backup.coordinates, { file, position });
 * // plan.segments: in order; throws ArchiveCoverageError (kind 'gap', exit 10) naming the hole when the archive
 * // cannot cover the range (an archive gap, a missing segment, nothing archived that far).
 * const files = await fetchSegments(objects, plan.segments, '/tmp/restore-binlogs');
 * // files: local paths in order, each checked against the catalog's size and SHA-256 (ArchiveIntegrityError,
 * // kind 'integrity', exit 9, otherwise). Each is a binlog file: `mariadb-binlog FILE... | mariadb` replays it.
 * ```
 *
 * Coordinates: a segment's events keep the source's `end_log_pos`; the first transaction to replay is the one
 * that starts at `from` (a backup's binlog position), i.e. the first with end_log_pos > from.position in
 * from.file. `mariadb-binlog --start-position=GTID` (MariaDB) or the backup's GTID set skip what the dump already
 * holds; `--stop-datetime`/`--stop-position=GTID` stop at a target. `plan.skipBefore` names the position in the
 * first segment's source file before which transactions are already in the backup.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compareCoordinates, describeCoordinates } from '../capture/coordinates.js';
import type { ObjectStore } from '../objects/store.js';
import type { ArchiveGap, BinlogArchiveRepository, BinlogSegment } from '../store/binlog-archive.js';
import { ArchiveCoverageError, ArchiveIntegrityError } from './errors.js';
import { nextFileName } from './archiver.js';

export interface ArchivePosition {
  readonly file: string;
  readonly position: number;
}

/** Where to stop: coordinates in the source's binlog, or a commit time (microseconds since the epoch). */
export type ArchiveTarget = ArchivePosition | { readonly commitTimeUs: bigint };

export interface SegmentPlan {
  /** In replay order; contiguous (each starts where the previous ended, or at the next file). */
  readonly segments: readonly BinlogSegment[];
  /** Transactions of the first segment ending at or before this position of its file are in the backup. */
  readonly skipBefore: ArchivePosition;
}

/**
 * The segments that hold every transaction after `from` up to `to` (inclusive; to the end of the archive when
 * omitted), checked to be contiguous. Throws ArchiveCoverageError naming the first hole.
 */
export async function segmentsCovering(
  catalog: Pick<BinlogArchiveRepository, 'list' | 'gaps'>,
  serverId: string,
  from: ArchivePosition,
  to?: ArchiveTarget,
): Promise<SegmentPlan> {
  // A segment ending exactly at `from` is taken too: when it ends its file, it is what chains `from` to the next
  // file's segments (its transactions are all in the backup and skipped).
  const candidates = await catalog.list(serverId, {
    endingAfter: { file: from.file, position: from.position - 1 },
  });
  const picked: BinlogSegment[] = [];
  let at: ArchivePosition = from;
  let atEndsFile = false;
  for (const s of candidates) {
    if (picked.length === 0 ? !startsAtOrBefore(s, at) : !continues(at, atEndsFile, s)) {
      throw await hole(catalog, serverId, at, s);
    }
    picked.push(s);
    at = { file: s.file, position: s.endPosition };
    atEndsFile = s.endsFile;
    if (to !== undefined && reaches(s, to)) return { segments: picked, skipBefore: from };
  }
  if (to === undefined && picked.length > 0) return { segments: picked, skipBefore: from };
  const last = picked[picked.length - 1];
  const where = last === undefined ? describePosition(from) : `${last.file}:${last.endPosition}`;
  throw new ArchiveCoverageError(
    `Cannot replay from the binlog archive: it holds nothing after ${where}${to === undefined ? '' : `, the target is ${describeTarget(to)}`}`,
    {
      fields: {
        serverId,
        from,
        archivedTo: last === undefined ? null : { file: last.file, position: last.endPosition },
      },
    },
  );
}

function startsAtOrBefore(s: BinlogSegment, at: ArchivePosition): boolean {
  return compareCoordinates({ file: s.file, position: s.startPosition }, at) <= 0;
}

function continues(at: ArchivePosition, atEndsFile: boolean, s: BinlogSegment): boolean {
  if (s.file === at.file) return s.startPosition === at.position;
  return atEndsFile && s.file === nextFileName(at.file) && s.startPosition === 4;
}

function reaches(s: BinlogSegment, to: ArchiveTarget): boolean {
  if ('commitTimeUs' in to) return s.lastCommitUs !== null && s.lastCommitUs > to.commitTimeUs;
  return compareCoordinates({ file: s.file, position: s.endPosition }, to) >= 0;
}

async function hole(
  catalog: Pick<BinlogArchiveRepository, 'gaps'>,
  serverId: string,
  at: ArchivePosition,
  next: BinlogSegment,
): Promise<ArchiveCoverageError> {
  const gaps = await catalog.gaps(serverId);
  const nextStart = { file: next.file, position: next.startPosition };
  // The gap recorded for this hole lies between the end of what is covered and the next segment.
  const gap: ArchiveGap | undefined = gaps.find(
    (g) => compareCoordinates(g.from, at) >= 0 && compareCoordinates(g.to, nextStart) <= 0,
  );
  const why =
    gap === undefined
      ? 'no segment covers it'
      : `archive gap from ${describeCoordinates(gap.from)} to ${describeCoordinates(gap.to)} (${gap.reason}): ${gap.detail}`;
  return new ArchiveCoverageError(
    `Cannot replay from the binlog archive: transactions from ${describePosition(at)} to ${next.file}:${next.startPosition} are missing: ${why}`,
    {
      fields: {
        serverId,
        from: at,
        to: { file: next.file, position: next.startPosition },
        gap: gap === undefined ? null : { from: gap.from, to: gap.to, reason: gap.reason },
      },
    },
  );
}

function describePosition(p: ArchivePosition): string {
  return `${p.file}:${p.position}`;
}

function describeTarget(t: ArchiveTarget): string {
  return 'commitTimeUs' in t
    ? `commit time ${new Date(Number(t.commitTimeUs / 1000n)).toISOString()}`
    : describePosition(t);
}

/**
 * Downloads segments into `dir` (created when missing) as `<n>-<source file>-<start>.binlog`, numbered so that a
 * shell glob lists them in replay order. Each is verified against the catalog's size and SHA-256 while it is
 * written; a mismatch removes the file and throws ArchiveIntegrityError.
 */
export async function fetchSegments(
  objects: ObjectStore,
  segments: readonly BinlogSegment[],
  dir: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths: string[] = [];
  const width = String(segments.length).length;
  for (const [i, s] of segments.entries()) {
    const path = join(dir, `${String(i + 1).padStart(width, '0')}-${s.file}-${s.startPosition}.binlog`);
    const hash = createHash('sha256');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const body = await objects.get(
      s.objectKey,
      options.signal === undefined ? {} : { signal: options.signal },
    );
    await pipeline(
      body,
      count,
      createWriteStream(path, { mode: 0o600 }),
      options.signal === undefined ? {} : { signal: options.signal },
    );
    const sha256 = hash.digest('hex');
    if (size !== s.bytes || sha256 !== s.sha256) {
      await rm(path, { force: true });
      throw new ArchiveIntegrityError(
        `Cannot use archive segment ${s.objectKey}: the object has ${size} bytes with SHA-256 ${sha256}, the catalog recorded ${s.bytes} bytes with ${s.sha256}`,
        { fields: { objectKey: s.objectKey, segmentId: s.id, file: basename(path) } },
      );
    }
    paths.push(path);
  }
  return paths;
}
