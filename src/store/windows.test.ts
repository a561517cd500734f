import { describe, expect, it } from 'vitest';
import type { Gap, ResolvedGap } from './change-index.js';
import { coveredWindows, windowsBetween } from './windows.js';

const gap = (
  fromUs: bigint | null,
  toUs: bigint | null,
  reason: Gap['reason'] = 'binlog_purged',
): ResolvedGap => ({
  gap: {
    id: 'g',
    serverId: 's',
    from: { file: 'binlog.000001', position: 4, gtidSet: null },
    to: { file: 'binlog.000002', position: 4, gtidSet: null },
    fromTimeUs: fromUs,
    toTimeUs: toUs,
    reason,
    detail: '',
    recordedAt: new Date(0),
  },
  fromUs,
  toUs,
});

describe('coveredWindows', () => {
  it('is empty before anything was captured', () => {
    expect(coveredWindows({ startUs: null, endUs: null, gaps: [] })).toEqual([]);
    expect(coveredWindows({ startUs: 5n, endUs: null, gaps: [] })).toEqual([]);
  });

  it('is one window from the first to the newest captured commit without gaps', () => {
    expect(coveredWindows({ startUs: 10n, endUs: 100n, gaps: [] })).toEqual([{ fromUs: 10n, toUs: 100n }]);
    expect(coveredWindows({ startUs: 10n, endUs: 10n, gaps: [] })).toEqual([{ fromUs: 10n, toUs: 10n }]);
  });

  it('splits at a purge gap, keeping the commits at both of its ends', () => {
    expect(coveredWindows({ startUs: 10n, endUs: 100n, gaps: [gap(40n, 60n)] })).toEqual([
      { fromUs: 10n, toUs: 40n },
      { fromUs: 60n, toUs: 100n },
    ]);
  });

  it('ends coverage at a gap capture has not resumed after', () => {
    expect(coveredWindows({ startUs: 10n, endUs: 100n, gaps: [gap(40n, null)] })).toEqual([
      { fromUs: 10n, toUs: 40n },
    ]);
  });

  it('starts coverage after a prune, and handles several gaps in any order', () => {
    expect(
      coveredWindows({ startUs: 10n, endUs: 100n, gaps: [gap(70n, 80n), gap(null, 30n, 'pruned')] }),
    ).toEqual([
      { fromUs: 30n, toUs: 70n },
      { fromUs: 80n, toUs: 100n },
    ]);
    expect(coveredWindows({ startUs: 10n, endUs: 100n, gaps: [gap(null, 200n, 'pruned')] })).toEqual([]);
  });

  it('ignores gaps outside the captured span and treats reversed gaps as covering all', () => {
    expect(
      windowsBetween(10n, 100n, [
        { fromUs: 100n, toUs: 300n },
        { fromUs: 0n, toUs: 10n },
      ]),
    ).toEqual([{ fromUs: 10n, toUs: 100n }]);
    expect(windowsBetween(10n, 100n, [{ fromUs: 50n, toUs: 20n }])).toEqual([]);
  });
});
