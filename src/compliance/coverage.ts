import { MAX_LIST_LIMIT, type BackupCatalog, type BackupRecord } from '../store/catalog.js';
import type { ChangeIndex } from '../store/change-index.js';
import type { ServerFactsRepository } from '../store/server-facts.js';
import type { ServerRecord } from '../store/servers.js';
import { coveredWindows, type CoveredWindow } from '../store/windows.js';

/**
 * Coverage of one server: over which stretches of time its state can be reconstructed (the recoverable windows),
 * how far back the server itself still holds binlogs, and warnings for the two rules of the backup strategy:
 * "dump at least as often as your binlog retention" and "keep at least two retention cycles" of dumps.
 *
 * A recoverable window is a covered window (every change captured, src/store/windows.ts) from the first good dump
 * inside it. A dump's consistent point lies somewhere between the start and the end of its dump step, so a dump
 * counts for a window only when it started at or after the window's start (its changes onward were captured) and
 * the window runs on past the end of its dump step, and the recoverable window then starts at that end. This
 * errs on the side of claiming less: an auditor relies on it. Pure.
 *
 * Warnings, when the server's binlog retention R is known and not 0 (never purged):
 * - `dump_older_than_retention`: the newest good dump ended more than R ago. Once capture breaks, the binlogs
 *   between that dump and now may be purged, and nothing could be restored past the dump.
 * - `fewer_than_two_retention_cycles`: fewer than two good dumps ended within the last 2R. With one dump per
 *   retention cycle there is no fallback when the newest dump turns out bad.
 * With retention unknown or 0 the second rule still asks for two good dumps in all, and `no_dump` is raised when
 * there is none.
 */
export interface RecoverableWindow {
  readonly fromUs: bigint;
  readonly toUs: bigint;
  /** The dump the window starts from. */
  readonly backupId: string;
}

export type CoverageWarningCode = 'no_dump' | 'dump_older_than_retention' | 'fewer_than_two_retention_cycles';

export interface CoverageWarning {
  readonly code: CoverageWarningCode;
  readonly message: string;
}

export interface ServerCoverage {
  readonly recoverableWindows: readonly RecoverableWindow[];
  /** End of the dump step of the newest good dump; null when there is none. */
  readonly newestDumpAt: Date | null;
  readonly newestDumpId: string | null;
  readonly goodDumps: number;
  /** 0 = never purged; null = unknown. */
  readonly binlogRetentionSeconds: number | null;
  /** now - retention: binlogs older than this may be gone from the server; null when unknown or 0. */
  readonly binlogRetentionHorizon: Date | null;
  readonly warnings: readonly CoverageWarning[];
}

/** The end of a good dump's dump step: where its consistent point is known to be past. */
export function dumpEnd(b: BackupRecord): Date {
  return b.dumpFinishedAt ?? b.finishedAt ?? b.createdAt;
}

function dumpStart(b: BackupRecord): Date {
  return b.startedAt ?? b.createdAt;
}

const us = (d: Date): bigint => BigInt(d.getTime()) * 1000n;

export function recoverableWindows(
  windows: readonly CoveredWindow[],
  goodDumps: readonly BackupRecord[],
): RecoverableWindow[] {
  const byEnd = [...goodDumps].sort((a, b) => dumpEnd(a).getTime() - dumpEnd(b).getTime());
  const out: RecoverableWindow[] = [];
  for (const w of windows) {
    const first = byEnd.find(
      (b) => us(dumpStart(b)) >= w.fromUs && us(dumpEnd(b)) <= w.toUs && b.coordinates !== null,
    );
    if (first !== undefined) out.push({ fromUs: us(dumpEnd(first)), toUs: w.toUs, backupId: first.id });
  }
  return out;
}

export function serverCoverage(input: {
  readonly now: Date;
  readonly windows: readonly CoveredWindow[];
  /** The server's backups; only `succeeded` ones count. */
  readonly backups: readonly BackupRecord[];
  readonly binlogRetentionSeconds: number | null;
}): ServerCoverage {
  const good = input.backups.filter((b) => b.status === 'succeeded');
  const newest = good.reduce<BackupRecord | undefined>(
    (n, b) => (n === undefined || dumpEnd(b) > dumpEnd(n) ? b : n),
    undefined,
  );
  const retention = input.binlogRetentionSeconds;
  const now = input.now.getTime();
  const warnings: CoverageWarning[] = [];
  if (newest === undefined) {
    warnings.push({
      code: 'no_dump',
      message: 'No good dump exists: nothing can be restored, and captured changes have no starting point',
    });
  } else if (retention !== null && retention > 0 && now - dumpEnd(newest).getTime() > retention * 1000) {
    warnings.push({
      code: 'dump_older_than_retention',
      message: `The newest dump (${dumpEnd(newest).toISOString()}) is older than the server's binlog retention (${duration(retention)}): dump at least as often as binlogs are kept`,
    });
  }
  const cycles =
    retention !== null && retention > 0
      ? good.filter((b) => now - dumpEnd(b).getTime() <= 2 * retention * 1000).length
      : good.length;
  if (newest !== undefined && cycles < 2) {
    warnings.push({
      code: 'fewer_than_two_retention_cycles',
      message:
        retention !== null && retention > 0
          ? `Only ${cycles} good dump${cycles === 1 ? '' : 's'} in the last two binlog retention cycles (${duration(2 * retention)}): keep at least two, so a bad dump has a fallback`
          : `Only ${cycles} good dump${cycles === 1 ? '' : 's'} in all: keep at least two, so a bad dump has a fallback`,
    });
  }
  return {
    recoverableWindows: recoverableWindows(input.windows, good),
    newestDumpAt: newest === undefined ? null : dumpEnd(newest),
    newestDumpId: newest?.id ?? null,
    goodDumps: good.length,
    binlogRetentionSeconds: retention,
    binlogRetentionHorizon: retention === null || retention <= 0 ? null : new Date(now - retention * 1000),
    warnings,
  };
}

/** `7d`, `36h`, `90m`, `45s`: the largest whole unit. */
export function duration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** What `loadServerCoverage` reads. */
export interface CoverageStore {
  readonly catalog: Pick<BackupCatalog, 'list'>;
  readonly changes: Pick<ChangeIndex, 'coverage'>;
  readonly serverFacts: Pick<ServerFactsRepository, 'get'>;
}

/**
 * The coverage of a registered server from the state store: its covered windows, its good backups (by the
 * server's name, so CLI-driven backups of it count too) and the binlog retention it last reported. `retention`
 * overrides the stored one when the caller knows fresher (an agent's report in memory).
 */
export async function loadServerCoverage(
  store: CoverageStore,
  server: Pick<ServerRecord, 'id' | 'tenantId' | 'name'>,
  now: Date,
  retention?: number | null,
): Promise<ServerCoverage & { readonly windows: readonly CoveredWindow[] }> {
  const [coverage, backups, facts] = await Promise.all([
    store.changes.coverage(server.id),
    store.catalog.list({
      tenantId: server.tenantId,
      serverName: server.name,
      status: 'succeeded',
      limit: MAX_LIST_LIMIT,
    }),
    retention === undefined || retention === null ? store.serverFacts.get(server.id) : undefined,
  ]);
  const windows = coveredWindows(coverage);
  return {
    windows,
    ...serverCoverage({
      now,
      windows,
      backups,
      binlogRetentionSeconds: retention ?? facts?.binlogRetentionSeconds ?? null,
    }),
  };
}
