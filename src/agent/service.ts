import type { Clock } from '../lib/clock.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import { silentNotifier, type Notifier } from '../scheduler/webhook.js';
import type {
  BackupCatalog,
  BackupFacts,
  BackupRecord,
  BackupStatus,
  TenantScope,
  TransitionChanges,
} from '../store/catalog.js';
import type {
  BinlogCoordinates,
  ChangeIndex,
  ChangeStats,
  Checkpoint,
  CommitBatch,
  CommitResult,
  TableSchemaEntry,
} from '../store/change-index.js';
import type { AgentRecord, AgentRepository } from '../store/agents.js';
import { LeaseLostError } from '../store/errors.js';
import type { JobKind, JobRecord, JobRepository } from '../store/jobs.js';
import type { ServerFactsRepository } from '../store/server-facts.js';
import type { ServerRecord, ServerRepository } from '../store/servers.js';
import type { TenantRepository } from '../store/tenants.js';
import { CaptureJobError, JobInvalidError } from './errors.js';
import type { AgentIdentity, JobOutcome, ServerConnection, ServerFactsReport } from './link.js';

/**
 * The control plane's side of the agent protocol, used in process by the embedded agent and over HTTP by remote
 * agents (src/server/routes/agent.ts). It owns the consequences of a job's end that must hold however the agent
 * talks to us: a failed or expired backup job leaves its catalog record `failed` with the same reason (never
 * `running` forever), and a failure is announced to the webhook.
 *
 * Every call after `claim` checks that the agent holds the job's lease; `scope` restricts a remote agent to its
 * API key's tenant (another tenant's job is "not found").
 */
export interface AgentServiceDeps {
  readonly jobs: JobRepository;
  readonly catalog: BackupCatalog;
  readonly servers: ServerRepository;
  readonly tenants: TenantRepository;
  /** Decrypts a server password stored at rest (the secret box). */
  readonly decryptPassword: (ciphertext: Uint8Array, serverId: string) => string | Promise<string>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly notifier?: Notifier;
  /** The change index capture jobs commit to; without it capture jobs are refused. */
  readonly changes?: ChangeIndex;
  /** Where agents are recorded as seen; without it they are not recorded. */
  readonly agents?: AgentRepository;
  /** Where reported server facts are kept for status, dashboard and reports; without it only in memory. */
  readonly serverFacts?: Pick<ServerFactsRepository, 'record'>;
}

/** How often one agent's "last seen" is written at most: claims come every poll, which is often. */
const SEEN_EVERY_MS = 10_000;

/** What an agent says about itself when it registers. */
export interface AgentInfo {
  readonly hostname?: string | null;
  readonly version?: string | null;
}

/** Called after a job ended, however it ended (finish, lease expiry). */
export type JobEndListener = (job: JobRecord, backup: BackupRecord | undefined) => void;

export interface KnownServerFacts extends ServerFactsReport {
  readonly reportedAt: Date;
}

export class AgentService {
  readonly #deps: AgentServiceDeps;
  readonly #log: Logger;
  readonly #facts = new Map<string, KnownServerFacts>();
  readonly #listeners = new Set<JobEndListener>();
  readonly #seen = new Map<string, { at: number; info: AgentInfo }>();

  constructor(deps: AgentServiceDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'agent-service' });
  }

  /** Subscribes to job ends (metrics, health); returns the unsubscribe function. */
  onJobEnd(listener: JobEndListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Agents known to the store: with a scope, that tenant's agents and the embedded ones. */
  async listAgents(scope: TenantScope = {}): Promise<readonly AgentRecord[]> {
    return (
      (await this.#deps.agents?.list(scope.tenantId !== undefined ? { tenantId: scope.tenantId } : {})) ?? []
    );
  }

  /** The facts an agent last reported for a server (binlog retention for health), if any since this process started. */
  factsOf(serverId: string): KnownServerFacts | undefined {
    return this.#facts.get(serverId);
  }

  /**
   * Records an agent as seen (on start, and from its claims at most every few seconds); visible in
   * GET /api/v1/agents and `dbtrail status` on every server replica, since it is in the store.
   */
  async register(agent: AgentIdentity, info: AgentInfo = {}, scope: TenantScope = {}): Promise<void> {
    const key = `${scope.tenantId ?? ''}/${agent.agentId}`;
    this.#seen.set(key, { at: Date.now(), info });
    await this.#deps.agents?.seen({
      id: agent.agentId,
      tenantId: scope.tenantId ?? null,
      labels: agent.labels,
      hostname: info.hostname ?? null,
      version: info.version ?? null,
    });
  }

  async claim(
    agent: AgentIdentity,
    kinds: readonly JobKind[],
    leaseMs: number,
    scope: TenantScope = {},
  ): Promise<JobRecord | undefined> {
    const key = `${scope.tenantId ?? ''}/${agent.agentId}`;
    const last = this.#seen.get(key);
    if (last === undefined || Date.now() - last.at >= SEEN_EVERY_MS) {
      await this.register(agent, last?.info ?? {}, scope).catch((err: unknown) =>
        this.#log.warn({ agentId: agent.agentId, error: messageOf(err) }, 'Cannot record the agent as seen'),
      );
    }
    if (kinds.length === 0) return undefined;
    const servers = await this.#serversFor(agent.labels, scope);
    // An empty list must not reach the store: "no servers" would read as "no restriction".
    if (servers.length === 0) return undefined;
    return this.#deps.jobs.claim({
      agentId: agent.agentId,
      kinds,
      leaseMs,
      ...(scope.tenantId !== undefined ? { tenantIds: [scope.tenantId] } : {}),
      serverIds: servers.map((s) => s.id),
    });
  }

  async heartbeat(
    jobId: string,
    agentId: string,
    leaseMs: number,
    scope: TenantScope = {},
  ): Promise<JobRecord> {
    const job = await this.#deps.jobs.get(jobId, scope);
    if (job.kind === 'capture' && job.status === 'running' && job.leaseOwner === agentId) {
      await this.#withdrawIfSwitchedOff(job);
    }
    return this.#deps.jobs.heartbeat(jobId, agentId, leaseMs);
  }

  async finish(
    jobId: string,
    agentId: string,
    outcome: JobOutcome,
    scope: TenantScope = {},
  ): Promise<JobRecord> {
    await this.#deps.jobs.get(jobId, scope);
    const job = await this.#deps.jobs.finish(
      jobId,
      agentId,
      outcome.status === 'succeeded'
        ? { status: 'succeeded' }
        : { status: 'failed', error: { code: outcome.error.code, message: outcome.error.message } },
    );
    await this.#ended(job);
    return job;
  }

  /**
   * Fails every job whose agent stopped sending heartbeats, and the backup each was running, with the store's
   * reason. Run periodically by the scheduler of every server process; the store makes it safe to race.
   */
  async expireLeases(): Promise<readonly JobRecord[]> {
    const expired = await this.#deps.jobs.expireLeases();
    for (const job of expired) {
      this.#log.warn(
        { jobId: job.id, agent: job.leaseOwner, backupId: job.backupId, error: job.error?.message },
        'Job failed: its agent stopped sending heartbeats',
      );
      await this.#ended(job);
    }
    return expired;
  }

  async connection(jobId: string, agentId: string, scope: TenantScope = {}): Promise<ServerConnection> {
    const job = await this.#held(jobId, agentId, scope);
    if (job.serverId === null) {
      throw new JobInvalidError(`Cannot connect for job ${job.id}: it names no server`, {
        fields: { jobId },
      });
    }
    const server = await this.#deps.servers.get(job.serverId, { tenantId: job.tenantId });
    const tenant = await this.#deps.tenants.get(server.tenantId);
    const ciphertext = await this.#deps.servers.passwordCiphertext(server.id, { tenantId: job.tenantId });
    const password = ciphertext === null ? null : await this.#deps.decryptPassword(ciphertext, server.id);
    return {
      serverId: server.id,
      serverName: server.name,
      tenantId: server.tenantId,
      tenantName: tenant.name,
      host: server.host,
      port: server.port,
      username: server.username,
      password,
      defaults: server.defaults,
    };
  }

  async backup(jobId: string, agentId: string, scope: TenantScope = {}): Promise<BackupRecord> {
    const job = await this.#held(jobId, agentId, scope);
    return this.#deps.catalog.get(backupIdOf(job), { tenantId: job.tenantId });
  }

  async transitionBackup(
    jobId: string,
    agentId: string,
    to: BackupStatus,
    changes: TransitionChanges = {},
    scope: TenantScope = {},
  ): Promise<BackupRecord> {
    const job = await this.#held(jobId, agentId, scope);
    return this.#deps.catalog.transition(backupIdOf(job), to, changes);
  }

  async recordBackup(
    jobId: string,
    agentId: string,
    facts: BackupFacts,
    scope: TenantScope = {},
  ): Promise<BackupRecord> {
    const job = await this.#held(jobId, agentId, scope);
    return this.#deps.catalog.record(backupIdOf(job), facts);
  }

  async reportFacts(
    jobId: string,
    agentId: string,
    facts: ServerFactsReport,
    scope: TenantScope = {},
  ): Promise<void> {
    const job = await this.#held(jobId, agentId, scope);
    if (job.serverId !== null) {
      this.#facts.set(job.serverId, { ...facts, reportedAt: this.#deps.clock.now() });
      await this.#deps.serverFacts?.record(job.serverId, facts).catch((err: unknown) => {
        this.#log.warn({ serverId: job.serverId, error: messageOf(err) }, 'Cannot store server facts');
      });
    }
  }

  /** The checkpoint of the capture job's server (lease holder only). */
  async captureCheckpoint(
    jobId: string,
    agentId: string,
    scope: TenantScope = {},
  ): Promise<Checkpoint | undefined> {
    const { index, serverId } = await this.#heldCapture(jobId, agentId, scope);
    return index.checkpoint(serverId);
  }

  /**
   * Commits a capture batch for the job's server. The lease check keeps a stale holder out while the lease is
   * someone else's; `expectPrevious` (required here) closes the window between that check and the write: a
   * holder whose lease expired just now and who was taken over commits against a checkpoint that has moved, and
   * the store refuses it (CheckpointConflictError) with nothing written. A retry of a batch that did commit (the
   * answer was lost) is refused the same way, so a batch is never applied twice.
   */
  async captureCommit(
    jobId: string,
    agentId: string,
    batch: CommitBatch,
    scope: TenantScope = {},
  ): Promise<CommitResult> {
    const { index, serverId } = await this.#heldCapture(jobId, agentId, scope);
    if (batch.expectPrevious === undefined) {
      throw new JobInvalidError(
        `Cannot commit capture batch of job ${jobId}: expected the previous checkpoint (expect_previous) for fencing`,
        { fields: { jobId } },
      );
    }
    return index.commit(serverId, batch);
  }

  async captureTableSchemaAt(
    jobId: string,
    agentId: string,
    schema: string,
    table: string,
    at: { readonly seq?: bigint; readonly coordinates?: BinlogCoordinates },
    scope: TenantScope = {},
  ): Promise<TableSchemaEntry | undefined> {
    const { index, serverId } = await this.#heldCapture(jobId, agentId, scope);
    return index.tableSchemaAt(serverId, schema, table, at);
  }

  async captureStats(jobId: string, agentId: string, scope: TenantScope = {}): Promise<ChangeStats> {
    const { index, serverId } = await this.#heldCapture(jobId, agentId, scope);
    return index.stats(serverId);
  }

  async #heldCapture(
    jobId: string,
    agentId: string,
    scope: TenantScope,
  ): Promise<{ readonly index: ChangeIndex; readonly serverId: string }> {
    const job = await this.#held(jobId, agentId, scope);
    const index = this.#deps.changes;
    if (job.kind !== 'capture' || job.serverId === null) {
      throw new JobInvalidError(`Cannot use the change index from job ${jobId}: it is not a capture job`, {
        fields: { jobId, kind: job.kind },
      });
    }
    if (index === undefined) {
      throw new CaptureJobError(`Cannot run capture job ${jobId}: this control plane has no change index`, {
        fields: { jobId },
      });
    }
    return { index, serverId: job.serverId };
  }

  /**
   * Ends a running capture job whose server no longer has capture switched on, and refuses the heartbeat: the
   * agent then stops the stream as it would after losing the lease, and nobody takes it up again.
   */
  async #withdrawIfSwitchedOff(job: JobRecord): Promise<void> {
    if (job.serverId === null) return;
    let enabled: boolean;
    try {
      enabled = captureEnabled(await this.#deps.servers.get(job.serverId, { tenantId: job.tenantId }));
    } catch {
      enabled = false;
    }
    if (enabled || job.leaseOwner === null) return;
    const message = `Capture of server ${job.serverId} was switched off`;
    const ended = await this.#deps.jobs.finish(job.id, job.leaseOwner, {
      status: 'failed',
      error: { code: 'AGENT_CAPTURE_SWITCHED_OFF', message },
    });
    await this.#ended(ended);
    throw new LeaseLostError(`Cannot continue capture job ${job.id}: ${message}`, {
      fields: { jobId: job.id, agentId: job.leaseOwner, status: ended.status },
    });
  }

  /** The servers an agent with these labels may serve. */
  async #serversFor(labels: readonly string[], scope: TenantScope): Promise<readonly ServerRecord[]> {
    const tenantIds =
      scope.tenantId !== undefined ? [scope.tenantId] : (await this.#deps.tenants.list()).map((t) => t.id);
    const have = new Set(labels);
    const out: ServerRecord[] = [];
    for (const tenantId of tenantIds) {
      for (const server of await this.#deps.servers.list(tenantId)) {
        if (serverLabels(server).every((l) => have.has(l))) out.push(server);
      }
    }
    return out;
  }

  async #held(jobId: string, agentId: string, scope: TenantScope): Promise<JobRecord> {
    const job = await this.#deps.jobs.get(jobId, scope);
    const now = this.#deps.clock.now();
    if (
      job.status !== 'running' ||
      job.leaseOwner !== agentId ||
      job.leaseExpiresAt === null ||
      job.leaseExpiresAt.getTime() <= now.getTime()
    ) {
      throw new LeaseLostError(
        `Cannot act on job ${jobId}: agent ${agentId} does not hold its lease (status ${job.status}${job.leaseOwner !== null && job.leaseOwner !== agentId ? `, held by ${job.leaseOwner}` : ''})`,
        { fields: { jobId, agentId, status: job.status } },
      );
    }
    return job;
  }

  /** The consequences of a job's end: its backup failed with the same reason, the webhook, the listeners. */
  async #ended(job: JobRecord): Promise<void> {
    let backup: BackupRecord | undefined;
    if (job.backupId !== null) {
      try {
        backup = await this.#deps.catalog.get(job.backupId);
        if (job.status === 'failed' && backup.status !== 'failed' && backup.status !== 'succeeded') {
          const error = job.error ?? { code: null, message: 'The backup job failed without a reason' };
          backup = await this.#deps.catalog.transition(backup.id, 'failed', {
            error: { code: error.code, message: error.message },
          });
        }
      } catch (err) {
        this.#log.error(
          { jobId: job.id, backupId: job.backupId, error: messageOf(err) },
          'Cannot record the end of the job on its backup',
        );
      }
    }
    if (job.status === 'failed' && job.kind === 'backup') {
      (this.#deps.notifier ?? silentNotifier).notify({
        event: 'backup.failed',
        tenant_id: job.tenantId,
        server_id: job.serverId,
        server_name: backup?.serverName ?? null,
        schedule_id: job.scheduleId,
        backup_id: job.backupId,
        job_id: job.id,
        error: job.error ?? { code: null, message: 'The backup job failed without a reason' },
      });
    }
    for (const listener of this.#listeners) {
      try {
        listener(job, backup);
      } catch (err) {
        this.#log.error({ error: messageOf(err) }, 'A job-end listener failed');
      }
    }
  }
}

/** Whether a server's binlog is captured continuously by an agent (`defaults.capture: true`). */
export function captureEnabled(server: Pick<ServerRecord, 'defaults'>): boolean {
  return server.defaults['capture'] === true;
}

/** A server's labels from its registration defaults (`defaults.labels`: an array of strings). */
export function serverLabels(server: Pick<ServerRecord, 'defaults'>): readonly string[] {
  const labels = server.defaults['labels'];
  return Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [];
}

function backupIdOf(job: JobRecord): string {
  if (job.backupId === null) {
    throw new JobInvalidError(`Cannot report a backup for job ${job.id}: it names no backup record`, {
      fields: { jobId: job.id },
    });
  }
  return job.backupId;
}
