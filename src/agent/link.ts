import type { BackupCatalog } from '../store/catalog.js';
import type { ChangeIndex } from '../store/change-index.js';
import type { JobKind, JobRecord } from '../store/jobs.js';

/**
 * How an agent talks to the control plane. Two implementations with one behaviour: the embedded agent of
 * `dbtrail server` calls the agent service in the same process (`LocalAgentLink`), `dbtrail agent` calls the same
 * service over HTTP (`HttpAgentLink`, routes under /api/v1/agent/*). Every call after `claim` names the job and the
 * agent: the service acts only while that agent holds the job's lease, so an agent that lost its lease (and whose
 * job was failed meanwhile) cannot write anything more about it.
 */
export interface AgentIdentity {
  /** Unique per agent process; becomes the lease owner. */
  readonly agentId: string;
  /**
   * The agent's labels. A server whose `defaults.labels` is non-empty is served only by agents carrying every one
   * of those labels; a server without labels by any agent (including the embedded one, which has none).
   */
  readonly labels: readonly string[];
}

export type JobOutcome =
  | { readonly status: 'succeeded' }
  | { readonly status: 'failed'; readonly error: { readonly code: string | null; readonly message: string } };

/** What an agent needs to connect to the server a job is for. The password travels only to the lease holder. */
export interface ServerConnection {
  readonly serverId: string;
  readonly serverName: string;
  readonly tenantId: string;
  /** The tenant's name: object paths start with it. */
  readonly tenantName: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Decrypted; null when the server needs none. Never logged. */
  readonly password: string | null;
  /** The server's registration defaults (threads, tls, labels...). */
  readonly defaults: Readonly<Record<string, unknown>>;
}

/** Facts an agent learned about a server while running a job, for health checks at the control plane. */
export interface ServerFactsReport {
  /** `binlog_expire_logs_seconds` (or `expire_logs_days` * 86400) as the server reported it; 0 means never. */
  readonly binlogRetentionSeconds: number | null;
  readonly flavor: 'mysql' | 'mariadb';
  readonly version: string;
}

export interface AgentLink {
  /** Takes the next job this agent may run, with a lease of `leaseMs`; undefined when there is none. */
  claim(agent: AgentIdentity, kinds: readonly JobKind[], leaseMs: number): Promise<JobRecord | undefined>;
  /** Renews the lease; throws LeaseLostError (code STORE_LEASE_LOST) when the agent no longer holds it. */
  heartbeat(jobId: string, agentId: string, leaseMs: number): Promise<void>;
  /** Ends the job; throws LeaseLostError when the agent no longer holds it. */
  finish(jobId: string, agentId: string, outcome: JobOutcome): Promise<void>;
  /** The connection details of the job's server (lease holder only). */
  connection(jobId: string, agentId: string): Promise<ServerConnection>;
  /**
   * The catalog a backup job reports its progress to: only the job's own backup can be read and moved, and
   * only while the lease is held. The methods `runBackup` does not use throw.
   */
  catalogFor(jobId: string, agentId: string): BackupCatalog;
  reportFacts(jobId: string, agentId: string, facts: ServerFactsReport): Promise<void>;
  /**
   * The change index a capture job commits to: only its own server, only while the lease is held, every commit
   * fenced with `expectPrevious`. The methods live capture does not use throw.
   */
  changeIndexFor(jobId: string, agentId: string, serverId: string): ChangeIndex;
}
