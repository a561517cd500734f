import type { Clock } from '../../lib/clock.js';
import { checkComplete, checkTransition, isBackupStatus, type BackupStatus } from '../backup-lifecycle.js';
import {
  backupToJson,
  type BackupCatalog,
  type BackupFacts,
  type BackupFilter,
  type BackupJsonText,
  type BackupRecord,
  type BackupTool,
  type ItemResult,
  type NewBackup,
  type TenantScope,
  type TransitionChanges,
} from '../catalog.js';
import {
  AmbiguousIdError,
  DuplicateError,
  IllegalTransitionError,
  InvalidValueError,
  NotFoundError,
  StateConflictError,
  StoreError,
} from '../errors.js';
import { idPrefixRange, isUuid, newId } from '../ids.js';
import { checkFacts, checkFailure, checkFilter, checkId, checkNewBackup } from '../validate.js';
import { pgCode, translate, UNIQUE_VIOLATION, type PgConnection, type PgQuery } from './driver.js';

interface BackupRow {
  id: string;
  tenant_id: string;
  tenant_name: string;
  server_id: string | null;
  server_name: string;
  schedule_id: string | null;
  tool: string;
  tool_version: string | null;
  status: string;
  created_at: Date;
  started_at: Date | null;
  dump_finished_at: Date | null;
  finished_at: Date | null;
  duration_ms: bigint | null;
  size_bytes: bigint | null;
  binlog_file: string | null;
  binlog_position: bigint | null;
  gtid_set: string | null;
  location: string | null;
  local_dir: string | null;
  error_code: string | null;
  error_message: string | null;
  updated_at: Date;
}

const SELECT = `SELECT b.id, b.tenant_id, t.name AS tenant_name, b.server_id, b.server_name, b.schedule_id, b.tool,
  b.tool_version, b.status, b.created_at, b.started_at, b.dump_finished_at, b.finished_at, b.duration_ms,
  b.size_bytes, b.binlog_file, b.binlog_position, b.gtid_set, b.location, b.local_dir, b.error_code,
  b.error_message, b.updated_at
FROM backups b JOIN tenants t ON t.id = b.tenant_id`;

/** Statuses whose rows may be deleted: never one that a worker is busy with. */
const DELETABLE: readonly BackupStatus[] = ['queued', 'succeeded', 'failed'];

export class PostgresBackupCatalog implements BackupCatalog {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async create(backup: NewBackup): Promise<BackupRecord> {
    checkNewBackup(backup);
    const action = `Cannot create backup of server "${backup.serverName}"`;
    return this.#conn.write(action, async (q) => {
      const tenantId = backup.tenantId;
      if ((await q.row('SELECT 1 FROM tenants WHERE id = $1', [tenantId])) === undefined) {
        throw new NotFoundError(`${action}: no tenant ${tenantId}`, { fields: { tenantId } });
      }
      const serverId = backup.serverId ?? null;
      if (serverId !== null && !(await ownedBy(q, 'servers', serverId, tenantId))) {
        throw new NotFoundError(`${action}: no server ${serverId} in tenant ${tenantId}`, {
          fields: { tenantId, serverId },
        });
      }
      const scheduleId = backup.scheduleId ?? null;
      if (scheduleId !== null && !(await ownedBy(q, 'schedules', scheduleId, tenantId))) {
        throw new NotFoundError(`${action}: no schedule ${scheduleId} in tenant ${tenantId}`, {
          fields: { tenantId, scheduleId },
        });
      }
      const id = backup.id ?? newId();
      const now = this.#clock.now();
      const status = backup.status ?? 'queued';
      try {
        await q.run(
          `INSERT INTO backups (id, tenant_id, server_id, server_name, schedule_id, tool, tool_version, status,
             created_at, started_at, local_dir, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [
            id,
            tenantId,
            serverId,
            backup.serverName,
            scheduleId,
            backup.tool,
            backup.toolVersion ?? null,
            status,
            now,
            status === 'running' ? now : null,
            backup.localDir ?? null,
            now,
          ],
        );
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          throw new DuplicateError(`${action}: a backup with id ${id} exists`, {
            cause: err,
            fields: { backupId: id },
          });
        }
        throw err;
      }
      return readBackup(q, id);
    });
  }

  async get(id: string, scope: TenantScope = {}): Promise<BackupRecord> {
    checkId('backup id', id);
    return this.#conn.read(`Cannot read backup ${id}`, async (q) => {
      const record = await findBackup(q, id);
      if (record === undefined || (scope.tenantId !== undefined && record.tenantId !== scope.tenantId)) {
        throw notFound(id);
      }
      return record;
    });
  }

  async resolveId(idOrPrefix: string, scope: TenantScope = {}): Promise<string> {
    const range = idPrefixRange(idOrPrefix);
    if (range === undefined) {
      throw new InvalidValueError(
        `Cannot find backup "${idOrPrefix}": expected a backup id or at least 4 of its leading hex digits`,
        { fields: { backupId: idOrPrefix } },
      );
    }
    const rows = await this.#conn.read(`Cannot find backup "${idOrPrefix}"`, (q) =>
      scope.tenantId === undefined
        ? q.rows<{ id: string }>('SELECT id FROM backups WHERE id BETWEEN $1 AND $2 ORDER BY id LIMIT 2', [
            range.low,
            range.high,
          ])
        : q.rows<{ id: string }>(
            'SELECT id FROM backups WHERE id BETWEEN $1 AND $2 AND tenant_id = $3 ORDER BY id LIMIT 2',
            [range.low, range.high, scope.tenantId],
          ),
    );
    const [first, second] = rows;
    if (first === undefined) throw notFound(idOrPrefix);
    if (second !== undefined) {
      throw new AmbiguousIdError(
        `Cannot find backup "${idOrPrefix}": it matches several backups (${first.id}, ${second.id}, ...); give more digits`,
        { fields: { backupId: idOrPrefix } },
      );
    }
    return first.id;
  }

  async list(filter: BackupFilter): Promise<readonly BackupRecord[]> {
    return (await this.#select(filter)).map(toRecord);
  }

  async listJson(filter: BackupFilter): Promise<readonly BackupJsonText[]> {
    return (await this.#select(filter)).map((row) => ({
      id: row.id,
      json: JSON.stringify(backupToJson(toRecord(row))),
    }));
  }

  /** The rows of a listing, newest first, limited: the one place a listing is built. */
  async #select(filter: BackupFilter): Promise<BackupRow[]> {
    const { statuses, limit } = checkFilter(filter);
    const params: unknown[] = [filter.tenantId];
    const where: string[] = ['b.tenant_id = $1'];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (filter.serverName !== undefined) add((p) => `b.server_name = ${p}`, filter.serverName);
    if (filter.serverId !== undefined) add((p) => `b.server_id = ${p}`, filter.serverId);
    if (filter.scheduleId !== undefined) add((p) => `b.schedule_id = ${p}`, filter.scheduleId);
    // An IN list rather than = ANY(array): the planner then matches (tenant_id, status, ...) index conditions.
    if (statuses.length > 0) {
      const first = params.length + 1;
      params.push(...statuses);
      where.push(`b.status IN (${statuses.map((_, i) => `$${first + i}`).join(', ')})`);
    }
    return this.#conn.read('Cannot list backups', async (q) => {
      if (filter.before !== undefined) {
        const anchor = await q.row<{ created_at: Date; tenant_id: string }>(
          'SELECT created_at, tenant_id FROM backups WHERE id = $1',
          [filter.before],
        );
        if (anchor === undefined || anchor.tenant_id !== filter.tenantId) throw notFound(filter.before);
        // Keyset paging on the sort key (created_at, id): stable while new backups are added.
        params.push(anchor.created_at, filter.before);
        where.push(`(b.created_at, b.id) < ($${params.length - 1}, $${params.length})`);
      }
      params.push(limit);
      return q.rows<BackupRow>(
        `${SELECT} WHERE ${where.join(' AND ')} ORDER BY b.created_at DESC, b.id DESC LIMIT $${params.length}`,
        params,
      );
    });
  }

  async transition(id: string, to: BackupStatus, changes: TransitionChanges = {}): Promise<BackupRecord> {
    checkId('backup id', id);
    if (!isBackupStatus(to)) {
      throw new InvalidValueError(
        `Cannot change status of backup ${id} to "${String(to)}": not a backup status`,
        {
          fields: { backupId: id, to },
        },
      );
    }
    checkFacts(changes);
    if (to === 'failed') checkFailure(changes.error, id);
    return this.#conn.write(`Cannot change status of backup ${id} to ${to}`, async (q) => {
      // The row lock serialises racing workers: the second reads the status the first committed, and the
      // lifecycle check refuses its move.
      await q.row('SELECT 1 FROM backups WHERE id = $1 FOR UPDATE', [id]);
      const current = await findBackup(q, id);
      if (current === undefined) throw notFound(id);
      checkTransition(current, to);
      if (to === 'succeeded') {
        checkComplete({
          id,
          coordinates: changes.coordinates ?? current.coordinates,
          location: changes.location ?? current.location,
        });
      }
      const now = this.#clock.now();
      const set = factColumns(changes);
      set.push(['status', to], ['updated_at', now]);
      if (to === 'running') set.push(['started_at', now]);
      if (to === 'uploading') {
        if (current.status === 'running') set.push(['dump_finished_at', now]);
        set.push(['finished_at', null], ['duration_ms', null], ['error_code', null], ['error_message', null]);
      }
      if (to === 'succeeded' || to === 'failed') {
        set.push(['finished_at', now]);
        set.push([
          'duration_ms',
          current.startedAt === null ? null : Math.max(0, now.getTime() - current.startedAt.getTime()),
        ]);
      }
      if (to === 'failed' && changes.error !== undefined) {
        set.push(['error_code', changes.error.code], ['error_message', changes.error.message]);
      }
      const changed = await q.run(
        `UPDATE backups SET ${set.map(([col], i) => `${col} = $${i + 1}`).join(', ')}
         WHERE id = $${set.length + 1} AND status = $${set.length + 2}`,
        [...set.map(([, v]) => v), id, current.status],
      );
      if (changed !== 1) {
        throw new IllegalTransitionError(
          `Cannot change status of backup ${id} to ${to}: its status changed concurrently`,
          { fields: { backupId: id, from: current.status, to } },
        );
      }
      return readBackup(q, id);
    });
  }

  async record(id: string, facts: BackupFacts): Promise<BackupRecord> {
    checkId('backup id', id);
    checkFacts(facts);
    return this.#conn.write(`Cannot record facts of backup ${id}`, async (q) => {
      await q.row('SELECT 1 FROM backups WHERE id = $1 FOR UPDATE', [id]);
      const current = await findBackup(q, id);
      if (current === undefined) throw notFound(id);
      if (current.status === 'succeeded') {
        throw new StateConflictError(`Cannot record facts of backup ${id}: it has succeeded and is final`, {
          fields: { backupId: id, status: current.status },
        });
      }
      const set = factColumns(facts);
      if (set.length === 0) return current;
      set.push(['updated_at', this.#clock.now()]);
      await q.run(
        `UPDATE backups SET ${set.map(([col], i) => `${col} = $${i + 1}`).join(', ')} WHERE id = $${set.length + 1}`,
        [...set.map(([, v]) => v), id],
      );
      return readBackup(q, id);
    });
  }

  async delete(ids: readonly string[], scope: TenantScope = {}): Promise<readonly ItemResult[]> {
    const results: ItemResult[] = [];
    for (const id of ids) {
      try {
        await this.#deleteOne(id, scope);
        results.push({ id, ok: true });
      } catch (err) {
        results.push({
          id,
          ok: false,
          error: err instanceof StoreError ? err : translate(err, `Cannot delete backup ${id}`),
        });
      }
    }
    return results;
  }

  async #deleteOne(id: string, scope: TenantScope): Promise<void> {
    if (!isUuid(id)) {
      throw new InvalidValueError(`Cannot delete backup "${id}": expected a lower-case UUID`, {
        fields: { backupId: id },
      });
    }
    // One short transaction per item: one refused item does not undo the others.
    await this.#conn.write(`Cannot delete backup ${id}`, async (q) => {
      const row = await q.row<{ tenant_id: string; status: BackupStatus }>(
        'SELECT tenant_id, status FROM backups WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
        throw notFound(id);
      }
      if (!DELETABLE.includes(row.status)) {
        throw new StateConflictError(`Cannot delete backup ${id}: it is ${row.status}; wait until it ends`, {
          fields: { backupId: id, status: row.status },
        });
      }
      await q.run('DELETE FROM backups WHERE id = $1', [id]);
    });
  }
}

async function findBackup(q: PgQuery, id: string): Promise<BackupRecord | undefined> {
  const row = await q.row<BackupRow>(`${SELECT} WHERE b.id = $1`, [id]);
  return row === undefined ? undefined : toRecord(row);
}

async function readBackup(q: PgQuery, id: string): Promise<BackupRecord> {
  const record = await findBackup(q, id);
  if (record === undefined) throw notFound(id);
  return record;
}

async function ownedBy(
  q: PgQuery,
  table: 'servers' | 'schedules',
  id: string,
  tenantId: string,
): Promise<boolean> {
  const row = await q.row<{ tenant_id: string }>(`SELECT tenant_id FROM ${table} WHERE id = $1`, [id]);
  return row !== undefined && row.tenant_id === tenantId;
}

/** Column assignments for the facts that are present. */
function factColumns(f: BackupFacts): [string, unknown][] {
  const set: [string, unknown][] = [];
  if (f.tool !== undefined) set.push(['tool', f.tool]);
  if (f.toolVersion !== undefined) set.push(['tool_version', f.toolVersion]);
  if (f.coordinates !== undefined) {
    set.push(
      ['binlog_file', f.coordinates.file],
      ['binlog_position', f.coordinates.position],
      ['gtid_set', f.coordinates.gtid],
    );
  }
  if (f.sizeBytes !== undefined) set.push(['size_bytes', f.sizeBytes]);
  if (f.location !== undefined) set.push(['location', f.location]);
  if (f.localDir !== undefined) set.push(['local_dir', f.localDir]);
  return set;
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Cannot find backup ${id}: no such backup`, { fields: { backupId: id } });
}

/** Sizes, durations and positions are validated safe integers on the way in, so Number() is exact. */
function toRecord(row: BackupRow): BackupRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    tenant: row.tenant_name,
    serverId: row.server_id,
    serverName: row.server_name,
    scheduleId: row.schedule_id,
    tool: row.tool as BackupTool,
    toolVersion: row.tool_version,
    status: row.status as BackupStatus,
    createdAt: row.created_at,
    startedAt: row.started_at,
    dumpFinishedAt: row.dump_finished_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    coordinates:
      row.binlog_file === null || row.binlog_position === null
        ? null
        : { file: row.binlog_file, position: Number(row.binlog_position), gtid: row.gtid_set },
    location: row.location,
    localDir: row.local_dir,
    error: row.error_message === null ? null : { code: row.error_code, message: row.error_message },
    updatedAt: row.updated_at,
  };
}
