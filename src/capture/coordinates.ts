import type { BinlogCoordinates } from '../store/change-index.js';

/**
 * Ordering of binlog coordinates. A binlog file name is `<basename>.<sequence>` (MySQL `binlog.cc`
 * `find_next_log`/MariaDB `log.cc`: the extension is a zero-padded number of at least six digits, incremented
 * at each rotation), so files order by that number, not by the text: `binlog.999999` < `binlog.1000000`.
 */
export interface BinlogFileName {
  readonly base: string;
  readonly sequence: number;
}

export function parseBinlogFileName(name: string): BinlogFileName | undefined {
  const m = /^(.*)\.(\d+)$/.exec(name);
  if (m === null) return undefined;
  return { base: m[1] as string, sequence: Number(m[2]) };
}

/** Negative, zero or positive as `a` is before, the same as, or after `b`. Unknown names compare as text. */
export function compareBinlogFiles(a: string, b: string): number {
  const pa = parseBinlogFileName(a);
  const pb = parseBinlogFileName(b);
  if (pa !== undefined && pb !== undefined && pa.base === pb.base) return pa.sequence - pb.sequence;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders two positions by file, then offset. GTID sets are not compared: the file position is the order. */
export function compareCoordinates(
  a: Pick<BinlogCoordinates, 'file' | 'position'>,
  b: Pick<BinlogCoordinates, 'file' | 'position'>,
): number {
  const byFile = compareBinlogFiles(a.file, b.file);
  return byFile !== 0 ? byFile : a.position - b.position;
}

/** `binlog.000042:1234 (gtid 0-1-100)`, for messages. */
export function describeCoordinates(c: BinlogCoordinates): string {
  const gtid = c.gtidSet === null || c.gtidSet === '' ? '' : ` (GTID ${c.gtidSet})`;
  return `${c.file}:${c.position}${gtid}`;
}
