import type { TenantScope } from './catalog.js';

/**
 * API keys of tenants. The store never sees a key, only its SHA-256 (made by src/server/api-keys.ts) and a short
 * display prefix, so a leaked database or listing cannot be used to call the API.
 */
export interface ApiKeyRecord {
  readonly id: string;
  readonly tenantId: string;
  /** A label chosen by the person who made the key; null when none was given. */
  readonly name: string | null;
  /** `bt_live_` and the first random characters: tells keys apart, cannot be used. */
  readonly prefix: string;
  readonly createdAt: Date;
  /** Updated at most about once a minute per key (see `touch`), so a busy key does not write on every request. */
  readonly lastUsedAt: Date | null;
  /** Set once; a revoked key never authenticates again. */
  readonly revokedAt: Date | null;
}

export interface NewApiKeyRecord {
  readonly id?: string;
  readonly tenantId: string;
  readonly name?: string | null;
  readonly prefix: string;
  /** Lower-case hex SHA-256 of the whole key. */
  readonly keyHash: string;
}

export interface ApiKeyRepository {
  /** Throws NotFoundError for no such tenant, DuplicateError when the hash is already stored. */
  create(key: NewApiKeyRecord): Promise<ApiKeyRecord>;
  /** The key with this hash, revoked or not (the caller checks `revokedAt`); undefined when unknown. */
  findByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** Throws NotFoundError (also for another tenant's key). */
  get(id: string, scope?: TenantScope): Promise<ApiKeyRecord>;
  /**
   * The one key named by its id, by at least 4 leading hex digits of its id, or by its display prefix
   * (`bt_live_3f2aB9`). Throws NotFoundError, or AmbiguousIdError when several keys match.
   */
  resolve(idOrPrefix: string, scope?: TenantScope): Promise<ApiKeyRecord>;
  /** Oldest first, revoked ones included. */
  list(tenantId: string): Promise<readonly ApiKeyRecord[]>;
  /** Revokes the key; revoking a revoked key keeps its first revocation time. Throws NotFoundError. */
  revoke(id: string, scope?: TenantScope): Promise<ApiKeyRecord>;
  /**
   * Records a use at `at`, unless one at or after `at - minIntervalMs` is already recorded: a cheap no-op for a
   * key in constant use. Returns whether it wrote.
   */
  touch(id: string, at: Date, minIntervalMs?: number): Promise<boolean>;
}
