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
import { pgCode, pgConstraint, UNIQUE_VIOLATION, type PgConnection, type PgQuery } from './driver.js';

interface JobRow {
  id: string;
  tenant_id: string;
  kind: string;
  status: string;
  server_id: string | null;
  schedule_id: string | null;
  backup_id: string | null;
  scheduled_for: Date | null;
  payload: string;
  run_after: Date;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  heartbeat_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  error_code: string | null;
  error_message: string | null;
}

const COLUMNS = `id, tenant_id, kind, status, server_id, schedule_id, backup_id, scheduled_for, payload, run_after,
  attempts, lease_owner, lease_expires_at, heartbeat_at, created_at, started_at, finished_at, error_code, error_message`;

// The same rules as the SQLite repository (src/store/sqlite/jobs.ts), so both refuse the same input.
const JOB_KINDS: readonly JobKind[] = ['backup', 'upload', 'drill', 'drift', 'capture', 'retention'];
const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const LEASE_EXPIRED_CODE = 'JOB_LEASE_EXPIRED';
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;
const MAX_AGENT_ID = 200;
const MAX_LEASE_MS = 86_400_000;

export class PostgresJobRepository implements JobRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async enqueue(job: NewJob): Promise<JobRecord> {
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
      throw new InvalidValueError('Cannot enqueue job: its payload is not JSON-serialisable', { cause: err });
    }
    const action = `Cannot enqueue ${job.kind} job`;
    return this.#conn.write(action, async (q) => {
      if ((await q.row('SELECT 1 FROM tenants WHERE id = $1', [job.tenantId])) === undefined) {
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
        // An exclusive job locks its server's row: a second exclusive enqueue for the server waits here until
        // this transaction ends, then sees its job. NO KEY UPDATE leaves foreign-key checks of other inserts free.
        const lock = table === 'servers' && job.exclusive === true ? ' FOR NO KEY UPDATE' : '';
        const owner = await q.row<{ tenant_id: string }>(
          `SELECT tenant_id FROM ${table} WHERE id = $1${lock}`,
          [id],
        );
        if (owner === undefined || owner.tenant_id !== job.tenantId) {
          const what = table.slice(0, -1);
          throw new NotFoundError(`${action}: no ${what} ${id} in tenant ${job.tenantId}`, {
            fields: { tenantId: job.tenantId, [`${what}Id`]: id },
          });
        }
      }
      if (job.exclusive === true && serverId !== null) {
        const active = await activeJob(q, serverId, job.kind);
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
        const row = await q.row<JobRow>(
          `INSERT INTO jobs (id, tenant_id, kind, status, server_id, schedule_id, backup_id, scheduled_for, payload,
             run_after, created_at)
           VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
          [
            id,
            job.tenantId,
            job.kind,
            serverId,
            scheduleId,
            backupId,
            scheduledFor,
            payload,
            job.runAfter ?? now,
            now,
          ],
        );
        return toRecord(row!);
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          if (pgConstraint(err) === 'jobs_schedule_slot' && scheduleId !== null) {
            throw new DuplicateError(
              `${action}: slot ${scheduledFor?.toISOString() ?? 'none'} of schedule ${scheduleId} is already taken`,
              { cause: err, fields: { scheduleId, scheduledFor: scheduledFor?.toISOString() ?? null } },
            );
          }
          throw new DuplicateError(`${action}: a job with id ${id} exists`, {
            cause: err,
            fields: { jobId: id },
          });
        }
        throw err;
      }
    });
  }

  async get(id: string, scope: TenantScope = {}): Promise<JobRecord> {
    checkId('job id', id);
    const row = await this.#conn.read(`Cannot read job ${id}`, (q) => readRow(q, id));
    if (row === undefined || (scope.tenantId !== undefined && row.tenant_id !== scope.tenantId)) {
      throw notFound(id);
    }
    return toRecord(row);
  }

  async list(filter: {
    readonly tenantId?: string;
    readonly status?: JobStatus | readonly JobStatus[];
    readonly kind?: JobKind;
    readonly serverId?: string;
    readonly limit?: number;
  }): Promise<readonly JobRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (filter.tenantId !== undefined) {
      checkId('tenant id', filter.tenantId);
      add((p) => `tenant_id = ${p}`, filter.tenantId);
    }
    if (filter.serverId !== undefined) {
      checkId('server id', filter.serverId);
      add((p) => `server_id = ${p}`, filter.serverId);
    }
    if (filter.kind !== undefined) {
      checkKind(filter.kind);
      add((p) => `kind = ${p}`, filter.kind);
    }
    const statuses: readonly JobStatus[] =
      filter.status === undefined ? [] : typeof filter.status === 'string' ? [filter.status] : filter.status;
    for (const s of statuses) {
      if (!JOB_STATUSES.includes(s)) {
        throw new InvalidValueError(`Cannot list jobs with status "${String(s)}": not a job status`, {
          fields: { status: s },
        });
      }
    }
    if (statuses.length > 0) add((p) => `status = ANY(${p}::text[])`, statuses);
    const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InvalidValueError(
        `Cannot list jobs: limit must be between 1 and ${MAX_LIST_LIMIT}, got ${limit}`,
        {
          fields: { limit },
        },
      );
    }
    params.push(limit);
    const rows = await this.#conn.read('Cannot list jobs', (q) =>
      q.rows<JobRow>(
        `SELECT ${COLUMNS} FROM jobs ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
         ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
        params,
      ),
    );
    return rows.map(toRecord);
  }

  async claim(request: ClaimRequest): Promise<JobRecord | undefined> {
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
    if (request.tenantIds?.length === 0 || request.serverIds?.length === 0) return undefined;
    const now = this.#clock.now();
    const params: unknown[] = [[...request.kinds], now];
    const where = ["status = 'queued'", 'kind = ANY($1::text[])', 'run_after <= $2'];
    if (request.tenantIds !== undefined) {
      params.push([...request.tenantIds]);
      where.push(`tenant_id = ANY($${params.length}::uuid[])`);
    }
    if (request.serverIds !== undefined) {
      params.push([...request.serverIds]);
      where.push(`server_id = ANY($${params.length}::uuid[])`);
    }
    params.push(request.agentId, new Date(now.getTime() + request.leaseMs));
    const n = params.length;
    return this.#conn.once(`Cannot claim a job for agent ${request.agentId}`, async (q) => {
      // SKIP LOCKED: an agent passes over a job another agent is taking right now and takes the next one, so
      // many agents claim in parallel without waiting on each other and never get the same job.
      const row = await q.row<JobRow>(
        `UPDATE jobs SET status = 'running', lease_owner = $${n - 1}, lease_expires_at = $${n}, heartbeat_at = $2,
           started_at = COALESCE(started_at, $2), attempts = attempts + 1
         WHERE id = (
           SELECT id FROM jobs WHERE ${where.join(' AND ')}
           ORDER BY run_after, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         AND status = 'queued'
         RETURNING ${COLUMNS}`,
        params,
      );
      return row === undefined ? undefined : toRecord(row);
    });
  }

  async heartbeat(id: string, agentId: string, leaseMs: number): Promise<JobRecord> {
    checkId('job id', id);
    checkAgent(agentId, `renew the lease of job ${id}`);
    checkLease(leaseMs, `renew the lease of job ${id}`);
    return this.#conn.once(`Cannot renew the lease of job ${id}`, async (q) => {
      const now = this.#clock.now();
      // The holder check is part of the one statement; when it matches nothing, `held` says why.
      const row = await q.row<JobRow>(
        `UPDATE jobs SET lease_expires_at = $1, heartbeat_at = $2
         WHERE id = $3 AND status = 'running' AND lease_owner = $4 RETURNING ${COLUMNS}`,
        [new Date(now.getTime() + leaseMs), now, id, agentId],
      );
      if (row === undefined) await held(q, id, agentId, 'renew the lease of');
      return toRecord(row!);
    });
  }

  async finish(
    id: string,
    agentId: string,
    outcome:
      | { readonly status: 'succeeded' }
      | { readonly status: 'failed'; readonly error: { code: string | null; message: string } },
  ): Promise<JobRecord> {
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
    return this.#conn.once(`Cannot finish job ${id}`, async (q) => {
      const error = outcome.status === 'failed' ? outcome.error : null;
      const row = await q.row<JobRow>(
        `UPDATE jobs SET status = $1, finished_at = $2, error_code = $3, error_message = $4
         WHERE id = $5 AND status = 'running' AND lease_owner = $6 RETURNING ${COLUMNS}`,
        [outcome.status, this.#clock.now(), error?.code ?? null, error?.message ?? null, id, agentId],
      );
      if (row === undefined) await held(q, id, agentId, 'finish');
      return toRecord(row!);
    });
  }

  async expireLeases(): Promise<readonly JobRecord[]> {
    return this.#conn.write('Cannot expire job leases', async (q) => {
      const now = this.#clock.now();
      // Locks the expired jobs, skipping any another process is expiring (or heartbeating) right now.
      const expired = await q.rows<JobRow>(
        `SELECT ${COLUMNS} FROM jobs WHERE status = 'running' AND lease_expires_at <= $1
         ORDER BY lease_expires_at, id FOR UPDATE SKIP LOCKED`,
        [now],
      );
      const out: JobRecord[] = [];
      for (const row of expired) {
        const last = (row.heartbeat_at ?? row.started_at ?? row.created_at).toISOString();
        const failed = await q.row<JobRow>(
          `UPDATE jobs SET status = 'failed', finished_at = $1, error_code = $2, error_message = $3
           WHERE id = $4 AND status = 'running' RETURNING ${COLUMNS}`,
          [
            now,
            LEASE_EXPIRED_CODE,
            `Cannot finish ${row.kind} job ${row.id}: agent ${row.lease_owner ?? 'unknown'} lost its lease (no heartbeat since ${last})`,
            row.id,
          ],
        );
        if (failed !== undefined) out.push(toRecord(failed));
      }
      return out;
    });
  }

  async activeFor(serverId: string, kind: JobKind): Promise<JobRecord | undefined> {
    checkId('server id', serverId);
    checkKind(kind);
    return this.#conn.read(`Cannot look up jobs of server ${serverId}`, (q) => activeJob(q, serverId, kind));
  }
}

async function activeJob(q: PgQuery, serverId: string, kind: JobKind): Promise<JobRecord | undefined> {
  const row = await q.row<JobRow>(
    `SELECT ${COLUMNS} FROM jobs WHERE server_id = $1 AND kind = $2 AND status IN ('queued', 'running')
     ORDER BY created_at, id LIMIT 1`,
    [serverId, kind],
  );
  return row === undefined ? undefined : toRecord(row);
}

/**
 * Throws LeaseLostError (or NotFoundError) saying why `agentId` does not hold the running job `id`: called after
 * an update conditioned on holding it changed nothing.
 */
async function held(q: PgQuery, id: string, agentId: string, verb: string): Promise<never> {
  const row = await q.row<{ status: string; lease_owner: string | null }>(
    'SELECT status, lease_owner FROM jobs WHERE id = $1',
    [id],
  );
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
  // Held now, but not when the update ran: another session changed the job in between.
  throw new LeaseLostError(`Cannot ${verb} job ${id}: it changed while agent ${agentId} acted on it`, {
    fields: { jobId: id, agentId, status: row.status },
  });
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

function readRow(q: PgQuery, id: string): Promise<JobRow | undefined> {
  return q.row<JobRow>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
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
    scheduledFor: row.scheduled_for,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    runAfter: row.run_after,
    attempts: row.attempts,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    heartbeatAt: row.heartbeat_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error_message === null ? null : { code: row.error_code, message: row.error_message },
  };
}
