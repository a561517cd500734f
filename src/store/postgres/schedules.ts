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
import { pgCode, UNIQUE_VIOLATION, type PgConnection, type PgQuery } from './driver.js';

interface ScheduleRow {
  id: string;
  tenant_id: string;
  server_id: string;
  cron: string;
  timezone: string;
  tool: string;
  retention_days: number;
  object_prefix: string;
  enabled: boolean;
  next_run_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, tenant_id, server_id, cron, timezone, tool, retention_days, object_prefix, enabled, next_run_at, created_at, updated_at';

export const DEFAULT_DUE_LIMIT = 100;

export class PostgresScheduleRepository implements ScheduleRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async create(schedule: NewSchedule): Promise<ScheduleRecord> {
    checkNewSchedule(schedule);
    const action = `Cannot create schedule for server ${schedule.serverId}`;
    return this.#conn.write(action, async (q) => {
      const server = await q.row<{ tenant_id: string }>('SELECT tenant_id FROM servers WHERE id = $1', [
        schedule.serverId,
      ]);
      if (server === undefined || server.tenant_id !== schedule.tenantId) {
        throw new NotFoundError(`${action}: no server ${schedule.serverId} in tenant ${schedule.tenantId}`, {
          fields: { tenantId: schedule.tenantId, serverId: schedule.serverId },
        });
      }
      const id = schedule.id ?? newId();
      const enabled = schedule.enabled ?? true;
      const now = this.#clock.now();
      try {
        const row = await q.row<ScheduleRow>(
          `INSERT INTO schedules (id, tenant_id, server_id, cron, timezone, tool, retention_days, object_prefix,
             enabled, next_run_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${COLUMNS}`,
          [
            id,
            schedule.tenantId,
            schedule.serverId,
            schedule.cron,
            schedule.timezone ?? 'UTC',
            schedule.tool,
            schedule.retentionDays ?? DEFAULT_RETENTION_DAYS,
            schedule.objectPrefix,
            enabled,
            // A disabled schedule has no next run: it never shows up as due.
            enabled ? schedule.nextRunAt : null,
            now,
            now,
          ],
        );
        return toRecord(row!);
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          throw new DuplicateError(`${action}: a schedule with id ${id} exists`, {
            cause: err,
            fields: { scheduleId: id },
          });
        }
        throw err;
      }
    });
  }

  async get(id: string, scope: TenantScope = {}): Promise<ScheduleRecord> {
    checkId('schedule id', id);
    const row = await this.#conn.read(`Cannot read schedule ${id}`, (q) => readRow(q, id));
    if (row === undefined || !inScope(row, scope)) throw notFound(id);
    return toRecord(row);
  }

  async list(filter: ScheduleFilter): Promise<readonly ScheduleRecord[]> {
    checkId('tenant id', filter.tenantId);
    if (filter.serverId !== undefined) checkId('server id', filter.serverId);
    const params: unknown[] = [filter.tenantId];
    const where = ['tenant_id = $1'];
    if (filter.serverId !== undefined) {
      params.push(filter.serverId);
      where.push(`server_id = $${params.length}`);
    }
    if (filter.enabled !== undefined) {
      params.push(filter.enabled);
      where.push(`enabled = $${params.length}`);
    }
    const rows = await this.#conn.read('Cannot list schedules', (q) =>
      q.rows<ScheduleRow>(
        `SELECT ${COLUMNS} FROM schedules WHERE ${where.join(' AND ')} ORDER BY created_at, id`,
        params,
      ),
    );
    return rows.map(toRecord);
  }

  async update(id: string, patch: SchedulePatch, scope: TenantScope = {}): Promise<ScheduleRecord> {
    checkId('schedule id', id);
    checkSchedulePatch(patch);
    const action = `Cannot update schedule ${id}`;
    return this.#conn.write(action, async (q) => {
      const row = await q.row<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules WHERE id = $1 FOR UPDATE`, [id]);
      if (row === undefined || !inScope(row, scope)) throw notFound(id);
      const enabled = patch.enabled ?? row.enabled;
      const nextRunAt = patch.nextRunAt === undefined ? row.next_run_at : patch.nextRunAt;
      if (enabled && nextRunAt === null) {
        throw new InvalidValueError(`${action}: nextRunAt is required for an enabled schedule`, {
          fields: { scheduleId: id, field: 'nextRunAt' },
        });
      }
      const set: [string, unknown][] = [];
      if (patch.cron !== undefined) set.push(['cron', patch.cron]);
      if (patch.timezone !== undefined) set.push(['timezone', patch.timezone]);
      if (patch.tool !== undefined) set.push(['tool', patch.tool]);
      if (patch.retentionDays !== undefined) set.push(['retention_days', patch.retentionDays]);
      if (patch.objectPrefix !== undefined) set.push(['object_prefix', patch.objectPrefix]);
      set.push(['enabled', enabled]);
      set.push(['next_run_at', enabled ? nextRunAt : null]);
      set.push(['updated_at', this.#clock.now()]);
      const updated = await q.row<ScheduleRow>(
        `UPDATE schedules SET ${set.map(([col], i) => `${col} = $${i + 1}`).join(', ')}
         WHERE id = $${set.length + 1} RETURNING ${COLUMNS}`,
        [...set.map(([, v]) => v), id],
      );
      return toRecord(updated!);
    });
  }

  async delete(id: string, scope: TenantScope = {}): Promise<void> {
    checkId('schedule id', id);
    await this.#conn.write(`Cannot delete schedule ${id}`, async (q) => {
      const row = await q.row<{ tenant_id: string }>('SELECT tenant_id FROM schedules WHERE id = $1', [id]);
      if (row === undefined || !inScope(row, scope)) throw notFound(id);
      await q.run('DELETE FROM schedules WHERE id = $1', [id]);
    });
  }

  async listDue(now: Date, limit = DEFAULT_DUE_LIMIT): Promise<readonly ScheduleRecord[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidValueError(`Cannot list due schedules: limit must be at least 1, got ${limit}`);
    }
    const rows = await this.#conn.read('Cannot list due schedules', (q) =>
      q.rows<ScheduleRow>(
        // Served by the partial index schedules_due (next_run_at) WHERE enabled.
        `SELECT ${COLUMNS} FROM schedules WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT $2`,
        [now, limit],
      ),
    );
    return rows.map(toRecord);
  }

  async advance(id: string, expected: Date, next: Date): Promise<boolean> {
    checkId('schedule id', id);
    const changed = await this.#conn.write(`Cannot advance schedule ${id}`, (q) =>
      q.run(
        // One statement: a second scheduler's UPDATE waits for the first's row lock, then re-checks next_run_at
        // against the committed value and changes nothing.
        'UPDATE schedules SET next_run_at = $1, updated_at = $2 WHERE id = $3 AND enabled AND next_run_at = $4',
        [next, this.#clock.now(), id, expected],
      ),
    );
    return changed === 1;
  }
}

function readRow(q: PgQuery, id: string): Promise<ScheduleRow | undefined> {
  return q.row<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules WHERE id = $1`, [id]);
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
    enabled: row.enabled,
    nextRunAt: row.next_run_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
