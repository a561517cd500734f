import type { Clock } from '../../lib/clock.js';
import type { ApiKeyRecord, ApiKeyRepository, NewApiKeyRecord } from '../api-keys.js';
import type { TenantScope } from '../catalog.js';
import { AmbiguousIdError, DuplicateError, InvalidValueError, NotFoundError } from '../errors.js';
import { idPrefixRange, newId } from '../ids.js';
import { checkId } from '../validate.js';
import { settle, sqliteCode, type SqliteConnection } from './driver.js';
import { fromDbTime, fromDbTimeOrNull, toDbTime } from './rows.js';

interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string | null;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

// The hash is looked up by, never read back into a record.
const COLUMNS = 'id, tenant_id, name, prefix, created_at, last_used_at, revoked_at';

const HASH = /^[0-9a-f]{64}$/;
/** What the store keeps: `bt_live_` and 6 characters (src/server/api-keys.ts). */
const DISPLAY_PREFIX = /^bt_live_[0-9A-Za-z]{6}$/;
/** What `resolve` accepts: the display prefix, a shorter start of it (4 characters at least), or the whole key. */
const PREFIX_QUERY = /^bt_live_[0-9A-Za-z]{4,43}$/;
const DISPLAY_LENGTH = 14;
const MAX_NAME = 200;

/** How often a key's last use is written by default: enough for "used today", cheap for a busy key. */
export const DEFAULT_TOUCH_INTERVAL_MS = 60_000;

export class SqliteApiKeyRepository implements ApiKeyRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  create(key: NewApiKeyRecord): Promise<ApiKeyRecord> {
    return settle(() => {
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
          { fields: { prefix: key.prefix } },
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
      return this.#conn.write(action, (c) => {
        if (c.statement('SELECT 1 AS present FROM tenants WHERE id = ?').get(key.tenantId) === undefined) {
          throw new NotFoundError(`${action}: no tenant ${key.tenantId}`, {
            fields: { tenantId: key.tenantId },
          });
        }
        const id = key.id ?? newId();
        try {
          c.statement(
            `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
          ).run(id, key.tenantId, name, key.prefix, key.keyHash, toDbTime(this.#clock.now()));
        } catch (err) {
          const code = sqliteCode(err);
          if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new DuplicateError(
              `${action}: a key with the same ${code.endsWith('UNIQUE') ? 'hash' : 'id'} exists`,
              {
                cause: err,
                fields: { apiKeyId: id },
              },
            );
          }
          throw err;
        }
        return toRecord(c.statement(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`).get(id) as ApiKeyRow);
      });
    });
  }

  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return settle(() => {
      if (!HASH.test(keyHash)) return undefined;
      const row = this.#conn.read('Cannot look up API key', (c) =>
        c.statement(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?`).get(keyHash),
      ) as ApiKeyRow | undefined;
      return row === undefined ? undefined : toRecord(row);
    });
  }

  get(id: string, scope: TenantScope = {}): Promise<ApiKeyRecord> {
    return settle(() => {
      checkId('API key id', id);
      const row = this.#conn.read(`Cannot read API key ${id}`, (c) =>
        c.statement(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`).get(id),
      ) as ApiKeyRow | undefined;
      if (row === undefined || !inScope(row, scope)) throw notFound(id);
      return toRecord(row);
    });
  }

  resolve(idOrPrefix: string, scope: TenantScope = {}): Promise<ApiKeyRecord> {
    return settle(() => {
      const action = `Cannot find API key "${idOrPrefix}"`;
      let rows: ApiKeyRow[];
      if (PREFIX_QUERY.test(idOrPrefix)) {
        // Display prefixes are short on purpose and may collide: a collision is reported, never guessed.
        const wanted = idOrPrefix.slice(0, DISPLAY_LENGTH);
        rows = this.#conn.read(action, (c) =>
          c
            .statement(
              `SELECT ${COLUMNS} FROM api_keys WHERE substr(prefix, 1, length(?)) = ? ORDER BY id LIMIT 20`,
            )
            .all(wanted, wanted),
        ) as ApiKeyRow[];
      } else {
        const range = idPrefixRange(idOrPrefix);
        if (range === undefined) {
          throw new InvalidValueError(
            `${action}: expected a key id, at least 4 leading hex digits of one, or a key prefix such as bt_live_3f2aB9`,
            { fields: { apiKey: idOrPrefix } },
          );
        }
        rows = this.#conn.read(action, (c) =>
          c
            .statement(`SELECT ${COLUMNS} FROM api_keys WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 20`)
            .all(range.low, range.high),
        ) as ApiKeyRow[];
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
    });
  }

  list(tenantId: string): Promise<readonly ApiKeyRecord[]> {
    return settle(() => {
      checkId('tenant id', tenantId);
      const rows = this.#conn.read('Cannot list API keys', (c) =>
        c
          .statement(`SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`)
          .all(tenantId),
      ) as ApiKeyRow[];
      return rows.map(toRecord);
    });
  }

  revoke(id: string, scope: TenantScope = {}): Promise<ApiKeyRecord> {
    return settle(() => {
      checkId('API key id', id);
      return this.#conn.write(`Cannot revoke API key ${id}`, (c) => {
        const row = c.statement(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`).get(id) as
          ApiKeyRow | undefined;
        if (row === undefined || !inScope(row, scope)) throw notFound(id);
        c.statement('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(
          toDbTime(this.#clock.now()),
          id,
        );
        return toRecord(c.statement(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`).get(id) as ApiKeyRow);
      });
    });
  }

  touch(id: string, at: Date, minIntervalMs = DEFAULT_TOUCH_INTERVAL_MS): Promise<boolean> {
    return settle(() => {
      checkId('API key id', id);
      const now = toDbTime(at);
      const threshold = toDbTime(new Date(at.getTime() - Math.max(0, minIntervalMs)));
      // Read first: the common case (recently touched) costs a read, not a write lock.
      const row = this.#conn.read(`Cannot record use of API key ${id}`, (c) =>
        c.statement('SELECT last_used_at FROM api_keys WHERE id = ?').get(id),
      ) as { last_used_at: string | null } | undefined;
      if (row === undefined) throw notFound(id);
      if (row.last_used_at !== null && row.last_used_at > threshold) return false;
      return this.#conn.write(`Cannot record use of API key ${id}`, (c) => {
        const result = c
          .statement(
            'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
          )
          .run(now, id, threshold);
        return result.changes === 1;
      });
    });
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
    createdAt: fromDbTime(row.created_at),
    lastUsedAt: fromDbTimeOrNull(row.last_used_at),
    revokedAt: fromDbTimeOrNull(row.revoked_at),
  };
}
