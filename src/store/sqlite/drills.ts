import { randomUUID } from 'node:crypto';
import type { DrillRecord, DrillRepository, NewDrill } from '../drills.js';
import { InvalidValueError, NotFoundError } from '../errors.js';
import { checkId } from '../validate.js';
import { settle, type SqliteConnection } from './driver.js';
import { fromDbTime, toDbTime } from './rows.js';

interface DrillRow {
  id: string;
  tenant_id: string;
  server_id: string;
  backup_id: string | null;
  status: 'passed' | 'failed';
  started_at: string;
  finished_at: string;
  rto_ms: number | null;
  coordinates: string | null;
  steps: string;
  tables: string;
  error: string | null;
}

export class SqliteDrillRepository implements DrillRepository {
  readonly #conn: SqliteConnection;

  constructor(conn: SqliteConnection) {
    this.#conn = conn;
  }

  record(drill: NewDrill): Promise<DrillRecord> {
    return settle(() => {
      checkId('tenant id', drill.tenantId);
      checkId('server id', drill.serverId);
      if (drill.status !== 'passed' && drill.status !== 'failed') {
        throw new InvalidValueError(
          `Cannot record a drill: status must be passed or failed, got ${String(drill.status)}`,
        );
      }
      if (drill.rtoMs !== null && (!Number.isSafeInteger(drill.rtoMs) || drill.rtoMs < 0)) {
        throw new InvalidValueError(
          `Cannot record a drill: RTO must be a whole number of milliseconds, got ${drill.rtoMs}`,
        );
      }
      const action = `Cannot record a drill of server ${drill.serverId}`;
      const id = randomUUID();
      return this.#conn.write(action, (c) => {
        const owner = c.statement('SELECT tenant_id FROM servers WHERE id = ?').get(drill.serverId) as
          { tenant_id: string } | undefined;
        if (owner === undefined || owner.tenant_id !== drill.tenantId) {
          throw new NotFoundError(`${action}: no such server`, { fields: { serverId: drill.serverId } });
        }
        c.statement(
          `INSERT INTO drills (id, tenant_id, server_id, backup_id, status, started_at, finished_at, rto_ms,
             coordinates, steps, tables, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          id,
          drill.tenantId,
          drill.serverId,
          drill.backupId,
          drill.status,
          toDbTime(drill.startedAt),
          toDbTime(drill.finishedAt),
          drill.rtoMs,
          drill.coordinates === null ? null : JSON.stringify(drill.coordinates),
          JSON.stringify(drill.steps),
          JSON.stringify(drill.tables),
          drill.error,
        );
        return { ...drill, id };
      });
    });
  }

  list(tenantId: string, serverId: string, limit = 20): Promise<readonly DrillRecord[]> {
    return settle(() => {
      checkId('tenant id', tenantId);
      checkId('server id', serverId);
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
        throw new InvalidValueError(`Cannot list drills: limit must be from 1 to 1000, got ${limit}`);
      }
      const rows = this.#conn.read(`Cannot list the drills of server ${serverId}`, (c) =>
        c
          .statement(
            'SELECT * FROM drills WHERE tenant_id = ? AND server_id = ? ORDER BY finished_at DESC, rowid DESC LIMIT ?',
          )
          .all(tenantId, serverId, limit),
      ) as DrillRow[];
      return rows.map((r): DrillRecord => ({
        id: r.id,
        tenantId: r.tenant_id,
        serverId: r.server_id,
        backupId: r.backup_id,
        status: r.status,
        startedAt: fromDbTime(r.started_at),
        finishedAt: fromDbTime(r.finished_at),
        rtoMs: r.rto_ms,
        coordinates:
          r.coordinates === null ? null : (JSON.parse(r.coordinates) as DrillRecord['coordinates']),
        steps: JSON.parse(r.steps) as DrillRecord['steps'],
        tables: JSON.parse(r.tables) as DrillRecord['tables'],
        error: r.error,
      }));
    });
  }
}
