import type { TenantScope } from './catalog.js';

/**
 * Jobs: units of work (backup, upload, drill, drift, capture, retention) that an agent claims with a lease and keeps
 * with heartbeats. A job whose lease expired without a heartbeat had its agent die: whoever notices fails it with
 * that reason (`expireLeases`), so nothing stays "running" forever. A scheduled job carries its schedule slot, unique
 * per schedule, so a slot runs once however many schedulers race for it.
 */
export type JobKind = 'backup' | 'upload' | 'drill' | 'drift' | 'capture' | 'retention';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly serverId: string | null;
  readonly scheduleId: string | null;
  readonly backupId: string | null;
  /** The schedule slot (cron time) this job runs for. */
  readonly scheduledFor: Date | null;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly runAfter: Date;
  readonly attempts: number;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: Date | null;
  readonly heartbeatAt: Date | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly error: { readonly code: string | null; readonly message: string } | null;
}

export interface NewJob {
  readonly id?: string;
  readonly tenantId: string;
  readonly kind: JobKind;
  readonly serverId?: string | null;
  readonly scheduleId?: string | null;
  readonly backupId?: string | null;
  readonly scheduledFor?: Date | null;
  readonly payload?: Readonly<Record<string, unknown>>;
  readonly runAfter?: Date;
  /**
   * Refuse (JobActiveError) when a job of the same kind is already queued or running for `serverId`: checked in the
   * same write transaction as the insert, so two processes on one store cannot both pass. Needs a server id.
   */
  readonly exclusive?: boolean;
}

export interface ClaimRequest {
  /** The claiming agent's id; becomes the lease owner. */
  readonly agentId: string;
  readonly kinds: readonly JobKind[];
  readonly leaseMs: number;
  /** Only jobs of these tenants (an agent serves its own tenant). */
  readonly tenantIds?: readonly string[];
  /** Only jobs of these servers (an agent's assignment by labels). */
  readonly serverIds?: readonly string[];
}

export interface JobRepository {
  /**
   * Enqueues a job. A second job for the same (schedule, slot) throws DuplicateError: that slot is taken. An
   * `exclusive` job throws JobActiveError while another job of its kind is active for the server.
   */
  enqueue(job: NewJob): Promise<JobRecord>;
  get(id: string, scope?: TenantScope): Promise<JobRecord>;
  list(filter: {
    readonly tenantId?: string;
    readonly status?: JobStatus | readonly JobStatus[];
    readonly kind?: JobKind;
    readonly serverId?: string;
    readonly limit?: number;
  }): Promise<readonly JobRecord[]>;
  /**
   * Atomically takes the oldest queued job that matches (run_after <= now), marks it running with a lease, and
   * returns it; undefined when there is none. Two agents never get the same job.
   */
  claim(request: ClaimRequest): Promise<JobRecord | undefined>;
  /** Extends the lease; throws LeaseLostError when the agent no longer holds it (expired and taken over). */
  heartbeat(id: string, agentId: string, leaseMs: number): Promise<JobRecord>;
  /** Ends a job the agent holds: succeeded, or failed with an error. Throws LeaseLostError when not held. */
  finish(
    id: string,
    agentId: string,
    outcome:
      | { readonly status: 'succeeded' }
      | { readonly status: 'failed'; readonly error: { code: string | null; message: string } },
  ): Promise<JobRecord>;
  /** Fails every running job whose lease expired, with the reason "agent lost its lease"; returns them. */
  expireLeases(): Promise<readonly JobRecord[]>;
  /** Whether a backup job is queued or running for the server (the API answers 409 then). */
  activeFor(serverId: string, kind: JobKind): Promise<JobRecord | undefined>;
}
