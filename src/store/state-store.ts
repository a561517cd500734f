import type { AgentRepository } from './agents.js';
import type { ApiKeyRepository } from './api-keys.js';
import type { AuditLogRepository } from './audit-log.js';
import type { BinlogArchiveRepository } from './binlog-archive.js';
import type { BackupCatalog } from './catalog.js';
import type { ChangeIndex } from './change-index.js';
import type { DrillRepository } from './drills.js';
import type { JobRepository } from './jobs.js';
import type { ScheduleRepository } from './schedules.js';
import type { ServerFactsRepository } from './server-facts.js';
import type { ServerRepository } from './servers.js';
import type { TenantRepository } from './tenants.js';

/**
 * What a backend can do, for callers that must adapt (the control plane refuses several server replicas on a
 * store that cannot be shared). Ask for a capability; never ask which backend it is.
 */
export interface StoreCapabilities {
  /** Several hosts can use the store at once (server replicas, remote agents). */
  readonly sharedAcrossHosts: boolean;
  /** Write transactions of different connections proceed concurrently rather than one at a time. */
  readonly concurrentWriters: boolean;
}

/**
 * The state of dbtrail: tenants, servers, the backup catalog, and (added by later migrations) API keys,
 * schedules, jobs and the change index. Opened from `stateUrl` by the composition root (src/app.ts).
 */
export interface StateStore {
  readonly capabilities: StoreCapabilities;
  /** Where the state lives, fit for messages and logs (no credentials). */
  readonly location: string;
  readonly tenants: TenantRepository;
  readonly servers: ServerRepository;
  readonly catalog: BackupCatalog;
  /** Captured row changes, DDL, checkpoints, gaps and schema history of every server. */
  readonly changes: ChangeIndex;
  /** API keys of tenants, by hash. */
  readonly apiKeys: ApiKeyRepository;
  /** Backup schedules with their next slot. */
  readonly schedules: ScheduleRepository;
  /** Units of work claimed by agents with leases. */
  readonly jobs: JobRepository;
  /** Segments of the raw binlog archive and its gaps. */
  readonly binlogArchive: BinlogArchiveRepository;
  /** Agents that called in, with their labels and when they were last seen. */
  readonly agents: AgentRepository;
  /** The hash-chained audit log of operations (src/store/audit-log.ts). */
  readonly audit: AuditLogRepository;
  /** What dbtrail last learned about each server from the server itself (binlog retention). */
  readonly serverFacts: ServerFactsRepository;
  /** Restore drills with their result and RTO (src/store/drills.ts). */
  readonly drills: DrillRepository;
  /** The highest migration applied to the database. */
  schemaVersion(): Promise<number>;
  /** Idempotent. Using the store afterwards throws StoreClosedError. */
  close(): Promise<void>;
}
