import type { Clock } from '../../lib/clock.js';
import { DuplicateError, NotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import type { Tenant, TenantRepository } from '../tenants.js';
import { checkId, checkName } from '../validate.js';
import { pgCode, UNIQUE_VIOLATION, type PgConnection } from './driver.js';

interface TenantRow {
  id: string;
  name: string;
  created_at: Date;
}

const COLUMNS = 'id, name, created_at';

export class PostgresTenantRepository implements TenantRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async create(name: string): Promise<Tenant> {
    checkName('tenant', name);
    const action = `Cannot create tenant "${name}"`;
    return this.#conn.write(action, async (q) => {
      try {
        const row = await q.row<TenantRow>(
          `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
          [newId(), name, this.#clock.now()],
        );
        return toTenant(row!);
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          throw new DuplicateError(`${action}: a tenant of that name exists`, {
            cause: err,
            fields: { tenant: name },
          });
        }
        throw err;
      }
    });
  }

  async ensure(name: string): Promise<Tenant> {
    checkName('tenant', name);
    return this.#conn.write(`Cannot create tenant "${name}"`, async (q) => {
      // ON CONFLICT waits for a racing insert of the same name to commit; the SELECT (a new snapshot in READ
      // COMMITTED) then sees whichever row won.
      await q.run(
        'INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
        [newId(), name, this.#clock.now()],
      );
      return toTenant((await q.row<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE name = $1`, [name]))!);
    });
  }

  async get(id: string): Promise<Tenant> {
    checkId('tenant id', id);
    const row = await this.#conn.read(`Cannot read tenant ${id}`, (q) =>
      q.row<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE id = $1`, [id]),
    );
    if (row === undefined) {
      throw new NotFoundError(`Cannot find tenant ${id}: no such tenant`, { fields: { tenantId: id } });
    }
    return toTenant(row);
  }

  async findByName(name: string): Promise<Tenant | undefined> {
    const row = await this.#conn.read(`Cannot read tenant "${name}"`, (q) =>
      q.row<TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE name = $1`, [name]),
    );
    return row === undefined ? undefined : toTenant(row);
  }

  async list(): Promise<readonly Tenant[]> {
    const rows = await this.#conn.read('Cannot list tenants', (q) =>
      q.rows<TenantRow>(`SELECT ${COLUMNS} FROM tenants ORDER BY name`),
    );
    return rows.map(toTenant);
  }
}

function toTenant(row: TenantRow): Tenant {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}
