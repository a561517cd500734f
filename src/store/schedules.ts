import type { TenantScope } from './catalog.js';
import { InvalidValueError } from './errors.js';
import { checkId } from './validate.js';

/**
 * Backup schedules. The store keeps the cron expression as text and the next slot as a time: it knows nothing of
 * cron, so the caller (the API, the scheduler) computes every `nextRunAt` with src/scheduler/cron.ts.
 *
 * Running a slot exactly once with several schedulers on one store:
 *   1. `listDue(now)` gives the enabled schedules whose `nextRunAt` has passed;
 *   2. enqueue the job for the slot (`jobs.enqueue({scheduleId, scheduledFor: slot})`): the unique
 *      (schedule, slot) index lets one scheduler win, the others get DuplicateError;
 *   3. `advance(id, slot, next)`, where next is the first slot after max(now, slot): after downtime an overdue
 *      schedule runs once, not once per missed slot. The compare-and-set makes a late scheduler's advance a no-op.
 * A crash between 2 and 3 leaves the slot due; the next pass finds the job already enqueued and just advances.
 */
export const SCHEDULE_TOOLS = ['mydumper', 'xtrabackup'] as const;
/** `xtrabackup` means mariadb-backup on MariaDB: the physical tool of the server's flavour. */
export type ScheduleTool = (typeof SCHEDULE_TOOLS)[number];

export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 365;
export const DEFAULT_RETENTION_DAYS = 30;

export interface ScheduleRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly serverId: string;
  /** Five-field cron expression, as given. */
  readonly cron: string;
  /** IANA time zone the expression is evaluated in. */
  readonly timezone: string;
  readonly tool: ScheduleTool;
  readonly retentionDays: number;
  /** Object-store prefix of this schedule's backups: `<tenant>/<server-name>/` by default. */
  readonly objectPrefix: string;
  readonly enabled: boolean;
  /** The next slot to run; null while disabled. */
  readonly nextRunAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewSchedule {
  readonly id?: string;
  readonly tenantId: string;
  /** Must belong to `tenantId`. */
  readonly serverId: string;
  readonly cron: string;
  /** UTC by default. */
  readonly timezone?: string;
  readonly tool: ScheduleTool;
  /** 1..365, 30 by default. */
  readonly retentionDays?: number;
  readonly objectPrefix: string;
  /** True by default. */
  readonly enabled?: boolean;
  /** Computed by the caller from the cron expression; must be null when the schedule is disabled. */
  readonly nextRunAt: Date | null;
}

/** Fields to change; absent ones stay. Changing cron, time zone or `enabled` needs a fresh `nextRunAt` too. */
export interface SchedulePatch {
  readonly cron?: string;
  readonly timezone?: string;
  readonly tool?: ScheduleTool;
  readonly retentionDays?: number;
  readonly objectPrefix?: string;
  readonly enabled?: boolean;
  readonly nextRunAt?: Date | null;
}

export interface ScheduleFilter {
  readonly tenantId: string;
  readonly serverId?: string;
  readonly enabled?: boolean;
}

export interface ScheduleRepository {
  /** Throws NotFoundError when the tenant or its server does not exist, InvalidValueError for bad values. */
  create(schedule: NewSchedule): Promise<ScheduleRecord>;
  /** Throws NotFoundError (also for another tenant's schedule). */
  get(id: string, scope?: TenantScope): Promise<ScheduleRecord>;
  /** Oldest first. */
  list(filter: ScheduleFilter): Promise<readonly ScheduleRecord[]>;
  /** Throws NotFoundError, InvalidValueError (e.g. enabled without a next run). */
  update(id: string, patch: SchedulePatch, scope?: TenantScope): Promise<ScheduleRecord>;
  /** Throws NotFoundError. Jobs of the schedule stay (their schedule id becomes null); its backups stay. */
  delete(id: string, scope?: TenantScope): Promise<void>;
  /** Enabled schedules whose next run is at or before `now`, most overdue first, across all tenants. */
  listDue(now: Date, limit?: number): Promise<readonly ScheduleRecord[]>;
  /**
   * Compare-and-set: moves `nextRunAt` from `expected` to `next` only if the schedule is enabled and its next
   * run is still `expected`. Returns false when another scheduler (or an edit) got there first.
   */
  advance(id: string, expected: Date, next: Date): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------------------------
// Checks shared by every backend, so that all refuse the same input with the same message.

const MAX_CRON = 200;
const MAX_TIMEZONE = 64;
const MAX_PREFIX = 512;

/** Throws InvalidValueError naming the first bad field of a new schedule. */
export function checkNewSchedule(s: NewSchedule): void {
  if (s.id !== undefined) checkId('schedule id', s.id);
  checkId('tenant id', s.tenantId);
  checkId('server id', s.serverId);
  checkScheduleFields({ ...s, enabled: s.enabled ?? true });
}

/** Throws InvalidValueError naming the first bad field of a patch. */
export function checkSchedulePatch(p: SchedulePatch): void {
  checkScheduleFields(p);
}

function checkScheduleFields(s: SchedulePatch): void {
  if (s.cron !== undefined && (s.cron.trim() === '' || s.cron.length > MAX_CRON)) {
    invalid('cron', `must be a cron expression of 1 to ${MAX_CRON} characters`);
  }
  if (s.timezone !== undefined && (s.timezone === '' || s.timezone.length > MAX_TIMEZONE)) {
    invalid('timezone', `must be a time zone name of 1 to ${MAX_TIMEZONE} characters`);
  }
  if (s.tool !== undefined && !(SCHEDULE_TOOLS as readonly string[]).includes(s.tool)) {
    invalid('tool', `must be one of ${SCHEDULE_TOOLS.join(', ')}, got "${String(s.tool)}"`);
  }
  if (
    s.retentionDays !== undefined &&
    (!Number.isSafeInteger(s.retentionDays) ||
      s.retentionDays < MIN_RETENTION_DAYS ||
      s.retentionDays > MAX_RETENTION_DAYS)
  ) {
    invalid(
      'retentionDays',
      `must be a whole number of days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}, got ${s.retentionDays}`,
    );
  }
  if (s.objectPrefix !== undefined) {
    const problem = objectPrefixProblem(s.objectPrefix);
    if (problem !== undefined) invalid('objectPrefix', problem);
  }
  if (s.nextRunAt !== undefined && s.nextRunAt !== null && Number.isNaN(s.nextRunAt.getTime())) {
    invalid('nextRunAt', 'must be a valid time');
  }
  if (s.enabled === true && s.nextRunAt === null) {
    invalid('nextRunAt', 'is required for an enabled schedule');
  }
}

/**
 * Why an object prefix is unusable, or undefined: it is a relative key prefix of non-empty segments ending in
 * "/", without "." or ".." segments, so it can neither escape its namespace nor be read as a path on a local
 * store.
 */
export function objectPrefixProblem(prefix: string): string | undefined {
  if (prefix.length === 0 || prefix.length > MAX_PREFIX) {
    return `must be 1 to ${MAX_PREFIX} characters long, got ${prefix.length}`;
  }
  if (!prefix.endsWith('/')) return 'must end with "/"';
  const segments = prefix.slice(0, -1).split('/');
  for (const segment of segments) {
    if (segment === '') return 'must not start with "/" or contain "//"';
    if (segment === '.' || segment === '..') return 'must not contain "." or ".." segments';
    if (!/^[A-Za-z0-9._=+-]+$/.test(segment)) {
      return `must be made of letters, digits, ".", "_", "-", "=", "+" and "/", got "${prefix}"`;
    }
  }
  return undefined;
}

function invalid(field: string, problem: string): never {
  throw new InvalidValueError(`Cannot store schedule: ${field} ${problem}`, { fields: { field } });
}
