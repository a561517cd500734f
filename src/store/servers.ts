import type { TenantScope } from './catalog.js';

/**
 * A registered source: a tracked MySQL/MariaDB with the connection fields an agent needs. The password is held
 * only as ciphertext (encrypted by the caller before it reaches the store) and is never part of a record, so it
 * cannot leak through a listing or an API response by accident.
 */
export interface ServerRecord {
  readonly id: string;
  readonly tenantId: string;
  /** Used in object paths; unique within the tenant. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly hasPassword: boolean;
  /** Per-server defaults (tool, threads, filters...), as given at registration. */
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewServer {
  readonly id?: string;
  readonly tenantId: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** The password encrypted at rest by the caller; null or absent when the server needs none. */
  readonly passwordCiphertext?: Uint8Array | null;
  readonly defaults?: Readonly<Record<string, unknown>>;
}

/** Fields to change; absent ones stay. */
export interface ServerPatch {
  readonly name?: string;
  readonly host?: string;
  readonly port?: number;
  readonly username?: string;
  /** New ciphertext; null removes the password. */
  readonly passwordCiphertext?: Uint8Array | null;
  readonly defaults?: Readonly<Record<string, unknown>>;
}

export interface ServerRepository {
  /** Throws DuplicateError when the tenant already has a server of that name, NotFoundError for no such tenant. */
  create(server: NewServer): Promise<ServerRecord>;
  /** Throws NotFoundError (also for another tenant's server). */
  get(id: string, scope?: TenantScope): Promise<ServerRecord>;
  findByName(tenantId: string, name: string): Promise<ServerRecord | undefined>;
  /** By name. */
  list(tenantId: string): Promise<readonly ServerRecord[]>;
  /** The stored ciphertext of the password, for the one place that decrypts it. Throws NotFoundError. */
  passwordCiphertext(id: string, scope?: TenantScope): Promise<Uint8Array | null>;
  /** Throws NotFoundError, DuplicateError when renamed to a name the tenant already uses. */
  update(id: string, patch: ServerPatch, scope?: TenantScope): Promise<ServerRecord>;
  /**
   * Removes the registration with its schedules and jobs; its backups stay in the catalog (server id null, name
   * kept). Throws NotFoundError, StateConflictError while a job of the server runs or when the change index
   * holds its captured changes.
   */
  delete(id: string, scope?: TenantScope): Promise<void>;
}

/**
 * The context a server's password is sealed under (src/lib/secret-box.ts): binds the ciphertext to this one
 * server, so a ciphertext copied onto another server's row does not open there.
 */
export function serverPasswordContext(serverId: string): string {
  return `server:${serverId}`;
}
