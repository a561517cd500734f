import type { Clock } from '../../lib/clock.js';
import type { ApiKeyRecord, ApiKeyRepository, NewApiKeyRecord } from '../api-keys.js';
import type { TenantScope } from '../catalog.js';
import { AmbiguousIdError, DuplicateError, InvalidValueError, NotFoundError } from '../errors.js';
import { idPrefixRange, newId } from '../ids.js';
import { checkId } from '../validate.js';
import { pgCode, pgConstraint, UNIQUE_VIOLATION, type PgConnection } from './driver.js';

interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string | null;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

// The hash is looked up by, never read back into a record.
const COLUMNS = 'id, tenant_id, name, prefix, created_at, last_used_at, revoked_at';

// The same rules as the SQLite repository (src/store/sqlite/api-keys.ts), so both refuse the same input.
const HASH = /^[0-9a-f]{64}$/;
const DISPLAY_PREFIX = /^bt_live_[0-9A-Za-z]{6}$/;
const PREFIX_QUERY = /^bt_live_[0-9A-Za-z]{4,43}$/;
const DISPLAY_LENGTH = 14;
const MAX_NAME = 200;

export const DEFAULT_TOUCH_INTERVAL_MS = 60_000;

export class PostgresApiKeyRepository implements ApiKeyRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async create(key: NewApiKeyRecord): Promise<ApiKeyRecord> {
    if (key.id !== undefined) checkId('API key id', key.id);
    checkId('tenant id', key.tenantId);
    if (!HASH.test(key.keyHash)) {
      throw new InvalidValueError('Cannot store API key: expected its lower-case hex SHA-256', {
        fields: { field: 'keyHash' },
      });
    }
    if (!DISPLAY_PREFIX.test(key.prefix)) {
      throw new InvalidValueError(
        `Cannot store API key: prefix "${key.prefix}" is not the start of a bt_live_ key`,
        {
          fields: { prefix: key.prefix },
        },
      );
    }
    const name = key.name ?? null;
    if (name !== null && (name.length === 0 || name.length > MAX_NAME)) {
      throw new InvalidValueError(
        `Cannot store API key: name must be 1 to ${MAX_NAME} characters long, got ${name.length}`,
        { fields: { name } },
      );
    }
    const action = 'Cannot store API key';
    return this.#conn.write(action, async (q) => {
      if ((await q.row('SELECT 1 FROM tenants WHERE id = $1', [key.tenantId])) === undefined) {
        throw new NotFoundError(`${action}: no tenant ${key.tenantId}`, {
          fields: { tenantId: key.tenantId },
        });
      }
      const id = key.id ?? newId();
      try {
        const row = await q.row<ApiKeyRow>(
          `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING ${COLUMNS}`,
          [id, key.tenantId, name, key.prefix, key.keyHash, this.#clock.now()],
        );
        return toRecord(row!);
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          const what = pgConstraint(err) === 'api_keys_key_hash' ? 'hash' : 'id';
          throw new DuplicateError(`${action}: a key with the same ${what} exists`, {
            cause: err,
            fields: { apiKeyId: id },
          });
        }
        throw err;
      }
    });
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    if (!HASH.test(keyHash)) return undefined;
    const row = await this.#conn.read('Cannot look up API key', (q) =>
      q.row<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1`, [keyHash]),
    );
    return row === undefined ? undefined : toRecord(row);
  }

  async get(id: string, scope: TenantScope = {}): Promise<ApiKeyRecord> {
    checkId('API key id', id);
    const row = await this.#conn.read(`Cannot read API key ${id}`, (q) =>
      q.row<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]),
    );
    if (row === undefined || !inScope(row, scope)) throw notFound(id);
    return toRecord(row);
  }

  async resolve(idOrPrefix: string, scope: TenantScope = {}): Promise<ApiKeyRecord> {
    const action = `Cannot find API key "${idOrPrefix}"`;
    let rows: ApiKeyRow[];
    if (PREFIX_QUERY.test(idOrPrefix)) {
      const wanted = idOrPrefix.slice(0, DISPLAY_LENGTH);
      rows = await this.#conn.read(action, (q) =>
        q.rows<ApiKeyRow>(
          `SELECT ${COLUMNS} FROM api_keys WHERE substr(prefix, 1, length($1)) = $1 ORDER BY id LIMIT 20`,
          [wanted],
        ),
      );
    } else {
      const range = idPrefixRange(idOrPrefix);
      if (range === undefined) {
        throw new InvalidValueError(
          `${action}: expected a key id, at least 4 leading hex digits of one, or a key prefix such as bt_live_3f2aB9`,
          { fields: { apiKey: idOrPrefix } },
        );
      }
      rows = await this.#conn.read(action, (q) =>
        q.rows<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id BETWEEN $1 AND $2 ORDER BY id LIMIT 20`, [
          range.low,
          range.high,
        ]),
      );
    }
    rows = rows.filter((r) => inScope(r, scope));
    const [first, second] = rows;
    if (first === undefined) throw notFound(idOrPrefix);
    if (second !== undefined) {
      throw new AmbiguousIdError(
        `${action}: it matches several keys (${first.id}, ${second.id}${rows.length > 2 ? ', ...' : ''}); give the key id`,
        { fields: { apiKey: idOrPrefix } },
      );
    }
    return toRecord(first);
  }

  async list(tenantId: string): Promise<readonly ApiKeyRecord[]> {
    checkId('tenant id', tenantId);
    const rows = await this.#conn.read('Cannot list API keys', (q) =>
      q.rows<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id`, [
        tenantId,
      ]),
    );
    return rows.map(toRecord);
  }

  async revoke(id: string, scope: TenantScope = {}): Promise<ApiKeyRecord> {
    checkId('API key id', id);
    return this.#conn.write(`Cannot revoke API key ${id}`, async (q) => {
      const row = await q.row<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
      if (row === undefined || !inScope(row, scope)) throw notFound(id);
      const updated = await q.row<ApiKeyRow>(
        `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING ${COLUMNS}`,
        [this.#clock.now(), id],
      );
      return toRecord(updated!);
    });
  }

  async touch(id: string, at: Date, minIntervalMs = DEFAULT_TOUCH_INTERVAL_MS): Promise<boolean> {
    checkId('API key id', id);
    const threshold = new Date(at.getTime() - Math.max(0, minIntervalMs));
    const action = `Cannot record use of API key ${id}`;
    // Read first: the common case (recently touched) costs a read, not a row lock.
    const row = await this.#conn.read(action, (q) =>
      q.row<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_keys WHERE id = $1', [id]),
    );
    if (row === undefined) throw notFound(id);
    if (row.last_used_at !== null && row.last_used_at.getTime() > threshold.getTime()) return false;
    const changed = await this.#conn.write(action, (q) =>
      q.run(
        'UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)',
        [at, id, threshold],
      ),
    );
    return changed === 1;
  }
}

function inScope(row: ApiKeyRow, scope: TenantScope): boolean {
  return scope.tenantId === undefined || row.tenant_id === scope.tenantId;
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Cannot find API key ${id}: no such key`, { fields: { apiKeyId: id } });
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
