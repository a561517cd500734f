import { backupToJson, type BackupRecord, type BackupJson } from '../store/catalog.js';
import { BACKUP_STATUSES } from '../store/backup-lifecycle.js';
import type { JobKind, JobRecord, JobStatus } from '../store/jobs.js';
import { ControlPlaneError } from './errors.js';

/**
 * The JSON forms of the agent protocol (/api/v1/agent/*): snake_case, ISO-8601 UTC times, as in the rest of the
 * API. Both ends use these functions, so that what the server writes is exactly what the agent reads.
 */
export interface JobJson {
  readonly id: string;
  readonly tenant_id: string;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly server_id: string | null;
  readonly schedule_id: string | null;
  readonly backup_id: string | null;
  readonly scheduled_for: string | null;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly run_after: string;
  readonly attempts: number;
  readonly lease_owner: string | null;
  readonly lease_expires_at: string | null;
  readonly heartbeat_at: string | null;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly error: { readonly code: string | null; readonly message: string } | null;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function jobToJson(job: JobRecord): JobJson {
  return {
    id: job.id,
    tenant_id: job.tenantId,
    kind: job.kind,
    status: job.status,
    server_id: job.serverId,
    schedule_id: job.scheduleId,
    backup_id: job.backupId,
    scheduled_for: iso(job.scheduledFor),
    payload: job.payload,
    run_after: job.runAfter.toISOString(),
    attempts: job.attempts,
    lease_owner: job.leaseOwner,
    lease_expires_at: iso(job.leaseExpiresAt),
    heartbeat_at: iso(job.heartbeatAt),
    created_at: job.createdAt.toISOString(),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    error: job.error,
  };
}

export function jobFromJson(value: unknown): JobRecord {
  const o = record(value, 'job');
  return {
    id: str(o, 'id'),
    tenantId: str(o, 'tenant_id'),
    kind: str(o, 'kind') as JobKind,
    status: str(o, 'status') as JobStatus,
    serverId: strOrNull(o, 'server_id'),
    scheduleId: strOrNull(o, 'schedule_id'),
    backupId: strOrNull(o, 'backup_id'),
    scheduledFor: dateOrNull(o, 'scheduled_for'),
    payload: record(o['payload'] ?? {}, 'job payload'),
    runAfter: date(o, 'run_after'),
    attempts: num(o, 'attempts'),
    leaseOwner: strOrNull(o, 'lease_owner'),
    leaseExpiresAt: dateOrNull(o, 'lease_expires_at'),
    heartbeatAt: dateOrNull(o, 'heartbeat_at'),
    createdAt: date(o, 'created_at'),
    startedAt: dateOrNull(o, 'started_at'),
    finishedAt: dateOrNull(o, 'finished_at'),
    error: errorOrNull(o['error']),
  };
}

/** A backup as the agent protocol carries it: the public form plus the two fields a round trip needs. */
export interface AgentBackupJson extends BackupJson {
  readonly tenant_id: string;
  readonly updated_at: string;
}

export function agentBackupToJson(b: BackupRecord): AgentBackupJson {
  return { ...backupToJson(b), tenant_id: b.tenantId, updated_at: b.updatedAt.toISOString() };
}

export function backupFromJson(value: unknown): BackupRecord {
  const o = record(value, 'backup');
  const status = str(o, 'status');
  if (!(BACKUP_STATUSES as readonly string[]).includes(status)) throw malformed('backup', 'status');
  const c = o['coordinates'];
  let coordinates: BackupRecord['coordinates'] = null;
  if (c !== null && c !== undefined) {
    const co = record(c, 'backup coordinates');
    coordinates = { file: str(co, 'file'), position: num(co, 'position'), gtid: strOrNull(co, 'gtid') };
  }
  return {
    id: str(o, 'id'),
    tenantId: str(o, 'tenant_id'),
    tenant: str(o, 'tenant'),
    serverId: strOrNull(o, 'server_id'),
    serverName: str(o, 'server_name'),
    scheduleId: strOrNull(o, 'schedule_id'),
    tool: str(o, 'tool') as BackupRecord['tool'],
    toolVersion: strOrNull(o, 'tool_version'),
    status: status as BackupRecord['status'],
    createdAt: date(o, 'created_at'),
    startedAt: dateOrNull(o, 'started_at'),
    dumpFinishedAt: dateOrNull(o, 'dump_finished_at'),
    finishedAt: dateOrNull(o, 'finished_at'),
    durationMs: numOrNull(o, 'duration_ms'),
    sizeBytes: numOrNull(o, 'size_bytes'),
    coordinates,
    location: strOrNull(o, 'location'),
    localDir: strOrNull(o, 'local_dir'),
    error: errorOrNull(o['error']),
    updatedAt: date(o, 'updated_at'),
  };
}

function malformed(what: string, field: string): ControlPlaneError {
  return new ControlPlaneError(
    `Cannot read ${what} from the control plane: field "${field}" is missing or of the wrong type`,
    { code: 'AGENT_PROTOCOL_INVALID', kind: 'internal', fields: { field } },
  );
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(what, '(root)');
  return value as Record<string, unknown>;
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw malformed('record', k);
  return v;
}

function strOrNull(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw malformed('record', k);
  return v;
}

function num(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw malformed('record', k);
  return v;
}

function numOrNull(o: Record<string, unknown>, k: string): number | null {
  const v = o[k];
  if (v === null || v === undefined) return null;
  return num(o, k);
}

function date(o: Record<string, unknown>, k: string): Date {
  const d = new Date(str(o, k));
  if (Number.isNaN(d.getTime())) throw malformed('record', k);
  return d;
}

function dateOrNull(o: Record<string, unknown>, k: string): Date | null {
  return o[k] === null || o[k] === undefined ? null : date(o, k);
}

function errorOrNull(v: unknown): { code: string | null; message: string } | null {
  if (v === null || v === undefined) return null;
  const e = record(v, 'error');
  return { code: strOrNull(e, 'code'), message: str(e, 'message') };
}
