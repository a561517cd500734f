import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { BackupStatus } from './backup-lifecycle.js';
import type { StoreError } from './errors.js';

export type { BackupStatus } from './backup-lifecycle.js';

/** The dump tools a backup can be taken with (same names as the manifest's `tool.name`). */
export const BACKUP_TOOLS = ['mydumper', 'mariadb-backup', 'xtrabackup'] as const;
export type BackupTool = (typeof BACKUP_TOOLS)[number];

/**
 * A position in a server's binlog history (same shape as the manifest's coordinates). Binlog positions are byte
 * offsets in one file and stay far below 2^53, so a safe integer holds them exactly; the store refuses any other.
 */
export interface Coordinates {
  readonly file: string;
  readonly position: number;
  /** GTID set at that point: MySQL `uuid:1-42,...` or MariaDB `0-1-100,...`; null when the server has none. */
  readonly gtid: string | null;
}

/** Why a backup failed: our error code when the failure was a dbtrail error, and the one-line message. */
export interface BackupFailure {
  readonly code: string | null;
  readonly message: string;
}

/** One backup as the catalog holds it. */
export interface BackupRecord {
  readonly id: string;
  readonly tenantId: string;
  /** The tenant's name (object paths start with it). */
  readonly tenant: string;
  /** The registered server, or null for a CLI-driven backup of a server that is not registered. */
  readonly serverId: string | null;
  /** The server's name when the backup was taken; kept even when the server is renamed or removed. */
  readonly serverName: string;
  /** The schedule that caused this backup; null for an on-demand one. */
  readonly scheduleId: string | null;
  readonly tool: BackupTool;
  readonly toolVersion: string | null;
  readonly status: BackupStatus;
  readonly createdAt: Date;
  /** When the dump step started (status `running`). */
  readonly startedAt: Date | null;
  /** When the dump step ended and the upload began (status `uploading`). */
  readonly dumpFinishedAt: Date | null;
  /** When the backup reached `succeeded` or `failed`. */
  readonly finishedAt: Date | null;
  /** finishedAt - startedAt, in milliseconds. */
  readonly durationMs: number | null;
  /** Bytes stored (after compression and encryption). */
  readonly sizeBytes: number | null;
  readonly coordinates: Coordinates | null;
  /** Object-store URL of the backup's prefix, e.g. `s3://bucket/prefix/acme/db1/2024-05-01/101500/`. */
  readonly location: string | null;
  /** Local directory the dump was written to. */
  readonly localDir: string | null;
  readonly error: BackupFailure | null;
  readonly updatedAt: Date;
}

export interface NewBackup {
  /** A caller-chosen id (a UUID), e.g. already used to name the dump directory; a new one by default. */
  readonly id?: string;
  readonly tenantId: string;
  readonly serverName: string;
  /** Must belong to `tenantId`. */
  readonly serverId?: string | null;
  /** Must belong to `tenantId`. */
  readonly scheduleId?: string | null;
  readonly tool: BackupTool;
  readonly toolVersion?: string | null;
  /** `queued` (default) for a backup waiting for an agent; `running` when the dump starts now. */
  readonly status?: 'queued' | 'running';
  readonly localDir?: string | null;
}

/** Facts learned while a backup runs. Only fields that are present are written. */
export interface BackupFacts {
  /**
   * The tool actually run, when it differs from the one asked for: `xtrabackup` on a MariaDB server runs
   * mariadb-backup, and the history must say so.
   */
  readonly tool?: BackupTool;
  readonly toolVersion?: string;
  readonly coordinates?: Coordinates;
  readonly sizeBytes?: number;
  readonly location?: string;
  readonly localDir?: string;
}

export interface TransitionChanges extends BackupFacts {
  /** Required when moving to `failed`. */
  readonly error?: BackupFailure;
}

export interface BackupFilter {
  /** Always required: a listing never crosses tenants. */
  readonly tenantId: string;
  readonly serverName?: string;
  readonly serverId?: string;
  readonly scheduleId?: string;
  readonly status?: BackupStatus | readonly BackupStatus[];
  /** Only backups listed after this one (its id), for paging through history. */
  readonly before?: string;
  /** 1..MAX_LIST_LIMIT; DEFAULT_LIST_LIMIT when omitted. */
  readonly limit?: number;
}

/** One backup of `listJson`: its id, and its public JSON form as text. */
export interface BackupJsonText {
  readonly id: string;
  readonly json: string;
}

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 10_000;

/** Restricts a by-id operation to one tenant: another tenant's backup is "not found". */
export interface TenantScope {
  readonly tenantId?: string;
}

/** The outcome of one item of a batch: batches never stop halfway on one bad item. */
export type ItemResult =
  | { readonly id: string; readonly ok: true }
  | { readonly id: string; readonly ok: false; readonly error: StoreError };

/**
 * The record of backups. Every method is atomic on its own; status changes are compare-and-set, so two workers
 * racing on one backup cannot both win.
 */
export interface BackupCatalog {
  create(backup: NewBackup): Promise<BackupRecord>;
  /** Throws NotFoundError when there is no such backup (in that tenant). */
  get(id: string, scope?: TenantScope): Promise<BackupRecord>;
  /** The full id of the one backup whose id starts with `idOrPrefix` (at least 4 hex digits). */
  resolveId(idOrPrefix: string, scope?: TenantScope): Promise<string>;
  /** Newest first (by creation time, then id). */
  list(filter: BackupFilter): Promise<readonly BackupRecord[]>;
  /**
   * The same listing as `list`, each backup as the JSON text of `backupToJson(record)` (with its id beside it),
   * for responses that only serialise the records: the backend may write the JSON itself, much faster.
   */
  listJson(filter: BackupFilter): Promise<readonly BackupJsonText[]>;
  /**
   * Moves a backup to `to` and records `changes` in the same write. Sets startedAt on `running`,
   * dumpFinishedAt on `uploading`, finishedAt and durationMs on `succeeded`/`failed`. Throws
   * IllegalTransitionError for a move the lifecycle forbids, BackupIncompleteError for `succeeded` without
   * coordinates or location, InvalidValueError for `failed` without an error.
   */
  transition(id: string, to: BackupStatus, changes?: TransitionChanges): Promise<BackupRecord>;
  /** Records facts without a status change; refused (StateConflictError) once the backup has succeeded. */
  record(id: string, facts: BackupFacts): Promise<BackupRecord>;
  /** Deletes catalog rows (objects are the caller's business). Running or uploading backups are refused. */
  delete(ids: readonly string[], scope?: TenantScope): Promise<readonly ItemResult[]>;
}

/** The failure details of any thrown value, for `transition(id, 'failed', { error: failureOf(err) })`. */
export function failureOf(err: unknown): BackupFailure {
  return isDbtrailError(err)
    ? { code: err.code, message: err.message }
    : { code: null, message: messageOf(err) };
}

/**
 * The public JSON form of a backup (CLI `--json`, REST API): snake_case, ISO-8601 UTC times, sizes in bytes.
 * Public surface: add fields, never rename or remove them.
 */
export interface BackupJson {
  readonly id: string;
  readonly tenant: string;
  readonly server_id: string | null;
  readonly server_name: string;
  readonly schedule_id: string | null;
  readonly tool: BackupTool;
  readonly tool_version: string | null;
  readonly status: BackupStatus;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly dump_finished_at: string | null;
  readonly finished_at: string | null;
  readonly duration_ms: number | null;
  readonly size_bytes: number | null;
  readonly coordinates: {
    readonly file: string;
    readonly position: number;
    readonly gtid: string | null;
  } | null;
  readonly location: string | null;
  readonly local_dir: string | null;
  readonly error: { readonly code: string | null; readonly message: string } | null;
}

export function backupToJson(b: BackupRecord): BackupJson {
  const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
  return {
    id: b.id,
    tenant: b.tenant,
    server_id: b.serverId,
    server_name: b.serverName,
    schedule_id: b.scheduleId,
    tool: b.tool,
    tool_version: b.toolVersion,
    status: b.status,
    created_at: b.createdAt.toISOString(),
    started_at: iso(b.startedAt),
    dump_finished_at: iso(b.dumpFinishedAt),
    finished_at: iso(b.finishedAt),
    duration_ms: b.durationMs,
    size_bytes: b.sizeBytes,
    coordinates:
      b.coordinates === null
        ? null
        : { file: b.coordinates.file, position: b.coordinates.position, gtid: b.coordinates.gtid },
    location: b.location,
    local_dir: b.localDir,
    error: b.error === null ? null : { code: b.error.code, message: b.error.message },
  };
}
