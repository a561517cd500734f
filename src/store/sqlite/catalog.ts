import type { Clock } from '../../lib/clock.js';
import { checkComplete, checkTransition, isBackupStatus, type BackupStatus } from '../backup-lifecycle.js';
import type {
  BackupCatalog,
  BackupFacts,
  BackupFilter,
  BackupJsonText,
  BackupRecord,
  BackupTool,
  ItemResult,
  NewBackup,
  TenantScope,
  TransitionChanges,
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
import { settle, sqliteCode, translate, type SqliteConnection, type SqliteValue } from './driver.js';
import { fromDbTime, fromDbTimeOrNull, toDbTime } from './rows.js';

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
  created_at: string;
  started_at: string | null;
  dump_finished_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  size_bytes: number | null;
  binlog_file: string | null;
  binlog_position: number | null;
  gtid_set: string | null;
  location: string | null;
  local_dir: string | null;
  error_code: string | null;
  error_message: string | null;
  updated_at: string;
}

const SELECT = `SELECT b.id, b.tenant_id, t.name AS tenant_name, b.server_id, b.server_name, b.schedule_id, b.tool,
  b.tool_version, b.status, b.created_at, b.started_at, b.dump_finished_at, b.finished_at, b.duration_ms,
  b.size_bytes, b.binlog_file, b.binlog_position, b.gtid_set, b.location, b.local_dir, b.error_code,
  b.error_message, b.updated_at
FROM backups b JOIN tenants t ON t.id = b.tenant_id`;

/**
 * The public JSON form of a backup (`backupToJson` in src/store/catalog.ts), written by SQLite. Times are stored
 * as the same ISO-8601 text that toISOString gives (rows.ts). The nested objects go through json(): a CASE
 * result is not guaranteed to keep the JSON subtype that makes json_object embed it as an object, not a string.
 */
const SELECT_JSON = `SELECT b.id, json_object(
    'id', b.id, 'tenant', t.name, 'server_id', b.server_id, 'server_name', b.server_name,
    'schedule_id', b.schedule_id, 'tool', b.tool, 'tool_version', b.tool_version, 'status', b.status,
    'created_at', b.created_at, 'started_at', b.started_at, 'dump_finished_at', b.dump_finished_at,
    'finished_at', b.finished_at, 'duration_ms', b.duration_ms, 'size_bytes', b.size_bytes,
    'coordinates', json(CASE WHEN b.binlog_file IS NULL THEN 'null'
      ELSE json_object('file', b.binlog_file, 'position', b.binlog_position, 'gtid', b.gtid_set) END),
    'location', b.location, 'local_dir', b.local_dir,
    'error', json(CASE WHEN b.error_message IS NULL THEN 'null'
      ELSE json_object('code', b.error_code, 'message', b.error_message) END)
  ) AS json
FROM backups b JOIN tenants t ON t.id = b.tenant_id`;

/** Statuses whose rows may be deleted: never one that a worker is busy with. */
const DELETABLE: readonly BackupStatus[] = ['queued', 'succeeded', 'failed'];

export class SqliteBackupCatalog implements BackupCatalog {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  create(backup: NewBackup): Promise<BackupRecord> {
    return settle(() => {
      checkNewBackup(backup);
      const action = `Cannot create backup of server "${backup.serverName}"`;
      return this.#conn.write(action, (c) => {
        const tenantId = backup.tenantId;
        if (c.statement('SELECT 1 AS present FROM tenants WHERE id = ?').get(tenantId) === undefined) {
          throw new NotFoundError(`${action}: no tenant ${tenantId}`, { fields: { tenantId } });
        }
        const serverId = backup.serverId ?? null;
        if (serverId !== null && !ownedBy(c, 'servers', serverId, tenantId)) {
          throw new NotFoundError(`${action}: no server ${serverId} in tenant ${tenantId}`, {
            fields: { tenantId, serverId },
          });
        }
        const scheduleId = backup.scheduleId ?? null;
        if (scheduleId !== null && !ownedBy(c, 'schedules', scheduleId, tenantId)) {
          throw new NotFoundError(`${action}: no schedule ${scheduleId} in tenant ${tenantId}`, {
            fields: { tenantId, scheduleId },
          });
        }
        const id = backup.id ?? newId();
        const now = toDbTime(this.#clock.now());
        const status = backup.status ?? 'queued';
        try {
          c.statement(
            `INSERT INTO backups (id, tenant_id, server_id, server_name, schedule_id, tool, tool_version, status,
               created_at, started_at, local_dir, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
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
          );
        } catch (err) {
          if (sqliteCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new DuplicateError(`${action}: a backup with id ${id} exists`, {
              cause: err,
              fields: { backupId: id },
            });
          }
          throw err;
        }
        return this.#read(c, id);
      });
    });
  }

  get(id: string, scope: TenantScope = {}): Promise<BackupRecord> {
    return settle(() => {
      checkId('backup id', id);
      return this.#conn.read(`Cannot read backup ${id}`, (c) => {
        const record = this.#find(c, id);
        if (record === undefined || (scope.tenantId !== undefined && record.tenantId !== scope.tenantId)) {
          throw notFound(id);
        }
        return record;
      });
    });
  }

  resolveId(idOrPrefix: string, scope: TenantScope = {}): Promise<string> {
    return settle(() => {
      const range = idPrefixRange(idOrPrefix);
      if (range === undefined) {
        throw new InvalidValueError(
          `Cannot find backup "${idOrPrefix}": expected a backup id or at least 4 of its leading hex digits`,
          { fields: { backupId: idOrPrefix } },
        );
      }
      const rows = this.#conn.read(`Cannot find backup "${idOrPrefix}"`, (c) =>
        scope.tenantId === undefined
          ? c
              .statement('SELECT id FROM backups WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 2')
              .all(range.low, range.high)
          : c
              .statement(
                'SELECT id FROM backups WHERE id BETWEEN ? AND ? AND tenant_id = ? ORDER BY id LIMIT 2',
              )
              .all(range.low, range.high, scope.tenantId),
      ) as { id: string }[];
      const [first, second] = rows;
      if (first === undefined) throw notFound(idOrPrefix);
      if (second !== undefined) {
        throw new AmbiguousIdError(
          `Cannot find backup "${idOrPrefix}": it matches several backups (${first.id}, ${second.id}, ...); give more digits`,
          { fields: { backupId: idOrPrefix } },
        );
      }
      return first.id;
    });
  }

  list(filter: BackupFilter): Promise<readonly BackupRecord[]> {
    return settle(() =>
      this.#select(filter, SELECT, (c, sql, params) =>
        (c.statement(sql).all(...params) as BackupRow[]).map(toRecord),
      ),
    );
  }

  listJson(filter: BackupFilter): Promise<readonly BackupJsonText[]> {
    // SQLite writes the JSON itself: a page costs a fraction of building records and serialising them, which
    // matters for the API's history listing. The text is what JSON.stringify(backupToJson(record)) parses to.
    return settle(() =>
      this.#select(
        filter,
        SELECT_JSON,
        (c, sql, params) => c.statement(sql).all(...params) as BackupJsonText[],
      ),
    );
  }

  /** Runs `select` with the filter's conditions, newest first, limited: the one place a listing is built. */
  #select<T>(
    filter: BackupFilter,
    select: string,
    run: (c: SqliteConnection, sql: string, params: SqliteValue[]) => T,
  ): T {
    const { statuses, limit } = checkFilter(filter);
    const where: string[] = ['b.tenant_id = ?'];
    const params: SqliteValue[] = [filter.tenantId];
    if (filter.serverName !== undefined) {
      where.push('b.server_name = ?');
      params.push(filter.serverName);
    }
    if (filter.serverId !== undefined) {
      where.push('b.server_id = ?');
      params.push(filter.serverId);
    }
    if (filter.scheduleId !== undefined) {
      where.push('b.schedule_id = ?');
      params.push(filter.scheduleId);
    }
    if (statuses.length > 0) {
      where.push(`b.status IN (${statuses.map(() => '?').join(', ')})`);
      params.push(...statuses);
    }
    return this.#conn.read('Cannot list backups', (c) => {
      if (filter.before !== undefined) {
        const anchor = c
          .statement('SELECT created_at, tenant_id FROM backups WHERE id = ?')
          .get(filter.before) as { created_at: string; tenant_id: string } | undefined;
        if (anchor === undefined || anchor.tenant_id !== filter.tenantId) throw notFound(filter.before);
        // Keyset paging on the sort key (created_at, id): stable while new backups are added.
        where.push('(b.created_at, b.id) < (?, ?)');
        params.push(anchor.created_at, filter.before);
      }
      params.push(limit);
      return run(
        c,
        `${select} WHERE ${where.join(' AND ')} ORDER BY b.created_at DESC, b.id DESC LIMIT ?`,
        params,
      );
    });
  }

  transition(id: string, to: BackupStatus, changes: TransitionChanges = {}): Promise<BackupRecord> {
    return settle(() => {
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
      return this.#conn.write(`Cannot change status of backup ${id} to ${to}`, (c) => {
        const current = this.#find(c, id);
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
        set.push(['status', to], ['updated_at', toDbTime(now)]);
        if (to === 'running') set.push(['started_at', toDbTime(now)]);
        if (to === 'uploading') {
          // A retried upload keeps the original end of the dump step and clears the earlier failure.
          if (current.status === 'running') set.push(['dump_finished_at', toDbTime(now)]);
          set.push(
            ['finished_at', null],
            ['duration_ms', null],
            ['error_code', null],
            ['error_message', null],
          );
        }
        if (to === 'succeeded' || to === 'failed') {
          set.push(['finished_at', toDbTime(now)]);
          set.push([
            'duration_ms',
            current.startedAt === null ? null : Math.max(0, now.getTime() - current.startedAt.getTime()),
          ]);
        }
        if (to === 'failed' && changes.error !== undefined) {
          set.push(['error_code', changes.error.code], ['error_message', changes.error.message]);
        }
        // Compare-and-set on the status just read: the write lock already excludes other writers here, and the
        // condition keeps the statement correct on backends where it does not.
        const result = c
          .statement(
            `UPDATE backups SET ${set.map(([col]) => `${col} = ?`).join(', ')} WHERE id = ? AND status = ?`,
          )
          .run(...set.map(([, v]) => v), id, current.status);
        if (result.changes !== 1) {
          throw new IllegalTransitionError(
            `Cannot change status of backup ${id} to ${to}: its status changed concurrently`,
            { fields: { backupId: id, from: current.status, to } },
          );
        }
        return this.#read(c, id);
      });
    });
  }

  record(id: string, facts: BackupFacts): Promise<BackupRecord> {
    return settle(() => {
      checkId('backup id', id);
      checkFacts(facts);
      return this.#conn.write(`Cannot record facts of backup ${id}`, (c) => {
        const current = this.#find(c, id);
        if (current === undefined) throw notFound(id);
        if (current.status === 'succeeded') {
          throw new StateConflictError(`Cannot record facts of backup ${id}: it has succeeded and is final`, {
            fields: { backupId: id, status: current.status },
          });
        }
        const set = factColumns(facts);
        if (set.length === 0) return current;
        set.push(['updated_at', toDbTime(this.#clock.now())]);
        c.statement(`UPDATE backups SET ${set.map(([col]) => `${col} = ?`).join(', ')} WHERE id = ?`).run(
          ...set.map(([, v]) => v),
          id,
        );
        return this.#read(c, id);
      });
    });
  }

  delete(ids: readonly string[], scope: TenantScope = {}): Promise<readonly ItemResult[]> {
    return settle(() =>
      ids.map((id): ItemResult => {
        try {
          this.#deleteOne(id, scope);
          return { id, ok: true };
        } catch (err) {
          return {
            id,
            ok: false,
            error: err instanceof StoreError ? err : translate(err, `Cannot delete backup ${id}`),
          };
        }
      }),
    );
  }

  #deleteOne(id: string, scope: TenantScope): void {
    if (!isUuid(id)) {
      throw new InvalidValueError(`Cannot delete backup "${id}": expected a lower-case UUID`, {
        fields: { backupId: id },
      });
    }
    // One short transaction per item: a long batch never holds the write lock for long, and one refused item
    // does not undo the others.
    this.#conn.write(`Cannot delete backup ${id}`, (c) => {
      const row = c.statement('SELECT tenant_id, status FROM backups WHERE id = ?').get(id) as
        { tenant_id: string; status: BackupStatus } | undefined;
      if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId))
        throw notFound(id);
      if (!DELETABLE.includes(row.status)) {
        throw new StateConflictError(`Cannot delete backup ${id}: it is ${row.status}; wait until it ends`, {
          fields: { backupId: id, status: row.status },
        });
      }
      c.statement('DELETE FROM backups WHERE id = ?').run(id);
    });
  }

  #find(c: SqliteConnection, id: string): BackupRecord | undefined {
    const row = c.statement(`${SELECT} WHERE b.id = ?`).get(id) as BackupRow | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  #read(c: SqliteConnection, id: string): BackupRecord {
    const record = this.#find(c, id);
    if (record === undefined) throw notFound(id);
    return record;
  }
}

function ownedBy(c: SqliteConnection, table: 'servers' | 'schedules', id: string, tenantId: string): boolean {
  const row = c.statement(`SELECT tenant_id FROM ${table} WHERE id = ?`).get(id) as
    { tenant_id: string } | undefined;
  return row !== undefined && row.tenant_id === tenantId;
}

/** Column assignments for the facts that are present. */
function factColumns(f: BackupFacts): [string, SqliteValue][] {
  const set: [string, SqliteValue][] = [];
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
    createdAt: fromDbTime(row.created_at),
    startedAt: fromDbTimeOrNull(row.started_at),
    dumpFinishedAt: fromDbTimeOrNull(row.dump_finished_at),
    finishedAt: fromDbTimeOrNull(row.finished_at),
    durationMs: row.duration_ms,
    sizeBytes: row.size_bytes,
    coordinates:
      row.binlog_file === null || row.binlog_position === null
        ? null
        : { file: row.binlog_file, position: row.binlog_position, gtid: row.gtid_set },
    location: row.location,
    localDir: row.local_dir,
    error: row.error_message === null ? null : { code: row.error_code, message: row.error_message },
    updatedAt: fromDbTime(row.updated_at),
  };
}
