import { systemClock, type Clock } from '../../lib/clock.js';
import type { AgentRepository } from '../agents.js';
import type { ApiKeyRepository } from '../api-keys.js';
import type { AuditLogRepository } from '../audit-log.js';
import type { BinlogArchiveRepository } from '../binlog-archive.js';
import type { BackupCatalog } from '../catalog.js';
import type { ChangeIndex } from '../change-index.js';
import type { DrillRepository } from '../drills.js';
import type { JobRepository } from '../jobs.js';
import type { ScheduleRepository } from '../schedules.js';
import type { ServerFactsRepository } from '../server-facts.js';
import type { ServerRepository } from '../servers.js';
import type { StateStore, StoreCapabilities } from '../state-store.js';
import { withoutPassword } from '../state-url.js';
import type { TenantRepository } from '../tenants.js';
import { PostgresAgentRepository } from './agents.js';
import { PostgresApiKeyRepository } from './api-keys.js';
import { PostgresAuditLogRepository } from './audit-log.js';
import { PostgresBinlogArchiveRepository } from './binlog-archive.js';
import { PostgresBackupCatalog } from './catalog.js';
import { PostgresChangeIndex } from './change-index.js';
import { PostgresDrillRepository } from './drills.js';
import { connectPostgres, PgConnection, type PgConnectOptions, type PgPool } from './driver.js';
import { PostgresJobRepository } from './jobs.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { migrate, schemaVersion } from './migrator.js';
import { PostgresScheduleRepository } from './schedules.js';
import { PostgresServerFactsRepository } from './server-facts.js';
import { PostgresServerRepository } from './servers.js';
import { PostgresTenantRepository } from './tenants.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`; the password is handed to the driver only. */
  readonly url: string;
  readonly clock?: Clock;
  /** Schema the tables live in; the user's default search_path when absent. */
  readonly schema?: string;
  /** Connections kept open. Default 10. */
  readonly maxConnections?: number;
  /** Stop migrating at this version (tests of upgrades from an older schema). Default: the newest. */
  readonly migrateTo?: number;
  /** Opens the pool; node-postgres by default. */
  readonly connect?: (options: PgConnectOptions) => PgPool;
}

const CAPABILITIES: StoreCapabilities = Object.freeze({
  // A network database: server replicas and agents on other hosts share it.
  sharedAcrossHosts: true,
  // Row locks, not a database-wide write lock: commits of different servers and jobs run in parallel.
  concurrentWriters: true,
});

export const DEFAULT_MAX_CONNECTIONS = 10;

/** Opens the PostgreSQL state store and migrates its schema. */
export async function openPostgresStateStore(input: PostgresStoreOptions): Promise<PostgresStateStore> {
  const options = Object.freeze({ ...input });
  const clock = options.clock ?? systemClock;
  const display = withoutPassword(options.url);
  const pool = (options.connect ?? connectPostgres)({
    url: options.url,
    display,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    ...(options.schema === undefined ? {} : { schema: options.schema }),
  });
  const conn = new PgConnection(pool, display);
  try {
    await migrate(conn, POSTGRES_MIGRATIONS, clock, options.migrateTo);
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
  return new PostgresStateStore(conn, display, clock);
}

export class PostgresStateStore implements StateStore {
  readonly capabilities = CAPABILITIES;
  readonly location: string;
  readonly tenants: TenantRepository;
  readonly servers: ServerRepository;
  readonly catalog: BackupCatalog;
  readonly changes: ChangeIndex;
  readonly apiKeys: ApiKeyRepository;
  readonly schedules: ScheduleRepository;
  readonly jobs: JobRepository;
  readonly binlogArchive: BinlogArchiveRepository;
  readonly agents: AgentRepository;
  readonly audit: AuditLogRepository;
  readonly serverFacts: ServerFactsRepository;
  readonly drills: DrillRepository;
  readonly #conn: PgConnection;

  constructor(conn: PgConnection, display: string, clock: Clock) {
    this.#conn = conn;
    this.location = display;
    this.tenants = new PostgresTenantRepository(conn, clock);
    this.servers = new PostgresServerRepository(conn, clock);
    this.catalog = new PostgresBackupCatalog(conn, clock);
    this.changes = new PostgresChangeIndex(conn, clock);
    this.apiKeys = new PostgresApiKeyRepository(conn, clock);
    this.schedules = new PostgresScheduleRepository(conn, clock);
    this.jobs = new PostgresJobRepository(conn, clock);
    this.binlogArchive = new PostgresBinlogArchiveRepository(conn, clock);
    this.agents = new PostgresAgentRepository(conn, clock);
    this.audit = new PostgresAuditLogRepository(conn, clock);
    this.serverFacts = new PostgresServerFactsRepository(conn, clock);
    this.drills = new PostgresDrillRepository(conn);
    Object.freeze(this);
  }

  schemaVersion(): Promise<number> {
    return schemaVersion(this.#conn);
  }

  close(): Promise<void> {
    return this.#conn.close();
  }
}
