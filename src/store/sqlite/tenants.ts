import type { Clock } from '../../lib/clock.js';
import { DuplicateError, NotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import type { Tenant, TenantRepository } from '../tenants.js';
import { checkId, checkName } from '../validate.js';
import { settle, sqliteCode, type SqliteConnection } from './driver.js';
import { fromDbTime, toDbTime } from './rows.js';

interface TenantRow {
  id: string;
  name: string;
  created_at: string;
}

const COLUMNS = 'id, name, created_at';

export class SqliteTenantRepository implements TenantRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  create(name: string): Promise<Tenant> {
    return settle(() => {
      checkName('tenant', name);
      const action = `Cannot create tenant "${name}"`;
      return this.#conn.write(action, (c) => {
        const id = newId();
        try {
          c.statement('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').run(
            id,
            name,
            toDbTime(this.#clock.now()),
          );
        } catch (err) {
          if (sqliteCode(err) === 'SQLITE_CONSTRAINT_UNIQUE') {
            throw new DuplicateError(`${action}: a tenant of that name exists`, {
              cause: err,
              fields: { tenant: name },
            });
          }
          throw err;
        }
        return toTenant(c.statement(`SELECT ${COLUMNS} FROM tenants WHERE id = ?`).get(id) as TenantRow);
      });
    });
  }

  ensure(name: string): Promise<Tenant> {
    return settle(() => {
      checkName('tenant', name);
      return this.#conn.write(`Cannot create tenant "${name}"`, (c) => {
        // Inside BEGIN IMMEDIATE no other writer can slip in between the insert and the read.
        c.statement(
          'INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
        ).run(newId(), name, toDbTime(this.#clock.now()));
        return toTenant(c.statement(`SELECT ${COLUMNS} FROM tenants WHERE name = ?`).get(name) as TenantRow);
      });
    });
  }

  get(id: string): Promise<Tenant> {
    return settle(() => {
      checkId('tenant id', id);
      const row = this.#conn.read(`Cannot read tenant ${id}`, (c) =>
        c.statement(`SELECT ${COLUMNS} FROM tenants WHERE id = ?`).get(id),
      ) as TenantRow | undefined;
      if (row === undefined) {
        throw new NotFoundError(`Cannot find tenant ${id}: no such tenant`, { fields: { tenantId: id } });
      }
      return toTenant(row);
    });
  }

  findByName(name: string): Promise<Tenant | undefined> {
    return settle(() => {
      const row = this.#conn.read(`Cannot read tenant "${name}"`, (c) =>
        c.statement(`SELECT ${COLUMNS} FROM tenants WHERE name = ?`).get(name),
      ) as TenantRow | undefined;
      return row === undefined ? undefined : toTenant(row);
    });
  }

  list(): Promise<readonly Tenant[]> {
    return settle(() => {
      const rows = this.#conn.read('Cannot list tenants', (c) =>
        c.statement(`SELECT ${COLUMNS} FROM tenants ORDER BY name`).all(),
      ) as TenantRow[];
      return rows.map(toTenant);
    });
  }
}

function toTenant(row: TenantRow): Tenant {
  return { id: row.id, name: row.name, createdAt: fromDbTime(row.created_at) };
}
