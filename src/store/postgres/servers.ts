import type { Clock } from '../../lib/clock.js';
import type { TenantScope } from '../catalog.js';
import { DuplicateError, InvalidValueError, NotFoundError, StateConflictError } from '../errors.js';
import { newId } from '../ids.js';
import type { NewServer, ServerPatch, ServerRecord, ServerRepository } from '../servers.js';
import { checkId, checkNewServer } from '../validate.js';
import {
  FOREIGN_KEY_VIOLATION,
  pgCode,
  pgConstraint,
  UNIQUE_VIOLATION,
  type PgConnection,
  type PgQuery,
} from './driver.js';

interface ServerRow {
  id: string;
  tenant_id: string;
  name: string;
  host: string;
  port: number;
  username: string;
  has_password: boolean;
  defaults: string;
  created_at: Date;
  updated_at: Date;
}

// The ciphertext itself is never selected into a record; only whether there is one.
const COLUMNS =
  'id, tenant_id, name, host, port, username, password_ciphertext IS NOT NULL AS has_password, defaults, created_at, updated_at';

export class PostgresServerRepository implements ServerRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async create(server: NewServer): Promise<ServerRecord> {
    checkNewServer(server);
    const action = `Cannot register server "${server.name}"`;
    let defaults: string;
    try {
      defaults = JSON.stringify(server.defaults ?? {});
    } catch (err) {
      throw new InvalidValueError(`${action}: defaults are not JSON-serialisable`, { cause: err });
    }
    const ciphertext = server.passwordCiphertext ?? null;
    return this.#conn.write(action, async (q) => {
      if ((await q.row('SELECT 1 FROM tenants WHERE id = $1', [server.tenantId])) === undefined) {
        throw new NotFoundError(`${action}: no tenant ${server.tenantId}`, {
          fields: { tenantId: server.tenantId },
        });
      }
      const id = server.id ?? newId();
      const now = this.#clock.now();
      try {
        const row = await q.row<ServerRow>(
          `INSERT INTO servers (id, tenant_id, name, host, port, username, password_ciphertext, defaults, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
          [
            id,
            server.tenantId,
            server.name,
            server.host,
            server.port,
            server.username,
            ciphertext === null ? null : Buffer.from(ciphertext),
            defaults,
            now,
            now,
          ],
        );
        return toServer(row!);
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          if (pgConstraint(err) === 'servers_pkey') {
            throw new DuplicateError(`${action}: a server with id ${id} exists`, {
              cause: err,
              fields: { serverId: id },
            });
          }
          throw new DuplicateError(`${action}: the tenant already has a server of that name`, {
            cause: err,
            fields: { tenantId: server.tenantId, server: server.name },
          });
        }
        throw err;
      }
    });
  }

  async get(id: string, scope: TenantScope = {}): Promise<ServerRecord> {
    checkId('server id', id);
    const row = await this.#conn.read(`Cannot read server ${id}`, (q) => readRow(q, id));
    if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
      throw notFound(id);
    }
    return toServer(row);
  }

  async findByName(tenantId: string, name: string): Promise<ServerRecord | undefined> {
    checkId('tenant id', tenantId);
    const row = await this.#conn.read(`Cannot read server "${name}"`, (q) =>
      q.row<ServerRow>(`SELECT ${COLUMNS} FROM servers WHERE tenant_id = $1 AND name = $2`, [tenantId, name]),
    );
    return row === undefined ? undefined : toServer(row);
  }

  async list(tenantId: string): Promise<readonly ServerRecord[]> {
    checkId('tenant id', tenantId);
    const rows = await this.#conn.read('Cannot list servers', (q) =>
      q.rows<ServerRow>(`SELECT ${COLUMNS} FROM servers WHERE tenant_id = $1 ORDER BY name`, [tenantId]),
    );
    return rows.map(toServer);
  }

  async passwordCiphertext(id: string, scope: TenantScope = {}): Promise<Uint8Array | null> {
    checkId('server id', id);
    const row = await this.#conn.read(`Cannot read server ${id}`, (q) =>
      q.row<{ tenant_id: string; password_ciphertext: Buffer | null }>(
        'SELECT tenant_id, password_ciphertext FROM servers WHERE id = $1',
        [id],
      ),
    );
    if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
      throw notFound(id);
    }
    return row.password_ciphertext === null ? null : new Uint8Array(row.password_ciphertext);
  }

  async update(id: string, patch: ServerPatch, scope: TenantScope = {}): Promise<ServerRecord> {
    checkId('server id', id);
    const action = `Cannot update server ${id}`;
    return this.#conn.write(action, async (q) => {
      const current = await q.row<ServerRow>(`SELECT ${COLUMNS} FROM servers WHERE id = $1 FOR UPDATE`, [id]);
      if (current === undefined || (scope.tenantId !== undefined && current.tenant_id !== scope.tenantId)) {
        throw notFound(id);
      }
      const merged = toServer(current);
      checkNewServer({
        tenantId: merged.tenantId,
        name: patch.name ?? merged.name,
        host: patch.host ?? merged.host,
        port: patch.port ?? merged.port,
        username: patch.username ?? merged.username,
      });
      const set: [string, unknown][] = [];
      if (patch.name !== undefined) set.push(['name', patch.name]);
      if (patch.host !== undefined) set.push(['host', patch.host]);
      if (patch.port !== undefined) set.push(['port', patch.port]);
      if (patch.username !== undefined) set.push(['username', patch.username]);
      if (patch.passwordCiphertext !== undefined) {
        set.push([
          'password_ciphertext',
          patch.passwordCiphertext === null ? null : Buffer.from(patch.passwordCiphertext),
        ]);
      }
      if (patch.defaults !== undefined) {
        try {
          set.push(['defaults', JSON.stringify(patch.defaults)]);
        } catch (err) {
          throw new InvalidValueError(`${action}: defaults are not JSON-serialisable`, { cause: err });
        }
      }
      if (set.length === 0) return merged;
      set.push(['updated_at', this.#clock.now()]);
      try {
        await q.run(
          `UPDATE servers SET ${set.map(([col], i) => `${col} = $${i + 1}`).join(', ')} WHERE id = $${set.length + 1}`,
          [...set.map(([, v]) => v), id],
        );
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          throw new DuplicateError(`${action}: the tenant already has a server named "${patch.name}"`, {
            cause: err,
            fields: { tenantId: merged.tenantId, server: patch.name },
          });
        }
        throw err;
      }
      return toServer((await readRow(q, id))!);
    });
  }

  async delete(id: string, scope: TenantScope = {}): Promise<void> {
    checkId('server id', id);
    const action = `Cannot delete server ${id}`;
    await this.#conn.write(action, async (q) => {
      // The row lock makes a concurrent exclusive enqueue for this server wait until the delete commits.
      const row = await q.row<{ tenant_id: string }>(
        'SELECT tenant_id FROM servers WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
        throw notFound(id);
      }
      const active = await q.row<{ id: string; kind: string; status: string }>(
        "SELECT id, kind, status FROM jobs WHERE server_id = $1 AND status IN ('queued', 'running') LIMIT 1",
        [id],
      );
      if (active !== undefined) {
        throw new StateConflictError(
          `${action}: its ${active.kind} job ${active.id} is ${active.status}; wait until it ends`,
          { fields: { serverId: id, jobId: active.id, status: active.status } },
        );
      }
      try {
        await q.run('DELETE FROM servers WHERE id = $1', [id]);
      } catch (err) {
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) {
          throw new StateConflictError(`${action}: the change index holds captured changes of this server`, {
            cause: err,
            fields: { serverId: id },
          });
        }
        throw err;
      }
    });
  }
}

function readRow(q: PgQuery, id: string): Promise<ServerRow | undefined> {
  return q.row<ServerRow>(`SELECT ${COLUMNS} FROM servers WHERE id = $1`, [id]);
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Cannot find server ${id}: no such server`, { fields: { serverId: id } });
}

function toServer(row: ServerRow): ServerRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    host: row.host,
    port: row.port,
    username: row.username,
    hasPassword: row.has_password,
    defaults: JSON.parse(row.defaults) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
