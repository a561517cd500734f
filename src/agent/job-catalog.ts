import type {
  BackupCatalog,
  BackupFacts,
  BackupFilter,
  BackupJsonText,
  BackupRecord,
  BackupStatus,
  ItemResult,
  NewBackup,
  TransitionChanges,
} from '../store/catalog.js';
import { JobInvalidError } from './errors.js';

/**
 * The catalog as a job sees it: exactly one backup (the job's own), readable and movable through the lease-checked
 * calls of the agent protocol. `runBackup` takes a BackupCatalog; this is the one an agent hands it, so the same
 * backup code runs embedded and remote, and nothing else in the catalog is within an agent's reach.
 */
export interface JobBackupAccess {
  get(): Promise<BackupRecord>;
  transition(to: BackupStatus, changes: TransitionChanges): Promise<BackupRecord>;
  record(facts: BackupFacts): Promise<BackupRecord>;
}

export class JobScopedCatalog implements BackupCatalog {
  readonly #jobId: string;
  readonly #access: JobBackupAccess;
  #backupId: string | undefined;

  constructor(jobId: string, access: JobBackupAccess) {
    this.#jobId = jobId;
    this.#access = access;
  }

  async get(id: string): Promise<BackupRecord> {
    const record = await this.#access.get();
    this.#check(id, record.id);
    this.#backupId = record.id;
    return record;
  }

  async transition(id: string, to: BackupStatus, changes: TransitionChanges = {}): Promise<BackupRecord> {
    await this.#known(id);
    return this.#access.transition(to, changes);
  }

  async record(id: string, facts: BackupFacts): Promise<BackupRecord> {
    await this.#known(id);
    return this.#access.record(facts);
  }

  create(backup: NewBackup): Promise<BackupRecord> {
    return Promise.reject(this.#refuse('create backup', backup.id ?? 'new'));
  }

  resolveId(idOrPrefix: string): Promise<string> {
    return Promise.reject(this.#refuse('resolve backup id', idOrPrefix));
  }

  list(_filter: BackupFilter): Promise<readonly BackupRecord[]> {
    return Promise.reject(this.#refuse('list backups', 'any'));
  }

  listJson(_filter: BackupFilter): Promise<readonly BackupJsonText[]> {
    return Promise.reject(this.#refuse('list backups', 'any'));
  }

  delete(ids: readonly string[]): Promise<readonly ItemResult[]> {
    return Promise.reject(this.#refuse('delete backups', ids.join(', ')));
  }

  async #known(id: string): Promise<void> {
    if (this.#backupId === undefined) await this.get(id);
    else this.#check(id, this.#backupId);
  }

  #check(asked: string, own: string): void {
    if (asked !== own) throw this.#refuse('use backup', asked);
  }

  #refuse(what: string, id: string): JobInvalidError {
    return new JobInvalidError(
      `Cannot ${what} ${id} from job ${this.#jobId}: a job may only report on its own backup`,
      {
        fields: { jobId: this.#jobId, backupId: id },
      },
    );
  }
}
