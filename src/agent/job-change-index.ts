import type {
  BinlogCoordinates,
  ChangeIndex,
  ChangeRecord,
  ChangeStats,
  Checkpoint,
  CommitBatch,
  CommitResult,
  Coverage,
  DdlRecord,
  Gap,
  TableSchemaEntry,
} from '../store/change-index.js';
import { JobInvalidError } from './errors.js';

/**
 * The change index as a capture job sees it: one server (the job's own), and only what live capture uses (read
 * the checkpoint, commit a batch with `expectPrevious`, read schema history and stats), each call lease-checked by
 * the control plane. `runStreamCapture` takes a ChangeIndex; this is the one an agent hands it, so the same capture
 * code runs embedded and remote, and a remote agent needs no access to the state database.
 */
export interface JobIndexAccess {
  checkpoint(): Promise<Checkpoint | undefined>;
  commit(batch: CommitBatch): Promise<CommitResult>;
  tableSchemaAt(
    schema: string,
    table: string,
    at: { readonly seq?: bigint; readonly coordinates?: BinlogCoordinates },
  ): Promise<TableSchemaEntry | undefined>;
  stats(): Promise<ChangeStats>;
}

export class JobScopedChangeIndex implements ChangeIndex {
  readonly #jobId: string;
  readonly #serverId: string;
  readonly #access: JobIndexAccess;

  constructor(jobId: string, serverId: string, access: JobIndexAccess) {
    this.#jobId = jobId;
    this.#serverId = serverId;
    this.#access = access;
  }

  async commit(serverId: string, batch: CommitBatch): Promise<CommitResult> {
    this.#check(serverId);
    return await this.#access.commit(batch);
  }

  async checkpoint(serverId: string): Promise<Checkpoint | undefined> {
    this.#check(serverId);
    return await this.#access.checkpoint();
  }

  async tableSchemaAt(
    serverId: string,
    schema: string,
    table: string,
    at: { readonly seq?: bigint; readonly coordinates?: BinlogCoordinates },
  ): Promise<TableSchemaEntry | undefined> {
    this.#check(serverId);
    return await this.#access.tableSchemaAt(schema, table, at);
  }

  async stats(serverId: string): Promise<ChangeStats> {
    this.#check(serverId);
    return await this.#access.stats();
  }

  recordGap(): Promise<Gap> {
    return this.#refuse('recordGap');
  }
  gaps(): Promise<readonly Gap[]> {
    return this.#refuse('gaps');
  }
  query(): Promise<readonly ChangeRecord[]> {
    return this.#refuse('query');
  }
  ddl(): Promise<readonly DdlRecord[]> {
    return this.#refuse('ddl');
  }
  coverage(): Promise<Coverage> {
    return this.#refuse('coverage');
  }
  prune(): Promise<{ readonly deleted: bigint; readonly gap: Gap | null }> {
    return this.#refuse('prune');
  }
  recordTableSchema(): Promise<void> {
    return this.#refuse('recordTableSchema');
  }

  #check(serverId: string): void {
    if (serverId !== this.#serverId) {
      throw new JobInvalidError(
        `Cannot use the change index of server ${serverId} in capture job ${this.#jobId}: the job captures server ${this.#serverId}`,
        { fields: { jobId: this.#jobId, serverId } },
      );
    }
  }

  #refuse(method: string): Promise<never> {
    return Promise.reject(
      new JobInvalidError(
        `Cannot call ${method} on the change index of capture job ${this.#jobId}: a capture job only reads its checkpoint and commits batches`,
        { fields: { jobId: this.#jobId, method } },
      ),
    );
  }
}
