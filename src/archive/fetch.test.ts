import { describe, expect, it } from 'vitest';
import type { ArchiveGap, BinlogSegment } from '../store/binlog-archive.js';
import { ArchiveCoverageError } from './errors.js';
import { segmentsCovering } from './fetch.js';
import { expiredSegments } from './retention.js';

let n = 0;
function seg(
  file: string,
  start: number,
  end: number,
  endsFile = false,
  lastCommitUs: bigint | null = null,
): BinlogSegment {
  n++;
  return {
    id: `id-${n}`,
    serverId: 's',
    file,
    startPosition: start,
    endPosition: end,
    endsFile,
    startGtidSet: null,
    endGtidSet: null,
    firstGtid: null,
    lastGtid: null,
    firstCommitUs: null,
    lastCommitUs,
    transactions: 1,
    bytes: 10,
    sha256: '0'.repeat(64),
    objectKey: `k/${file}/${start}`,
    createdAt: new Date(0),
  };
}

/** The repository's `list` semantics over an in-memory array (already in coordinate order). */
function catalog(segments: BinlogSegment[], gaps: ArchiveGap[] = []) {
  return {
    list: (_id: string, o: { endingAfter?: { file: string; position: number } } = {}) =>
      Promise.resolve(
        segments.filter(
          (s) =>
            o.endingAfter === undefined ||
            s.file > o.endingAfter.file ||
            (s.file === o.endingAfter.file && s.endPosition > o.endingAfter.position),
        ),
      ),
    gaps: () => Promise.resolve(gaps),
  };
}

const chain = [
  seg('binlog.000001', 4, 500),
  seg('binlog.000001', 500, 900, true, 50n),
  seg('binlog.000002', 4, 300, false, 80n),
  seg('binlog.000002', 300, 700, false, 120n),
];

describe('segmentsCovering', () => {
  it('picks the contiguous segments from a position inside one up to a target', async () => {
    const plan = await segmentsCovering(
      catalog(chain),
      's',
      { file: 'binlog.000001', position: 600 },
      {
        file: 'binlog.000002',
        position: 100,
      },
    );
    expect(plan.segments.map((s) => s.id)).toEqual([chain[1]!.id, chain[2]!.id]);
    const byTime = await segmentsCovering(
      catalog(chain),
      's',
      { file: 'binlog.000001', position: 4 },
      { commitTimeUs: 90n },
    );
    expect(byTime.segments).toHaveLength(4);
    // From the very end of a file: the segment that ends it chains on to the next file.
    const atEof = await segmentsCovering(catalog(chain), 's', { file: 'binlog.000001', position: 900 });
    expect(atEof.segments.map((s) => s.id)).toEqual([chain[1]!.id, chain[2]!.id, chain[3]!.id]);
    const toEnd = await segmentsCovering(catalog(chain), 's', { file: 'binlog.000002', position: 300 });
    expect(toEnd.segments.map((s) => s.id)).toEqual([chain[2]!.id, chain[3]!.id]);
  });

  it('names the hole and the recorded gap when the chain breaks', async () => {
    const broken = [chain[0]!, chain[1]!, chain[3]!];
    const gap: ArchiveGap = {
      id: 'g',
      serverId: 's',
      from: { file: 'binlog.000001', position: 900, gtidSet: null },
      to: { file: 'binlog.000002', position: 300, gtidSet: null },
      reason: 'capture_gap',
      detail: 'binlogs purged',
      recordedAt: new Date(0),
    };
    const err = await segmentsCovering(catalog(broken, [gap]), 's', {
      file: 'binlog.000001',
      position: 4,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveCoverageError);
    expect((err as Error).message).toBe(
      'Cannot replay from the binlog archive: transactions from binlog.000001:900 to binlog.000002:300 are missing: archive gap from binlog.000001:900 to binlog.000002:300 (capture_gap): binlogs purged',
    );
    // Nothing archived at the start, or not far enough.
    await expect(
      segmentsCovering(catalog(chain), 's', { file: 'binlog.000001', position: 2 }),
    ).rejects.toThrow(
      /transactions from binlog.000001:2 to binlog.000001:4 are missing: no segment covers it/,
    );
    await expect(
      segmentsCovering(
        catalog(chain),
        's',
        { file: 'binlog.000001', position: 4 },
        { file: 'binlog.000003', position: 4 },
      ),
    ).rejects.toThrow(/holds nothing after binlog.000002:700, the target is binlog.000003:4/);
  });
});

describe('expiredSegments', () => {
  it('expires only segments ending at or before the oldest kept backup, and nothing without one', () => {
    expect(expiredSegments(chain, { file: 'binlog.000002', position: 4 }).map((s) => s.id)).toEqual([
      chain[0]!.id,
      chain[1]!.id,
    ]);
    expect(expiredSegments(chain, { file: 'binlog.000001', position: 499 })).toEqual([]);
    expect(expiredSegments(chain, undefined)).toEqual([]);
  });
});
