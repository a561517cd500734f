import { createHash } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { BackupCatalog } from '../store/catalog.js';
import { JobActiveError } from '../store/errors.js';
import type { JobRecord, JobRepository } from '../store/jobs.js';
import type { ScheduleRecord, ScheduleRepository } from '../store/schedules.js';
import type { ServerRepository } from '../store/servers.js';
import { nextRun, parseCron } from './cron.js';

/**
 * The scheduler loop. Every tick:
 *   1. fails the jobs whose agent died (`expireLeases`, with their backups: see AgentService);
 *   2. for each enabled schedule whose slot has come, runs that slot once:
 *        a. the backup record of the slot is created `queued` under an id derived from (schedule, slot), so that
 *           a racing scheduler's create is a duplicate and it knows the slot is taken;
 *        b. the `backup` job is enqueued for (schedule, slot): unique in the store, the second line of defence;
 *        c. `next_run_at` is advanced by compare-and-set to the first slot after max(now, slot). After downtime an
 *           overdue schedule therefore runs once, for its oldest missed slot, and then waits for the next future
 *           one; a disabled schedule is never listed due, and one disabled meanwhile fails the compare-and-set.
 *      A crash after (a) or (b) leaves the slot due; the next tick finds the record (still `queued`) or the job
 *      and completes the missing steps, so a slot is neither lost nor run twice.
 *      While a backup of the same server is still queued or running, the slot is recorded as a failed backup
 *      ("skipped") instead of piling up: visible in the history and in the schedule's health.
 *   3. runs the periodic work it was given (retention, health checks) when it is due.
 * Safe with several server processes on one state store: every step is atomic and idempotent in the store.
 */
export interface SchedulerDeps {
  readonly schedules: ScheduleRepository;
  readonly jobs: JobRepository;
  readonly catalog: BackupCatalog;
  readonly servers: ServerRepository;
  /** Fails jobs whose lease expired, and their backups. */
  readonly expireLeases: () => Promise<readonly JobRecord[]>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called for every job enqueued (the embedded agent polls at once). */
  readonly onEnqueued?: (job: JobRecord) => void;
  /** Periodic work run from the loop, each at most every `everyMs` of the clock. */
  readonly periodic?: readonly PeriodicTask[];
}

export interface PeriodicTask {
  readonly name: string;
  readonly everyMs: number;
  run(now: Date): Promise<void>;
}

export interface SchedulerOptions {
  /** Time between ticks of the real timer (default 15 s); tests call `tick()` instead. */
  readonly tickMs?: number;
  /** Due schedules handled per tick (default 100); the rest wait for the next tick, most overdue first. */
  readonly batch?: number;
}

export type SlotOutcome =
  | { readonly kind: 'enqueued'; readonly job: JobRecord }
  | { readonly kind: 'skipped'; readonly backupId: string; readonly reason: string }
  | { readonly kind: 'taken' }
  | { readonly kind: 'error'; readonly error: string };

export interface SlotResult {
  readonly scheduleId: string;
  readonly slot: Date;
  readonly next: Date | null;
  readonly outcome: SlotOutcome;
}

export interface TickResult {
  readonly at: Date;
  readonly expired: readonly JobRecord[];
  readonly slots: readonly SlotResult[];
}

export const SKIPPED_CODE = 'SCHEDULE_SLOT_SKIPPED';

export class Scheduler {
  readonly #deps: SchedulerDeps;
  readonly #tickMs: number;
  readonly #batch: number;
  readonly #log: Logger;
  readonly #lastRun = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<TickResult | undefined> | undefined;
  #stopped = true;

  constructor(deps: SchedulerDeps, options: SchedulerOptions = {}) {
    this.#deps = deps;
    this.#tickMs = options.tickMs ?? 15_000;
    this.#batch = options.batch ?? 100;
    this.#log = deps.logger.child({ component: 'scheduler' });
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const loop = (): void => {
      if (this.#stopped) return;
      this.#ticking = this.tick().catch((err: unknown) => {
        this.#log.error({ error: messageOf(err) }, 'Scheduler tick failed');
        return undefined;
      });
      void this.#ticking.finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#tickMs);
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#ticking;
  }

  /** One pass; see the class comment. Never throws for one bad schedule: its slot result says what happened. */
  async tick(): Promise<TickResult> {
    const { clock } = this.#deps;
    const expired = await this.#deps.expireLeases();
    const now = clock.now();
    const due = await this.#deps.schedules.listDue(now, this.#batch);
    const slots: SlotResult[] = [];
    for (const schedule of due) {
      if (!schedule.enabled || schedule.nextRunAt === null) continue;
      slots.push(await this.runSlot(schedule, schedule.nextRunAt, now));
    }
    for (const task of this.#deps.periodic ?? []) {
      const last = this.#lastRun.get(task.name);
      if (last !== undefined && now.getTime() - last < task.everyMs) continue;
      this.#lastRun.set(task.name, now.getTime());
      try {
        await task.run(now);
      } catch (err) {
        this.#log.error({ task: task.name, error: messageOf(err) }, 'Periodic task failed');
      }
    }
    return { at: now, expired, slots };
  }

  /** Runs one slot of one schedule (steps a-c of the class comment). */
  async runSlot(schedule: ScheduleRecord, slot: Date, now: Date): Promise<SlotResult> {
    const log = this.#log.child({ scheduleId: schedule.id, slot: slot.toISOString() });
    let next: Date | null = null;
    try {
      const cron = parseCron(schedule.cron, { timeZone: schedule.timezone });
      next = nextRun(cron, new Date(Math.max(now.getTime(), slot.getTime())));
      const outcome = await this.#enqueueSlot(schedule, slot);
      const advanced = await this.#deps.schedules.advance(schedule.id, slot, next);
      if (outcome.kind === 'enqueued') {
        log.info(
          { jobId: outcome.job.id, backupId: outcome.job.backupId, next },
          'Scheduled backup enqueued',
        );
        this.#deps.onEnqueued?.(outcome.job);
      } else if (outcome.kind === 'skipped') {
        log.warn({ backupId: outcome.backupId, reason: outcome.reason }, 'Scheduled backup skipped');
      } else if (!advanced) {
        log.debug('Slot taken by another scheduler');
      }
      return { scheduleId: schedule.id, slot, next, outcome };
    } catch (err) {
      log.error({ error: messageOf(err) }, 'Cannot run schedule slot');
      return { scheduleId: schedule.id, slot, next, outcome: { kind: 'error', error: messageOf(err) } };
    }
  }

  async #enqueueSlot(schedule: ScheduleRecord, slot: Date): Promise<SlotOutcome> {
    const { catalog, jobs, servers } = this.#deps;
    const backupId = slotBackupId(schedule.id, slot);
    const active = await jobs.activeFor(schedule.serverId, 'backup');
    let record;
    try {
      const server = await servers.get(schedule.serverId, { tenantId: schedule.tenantId });
      record = await catalog.create({
        id: backupId,
        tenantId: schedule.tenantId,
        serverId: schedule.serverId,
        serverName: server.name,
        scheduleId: schedule.id,
        tool: schedule.tool,
        status: 'queued',
      });
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      // Another scheduler (or this one before a crash) created the slot's record. Only a record still queued
      // may lack its job; the enqueue below is a no-op (duplicate) if it has one.
      record = await catalog.get(backupId);
      if (record.status !== 'queued') return { kind: 'taken' };
    }
    const skip = async (other: string, status: string): Promise<SlotOutcome> => {
      const reason = `Cannot start the scheduled backup: backup ${other} of the server is still ${status}`;
      try {
        await catalog.transition(backupId, 'failed', { error: { code: SKIPPED_CODE, message: reason } });
      } catch (err) {
        // Lost a race with another scheduler that enqueued the slot after all: its outcome stands.
        if (isDbtrailError(err) && err.kind === 'conflict') return { kind: 'taken' };
        throw err;
      }
      return { kind: 'skipped', backupId, reason };
    };
    if (active !== undefined && active.backupId !== backupId) {
      return skip(active.backupId ?? active.id, active.status);
    }
    try {
      const job = await jobs.enqueue({
        tenantId: schedule.tenantId,
        kind: 'backup',
        serverId: schedule.serverId,
        scheduleId: schedule.id,
        backupId,
        scheduledFor: slot,
        // The agent uploads under the schedule's object prefix (`s3_prefix`); it reads it from the job.
        payload: { tool: schedule.tool, object_prefix: schedule.objectPrefix },
        // A backup started meanwhile (by the API or another process) makes this slot a skip, not a second dump.
        exclusive: true,
      });
      return { kind: 'enqueued', job };
    } catch (err) {
      if (isDuplicate(err)) return { kind: 'taken' };
      if (err instanceof JobActiveError) {
        const f = err.fields;
        // This slot's own job already enqueued (a crash before advancing): the slot is taken, not skipped.
        if (f['backupId'] === backupId) return { kind: 'taken' };
        return skip(String(f['backupId'] ?? f['jobId']), String(f['status']));
      }
      throw err;
    }
  }
}

/**
 * The backup id of a schedule slot: a UUID (version 8, RFC 9562 section 5.8: "custom") made from the SHA-256 of
 * the schedule id and the slot time, so every scheduler computes the same id for the same slot.
 */
export function slotBackupId(scheduleId: string, slot: Date): string {
  const hash = createHash('sha256')
    .update(`dbtrail schedule slot\0${scheduleId}\0${slot.toISOString()}`)
    .digest();
  const b = Buffer.from(hash.subarray(0, 16));
  // Octet 6 high nibble: version 8; octet 8 top bits: variant 10 (RFC 9562 section 4.1 and 4.2).
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function isDuplicate(err: unknown): boolean {
  return isDbtrailError(err) && err.code === 'STORE_DUPLICATE';
}
