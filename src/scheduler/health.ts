import type { BackupRecord } from '../store/catalog.js';
import type { ScheduleRecord } from '../store/schedules.js';
import { longestInterval, parseCron, staleAfter, type CronSchedule } from './cron.js';

/**
 * Is a schedule doing its job? "A silently failing backup schedule is worse than no schedule", so the product
 * says it out loud: a schedule is `unhealthy` when its last N (3) runs failed, or when it has not succeeded within
 * twice its interval (`staleAfter`; a schedule that never succeeded counts from its creation). Separately it warns
 * when the dump interval is longer than the server's binlog retention: binlogs purged before the next dump leave
 * a stretch no restore can reach.
 *
 * Pure: the caller loads the runs and facts (`loadScheduleHealth` does it from the store) and passes the time.
 * The JSON form (`healthToJson`) is what the schedule and server API responses carry under `health`.
 */
export type HealthStatus = 'healthy' | 'unhealthy' | 'disabled';

export const DEFAULT_FAILURE_THRESHOLD = 3;

export interface ScheduleHealth {
  readonly status: HealthStatus;
  /** Why it is unhealthy; empty otherwise. Sentence case, for people. */
  readonly reasons: readonly string[];
  /** Problems that do not make it unhealthy yet (binlog retention shorter than the interval). */
  readonly warnings: readonly string[];
  /** Failed runs in a row, newest first, before the first success. */
  readonly consecutiveFailures: number;
  readonly lastSuccessAt: Date | null;
  /** When the schedule becomes (or became) stale without another success; null when disabled or unknown. */
  readonly staleAt: Date | null;
}

export interface ScheduleHealthInput {
  readonly schedule: Pick<ScheduleRecord, 'cron' | 'timezone' | 'enabled' | 'createdAt'>;
  /** The schedule's latest backups, newest first; at least `failureThreshold` finished ones when there are. */
  readonly recentRuns: readonly Pick<BackupRecord, 'status' | 'error'>[];
  /** When the schedule's newest successful backup finished; null when none did. */
  readonly lastSuccessAt: Date | null;
  readonly now: Date;
  /** The server's binlog retention in seconds (0 = never purged); null or absent when unknown. */
  readonly binlogRetentionSeconds?: number | null;
  readonly failureThreshold?: number;
}

export function scheduleHealth(input: ScheduleHealthInput): ScheduleHealth {
  const threshold = input.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD;
  const finished = input.recentRuns.filter((r) => r.status === 'succeeded' || r.status === 'failed');
  let consecutiveFailures = 0;
  for (const run of finished) {
    if (run.status !== 'failed') break;
    consecutiveFailures++;
  }
  let cron: CronSchedule;
  try {
    cron = cachedCron(input.schedule.cron, input.schedule.timezone);
  } catch (err) {
    return {
      status: input.schedule.enabled ? 'unhealthy' : 'disabled',
      reasons: input.schedule.enabled
        ? [`Cannot evaluate the schedule: ${err instanceof Error ? err.message : String(err)}`]
        : [],
      warnings: [],
      consecutiveFailures,
      lastSuccessAt: input.lastSuccessAt,
      staleAt: null,
    };
  }

  const warnings: string[] = [];
  const retention = input.binlogRetentionSeconds;
  if (retention !== undefined && retention !== null && retention > 0) {
    const interval = cachedLongestInterval(cron, input.now);
    if (interval > retention * 1000) {
      warnings.push(
        `Dump interval is longer than the server's binlog retention: up to ${describeMs(interval)} between dumps, binlogs kept ${describeMs(retention * 1000)}; dump at least as often as binlogs are kept`,
      );
    }
  }
  if (!input.schedule.enabled) {
    return {
      status: 'disabled',
      reasons: [],
      warnings,
      consecutiveFailures,
      lastSuccessAt: input.lastSuccessAt,
      staleAt: null,
    };
  }

  const reasons: string[] = [];
  if (consecutiveFailures >= threshold) {
    const last = finished[0]?.error?.message;
    reasons.push(
      `The last ${consecutiveFailures} runs failed${last !== undefined ? `; the latest with: ${last}` : ''}`,
    );
  }
  const staleAt = staleAfter(cron, input.lastSuccessAt ?? input.schedule.createdAt);
  if (input.now.getTime() >= staleAt.getTime()) {
    reasons.push(
      input.lastSuccessAt === null
        ? `No successful backup since the schedule was created at ${input.schedule.createdAt.toISOString()} (expected within twice its interval)`
        : `No successful backup since ${input.lastSuccessAt.toISOString()} (expected within twice its interval, by ${staleAt.toISOString()})`,
    );
  }
  return {
    status: reasons.length > 0 ? 'unhealthy' : 'healthy',
    reasons,
    warnings,
    consecutiveFailures,
    lastSuccessAt: input.lastSuccessAt,
    staleAt,
  };
}

/** The health of a server: the worst of its schedules', and unhealthy when no enabled schedule protects it. */
export interface ServerHealth {
  readonly status: 'healthy' | 'unhealthy' | 'unprotected';
  readonly reasons: readonly string[];
  readonly warnings: readonly string[];
}

export function serverHealth(schedules: readonly ScheduleHealth[]): ServerHealth {
  const reasons = schedules.flatMap((s) => s.reasons);
  const warnings = [...new Set(schedules.flatMap((s) => s.warnings))];
  if (reasons.length > 0) return { status: 'unhealthy', reasons, warnings };
  if (!schedules.some((s) => s.status === 'healthy')) {
    return { status: 'unprotected', reasons: ['No enabled backup schedule covers this server'], warnings };
  }
  return { status: 'healthy', reasons: [], warnings };
}

/** The public JSON form (`health` in schedule responses). Public surface: add fields, never rename. */
export interface ScheduleHealthJson {
  readonly status: HealthStatus;
  readonly reasons: readonly string[];
  readonly warnings: readonly string[];
  readonly consecutive_failures: number;
  readonly last_success_at: string | null;
  readonly stale_at: string | null;
}

export function healthToJson(h: ScheduleHealth): ScheduleHealthJson {
  return {
    status: h.status,
    reasons: h.reasons,
    warnings: h.warnings,
    consecutive_failures: h.consecutiveFailures,
    last_success_at: h.lastSuccessAt?.toISOString() ?? null,
    stale_at: h.staleAt?.toISOString() ?? null,
  };
}

/** What `loadScheduleHealth` reads: the catalog and, when known, the server's binlog retention. */
export interface HealthSources {
  readonly catalog: {
    list(filter: {
      readonly tenantId: string;
      readonly scheduleId?: string;
      readonly status?: BackupRecord['status'] | readonly BackupRecord['status'][];
      readonly limit?: number;
    }): Promise<readonly BackupRecord[]>;
  };
  /** The server's binlog retention in seconds, from the facts the agents reported; undefined when unknown. */
  readonly binlogRetentionSeconds?: (serverId: string) => number | null | undefined;
}

/** Loads what a schedule's health depends on and computes it. Two small indexed reads. */
export async function loadScheduleHealth(
  sources: HealthSources,
  schedule: Pick<
    ScheduleRecord,
    'id' | 'tenantId' | 'serverId' | 'cron' | 'timezone' | 'enabled' | 'createdAt'
  >,
  now: Date,
  failureThreshold = DEFAULT_FAILURE_THRESHOLD,
): Promise<ScheduleHealth> {
  const [recent, lastSuccess] = await Promise.all([
    sources.catalog.list({
      tenantId: schedule.tenantId,
      scheduleId: schedule.id,
      status: ['succeeded', 'failed'],
      limit: failureThreshold,
    }),
    sources.catalog.list({
      tenantId: schedule.tenantId,
      scheduleId: schedule.id,
      status: 'succeeded',
      limit: 1,
    }),
  ]);
  const success = lastSuccess[0];
  return scheduleHealth({
    schedule,
    recentRuns: recent,
    lastSuccessAt: success === undefined ? null : (success.finishedAt ?? success.createdAt),
    now,
    binlogRetentionSeconds: sources.binlogRetentionSeconds?.(schedule.serverId) ?? null,
    failureThreshold,
  });
}

// Parsing and the longest interval are pure but not free (a minutely schedule walks 5000 runs); the API computes
// health on every listing, so both are memoised per expression. The interval is re-measured daily.
const cronCache = new Map<string, CronSchedule>();
const intervalCache = new Map<string, { readonly ms: number; readonly day: number }>();
const CACHE_LIMIT = 1000;

function cachedCron(expression: string, timeZone: string): CronSchedule {
  const key = `${timeZone} ${expression}`;
  let cron = cronCache.get(key);
  if (cron === undefined) {
    cron = parseCron(expression, { timeZone });
    if (cronCache.size >= CACHE_LIMIT) cronCache.clear();
    cronCache.set(key, cron);
  }
  return cron;
}

function cachedLongestInterval(cron: CronSchedule, now: Date): number {
  const key = `${cron.timeZone} ${cron.expression}`;
  const day = Math.floor(now.getTime() / 86_400_000);
  const hit = intervalCache.get(key);
  if (hit !== undefined && hit.day === day) return hit.ms;
  const ms = longestInterval(cron, now, { horizonDays: 400, maxRuns: 2000 });
  if (intervalCache.size >= CACHE_LIMIT) intervalCache.clear();
  intervalCache.set(key, { ms, day });
  return ms;
}

function describeMs(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours >= 48) return `${Math.round((hours / 24) * 10) / 10} days`;
  if (hours >= 1) return `${Math.round(hours * 10) / 10} hours`;
  return `${Math.round(ms / 60_000)} minutes`;
}
