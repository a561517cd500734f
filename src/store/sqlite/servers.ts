import type { Clock } from '../../lib/clock.js';
import type { TenantScope } from '../catalog.js';
import { DuplicateError, InvalidValueError, NotFoundError, StateConflictError } from '../errors.js';
import { newId } from '../ids.js';
import type { NewServer, ServerPatch, ServerRecord, ServerRepository } from '../servers.js';
import { checkId, checkNewServer } from '../validate.js';
import { settle, sqliteCode, type SqliteConnection, type SqliteValue } from './driver.js';
import { fromDbTime, toDbTime } from './rows.js';

interface ServerRow {
  id: string;
  tenant_id: string;
  name: string;
  host: string;
  port: number;
  username: string;
  has_password: number;
  defaults: string;
  created_at: string;
  updated_at: string;
}

// The ciphertext itself is never selected into a record; only whether there is one.
const COLUMNS =
  'id, tenant_id, name, host, port, username, password_ciphertext IS NOT NULL AS has_password, defaults, created_at, updated_at';

export class SqliteServerRepository implements ServerRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  create(server: NewServer): Promise<ServerRecord> {
    return settle(() => {
      checkNewServer(server);
      const action = `Cannot register server "${server.name}"`;
      let defaults: string;
      try {
        defaults = JSON.stringify(server.defaults ?? {});
      } catch (err) {
        throw new InvalidValueError(`${action}: defaults are not JSON-serialisable`, { cause: err });
      }
      const ciphertext = server.passwordCiphertext ?? null;
      return this.#conn.write(action, (c) => {
        if (c.statement('SELECT 1 AS present FROM tenants WHERE id = ?').get(server.tenantId) === undefined) {
          throw new NotFoundError(`${action}: no tenant ${server.tenantId}`, {
            fields: { tenantId: server.tenantId },
          });
        }
        const id = server.id ?? newId();
        const now = toDbTime(this.#clock.now());
        try {
          c.statement(
            `INSERT INTO servers (id, tenant_id, name, host, port, username, password_ciphertext, defaults, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
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
          );
        } catch (err) {
          const code = sqliteCode(err);
          if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
            throw new DuplicateError(`${action}: the tenant already has a server of that name`, {
              cause: err,
              fields: { tenantId: server.tenantId, server: server.name },
            });
          }
          if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new DuplicateError(`${action}: a server with id ${id} exists`, {
              cause: err,
              fields: { serverId: id },
            });
          }
          throw err;
        }
        return toServer(c.statement(`SELECT ${COLUMNS} FROM servers WHERE id = ?`).get(id) as ServerRow);
      });
    });
  }

  get(id: string, scope: TenantScope = {}): Promise<ServerRecord> {
    return settle(() => {
      checkId('server id', id);
      const row = this.#conn.read(`Cannot read server ${id}`, (c) =>
        c.statement(`SELECT ${COLUMNS} FROM servers WHERE id = ?`).get(id),
      ) as ServerRow | undefined;
      if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
        throw notFound(id);
      }
      return toServer(row);
    });
  }

  findByName(tenantId: string, name: string): Promise<ServerRecord | undefined> {
    return settle(() => {
      checkId('tenant id', tenantId);
      const row = this.#conn.read(`Cannot read server "${name}"`, (c) =>
        c.statement(`SELECT ${COLUMNS} FROM servers WHERE tenant_id = ? AND name = ?`).get(tenantId, name),
      ) as ServerRow | undefined;
      return row === undefined ? undefined : toServer(row);
    });
  }

  list(tenantId: string): Promise<readonly ServerRecord[]> {
    return settle(() => {
      checkId('tenant id', tenantId);
      const rows = this.#conn.read('Cannot list servers', (c) =>
        c.statement(`SELECT ${COLUMNS} FROM servers WHERE tenant_id = ? ORDER BY name`).all(tenantId),
      ) as ServerRow[];
      return rows.map(toServer);
    });
  }

  passwordCiphertext(id: string, scope: TenantScope = {}): Promise<Uint8Array | null> {
    return settle(() => {
      checkId('server id', id);
      const row = this.#conn.read(`Cannot read server ${id}`, (c) =>
        c.statement('SELECT tenant_id, password_ciphertext FROM servers WHERE id = ?').get(id),
      ) as { tenant_id: string; password_ciphertext: Buffer | null } | undefined;
      if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
        throw notFound(id);
      }
      return row.password_ciphertext === null ? null : new Uint8Array(row.password_ciphertext);
    });
  }

  update(id: string, patch: ServerPatch, scope: TenantScope = {}): Promise<ServerRecord> {
    return settle(() => {
      checkId('server id', id);
      const action = `Cannot update server ${id}`;
      return this.#conn.write(action, (c) => {
        const current = c.statement(`SELECT ${COLUMNS} FROM servers WHERE id = ?`).get(id) as
          ServerRow | undefined;
        if (current === undefined || (scope.tenantId !== undefined && current.tenant_id !== scope.tenantId)) {
          throw notFound(id);
        }
        const merged = toServer(current);
        // The same checks as at registration, on the record as it will be.
        checkNewServer({
          tenantId: merged.tenantId,
          name: patch.name ?? merged.name,
          host: patch.host ?? merged.host,
          port: patch.port ?? merged.port,
          username: patch.username ?? merged.username,
        });
        const set: [string, SqliteValue][] = [];
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
        set.push(['updated_at', toDbTime(this.#clock.now())]);
        try {
          c.statement(`UPDATE servers SET ${set.map(([col]) => `${col} = ?`).join(', ')} WHERE id = ?`).run(
            ...set.map(([, v]) => v),
            id,
          );
        } catch (err) {
          if (sqliteCode(err) === 'SQLITE_CONSTRAINT_UNIQUE') {
            throw new DuplicateError(`${action}: the tenant already has a server named "${patch.name}"`, {
              cause: err,
              fields: { tenantId: merged.tenantId, server: patch.name },
            });
          }
          throw err;
        }
        return toServer(c.statement(`SELECT ${COLUMNS} FROM servers WHERE id = ?`).get(id) as ServerRow);
      });
    });
  }

  delete(id: string, scope: TenantScope = {}): Promise<void> {
    return settle(() => {
      checkId('server id', id);
      const action = `Cannot delete server ${id}`;
      this.#conn.write(action, (c) => {
        const row = c.statement('SELECT tenant_id FROM servers WHERE id = ?').get(id) as
          { tenant_id: string } | undefined;
        if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
          throw notFound(id);
        }
        // Jobs go with the server (ON DELETE CASCADE); one that is queued or running would vanish under its agent
        // and leave its backup unfinished in the catalog.
        const active = c
          .statement(
            "SELECT id, kind, status FROM jobs WHERE server_id = ? AND status IN ('queued', 'running') LIMIT 1",
          )
          .get(id) as { id: string; kind: string; status: string } | undefined;
        if (active !== undefined) {
          throw new StateConflictError(
            `${action}: its ${active.kind} job ${active.id} is ${active.status}; wait until it ends`,
            { fields: { serverId: id, jobId: active.id, status: active.status } },
          );
        }
        try {
          c.statement('DELETE FROM servers WHERE id = ?').run(id);
        } catch (err) {
          if (sqliteCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
            // Captured changes refer to the server; they are history and are not dropped with a registration.
            throw new StateConflictError(
              `${action}: the change index holds captured changes of this server`,
              {
                cause: err,
                fields: { serverId: id },
              },
            );
          }
          throw err;
        }
      });
    });
  }
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
    hasPassword: row.has_password === 1,
    defaults: JSON.parse(row.defaults) as Record<string, unknown>,
    createdAt: fromDbTime(row.created_at),
    updatedAt: fromDbTime(row.updated_at),
  };
}
