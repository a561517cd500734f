import type { Clock } from '../../lib/clock.js';
import type { TenantScope } from '../catalog.js';
import { DuplicateError, InvalidValueError, NotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import {
  checkNewSchedule,
  checkSchedulePatch,
  DEFAULT_RETENTION_DAYS,
  type NewSchedule,
  type ScheduleFilter,
  type SchedulePatch,
  type ScheduleRecord,
  type ScheduleRepository,
  type ScheduleTool,
} from '../schedules.js';
import { checkId } from '../validate.js';
import { settle, sqliteCode, type SqliteConnection, type SqliteValue } from './driver.js';
import { fromDbTime, fromDbTimeOrNull, toDbTime } from './rows.js';

interface ScheduleRow {
  id: string;
  tenant_id: string;
  server_id: string;
  cron: string;
  timezone: string;
  tool: string;
  retention_days: number;
  object_prefix: string;
  enabled: number;
  next_run_at: string | null;
  created_at: string;
  updated_at: string;
}

const COLUMNS =
  'id, tenant_id, server_id, cron, timezone, tool, retention_days, object_prefix, enabled, next_run_at, created_at, updated_at';

export const DEFAULT_DUE_LIMIT = 100;

export class SqliteScheduleRepository implements ScheduleRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  create(schedule: NewSchedule): Promise<ScheduleRecord> {
    return settle(() => {
      checkNewSchedule(schedule);
      const action = `Cannot create schedule for server ${schedule.serverId}`;
      return this.#conn.write(action, (c) => {
        const server = c.statement('SELECT tenant_id FROM servers WHERE id = ?').get(schedule.serverId) as
          { tenant_id: string } | undefined;
        if (server === undefined || server.tenant_id !== schedule.tenantId) {
          throw new NotFoundError(
            `${action}: no server ${schedule.serverId} in tenant ${schedule.tenantId}`,
            {
              fields: { tenantId: schedule.tenantId, serverId: schedule.serverId },
            },
          );
        }
        const id = schedule.id ?? newId();
        const enabled = schedule.enabled ?? true;
        const now = toDbTime(this.#clock.now());
        try {
          c.statement(
            `INSERT INTO schedules (id, tenant_id, server_id, cron, timezone, tool, retention_days, object_prefix,
               enabled, next_run_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            id,
            schedule.tenantId,
            schedule.serverId,
            schedule.cron,
            schedule.timezone ?? 'UTC',
            schedule.tool,
            schedule.retentionDays ?? DEFAULT_RETENTION_DAYS,
            schedule.objectPrefix,
            enabled ? 1 : 0,
            // A disabled schedule has no next run: it never shows up as due.
            enabled && schedule.nextRunAt !== null ? toDbTime(schedule.nextRunAt) : null,
            now,
            now,
          );
        } catch (err) {
          if (sqliteCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new DuplicateError(`${action}: a schedule with id ${id} exists`, {
              cause: err,
              fields: { scheduleId: id },
            });
          }
          throw err;
        }
        return read(c, id);
      });
    });
  }

  get(id: string, scope: TenantScope = {}): Promise<ScheduleRecord> {
    return settle(() => {
      checkId('schedule id', id);
      const row = this.#conn.read(`Cannot read schedule ${id}`, (c) =>
        c.statement(`SELECT ${COLUMNS} FROM schedules WHERE id = ?`).get(id),
      ) as ScheduleRow | undefined;
      if (row === undefined || !inScope(row, scope)) throw notFound(id);
      return toRecord(row);
    });
  }

  list(filter: ScheduleFilter): Promise<readonly ScheduleRecord[]> {
    return settle(() => {
      checkId('tenant id', filter.tenantId);
      if (filter.serverId !== undefined) checkId('server id', filter.serverId);
      const where = ['tenant_id = ?'];
      const params: SqliteValue[] = [filter.tenantId];
      if (filter.serverId !== undefined) {
        where.push('server_id = ?');
        params.push(filter.serverId);
      }
      if (filter.enabled !== undefined) {
        where.push('enabled = ?');
        params.push(filter.enabled ? 1 : 0);
      }
      const rows = this.#conn.read('Cannot list schedules', (c) =>
        c
          .statement(`SELECT ${COLUMNS} FROM schedules WHERE ${where.join(' AND ')} ORDER BY created_at, id`)
          .all(...params),
      ) as ScheduleRow[];
      return rows.map(toRecord);
    });
  }

  update(id: string, patch: SchedulePatch, scope: TenantScope = {}): Promise<ScheduleRecord> {
    return settle(() => {
      checkId('schedule id', id);
      checkSchedulePatch(patch);
      const action = `Cannot update schedule ${id}`;
      return this.#conn.write(action, (c) => {
        const row = c.statement(`SELECT ${COLUMNS} FROM schedules WHERE id = ?`).get(id) as
          ScheduleRow | undefined;
        if (row === undefined || !inScope(row, scope)) throw notFound(id);
        const enabled = patch.enabled ?? row.enabled === 1;
        const nextRunAt = patch.nextRunAt === undefined ? fromDbTimeOrNull(row.next_run_at) : patch.nextRunAt;
        if (enabled && nextRunAt === null) {
          throw new InvalidValueError(`${action}: nextRunAt is required for an enabled schedule`, {
            fields: { scheduleId: id, field: 'nextRunAt' },
          });
        }
        const set: [string, SqliteValue][] = [];
        if (patch.cron !== undefined) set.push(['cron', patch.cron]);
        if (patch.timezone !== undefined) set.push(['timezone', patch.timezone]);
        if (patch.tool !== undefined) set.push(['tool', patch.tool]);
        if (patch.retentionDays !== undefined) set.push(['retention_days', patch.retentionDays]);
        if (patch.objectPrefix !== undefined) set.push(['object_prefix', patch.objectPrefix]);
        set.push(['enabled', enabled ? 1 : 0]);
        set.push(['next_run_at', enabled && nextRunAt !== null ? toDbTime(nextRunAt) : null]);
        set.push(['updated_at', toDbTime(this.#clock.now())]);
        c.statement(`UPDATE schedules SET ${set.map(([col]) => `${col} = ?`).join(', ')} WHERE id = ?`).run(
          ...set.map(([, v]) => v),
          id,
        );
        return read(c, id);
      });
    });
  }

  delete(id: string, scope: TenantScope = {}): Promise<void> {
    return settle(() => {
      checkId('schedule id', id);
      this.#conn.write(`Cannot delete schedule ${id}`, (c) => {
        const row = c.statement('SELECT tenant_id FROM schedules WHERE id = ?').get(id) as
          { tenant_id: string } | undefined;
        if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
          throw notFound(id);
        }
        c.statement('DELETE FROM schedules WHERE id = ?').run(id);
      });
    });
  }

  listDue(now: Date, limit = DEFAULT_DUE_LIMIT): Promise<readonly ScheduleRecord[]> {
    return settle(() => {
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new InvalidValueError(`Cannot list due schedules: limit must be at least 1, got ${limit}`);
      }
      const rows = this.#conn.read('Cannot list due schedules', (c) =>
        c
          .statement(
            // Served by the partial index schedules_due (next_run_at) WHERE enabled = 1.
            `SELECT ${COLUMNS} FROM schedules WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at, id LIMIT ?`,
          )
          .all(toDbTime(now), limit),
      ) as ScheduleRow[];
      return rows.map(toRecord);
    });
  }

  advance(id: string, expected: Date, next: Date): Promise<boolean> {
    return settle(() => {
      checkId('schedule id', id);
      return this.#conn.write(`Cannot advance schedule ${id}`, (c) => {
        const result = c
          .statement(
            'UPDATE schedules SET next_run_at = ?, updated_at = ? WHERE id = ? AND enabled = 1 AND next_run_at = ?',
          )
          .run(toDbTime(next), toDbTime(this.#clock.now()), id, toDbTime(expected));
        return result.changes === 1;
      });
    });
  }
}

function read(c: SqliteConnection, id: string): ScheduleRecord {
  const row = c.statement(`SELECT ${COLUMNS} FROM schedules WHERE id = ?`).get(id) as ScheduleRow | undefined;
  if (row === undefined) throw notFound(id);
  return toRecord(row);
}

function inScope(row: { tenant_id: string }, scope: TenantScope): boolean {
  return scope.tenantId === undefined || row.tenant_id === scope.tenantId;
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Cannot find schedule ${id}: no such schedule`, { fields: { scheduleId: id } });
}

function toRecord(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    serverId: row.server_id,
    cron: row.cron,
    timezone: row.timezone,
    tool: row.tool as ScheduleTool,
    retentionDays: row.retention_days,
    objectPrefix: row.object_prefix,
    enabled: row.enabled === 1,
    nextRunAt: fromDbTimeOrNull(row.next_run_at),
    createdAt: fromDbTime(row.created_at),
    updatedAt: fromDbTime(row.updated_at),
  };
}
