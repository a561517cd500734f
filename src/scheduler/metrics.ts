import { MAX_LIST_LIMIT, type BackupCatalog, type BackupRecord } from '../store/catalog.js';
import { BACKUP_STATUSES } from '../store/backup-lifecycle.js';
import type { JobRepository } from '../store/jobs.js';
import type { ScheduleRepository } from '../store/schedules.js';
import type { ServerRepository } from '../store/servers.js';
import { loadScheduleHealth } from './health.js';

/**
 * `/metrics` in the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), for one tenant (the scraping key's):
 *
 *   dbtrail_backups{server_id,server,status}                          backups in the catalog by status
 *   dbtrail_backup_last_success_timestamp_seconds{server_id,server}   when the newest successful backup finished
 *   dbtrail_backup_last_duration_seconds / _last_size_bytes           of that backup
 *   dbtrail_backup_duration_seconds{...,quantile} (+ _sum, _count)   summary over the successful backups held
 *   dbtrail_backup_size_bytes{...,quantile} (+ _sum, _count)         the same for stored sizes
 *   dbtrail_schedule_healthy{schedule_id,server_id,server}            1 healthy, 0 unhealthy (disabled: absent)
 *   dbtrail_schedule_consecutive_failures{...}
 *   dbtrail_jobs{status}                                              backup jobs queued or running
 *
 * Counts come from the catalog, newest 10,000 backups per server, so the figures are right after a restart and
 * the same whichever server process is scraped. Public surface: add metrics, never rename them.
 */
export interface MetricsSources {
  readonly catalog: BackupCatalog;
  readonly servers: Pick<ServerRepository, 'list'>;
  readonly schedules: Pick<ScheduleRepository, 'list'>;
  readonly jobs: Pick<JobRepository, 'list'>;
  readonly binlogRetentionSeconds?: (serverId: string) => number | null | undefined;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const QUANTILES = [0.5, 0.9, 0.99, 1] as const;

export async function collectMetrics(sources: MetricsSources, tenantId: string, now: Date): Promise<string> {
  const out = new Exposition();
  out.family('dbtrail_backups', 'gauge', 'Backups in the catalog by status (newest 10000 per server)');
  out.family(
    'dbtrail_backup_last_success_timestamp_seconds',
    'gauge',
    'When the newest successful backup finished',
  );
  out.family('dbtrail_backup_last_duration_seconds', 'gauge', 'Duration of the newest successful backup');
  out.family('dbtrail_backup_last_size_bytes', 'gauge', 'Stored size of the newest successful backup');
  out.family('dbtrail_backup_duration_seconds', 'summary', 'Durations of the successful backups held');
  out.family('dbtrail_backup_size_bytes', 'summary', 'Stored sizes of the successful backups held');
  out.family(
    'dbtrail_schedule_healthy',
    'gauge',
    'Whether an enabled schedule is healthy (1) or unhealthy (0)',
  );
  out.family('dbtrail_schedule_consecutive_failures', 'gauge', 'Failed runs of a schedule in a row');
  out.family('dbtrail_jobs', 'gauge', 'Backup jobs queued or running');

  const servers = await sources.servers.list(tenantId);
  const names = new Map(servers.map((s) => [s.id, s.name]));
  for (const server of servers) {
    const labels = { server_id: server.id, server: server.name };
    const backups = await sources.catalog.list({ tenantId, serverId: server.id, limit: MAX_LIST_LIMIT });
    for (const status of BACKUP_STATUSES) {
      out.sample('dbtrail_backups', { ...labels, status }, backups.filter((b) => b.status === status).length);
    }
    const succeeded = backups.filter((b) => b.status === 'succeeded');
    const last = succeeded[0];
    if (last !== undefined) {
      const finished = last.finishedAt ?? last.updatedAt;
      out.sample('dbtrail_backup_last_success_timestamp_seconds', labels, finished.getTime() / 1000);
      if (last.durationMs !== null)
        out.sample('dbtrail_backup_last_duration_seconds', labels, last.durationMs / 1000);
      if (last.sizeBytes !== null) out.sample('dbtrail_backup_last_size_bytes', labels, last.sizeBytes);
    }
    summary(
      out,
      'dbtrail_backup_duration_seconds',
      labels,
      values(succeeded, (b) => b.durationMs, 1 / 1000),
    );
    summary(
      out,
      'dbtrail_backup_size_bytes',
      labels,
      values(succeeded, (b) => b.sizeBytes, 1),
    );
  }

  for (const schedule of await sources.schedules.list({ tenantId })) {
    if (!schedule.enabled) continue;
    const health = await loadScheduleHealth(
      {
        catalog: sources.catalog,
        ...(sources.binlogRetentionSeconds !== undefined
          ? { binlogRetentionSeconds: sources.binlogRetentionSeconds }
          : {}),
      },
      schedule,
      now,
    );
    const labels = {
      schedule_id: schedule.id,
      server_id: schedule.serverId,
      server: names.get(schedule.serverId) ?? '',
    };
    out.sample('dbtrail_schedule_healthy', labels, health.status === 'healthy' ? 1 : 0);
    out.sample('dbtrail_schedule_consecutive_failures', labels, health.consecutiveFailures);
  }

  for (const status of ['queued', 'running'] as const) {
    const jobs = await sources.jobs.list({ tenantId, kind: 'backup', status, limit: MAX_LIST_LIMIT });
    out.sample('dbtrail_jobs', { status }, jobs.length);
  }
  return out.text();
}

function values(
  backups: readonly BackupRecord[],
  pick: (b: BackupRecord) => number | null,
  scale: number,
): number[] {
  const vs: number[] = [];
  for (const b of backups) {
    const v = pick(b);
    if (v !== null) vs.push(v * scale);
  }
  return vs.sort((a, b) => a - b);
}

function summary(
  out: Exposition,
  name: string,
  labels: Record<string, string>,
  sorted: readonly number[],
): void {
  if (sorted.length > 0) {
    for (const q of QUANTILES) {
      // Nearest-rank quantile of what the catalog holds.
      const rank = Math.max(1, Math.ceil(q * sorted.length));
      out.sample(name, { ...labels, quantile: String(q) }, sorted[rank - 1]!);
    }
  }
  out.sample(
    `${name}_sum`,
    labels,
    sorted.reduce((a, b) => a + b, 0),
  );
  out.sample(`${name}_count`, labels, sorted.length);
}

/** Builds the exposition text: families in declaration order, each with its HELP and TYPE lines once. */
export class Exposition {
  readonly #families = new Map<string, { readonly header: string; readonly lines: string[] }>();

  family(name: string, type: 'gauge' | 'counter' | 'summary', help: string): void {
    this.#families.set(name, {
      header: `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`,
      lines: [],
    });
  }

  sample(name: string, labels: Readonly<Record<string, string>>, value: number): void {
    const family = this.#families.get(name.replace(/_(sum|count)$/, '')) ?? this.#families.get(name);
    if (family === undefined) throw new RangeError(`Cannot add sample ${name}: no such metric family`);
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    family.lines.push(`${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}\n`);
  }

  text(): string {
    let text = '';
    for (const { header, lines } of this.#families.values()) text += header + lines.join('');
    return text;
  }
}

/** Label values escape backslash, double quote and line feed (exposition format, "Text format details"). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
