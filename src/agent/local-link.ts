import type { BackupCatalog } from '../store/catalog.js';
import type { JobKind, JobRecord } from '../store/jobs.js';
import type { ChangeIndex } from '../store/change-index.js';
import { JobScopedCatalog } from './job-catalog.js';
import { JobScopedChangeIndex } from './job-change-index.js';
import type { AgentIdentity, AgentLink, JobOutcome, ServerConnection, ServerFactsReport } from './link.js';
import type { AgentService } from './service.js';

/** The embedded agent's link: the agent service in the same process, with the same lease checks as over HTTP. */
export class LocalAgentLink implements AgentLink {
  readonly #service: AgentService;

  constructor(service: AgentService) {
    this.#service = service;
  }

  claim(agent: AgentIdentity, kinds: readonly JobKind[], leaseMs: number): Promise<JobRecord | undefined> {
    return this.#service.claim(agent, kinds, leaseMs);
  }

  async heartbeat(jobId: string, agentId: string, leaseMs: number): Promise<void> {
    await this.#service.heartbeat(jobId, agentId, leaseMs);
  }

  async finish(jobId: string, agentId: string, outcome: JobOutcome): Promise<void> {
    await this.#service.finish(jobId, agentId, outcome);
  }

  connection(jobId: string, agentId: string): Promise<ServerConnection> {
    return this.#service.connection(jobId, agentId);
  }

  catalogFor(jobId: string, agentId: string): BackupCatalog {
    return new JobScopedCatalog(jobId, {
      get: () => this.#service.backup(jobId, agentId),
      transition: (to, changes) => this.#service.transitionBackup(jobId, agentId, to, changes),
      record: (facts) => this.#service.recordBackup(jobId, agentId, facts),
    });
  }

  reportFacts(jobId: string, agentId: string, facts: ServerFactsReport): Promise<void> {
    return this.#service.reportFacts(jobId, agentId, facts);
  }

  changeIndexFor(jobId: string, agentId: string, serverId: string): ChangeIndex {
    const service = this.#service;
    return new JobScopedChangeIndex(jobId, serverId, {
      checkpoint: () => service.captureCheckpoint(jobId, agentId),
      commit: (batch) => service.captureCommit(jobId, agentId, batch),
      tableSchemaAt: (schema, table, at) => service.captureTableSchemaAt(jobId, agentId, schema, table, at),
      stats: () => service.captureStats(jobId, agentId),
    });
  }
}
