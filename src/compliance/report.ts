import { isoMicros, type BinlogCoordinates } from '../store/change-index.js';
import type { StateStore } from '../store/state-store.js';
import type { AuditEntry } from '../store/audit-log.js';
import { verifyAuditChain } from '../store/audit-log.js';
import { MAX_LIST_LIMIT, type BackupRecord } from '../store/catalog.js';
import type { DrillRecord, DrillRepository } from '../store/drills.js';
import type { ServerRecord } from '../store/servers.js';
import type { Tenant } from '../store/tenants.js';
import { loadServerCoverage, type CoverageWarning } from './coverage.js';

/**
 * The auditor's report for one server over a period [from, to): backups taken and whether they were verified,
 * drills and drift checks, gaps, and the recoverable window over the period, plus the state of the audit chain
 * (with its head, an anchor for later verification) and the key that signs manifests.
 *
 * Drills come from the drill records (src/store/drills.ts; from `drill.run` audit entries naming the server in a
 * store without them); drift checks from `drift.run` audit entries naming the server. None recorded is stated
 * as such, never left out. The JSON form is
 * public surface (snake_case, like the API): add fields, never rename or remove them.
 */
export const REPORT_VERSION = 1;

export interface ReportJson {
  readonly report_version: typeof REPORT_VERSION;
  readonly generated_at: string;
  readonly tenant: string;
  readonly server: { readonly id: string; readonly name: string };
  readonly period: { readonly from: string; readonly to: string; readonly seconds: number };
  readonly signing_key: { readonly key_id: string; readonly public_key: string } | null;
  readonly summary: {
    readonly backups_taken: number;
    readonly backups_succeeded: number;
    readonly backups_failed: number;
    readonly backups_verified_ok: number;
    readonly backups_verify_failed: number;
    readonly backups_never_verified: number;
    readonly drills_passed: number;
    readonly drills_failed: number;
    readonly drift_checks_clean: number;
    readonly drift_checks_failed: number;
    readonly gaps: number;
    /** Seconds of the period inside a recoverable window, and that as a share of the period in per-mille. */
    readonly recoverable_seconds: number;
    readonly recoverable_per_mille: number;
  };
  readonly backups: readonly ReportBackup[];
  readonly drills: readonly ReportRun[];
  readonly drift_checks: readonly ReportRun[];
  readonly gaps: readonly ReportGap[];
  /** Recoverable windows clipped to the period. */
  readonly recoverable_windows: readonly {
    readonly from: string;
    readonly to: string;
    readonly backup_id: string;
  }[];
  readonly coverage_now: {
    readonly binlog_retention_seconds: number | null;
    readonly binlog_retention_horizon: string | null;
    readonly newest_dump_at: string | null;
    readonly warnings: readonly CoverageWarning[];
  };
  readonly audit_chain: {
    readonly ok: boolean;
    readonly entries: number;
    readonly head: { readonly seq: number; readonly hash: string } | null;
    readonly problems: readonly string[];
  };
}

export interface ReportBackup {
  readonly id: string;
  readonly status: string;
  readonly tool: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly size_bytes: number | null;
  readonly coordinates: {
    readonly file: string;
    readonly position: number;
    readonly gtid: string | null;
  } | null;
  readonly location: string | null;
  readonly error: string | null;
  /** The latest `backup.verify` of this backup in the audit log, up to the end of the period. */
  readonly verification: {
    readonly at: string;
    readonly outcome: 'success' | 'failure';
    readonly signature: string | null;
    readonly actor: string;
  } | null;
}

export interface ReportRun {
  readonly at: string;
  readonly outcome: 'success' | 'failure';
  readonly actor: string;
  readonly target: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface ReportGap {
  readonly id: string;
  readonly reason: string;
  readonly detail: string;
  readonly from_time: string | null;
  readonly to_time: string | null;
  readonly from: BinlogCoordinates;
  readonly to: BinlogCoordinates;
  readonly recorded_at: string;
}

export interface ReportInput {
  readonly tenant: Tenant;
  readonly server: ServerRecord;
  readonly from: Date;
  readonly to: Date;
  readonly now: Date;
  readonly signingKey?: { readonly keyId: string; readonly publicKey: string };
}

export async function buildReport(store: StateStore, input: ReportInput): Promise<ReportJson> {
  const { tenant, server, from, to } = input;
  const fromUs = BigInt(from.getTime()) * 1000n;
  const toUs = BigInt(to.getTime()) * 1000n;

  const [allBackups, coverage, gapList, chain, auditEntries] = await Promise.all([
    store.catalog.list({ tenantId: tenant.id, serverName: server.name, limit: MAX_LIST_LIMIT }),
    loadServerCoverage(store, server, input.now),
    store.changes.gaps(server.id),
    verifyAuditChain(store.audit),
    auditOf(store, tenant.id, to),
  ]);
  const backups = allBackups
    .filter((b) => b.createdAt >= from && b.createdAt < to)
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const lastVerify = new Map<string, AuditEntry>();
  for (const e of auditEntries) {
    if (e.action === 'backup.verify' && e.target !== null) lastVerify.set(e.target, e);
  }
  const inPeriod = (e: AuditEntry) => e.at >= from.toISOString() && e.at < to.toISOString();
  const namesServer = (e: AuditEntry) =>
    e.details['server_name'] === server.name ||
    e.details['server_id'] === server.id ||
    e.target === server.id;
  const runs = (action: string): ReportRun[] =>
    auditEntries
      .filter((e) => e.action === action && inPeriod(e) && namesServer(e))
      .map((e) => ({
        at: e.at,
        outcome: e.outcome,
        actor: `${e.actor.kind}:${e.actor.id}`,
        target: e.target,
        details: e.details,
      }));
  const drillRecords = await drillsOf(store, tenant.id, server.id);
  const drills =
    drillRecords === undefined
      ? runs('drill.run')
      : drillRecords
          .filter((d) => d.finishedAt >= from && d.finishedAt < to)
          .sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime())
          .map((d) => ({
            at: d.finishedAt.toISOString(),
            outcome: d.status === 'passed' ? ('success' as const) : ('failure' as const),
            actor: 'drill',
            target: d.id,
            details: {
              backup_id: d.backupId,
              rto_ms: d.rtoMs,
              tables: d.tables.length,
              tables_differing: d.tables.filter((t) => !t.match).length,
              ...(d.error !== null ? { error: d.error } : {}),
            },
          }));
  const drift = runs('drift.run');

  // A gap belongs to the period when its resolved time span meets it; a gap with unknown times always does.
  const gaps = gapList.filter((g) => {
    const gFrom = g.fromTimeUs;
    const gTo = g.toTimeUs;
    return (gFrom === null || gFrom < toUs) && (gTo === null || gTo > fromUs);
  });

  const windows = coverage.recoverableWindows
    .map((w) => ({
      fromUs: w.fromUs > fromUs ? w.fromUs : fromUs,
      toUs: w.toUs < toUs ? w.toUs : toUs,
      backupId: w.backupId,
    }))
    .filter((w) => w.toUs > w.fromUs);
  const recoverableUs = windows.reduce((n, w) => n + (w.toUs - w.fromUs), 0n);
  const periodUs = toUs - fromUs;

  const reportBackups = backups.map((b) => backupOf(b, lastVerify.get(b.id)));
  const verified = reportBackups.filter((b) => b.status === 'succeeded');
  return {
    report_version: REPORT_VERSION,
    generated_at: input.now.toISOString(),
    tenant: tenant.name,
    server: { id: server.id, name: server.name },
    period: { from: from.toISOString(), to: to.toISOString(), seconds: Number(periodUs / 1_000_000n) },
    signing_key:
      input.signingKey === undefined
        ? null
        : { key_id: input.signingKey.keyId, public_key: input.signingKey.publicKey },
    summary: {
      backups_taken: backups.length,
      backups_succeeded: backups.filter((b) => b.status === 'succeeded').length,
      backups_failed: backups.filter((b) => b.status === 'failed').length,
      backups_verified_ok: verified.filter((b) => b.verification?.outcome === 'success').length,
      backups_verify_failed: verified.filter((b) => b.verification?.outcome === 'failure').length,
      backups_never_verified: verified.filter((b) => b.verification === null).length,
      drills_passed: drills.filter((r) => r.outcome === 'success').length,
      drills_failed: drills.filter((r) => r.outcome === 'failure').length,
      drift_checks_clean: drift.filter((r) => r.outcome === 'success').length,
      drift_checks_failed: drift.filter((r) => r.outcome === 'failure').length,
      gaps: gaps.length,
      recoverable_seconds: Number(recoverableUs / 1_000_000n),
      recoverable_per_mille: periodUs <= 0n ? 0 : Number((recoverableUs * 1000n) / periodUs),
    },
    backups: reportBackups,
    drills,
    drift_checks: drift,
    gaps: gaps.map((g) => ({
      id: g.id,
      reason: g.reason,
      detail: g.detail,
      from_time: g.fromTimeUs === null ? null : isoMicros(g.fromTimeUs),
      to_time: g.toTimeUs === null ? null : isoMicros(g.toTimeUs),
      from: g.from,
      to: g.to,
      recorded_at: g.recordedAt.toISOString(),
    })),
    recoverable_windows: windows.map((w) => ({
      from: isoMicros(w.fromUs),
      to: isoMicros(w.toUs),
      backup_id: w.backupId,
    })),
    coverage_now: {
      binlog_retention_seconds: coverage.binlogRetentionSeconds,
      binlog_retention_horizon: coverage.binlogRetentionHorizon?.toISOString() ?? null,
      newest_dump_at: coverage.newestDumpAt?.toISOString() ?? null,
      warnings: coverage.warnings,
    },
    audit_chain: {
      ok: chain.ok,
      entries: chain.entries,
      head: chain.head ?? null,
      problems: chain.problems.map((p) => p.message),
    },
  };
}

/**
 * The server's drill records when this store keeps them (the drill repository), else undefined: then drills are
 * read from the audit log.
 */
async function drillsOf(
  store: StateStore,
  tenantId: string,
  serverId: string,
): Promise<readonly DrillRecord[] | undefined> {
  const repo = (store as Partial<{ readonly drills: DrillRepository }>).drills;
  return repo === undefined ? undefined : repo.list(tenantId, serverId, 1000);
}

/** Every audit entry of the tenant up to `to`, in pages. */
async function auditOf(store: StateStore, tenantId: string, to: Date): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (;;) {
    const page = await store.audit.list({
      tenantId,
      to,
      afterSeq: out.at(-1)?.seq ?? 0,
      limit: 5000,
    });
    out.push(...page);
    if (page.length < 5000) return out;
  }
}

function backupOf(b: BackupRecord, verify: AuditEntry | undefined): ReportBackup {
  const signature = verify?.details['signature'];
  return {
    id: b.id,
    status: b.status,
    tool: b.tool,
    started_at: b.startedAt?.toISOString() ?? null,
    finished_at: b.finishedAt?.toISOString() ?? null,
    size_bytes: b.sizeBytes,
    coordinates: b.coordinates,
    location: b.location,
    error: b.error?.message ?? null,
    verification:
      verify === undefined
        ? null
        : {
            at: verify.at,
            outcome: verify.outcome,
            signature: typeof signature === 'string' ? signature : null,
            actor: `${verify.actor.kind}:${verify.actor.id}`,
          },
  };
}
