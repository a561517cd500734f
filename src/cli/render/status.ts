import { isoMicros, type ChangeStats, type Checkpoint, type Gap } from '../../store/change-index.js';
import type { CoveredWindow } from '../../store/windows.js';
import { duration, type ServerCoverage } from '../../compliance/coverage.js';

/** What `dbtrail status` knows about one server. */
export interface ServerStatus {
  readonly name: string;
  readonly id: string;
  readonly checkpoint: Checkpoint | undefined;
  /** Commit time of the newest transaction the checkpoint covers. */
  readonly lastCommitUs: bigint | null;
  /** now - lastCommitUs in microseconds; null when unknown. */
  readonly lagUs: bigint | null;
  readonly stats: ChangeStats;
  readonly gaps: readonly Gap[];
  readonly windows: readonly CoveredWindow[];
  /** Recoverable windows, binlog retention horizon and dump warnings (src/compliance/coverage.ts). */
  readonly coverage?: ServerCoverage;
}

/** The public JSON form (`status --json`): times ISO 8601 UTC with microseconds, counts exact JSON numbers. */
export function statusJson(s: ServerStatus): Record<string, unknown> {
  return {
    server: s.name,
    serverId: s.id,
    checkpoint:
      s.checkpoint === undefined
        ? null
        : {
            file: s.checkpoint.coordinates.file,
            position: s.checkpoint.coordinates.position,
            gtidSet: s.checkpoint.coordinates.gtidSet,
            identity: s.checkpoint.identity,
            updatedAt: s.checkpoint.updatedAt.toISOString(),
            lastCommit: s.lastCommitUs === null ? null : isoMicros(s.lastCommitUs),
          },
    lagSeconds: s.lagUs === null ? null : Number(s.lagUs / 1000n) / 1000,
    rowChanges: s.stats.rowChanges,
    transactions: s.stats.transactions,
    ddlEvents: s.stats.ddlEvents,
    firstChange: s.stats.firstCommitTimeUs === null ? null : isoMicros(s.stats.firstCommitTimeUs),
    lastChange: s.stats.lastCommitTimeUs === null ? null : isoMicros(s.stats.lastCommitTimeUs),
    gaps: s.gaps.map((g) => ({
      id: g.id,
      reason: g.reason,
      detail: g.detail,
      from: g.from,
      to: g.to,
      fromTime: g.fromTimeUs === null ? null : isoMicros(g.fromTimeUs),
      toTime: g.toTimeUs === null ? null : isoMicros(g.toTimeUs),
      recordedAt: g.recordedAt.toISOString(),
    })),
    windows: s.windows.map((w) => ({ from: isoMicros(w.fromUs), to: isoMicros(w.toUs) })),
    ...(s.coverage === undefined ? {} : { coverage: coverageJson(s.coverage) }),
  };
}

/** The coverage part of `status --json`, in the same snake_case as the API's coverage route. */
export function coverageJson(c: ServerCoverage): Record<string, unknown> {
  return {
    recoverable_windows: c.recoverableWindows.map((w) => ({
      from: isoMicros(w.fromUs),
      to: isoMicros(w.toUs),
      backup_id: w.backupId,
    })),
    binlog_retention_seconds: c.binlogRetentionSeconds,
    binlog_retention_horizon: c.binlogRetentionHorizon?.toISOString() ?? null,
    newest_dump_at: c.newestDumpAt?.toISOString() ?? null,
    newest_dump_id: c.newestDumpId,
    good_dumps: c.goodDumps,
    warnings: c.warnings,
  };
}

/** The human form: one block per server. Times are UTC. */
export function renderStatus(statuses: readonly ServerStatus[]): string {
  const out: string[] = [];
  for (const s of statuses) {
    if (out.length > 0) out.push('');
    out.push(`Server ${s.name}`);
    const row = (label: string, value: string) => out.push(`  ${label.padEnd(14)}${value}`);
    if (s.checkpoint === undefined) {
      row('Checkpoint', 'none (never captured)');
    } else {
      const c = s.checkpoint.coordinates;
      row('Checkpoint', `${c.file}:${c.position}${c.gtidSet === null ? '' : `  GTID ${c.gtidSet}`}`);
      row(
        'Source',
        `${s.checkpoint.identity.flavor} ${s.checkpoint.identity.hostname} (server_id ${s.checkpoint.identity.serverId})`,
      );
    }
    row(
      'Lag',
      s.lagUs === null || s.lastCommitUs === null
        ? 'unknown'
        : `${formatLag(s.lagUs)} (since the last captured commit, ${utc(s.lastCommitUs)})`,
    );
    row(
      'Row changes',
      `${group(s.stats.rowChanges)} in ${group(s.stats.transactions)} transactions, ${group(s.stats.ddlEvents)} DDL`,
    );
    row('First change', s.stats.firstCommitTimeUs === null ? '-' : utc(s.stats.firstCommitTimeUs));
    row('Last change', s.stats.lastCommitTimeUs === null ? '-' : utc(s.stats.lastCommitTimeUs));
    if (s.gaps.length === 0) {
      row('Gaps', 'none');
    } else {
      row('Gaps', String(s.gaps.length));
      for (const g of s.gaps) {
        const span =
          g.fromTimeUs !== null || g.toTimeUs !== null
            ? ` (${g.fromTimeUs === null ? '?' : utc(g.fromTimeUs)} to ${g.toTimeUs === null ? '?' : utc(g.toTimeUs)})`
            : '';
        out.push(
          `    - ${g.reason}: ${g.from.file}:${g.from.position} to ${g.to.file}:${g.to.position}${span}`,
        );
        if (g.detail !== '') out.push(`      ${g.detail}`);
      }
    }
    if (s.windows.length === 0) {
      row('Windows', 'none');
    } else {
      row('Windows', String(s.windows.length));
      for (const w of s.windows) out.push(`    - ${utc(w.fromUs)} to ${utc(w.toUs)}`);
    }
    if (s.coverage !== undefined) renderCoverage(s.coverage, row, out);
  }
  return `${out.join('\n')}\n`;
}

function renderCoverage(c: ServerCoverage, row: (label: string, value: string) => void, out: string[]): void {
  if (c.recoverableWindows.length === 0) {
    row('Recoverable', 'none (no good dump inside a gap-free covered window)');
  } else {
    row('Recoverable', String(c.recoverableWindows.length));
    for (const w of c.recoverableWindows) {
      out.push(`    - ${utc(w.fromUs)} to ${utc(w.toUs)} (from backup ${w.backupId})`);
    }
  }
  const r = c.binlogRetentionSeconds;
  row(
    'Binlog kept',
    r === null
      ? 'unknown (reported by an agent after a backup)'
      : r === 0
        ? 'forever (never purged)'
        : `${duration(r)}: binlogs before ${c.binlogRetentionHorizon?.toISOString().replace('T', ' ').slice(0, 19) ?? '?'} UTC may be gone`,
  );
  row(
    'Newest dump',
    c.newestDumpAt === null
      ? 'none'
      : `${c.newestDumpAt.toISOString().replace('T', ' ').slice(0, 19)} UTC (${c.goodDumps} good in all)`,
  );
  for (const w of c.warnings) out.push(`  WARNING: ${w.message}`);
}

function utc(us: bigint): string {
  return `${isoMicros(us).slice(0, 26).replace('T', ' ')} UTC`;
}

function group(n: bigint): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function formatLag(us: bigint): string {
  if (us < 0n) return '0s';
  let s = us / 1_000_000n;
  const d = s / 86_400n;
  s -= d * 86_400n;
  const h = s / 3600n;
  s -= h * 3600n;
  const m = s / 60n;
  s -= m * 60n;
  const parts = [d > 0n ? `${d}d` : '', h > 0n ? `${h}h` : '', m > 0n ? `${m}m` : '', `${s}s`].filter(
    (p) => p !== '',
  );
  return parts.slice(0, 2).join(' ');
}
