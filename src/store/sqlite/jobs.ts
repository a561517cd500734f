import type { Clock } from '../../lib/clock.js';
import type { TenantScope } from '../catalog.js';
import {
  DuplicateError,
  InvalidValueError,
  JobActiveError,
  LeaseLostError,
  NotFoundError,
} from '../errors.js';
import { newId } from '../ids.js';
import type { ClaimRequest, JobKind, JobRecord, JobRepository, JobStatus, NewJob } from '../jobs.js';
import { checkId } from '../validate.js';
import { settle, sqliteCode, type SqliteConnection, type SqliteValue } from './driver.js';
import { fromDbTime, fromDbTimeOrNull, toDbTime } from './rows.js';

interface JobRow {
  id: string;
  tenant_id: string;
  kind: string;
  status: string;
  server_id: string | null;
  schedule_id: string | null;
  backup_id: string | null;
  scheduled_for: string | null;
  payload: string;
  run_after: string;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  heartbeat_at: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error_code: string | null;
  error_message: string | null;
}

const COLUMNS = `id, tenant_id, kind, status, server_id, schedule_id, backup_id, scheduled_for, payload, run_after,
  attempts, lease_owner, lease_expires_at, heartbeat_at, created_at, started_at, finished_at, error_code, error_message`;

export const JOB_KINDS: readonly JobKind[] = ['backup', 'upload', 'drill', 'drift', 'capture', 'retention'];
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** The error code a job gets when its agent stopped renewing the lease. */
export const LEASE_EXPIRED_CODE = 'JOB_LEASE_EXPIRED';

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;
const MAX_AGENT_ID = 200;
/** A lease longer than a day would leave a dead agent's job "running" for just as long. */
const MAX_LEASE_MS = 86_400_000;

export class SqliteJobRepository implements JobRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  enqueue(job: NewJob): Promise<JobRecord> {
    return settle(() => {
      if (job.id !== undefined) checkId('job id', job.id);
      checkId('tenant id', job.tenantId);
      checkKind(job.kind);
      const serverId = job.serverId ?? null;
      const scheduleId = job.scheduleId ?? null;
      const backupId = job.backupId ?? null;
      if (serverId !== null) checkId('server id', serverId);
      if (scheduleId !== null) checkId('schedule id', scheduleId);
      if (backupId !== null) checkId('backup id', backupId);
      const scheduledFor = job.scheduledFor ?? null;
      if (job.exclusive === true && serverId === null) {
        throw new InvalidValueError('Cannot enqueue job: an exclusive job needs its server id', {
          fields: { field: 'serverId' },
        });
      }
      if (scheduledFor !== null && scheduleId === null) {
        throw new InvalidValueError('Cannot enqueue job: a schedule slot needs its schedule id', {
          fields: { field: 'scheduledFor' },
        });
      }
      let payload: string;
      try {
        payload = JSON.stringify(job.payload ?? {});
      } catch (err) {
        throw new InvalidValueError('Cannot enqueue job: its payload is not JSON-serialisable', {
          cause: err,
        });
      }
      const action = `Cannot enqueue ${job.kind} job`;
      return this.#conn.write(action, (c) => {
        if (c.statement('SELECT 1 AS present FROM tenants WHERE id = ?').get(job.tenantId) === undefined) {
          throw new NotFoundError(`${action}: no tenant ${job.tenantId}`, {
            fields: { tenantId: job.tenantId },
          });
        }
        for (const [table, id] of [
          ['servers', serverId],
          ['schedules', scheduleId],
          ['backups', backupId],
        ] as const) {
          if (id === null) continue;
          const owner = c.statement(`SELECT tenant_id FROM ${table} WHERE id = ?`).get(id) as
            { tenant_id: string } | undefined;
          if (owner === undefined || owner.tenant_id !== job.tenantId) {
            const what = table.slice(0, -1);
            throw new NotFoundError(`${action}: no ${what} ${id} in tenant ${job.tenantId}`, {
              fields: { tenantId: job.tenantId, [`${what}Id`]: id },
            });
          }
        }
        if (job.exclusive === true && serverId !== null) {
          // Inside the write transaction (BEGIN IMMEDIATE): no other connection or process can enqueue between
          // this check and the insert below.
          const active = activeJob(c, serverId, job.kind);
          if (active !== undefined) {
            throw new JobActiveError(
              `${action}: ${job.kind} job ${active.id} of server ${serverId} is already ${active.status}`,
              {
                fields: {
                  serverId,
                  kind: job.kind,
                  jobId: active.id,
                  backupId: active.backupId,
                  status: active.status,
                },
              },
            );
          }
        }
        const id = job.id ?? newId();
        const now = this.#clock.now();
        try {
          c.statement(
            `INSERT INTO jobs (id, tenant_id, kind, status, server_id, schedule_id, backup_id, scheduled_for, payload,
               run_after, created_at)
             VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            id,
            job.tenantId,
            job.kind,
            serverId,
            scheduleId,
            backupId,
            scheduledFor === null ? null : toDbTime(scheduledFor),
            payload,
            toDbTime(job.runAfter ?? now),
            toDbTime(now),
          );
        } catch (err) {
          const code = sqliteCode(err);
          if (code === 'SQLITE_CONSTRAINT_UNIQUE' && scheduleId !== null) {
            throw new DuplicateError(
              `${action}: slot ${scheduledFor?.toISOString() ?? 'none'} of schedule ${scheduleId} is already taken`,
              {
                cause: err,
                fields: { scheduleId, scheduledFor: scheduledFor?.toISOString() ?? null },
              },
            );
          }
          if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
            throw new DuplicateError(`${action}: a job with id ${id} exists`, {
              cause: err,
              fields: { jobId: id },
            });
          }
          throw err;
        }
        return read(c, id);
      });
    });
  }

  get(id: string, scope: TenantScope = {}): Promise<JobRecord> {
    return settle(() => {
      checkId('job id', id);
      const row = this.#conn.read(`Cannot read job ${id}`, (c) =>
        c.statement(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`).get(id),
      ) as JobRow | undefined;
      if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
        throw notFound(id);
      }
      return toRecord(row);
    });
  }

  list(filter: {
    readonly tenantId?: string;
    readonly status?: JobStatus | readonly JobStatus[];
    readonly kind?: JobKind;
    readonly serverId?: string;
    readonly limit?: number;
  }): Promise<readonly JobRecord[]> {
    return settle(() => {
      const where: string[] = [];
      const params: SqliteValue[] = [];
      if (filter.tenantId !== undefined) {
        checkId('tenant id', filter.tenantId);
        where.push('tenant_id = ?');
        params.push(filter.tenantId);
      }
      if (filter.serverId !== undefined) {
        checkId('server id', filter.serverId);
        where.push('server_id = ?');
        params.push(filter.serverId);
      }
      if (filter.kind !== undefined) {
        checkKind(filter.kind);
        where.push('kind = ?');
        params.push(filter.kind);
      }
      const statuses: readonly JobStatus[] =
        filter.status === undefined
          ? []
          : typeof filter.status === 'string'
            ? [filter.status]
            : filter.status;
      for (const s of statuses) {
        if (!JOB_STATUSES.includes(s)) {
          throw new InvalidValueError(`Cannot list jobs with status "${String(s)}": not a job status`, {
            fields: { status: s },
          });
        }
      }
      if (statuses.length > 0) {
        where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
        params.push(...statuses);
      }
      const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
        throw new InvalidValueError(
          `Cannot list jobs: limit must be between 1 and ${MAX_LIST_LIMIT}, got ${limit}`,
          { fields: { limit } },
        );
      }
      params.push(limit);
      const rows = this.#conn.read('Cannot list jobs', (c) =>
        c
          .statement(
            `SELECT ${COLUMNS} FROM jobs ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
             ORDER BY created_at DESC, id DESC LIMIT ?`,
          )
          .all(...params),
      ) as JobRow[];
      return rows.map(toRecord);
    });
  }

  claim(request: ClaimRequest): Promise<JobRecord | undefined> {
    return settle(() => {
      checkAgent(request.agentId, 'claim a job');
      checkLease(request.leaseMs, 'claim a job');
      if (request.kinds.length === 0) {
        throw new InvalidValueError('Cannot claim a job: expected at least one job kind', {
          fields: { field: 'kinds' },
        });
      }
      request.kinds.forEach(checkKind);
      request.tenantIds?.forEach((id) => checkId('tenant id', id));
      request.serverIds?.forEach((id) => checkId('server id', id));
      // An empty restriction matches nothing, not everything.
      if (request.tenantIds?.length === 0 || request.serverIds?.length === 0) return undefined;

      const where = [
        "status = 'queued'",
        `kind IN (${request.kinds.map(() => '?').join(', ')})`,
        'run_after <= ?',
      ];
      const now = this.#clock.now();
      const params: SqliteValue[] = [...request.kinds, toDbTime(now)];
      if (request.tenantIds !== undefined) {
        where.push(`tenant_id IN (${request.tenantIds.map(() => '?').join(', ')})`);
        params.push(...request.tenantIds);
      }
      if (request.serverIds !== undefined) {
        where.push(`server_id IN (${request.serverIds.map(() => '?').join(', ')})`);
        params.push(...request.serverIds);
      }
      // BEGIN IMMEDIATE (inside `write`) takes the write lock before the SELECT: no other connection or process
      // can claim between the read of the oldest job and the update that takes it.
      return this.#conn.write(`Cannot claim a job for agent ${request.agentId}`, (c) => {
        const candidate = c
          .statement(
            `SELECT id FROM jobs WHERE ${where.join(' AND ')} ORDER BY run_after, created_at, id LIMIT 1`,
          )
          .get(...params) as { id: string } | undefined;
        if (candidate === undefined) return undefined;
        const at = toDbTime(now);
        const taken = c
          .statement(
            `UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?, heartbeat_at = ?,
               started_at = COALESCE(started_at, ?), attempts = attempts + 1
             WHERE id = ? AND status = 'queued'`,
          )
          .run(request.agentId, toDbTime(new Date(now.getTime() + request.leaseMs)), at, at, candidate.id);
        // The write lock makes this impossible on SQLite; the condition keeps the statement right elsewhere.
        if (taken.changes !== 1) return undefined;
        return read(c, candidate.id);
      });
    });
  }

  heartbeat(id: string, agentId: string, leaseMs: number): Promise<JobRecord> {
    return settle(() => {
      checkId('job id', id);
      checkAgent(agentId, `renew the lease of job ${id}`);
      checkLease(leaseMs, `renew the lease of job ${id}`);
      return this.#conn.write(`Cannot renew the lease of job ${id}`, (c) => {
        held(c, id, agentId, 'renew the lease of');
        const now = this.#clock.now();
        c.statement('UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ? WHERE id = ?').run(
          toDbTime(new Date(now.getTime() + leaseMs)),
          toDbTime(now),
          id,
        );
        return read(c, id);
      });
    });
  }

  finish(
    id: string,
    agentId: string,
    outcome:
      | { readonly status: 'succeeded' }
      | { readonly status: 'failed'; readonly error: { code: string | null; message: string } },
  ): Promise<JobRecord> {
    return settle(() => {
      checkId('job id', id);
      checkAgent(agentId, `finish job ${id}`);
      if (outcome.status !== 'succeeded' && outcome.status !== 'failed') {
        throw new InvalidValueError(
          `Cannot finish job ${id}: status must be succeeded or failed, got "${String((outcome as { status: unknown }).status)}"`,
          { fields: { jobId: id } },
        );
      }
      if (outcome.status === 'failed' && outcome.error.message.length === 0) {
        throw new InvalidValueError(`Cannot mark job ${id} failed: expected an error message saying why`, {
          fields: { jobId: id },
        });
      }
      return this.#conn.write(`Cannot finish job ${id}`, (c) => {
        held(c, id, agentId, 'finish');
        const error = outcome.status === 'failed' ? outcome.error : null;
        c.statement(
          'UPDATE jobs SET status = ?, finished_at = ?, error_code = ?, error_message = ? WHERE id = ?',
        ).run(outcome.status, toDbTime(this.#clock.now()), error?.code ?? null, error?.message ?? null, id);
        return read(c, id);
      });
    });
  }

  expireLeases(): Promise<readonly JobRecord[]> {
    return settle(() =>
      this.#conn.write('Cannot expire job leases', (c) => {
        const now = this.#clock.now();
        const expired = c
          .statement(
            // Served by the partial index jobs_leased (lease_expires_at) WHERE status = 'running'.
            `SELECT ${COLUMNS} FROM jobs WHERE status = 'running' AND lease_expires_at <= ? ORDER BY lease_expires_at, id`,
          )
          .all(toDbTime(now)) as JobRow[];
        const fail = c.statement(
          `UPDATE jobs SET status = 'failed', finished_at = ?, error_code = ?, error_message = ?
           WHERE id = ? AND status = 'running'`,
        );
        return expired.map((row) => {
          const last = row.heartbeat_at ?? row.started_at ?? row.created_at;
          fail.run(
            toDbTime(now),
            LEASE_EXPIRED_CODE,
            `Cannot finish ${row.kind} job ${row.id}: agent ${row.lease_owner ?? 'unknown'} lost its lease (no heartbeat since ${last})`,
            row.id,
          );
          return read(c, row.id);
        });
      }),
    );
  }

  activeFor(serverId: string, kind: JobKind): Promise<JobRecord | undefined> {
    return settle(() => {
      checkId('server id', serverId);
      checkKind(kind);
      return this.#conn.read(`Cannot look up jobs of server ${serverId}`, (c) =>
        activeJob(c, serverId, kind),
      );
    });
  }
}

/** The oldest queued or running job of a kind for a server; served by the partial index jobs_active. */
function activeJob(c: SqliteConnection, serverId: string, kind: JobKind): JobRecord | undefined {
  const row = c
    .statement(
      `SELECT ${COLUMNS} FROM jobs WHERE server_id = ? AND kind = ? AND status IN ('queued', 'running')
       ORDER BY created_at, id LIMIT 1`,
    )
    .get(serverId, kind) as JobRow | undefined;
  return row === undefined ? undefined : toRecord(row);
}

/** Throws LeaseLostError unless `agentId` holds the running job `id`. */
function held(c: SqliteConnection, id: string, agentId: string, verb: string): void {
  const row = c.statement('SELECT status, lease_owner FROM jobs WHERE id = ?').get(id) as
    { status: string; lease_owner: string | null } | undefined;
  if (row === undefined) throw notFound(id);
  if (row.status !== 'running' || row.lease_owner !== agentId) {
    const why =
      row.status === 'running'
        ? `agent ${row.lease_owner ?? 'unknown'} holds it`
        : `it is ${row.status}${row.status === 'failed' ? ' (its lease may have expired)' : ''}`;
    throw new LeaseLostError(`Cannot ${verb} job ${id}: agent ${agentId} no longer holds it, ${why}`, {
      fields: { jobId: id, agentId, status: row.status },
    });
  }
}

function checkKind(kind: string): asserts kind is JobKind {
  if (!(JOB_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidValueError(`Cannot use job kind "${kind}": expected one of ${JOB_KINDS.join(', ')}`, {
      fields: { kind },
    });
  }
}

function checkAgent(agentId: string, action: string): void {
  if (agentId.length === 0 || agentId.length > MAX_AGENT_ID) {
    throw new InvalidValueError(
      `Cannot ${action}: agent id must be 1 to ${MAX_AGENT_ID} characters long, got ${agentId.length}`,
      { fields: { field: 'agentId' } },
    );
  }
}

function checkLease(leaseMs: number, action: string): void {
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_LEASE_MS) {
    throw new InvalidValueError(`Cannot ${action}: lease must be 1 to ${MAX_LEASE_MS} ms, got ${leaseMs}`, {
      fields: { leaseMs },
    });
  }
}

function read(c: SqliteConnection, id: string): JobRecord {
  const row = c.statement(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
  if (row === undefined) throw notFound(id);
  return toRecord(row);
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`Cannot find job ${id}: no such job`, { fields: { jobId: id } });
}

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind as JobKind,
    status: row.status as JobStatus,
    serverId: row.server_id,
    scheduleId: row.schedule_id,
    backupId: row.backup_id,
    scheduledFor: fromDbTimeOrNull(row.scheduled_for),
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    runAfter: fromDbTime(row.run_after),
    attempts: row.attempts,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: fromDbTimeOrNull(row.lease_expires_at),
    heartbeatAt: fromDbTimeOrNull(row.heartbeat_at),
    createdAt: fromDbTime(row.created_at),
    startedAt: fromDbTimeOrNull(row.started_at),
    finishedAt: fromDbTimeOrNull(row.finished_at),
    error: row.error_message === null ? null : { code: row.error_code, message: row.error_message },
  };
}
