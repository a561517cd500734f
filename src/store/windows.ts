import type { Coverage, Gap } from './change-index.js';

/**
 * Continuous covered windows: the stretches of time over which every change of a server is in the index.
 *
 * Capture covers from the first transaction it committed (`startUs`) to the newest one its checkpoint covers
 * (`endUs`). Each gap takes out the open interval between its resolved start and end: the commits at the two
 * ends were captured (the last one before the gap, the first one after it), everything strictly between may be
 * missing. An unknown start reaches back to the beginning, an unknown end (capture has not resumed yet) to the
 * end. Pure: the backups' join to make restore windows happens elsewhere.
 */
export interface CoveredWindow {
  /** Every change committed from `fromUs` through `toUs` (inclusive, microseconds since the epoch) is indexed. */
  readonly fromUs: bigint;
  readonly toUs: bigint;
}

/** A missing span: the open interval (fromUs, toUs); null ends are unbounded. */
export interface MissingSpan {
  readonly fromUs: bigint | null;
  readonly toUs: bigint | null;
  readonly reason?: Gap['reason'];
}

export function coveredWindows(coverage: Coverage): readonly CoveredWindow[] {
  return windowsBetween(
    coverage.startUs,
    coverage.endUs,
    coverage.gaps.map((g) => ({ fromUs: g.fromUs, toUs: g.toUs, reason: g.gap.reason })),
  );
}

export function windowsBetween(
  startUs: bigint | null,
  endUs: bigint | null,
  missing: readonly MissingSpan[],
): readonly CoveredWindow[] {
  if (startUs === null || endUs === null || endUs < startUs) return [];
  let windows: CoveredWindow[] = [{ fromUs: startUs, toUs: endUs }];
  for (const gap of missing) {
    // A gap whose ends are the wrong way round says nothing sensible about time: treat it as covering all.
    if (gap.fromUs !== null && gap.toUs !== null && gap.toUs < gap.fromUs) return [];
    const next: CoveredWindow[] = [];
    for (const w of windows) {
      // The open interval (from, to) meets [w.fromUs, w.toUs] iff from < w.toUs and to > w.fromUs.
      const meets =
        (gap.fromUs === null || gap.fromUs < w.toUs) && (gap.toUs === null || gap.toUs > w.fromUs);
      if (!meets) {
        next.push(w);
        continue;
      }
      if (gap.fromUs !== null && gap.fromUs >= w.fromUs) next.push({ fromUs: w.fromUs, toUs: gap.fromUs });
      if (gap.toUs !== null && gap.toUs <= w.toUs) next.push({ fromUs: gap.toUs, toUs: w.toUs });
    }
    windows = next;
  }
  return windows.sort((a, b) => (a.fromUs < b.fromUs ? -1 : a.fromUs > b.fromUs ? 1 : 0));
}
