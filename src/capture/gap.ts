import { MysqlGtidSet, parseMariadbGtidList } from '../source/replication/gtid.js';
import type { BinlogCoordinates, NewGap } from '../store/change-index.js';
import { compareBinlogFiles, describeCoordinates } from './coordinates.js';

/**
 * Whether the binlogs capture needs to continue from its checkpoint are still on the server, decided from what the
 * server reports (`SHOW BINARY LOGS`, and the GTID state at the start of its oldest binlog).
 *
 * - MariaDB with a GTID checkpoint: the oldest binlog's GTID_LIST names, per replication domain, the last
 *   transaction written before that file. A domain whose sequence there is past the checkpoint's lost the
 *   transactions in between with the purged files.
 * - MySQL with GTIDs: `gtid_purged` must be a subset of the checkpoint's GTID set.
 * - Otherwise by file: the checkpoint's file must still be listed.
 */
export interface ServerBinlogs {
  readonly flavor: 'mysql' | 'mariadb';
  /** File names from SHOW BINARY LOGS, oldest first. */
  readonly files: readonly string[];
  /**
   * The start of the oldest binlog: file, offset 4, and the GTID state there (MariaDB: its GTID_LIST; MySQL:
   * gtid_purged), null when the server has no GTIDs.
   */
  readonly oldest: BinlogCoordinates;
}

export interface GapFinding {
  readonly from: BinlogCoordinates;
  readonly to: BinlogCoordinates;
  readonly reason: NewGap['reason'];
  readonly detail: string;
}

export function findGap(checkpoint: BinlogCoordinates, server: ServerBinlogs): GapFinding | undefined {
  const oldest = server.oldest;
  const cpGtid = checkpoint.gtidSet ?? '';
  const oldGtid = oldest.gtidSet ?? '';
  if (server.flavor === 'mariadb' && cpGtid !== '') {
    const have = new Map(parseMariadbGtidList(cpGtid).map((g) => [g.domainId, g.seqNo]));
    const missing: string[] = [];
    for (const g of parseMariadbGtidList(oldGtid)) {
      const seen = have.get(g.domainId) ?? 0n;
      if (g.seqNo > seen) missing.push(`domain ${g.domainId}: ${seen + 1n}-${g.seqNo}`);
    }
    if (missing.length === 0) return undefined;
    return {
      from: checkpoint,
      to: oldest,
      reason: 'binlog_purged',
      detail: `the transactions ${missing.join(', ')} were in binlogs purged before ${oldest.file}`,
    };
  }
  if (server.flavor === 'mysql' && cpGtid !== '' && oldGtid !== '') {
    const have = MysqlGtidSet.parse(cpGtid);
    const union = have.clone();
    const purged = MysqlGtidSet.parse(oldGtid);
    // purged ⊆ have exactly when adding it changes nothing.
    for (const part of purged.toString().split(',')) {
      if (part !== '') mergeInto(union, part);
    }
    if (union.toString() === have.toString()) return undefined;
    return {
      from: checkpoint,
      to: oldest,
      reason: 'binlog_purged',
      detail: `gtid_purged ${purged.toString()} holds transactions the checkpoint ${have.toString()} lacks`,
    };
  }
  if (server.files.includes(checkpoint.file)) return undefined;
  if (compareBinlogFiles(checkpoint.file, oldest.file) < 0) {
    return {
      from: checkpoint,
      to: oldest,
      reason: 'binlog_purged',
      detail: `${checkpoint.file} was purged; the oldest binlog is ${oldest.file}`,
    };
  }
  return {
    from: checkpoint,
    to: oldest,
    reason: 'other',
    detail: `${checkpoint.file} is not on the server, whose binlogs are ${server.files[0] ?? 'none'} to ${server.files[server.files.length - 1] ?? 'none'} (was the binlog reset?)`,
  };
}

/** Adds one `uuid:1-5:7:tag:1-2` part of MySQL's canonical text form to the set. */
function mergeInto(set: MysqlGtidSet, text: string): void {
  const [uuid, ...rest] = text.split(':');
  let tag: string | undefined;
  for (const field of rest) {
    if (!/^\d/.test(field)) {
      tag = field;
      continue;
    }
    const [a, b] = field.split('-');
    const start = BigInt(a as string);
    const end = BigInt(b ?? (a as string)) + 1n;
    set.addRange(uuid as string, tag, start, end);
  }
}

/** `from binlog.000003:1234 (GTID 0-1-42) at 2024-05-01T10:00:00.000000Z to ...`, for messages. */
export function describeGap(
  gap: Pick<GapFinding, 'from' | 'to' | 'reason' | 'detail'>,
  fromTimeUs: bigint | null,
  toTimeUs: bigint | null,
): string {
  const at = (t: bigint | null): string => (t === null ? '' : ` at ${formatMicros(t)}`);
  return `from ${describeCoordinates(gap.from)}${at(fromTimeUs)} to ${describeCoordinates(gap.to)}${at(toTimeUs)}, reason ${gap.reason}: ${gap.detail}`;
}

/** ISO 8601 in UTC with microseconds. */
export function formatMicros(us: bigint): string {
  const ms = us / 1000n;
  const iso = new Date(Number(ms)).toISOString();
  const micros = String(us % 1_000_000n).padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}
