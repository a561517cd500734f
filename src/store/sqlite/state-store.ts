import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../../lib/clock.js';
import { messageOf } from '../../lib/errors.js';
import type { AgentRepository } from '../agents.js';
import type { ApiKeyRepository } from '../api-keys.js';
import type { AuditLogRepository } from '../audit-log.js';
import type { BinlogArchiveRepository } from '../binlog-archive.js';
import type { BackupCatalog } from '../catalog.js';
import type { ChangeIndex } from '../change-index.js';
import type { DrillRepository } from '../drills.js';
import { StoreOpenError } from '../errors.js';
import type { JobRepository } from '../jobs.js';
import type { ScheduleRepository } from '../schedules.js';
import type { ServerFactsRepository } from '../server-facts.js';
import type { ServerRepository } from '../servers.js';
import type { StateStore, StoreCapabilities } from '../state-store.js';
import type { TenantRepository } from '../tenants.js';
import { SqliteAgentRepository } from './agents.js';
import { SqliteApiKeyRepository } from './api-keys.js';
import { SqliteAuditLogRepository } from './audit-log.js';
import { SqliteBinlogArchiveRepository } from './binlog-archive.js';
import { SqliteBackupCatalog } from './catalog.js';
import { SqliteChangeIndex } from './change-index.js';
import { startWalCheckpointer, type WalCheckpointer } from './checkpointer.js';
import { connectSqlite, SqliteConnection, type SqliteDatabase } from './driver.js';
import { SqliteDrillRepository } from './drills.js';
import { SqliteJobRepository } from './jobs.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { migrate, schemaVersion } from './migrator.js';
import { SqliteScheduleRepository } from './schedules.js';
import { SqliteServerFactsRepository } from './server-facts.js';
import { SqliteServerRepository } from './servers.js';
import { SqliteTenantRepository } from './tenants.js';

export interface SqliteStoreOptions {
  /** Database file (its directory is created when missing), or `:memory:`. */
  readonly path: string;
  readonly clock?: Clock;
  /** How long a write waits for another process's lock before failing with StoreBusyError. Default 10 s. */
  readonly busyTimeoutMs?: number;
  /** Stop migrating at this version (tests of upgrades from an older schema). Default: the newest. */
  readonly migrateTo?: number;
  /**
   * Long-running processes (server, agent, capture): WAL checkpoints run PASSIVE in a worker thread instead of
   * inside whichever commit crosses the automatic threshold (see checkpointer.ts). Ignored for `:memory:`.
   */
  readonly backgroundCheckpoints?: boolean;
  /** Opens the driver connection; better-sqlite3 by default. */
  readonly connect?: (path: string, options: { readonly busyTimeoutMs: number }) => SqliteDatabase;
}

const CAPABILITIES: StoreCapabilities = Object.freeze({
  // A file on one host; several processes on that host may share it.
  sharedAcrossHosts: false,
  // SQLite has one writer at a time per database file; others wait up to busy_timeout.
  concurrentWriters: false,
});

export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/** Opens (creating when missing) and migrates the SQLite state database. */
export function openSqliteStateStore(options: SqliteStoreOptions): Promise<SqliteStateStore> {
  try {
    return Promise.resolve(SqliteStateStore.open(options));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export class SqliteStateStore implements StateStore {
  readonly capabilities = CAPABILITIES;
  readonly location: string;
  readonly tenants: TenantRepository;
  readonly servers: ServerRepository;
  readonly catalog: BackupCatalog;
  readonly changes: ChangeIndex;
  readonly apiKeys: ApiKeyRepository;
  readonly schedules: ScheduleRepository;
  readonly jobs: JobRepository;
  readonly audit: AuditLogRepository;
  readonly serverFacts: ServerFactsRepository;
  readonly binlogArchive: BinlogArchiveRepository;
  readonly agents: AgentRepository;
  readonly drills: DrillRepository;
  readonly #conn: SqliteConnection;
  readonly #checkpointer: WalCheckpointer | undefined;

  private constructor(
    conn: SqliteConnection,
    path: string,
    clock: Clock,
    checkpointer: WalCheckpointer | undefined,
  ) {
    this.#conn = conn;
    this.#checkpointer = checkpointer;
    this.location = `sqlite:${path}`;
    this.tenants = new SqliteTenantRepository(conn, clock);
    this.servers = new SqliteServerRepository(conn, clock);
    this.catalog = new SqliteBackupCatalog(conn, clock);
    this.changes = new SqliteChangeIndex(conn, clock);
    this.apiKeys = new SqliteApiKeyRepository(conn, clock);
    this.schedules = new SqliteScheduleRepository(conn, clock);
    this.jobs = new SqliteJobRepository(conn, clock);
    this.audit = new SqliteAuditLogRepository(conn, clock);
    this.serverFacts = new SqliteServerFactsRepository(conn, clock);
    this.binlogArchive = new SqliteBinlogArchiveRepository(conn, clock);
    this.agents = new SqliteAgentRepository(conn, clock);
    this.drills = new SqliteDrillRepository(conn);
    Object.freeze(this);
  }

  static open(input: SqliteStoreOptions): SqliteStateStore {
    const options = Object.freeze({ ...input });
    const clock = options.clock ?? systemClock;
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (options.path !== ':memory:') {
      try {
        mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new StoreOpenError(
          `Cannot create the directory of state database ${options.path}: ${messageOf(err)}`,
          {
            cause: err,
            fields: { path: options.path },
          },
        );
      }
    }
    const db = (options.connect ?? connectSqlite)(options.path, { busyTimeoutMs });
    const conn = new SqliteConnection(db);
    try {
      migrate(conn, SQLITE_MIGRATIONS, clock, options.migrateTo);
    } catch (err) {
      conn.close();
      throw err;
    }
    let checkpointer: WalCheckpointer | undefined;
    if (options.backgroundCheckpoints === true && options.path !== ':memory:') {
      db.pragma('wal_autocheckpoint = 0', { simple: true });
      checkpointer = startWalCheckpointer({ path: options.path });
    }
    return new SqliteStateStore(conn, options.path, clock, checkpointer);
  }

  schemaVersion(): Promise<number> {
    try {
      return Promise.resolve(schemaVersion(this.#conn));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.#checkpointer?.stop();
  }

  /** Runs a background WAL checkpoint now, when this store has them (tests). */
  async checkpointNow(): Promise<boolean> {
    if (this.#checkpointer === undefined) return false;
    await this.#checkpointer.runOnce();
    return true;
  }
}
