import type { DrillRecord, DrillRepository, NewDrill } from '../drills.js';
import { InvalidValueError, NotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import { checkId } from '../validate.js';
import type { PgConnection } from './driver.js';

interface DrillRow {
  id: string;
  tenant_id: string;
  server_id: string;
  backup_id: string | null;
  status: 'passed' | 'failed';
  started_at: Date;
  finished_at: Date;
  rto_ms: bigint | null;
  coordinates: string | null;
  steps: string;
  tables: string;
  error: string | null;
}

export class PostgresDrillRepository implements DrillRepository {
  readonly #conn: PgConnection;

  constructor(conn: PgConnection) {
    this.#conn = conn;
  }

  async record(drill: NewDrill): Promise<DrillRecord> {
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
    const id = newId();
    await this.#conn.write(action, async (q) => {
      const owner = await q.row<{ tenant_id: string }>('SELECT tenant_id FROM servers WHERE id = $1', [
        drill.serverId,
      ]);
      if (owner === undefined || owner.tenant_id !== drill.tenantId) {
        throw new NotFoundError(`${action}: no such server`, { fields: { serverId: drill.serverId } });
      }
      await q.run(
        `INSERT INTO drills (id, tenant_id, server_id, backup_id, status, started_at, finished_at, rto_ms,
           coordinates, steps, tables, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          id,
          drill.tenantId,
          drill.serverId,
          drill.backupId,
          drill.status,
          drill.startedAt,
          drill.finishedAt,
          drill.rtoMs,
          drill.coordinates === null ? null : JSON.stringify(drill.coordinates),
          JSON.stringify(drill.steps),
          JSON.stringify(drill.tables),
          drill.error,
        ],
      );
    });
    return { ...drill, id };
  }

  async list(tenantId: string, serverId: string, limit = 20): Promise<readonly DrillRecord[]> {
    checkId('tenant id', tenantId);
    checkId('server id', serverId);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvalidValueError(`Cannot list drills: limit must be from 1 to 1000, got ${limit}`);
    }
    const rows = await this.#conn.read(`Cannot list the drills of server ${serverId}`, (q) =>
      q.rows<DrillRow>(
        `SELECT id, tenant_id, server_id, backup_id, status, started_at, finished_at, rto_ms, coordinates, steps,
           tables, error
         FROM drills WHERE tenant_id = $1 AND server_id = $2 ORDER BY finished_at DESC, drill_no DESC LIMIT $3`,
        [tenantId, serverId, limit],
      ),
    );
    return rows.map((r): DrillRecord => ({
      id: r.id,
      tenantId: r.tenant_id,
      serverId: r.server_id,
      backupId: r.backup_id,
      status: r.status,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      rtoMs: r.rto_ms === null ? null : Number(r.rto_ms),
      coordinates: r.coordinates === null ? null : (JSON.parse(r.coordinates) as DrillRecord['coordinates']),
      steps: JSON.parse(r.steps) as DrillRecord['steps'],
      tables: JSON.parse(r.tables) as DrillRecord['tables'],
      error: r.error,
    }));
  }
}
