import { rm } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import type { Clock } from '../lib/clock.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import { pruneSegments } from '../archive/retention.js';
import type { ObjectStore } from '../objects/store.js';
import type { BinlogArchiveRepository } from '../store/binlog-archive.js';
import { MAX_LIST_LIMIT, type BackupCatalog, type BackupRecord } from '../store/catalog.js';
import type { ChangeIndex } from '../store/change-index.js';
import type { ScheduleRecord, ScheduleRepository } from '../store/schedules.js';
import type { TenantRepository } from '../store/tenants.js';
import { coveredWindows, type CoveredWindow } from '../store/windows.js';
import { RetentionLocationError } from './errors.js';

/**
 * Retention: each schedule keeps its backups for `retention_days`; older ones are deleted, objects first and then
 * the catalog row, so that a failure half way leaves a row pointing at what remains (retried next pass), never an
 * object nobody knows about. Results are per backup: one failure never stops the rest.
 *
 * Never deleted, whatever their age:
 * - the newest successful backup of the server (of any schedule, or on demand): a server is never left without
 *   a restorable backup by the clock alone;
 * - the window anchor: the point-in-time window kept by retention is [cutoff, now], and it is continuous only
 *   from a dump taken at or before the cutoff whose coordinates the kept binlog coverage starts from. With the
 *   change index, that is the newest successful dump started at or before the cutoff that lies inside the covered
 *   window reaching the cutoff (none is needed when a gap already breaks the coverage at the cutoff: the window
 *   then starts at the first dump after the gap, which is younger than the cutoff and kept anyway). Without
 *   captured changes for the server, it is the newest successful dump started at or before the cutoff: a
 *   conservative anchor that keeps one extra backup rather than guess.
 *   A dump's consistent point lies between its start and the end of its dump step, so "at or before the cutoff"
 *   uses the start and "inside the window" uses the end: both err on the side of keeping.
 * - backups not finished (queued, running, uploading).
 */
export interface RetentionDeps {
  readonly schedules: Pick<ScheduleRepository, 'list'>;
  readonly tenants: Pick<TenantRepository, 'list'>;
  readonly catalog: BackupCatalog;
  /** The change index; its coverage finds the window anchor. */
  readonly changes?: Pick<ChangeIndex, 'coverage'>;
  /** The store backups were uploaded to (the server's configured store). */
  readonly objects: ObjectStore;
  /** Local dump directories under this parent are removed with their backup. */
  readonly localRoot?: string;
  /**
   * The raw binlog archive: after a server's backups are expired, its segments that no kept backup can replay
   * onto are deleted (src/archive/retention.ts).
   */
  readonly archive?: Pick<BinlogArchiveRepository, 'list' | 'delete'>;
  readonly clock: Clock;
  readonly logger: Logger;
}

export type KeepReason = 'newest_success' | 'window_anchor' | 'not_finished';

export interface RetentionPlan {
  readonly cutoff: Date;
  readonly expired: readonly BackupRecord[];
  readonly kept: readonly { readonly backup: BackupRecord; readonly reason: KeepReason }[];
}

export interface RetentionItem {
  readonly backupId: string;
  readonly scheduleId: string;
  readonly ok: boolean;
  /** Objects removed from the store. */
  readonly objectsDeleted: number;
  readonly error?: { readonly code: string | null; readonly message: string };
}

export interface RetentionReport {
  readonly at: Date;
  readonly deleted: readonly RetentionItem[];
  readonly failed: readonly RetentionItem[];
  readonly kept: readonly {
    readonly backupId: string;
    readonly scheduleId: string;
    readonly reason: KeepReason;
  }[];
  /** Archive segments deleted because no kept backup needs them. */
  readonly segmentsDeleted: number;
}

const DAY_MS = 86_400_000;

/**
 * Which of a schedule's backups expire at `now`. Pure. `scheduleBackups` are the schedule's backups;
 * `serverSuccesses` every successful backup of its server, newest first; `windows` the server's covered windows
 * (undefined: nothing captured).
 */
export function planRetention(input: {
  readonly now: Date;
  readonly retentionDays: number;
  readonly scheduleBackups: readonly BackupRecord[];
  readonly serverSuccesses: readonly BackupRecord[];
  readonly windows: readonly CoveredWindow[] | undefined;
}): RetentionPlan {
  const cutoff = new Date(input.now.getTime() - input.retentionDays * DAY_MS);
  const protectedIds = new Map<string, KeepReason>();
  const newest = newestFirst(input.serverSuccesses);
  if (newest[0] !== undefined) protectedIds.set(newest[0].id, 'newest_success');
  const anchor = windowAnchor(newest, cutoff, input.windows);
  if (anchor !== undefined && !protectedIds.has(anchor.id)) protectedIds.set(anchor.id, 'window_anchor');

  const expired: BackupRecord[] = [];
  const kept: { backup: BackupRecord; reason: KeepReason }[] = [];
  for (const b of input.scheduleBackups) {
    if (startOf(b).getTime() >= cutoff.getTime()) continue;
    if (b.status !== 'succeeded' && b.status !== 'failed') {
      kept.push({ backup: b, reason: 'not_finished' });
      continue;
    }
    const reason = protectedIds.get(b.id);
    if (reason !== undefined) kept.push({ backup: b, reason });
    else expired.push(b);
  }
  return { cutoff, expired, kept };
}

function windowAnchor(
  successesNewestFirst: readonly BackupRecord[],
  cutoff: Date,
  windows: readonly CoveredWindow[] | undefined,
): BackupRecord | undefined {
  const candidate = successesNewestFirst.find((b) => startOf(b).getTime() <= cutoff.getTime());
  if (candidate === undefined) return undefined;
  if (windows === undefined) return candidate;
  const cutoffUs = BigInt(cutoff.getTime()) * 1000n;
  const window = windows.find((w) => w.fromUs <= cutoffUs && cutoffUs <= w.toUs);
  if (window === undefined) return undefined;
  const snapshotLatest = candidate.dumpFinishedAt ?? candidate.finishedAt ?? candidate.createdAt;
  return BigInt(snapshotLatest.getTime()) * 1000n >= window.fromUs ? candidate : undefined;
}

function startOf(b: BackupRecord): Date {
  return b.startedAt ?? b.createdAt;
}

function newestFirst(backups: readonly BackupRecord[]): BackupRecord[] {
  return [...backups].sort((a, b) => startOf(b).getTime() - startOf(a).getTime() || (a.id < b.id ? 1 : -1));
}

export class Retention {
  readonly #deps: RetentionDeps;
  readonly #log: Logger;

  constructor(deps: RetentionDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'retention' });
  }

  /** One pass over every schedule of every tenant (or of one tenant). */
  async run(options: { readonly tenantId?: string } = {}): Promise<RetentionReport> {
    const now = this.#deps.clock.now();
    const tenants =
      options.tenantId !== undefined
        ? [options.tenantId]
        : (await this.#deps.tenants.list()).map((t) => t.id);
    const deleted: RetentionItem[] = [];
    const failed: RetentionItem[] = [];
    const kept: RetentionReport['kept'][number][] = [];
    let segmentsDeleted = 0;
    for (const tenantId of tenants) {
      const servers = new Set<string>();
      for (const schedule of await this.#deps.schedules.list({ tenantId })) {
        servers.add(schedule.serverId);
        try {
          const result = await this.runSchedule(schedule, now);
          for (const item of result.items) (item.ok ? deleted : failed).push(item);
          kept.push(
            ...result.plan.kept.map((k) => ({
              backupId: k.backup.id,
              scheduleId: schedule.id,
              reason: k.reason,
            })),
          );
        } catch (err) {
          this.#log.error({ scheduleId: schedule.id, error: messageOf(err) }, 'Cannot apply retention');
        }
      }
      const archive = this.#deps.archive;
      if (archive === undefined) continue;
      for (const serverId of servers) {
        try {
          const pruned = await pruneSegments({
            tenantId,
            serverId,
            archive,
            catalog: this.#deps.catalog,
            objects: this.#deps.objects,
            logger: this.#log,
          });
          segmentsDeleted += pruned.deleted;
        } catch (err) {
          this.#log.error({ serverId, error: messageOf(err) }, 'Cannot apply retention to archive segments');
        }
      }
    }
    if (deleted.length > 0 || failed.length > 0) {
      this.#log.info(
        { deleted: deleted.length, failed: failed.length, kept: kept.length },
        'Retention applied',
      );
    }
    return { at: now, deleted, failed, kept, segmentsDeleted };
  }

  async runSchedule(
    schedule: Pick<ScheduleRecord, 'id' | 'tenantId' | 'serverId' | 'retentionDays'>,
    now: Date,
  ): Promise<{ readonly plan: RetentionPlan; readonly items: readonly RetentionItem[] }> {
    const { catalog } = this.#deps;
    const [scheduleBackups, serverSuccesses, windows] = await Promise.all([
      catalog.list({ tenantId: schedule.tenantId, scheduleId: schedule.id, limit: MAX_LIST_LIMIT }),
      catalog.list({
        tenantId: schedule.tenantId,
        serverId: schedule.serverId,
        status: 'succeeded',
        limit: MAX_LIST_LIMIT,
      }),
      this.#windows(schedule.serverId),
    ]);
    const plan = planRetention({
      now,
      retentionDays: schedule.retentionDays,
      scheduleBackups,
      serverSuccesses,
      windows,
    });
    const items: RetentionItem[] = [];
    for (const backup of plan.expired) items.push(await this.#delete(schedule.id, backup));
    return { plan, items };
  }

  async #windows(serverId: string): Promise<readonly CoveredWindow[] | undefined> {
    if (this.#deps.changes === undefined) return undefined;
    const coverage = await this.#deps.changes.coverage(serverId);
    return coverage.startUs === null ? undefined : coveredWindows(coverage);
  }

  async #delete(scheduleId: string, backup: BackupRecord): Promise<RetentionItem> {
    const log = this.#log.child({ backupId: backup.id, scheduleId });
    let objectsDeleted = 0;
    try {
      if (backup.location !== null) objectsDeleted = await this.#deleteObjects(backup.location);
      if (backup.localDir !== null && this.#deps.localRoot !== undefined) {
        if (isInside(this.#deps.localRoot, backup.localDir))
          await rm(backup.localDir, { recursive: true, force: true });
      }
      const [result] = await this.#deps.catalog.delete([backup.id], { tenantId: backup.tenantId });
      if (result !== undefined && !result.ok) throw result.error;
      log.info({ objectsDeleted }, 'Expired backup deleted');
      return { backupId: backup.id, scheduleId, ok: true, objectsDeleted };
    } catch (err) {
      log.warn({ error: messageOf(err) }, 'Cannot delete expired backup');
      const code =
        typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : null;
      return {
        backupId: backup.id,
        scheduleId,
        ok: false,
        objectsDeleted,
        error: { code, message: messageOf(err) },
      };
    }
  }

  /** Deletes a backup's objects, manifest first so a half-deleted backup is visibly incomplete. */
  async #deleteObjects(location: string): Promise<number> {
    const store = this.#deps.objects;
    const root = store.url.replace(/\/+$/, '');
    const trimmed = location.replace(/\/+$/, '');
    if (!trimmed.startsWith(`${root}/`)) {
      throw new RetentionLocationError(location, store.url);
    }
    const prefix = `${trimmed.slice(root.length + 1)}/`;
    const keys: string[] = [];
    for await (const entry of store.list(prefix)) keys.push(entry.key);
    keys.sort((a, b) => (a.endsWith('/manifest.json') ? -1 : b.endsWith('/manifest.json') ? 1 : 0));
    for (const key of keys) await store.delete(key);
    return keys.length;
  }
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}
