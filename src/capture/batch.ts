import { isDbtrailError, messageOf } from '../lib/errors.js';
import type {
  BinlogCoordinates,
  CapturedTransaction,
  ChangeIndex,
  NewGap,
  ServerIdentity,
  TableSchemaEntry,
} from '../store/change-index.js';
import { describeCoordinates } from './coordinates.js';
import { CaptureWriteError, CheckpointConflictError } from './errors.js';

/**
 * Groups complete transactions into one `commit()`: changes, DDL, schema history and the checkpoint in one store
 * transaction, fenced by the checkpoint the batch started from (`expectPrevious`). A batch closes at a count,
 * byte or age limit, whichever comes first; the age limit bounds how stale the index is when the source is quiet.
 *
 * Exactly once: the checkpoint only ever moves together with the changes before it, and only from the checkpoint
 * this writer last saw committed. A failed commit throws, and the writer refuses further use: capture stops, and
 * the next start resumes from the last committed checkpoint, so nothing is skipped and nothing is written twice.
 */
export interface BatchLimits {
  /** Transactions per commit. Default 1000. */
  readonly maxTransactions: number;
  /** Approximate bytes of row images per commit. Default 32 MiB. */
  readonly maxBytes: number;
  /** Longest a complete transaction waits before it is committed. Default 50 ms. */
  readonly maxDelayMs: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = Object.freeze({
  maxTransactions: 1000,
  maxBytes: 32 * 1024 * 1024,
  maxDelayMs: 50,
});

export interface BatchWriterOptions {
  readonly index: Pick<ChangeIndex, 'commit'>;
  readonly serverId: string;
  readonly serverName: string;
  readonly identity: ServerIdentity;
  /** The stored checkpoint this writer continues from; null when the server has none yet. */
  readonly committed: BinlogCoordinates | null;
  readonly limits?: Partial<BatchLimits>;
  readonly now?: () => number;
}

export interface CommitStats {
  readonly transactions: number;
  readonly changes: number;
  readonly checkpoint: BinlogCoordinates;
}

export class BatchWriter {
  readonly #options: BatchWriterOptions;
  readonly #limits: BatchLimits;
  readonly #now: () => number;
  #committed: BinlogCoordinates | null;
  #transactions: CapturedTransaction[] = [];
  #schemas: TableSchemaEntry[] = [];
  #gap: NewGap | undefined;
  #checkpoint: BinlogCoordinates | undefined;
  #bytes = 0;
  #changes = 0;
  #since: number | undefined;
  #failed: Error | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: BatchWriterOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_BATCH_LIMITS, ...(options.limits ?? {}) };
    this.#now = options.now ?? Date.now;
    this.#committed = options.committed;
  }

  /** The checkpoint as last committed (null before the first commit of a new server). */
  get committed(): BinlogCoordinates | null {
    return this.#committed;
  }

  /** Whether anything (transactions, a checkpoint move, a gap, schema history) waits to be committed. */
  get pending(): boolean {
    return this.#checkpoint !== undefined || this.#gap !== undefined || this.#schemas.length > 0;
  }

  get pendingTransactions(): number {
    return this.#transactions.length;
  }

  /** Adds a complete transaction; `after` (the coordinates after it) becomes the checkpoint to commit. */
  addTransaction(transaction: CapturedTransaction, after: BinlogCoordinates, bytes: number): void {
    this.#transactions.push(transaction);
    this.#changes += transaction.changes.length;
    this.#bytes += bytes;
    this.advance(after);
  }

  /** Moves the checkpoint to commit without a transaction (events between transactions: ROTATE...). */
  advance(coordinates: BinlogCoordinates): void {
    this.#checkpoint = coordinates;
    this.#since ??= this.#now();
  }

  addTableSchema(entry: TableSchemaEntry): void {
    this.#schemas.push(entry);
    this.#since ??= this.#now();
  }

  /** Records a gap in the next commit (the first batch after an accepted gap). */
  setGap(gap: NewGap): void {
    this.#gap = gap;
    this.#since ??= this.#now();
  }

  /** Whether a limit says the batch should be committed now. */
  get due(): boolean {
    if (!this.pending) return false;
    return (
      this.#transactions.length >= this.#limits.maxTransactions ||
      this.#bytes >= this.#limits.maxBytes ||
      this.#now() - (this.#since ?? this.#now()) >= this.#limits.maxDelayMs
    );
  }

  /** Milliseconds until the age limit makes the batch due; undefined when nothing is pending. */
  get msUntilDue(): number | undefined {
    if (!this.pending || this.#since === undefined) return undefined;
    return Math.max(0, this.#limits.maxDelayMs - (this.#now() - this.#since));
  }

  /**
   * Commits what is pending (no-op when nothing is). Throws CaptureWriteError / CheckpointConflictError. Commits
   * run one at a time, in order; what is added while one runs goes into the next.
   */
  flush(): Promise<CommitStats | undefined> {
    const run = this.#queue.then(() => this.#flushNow());
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #flushNow(): Promise<CommitStats | undefined> {
    if (this.#failed !== undefined) throw this.#failed;
    if (!this.pending) return undefined;
    const checkpoint = this.#checkpoint ?? this.#committed;
    if (checkpoint === null) {
      // Schema history or a gap without any coordinates: nothing to anchor them to yet.
      return undefined;
    }
    const transactions = this.#transactions;
    const changes = this.#changes;
    const schemas = this.#schemas;
    const gap = this.#gap;
    this.#transactions = [];
    this.#schemas = [];
    this.#gap = undefined;
    this.#checkpoint = undefined;
    this.#bytes = 0;
    this.#changes = 0;
    this.#since = undefined;
    const { serverId, serverName, identity, index } = this.#options;
    try {
      await index.commit(serverId, {
        transactions,
        checkpoint: { coordinates: checkpoint, identity },
        expectPrevious: this.#committed,
        ...(gap !== undefined ? { gap } : {}),
        ...(schemas.length > 0 ? { tableSchemas: schemas } : {}),
      });
    } catch (err) {
      this.#failed = commitError(err, serverName, transactions, checkpoint, this.#committed);
      throw this.#failed;
    }
    this.#committed = checkpoint;
    return { transactions: transactions.length, changes, checkpoint };
  }
}

function commitError(
  err: unknown,
  serverName: string,
  transactions: readonly CapturedTransaction[],
  checkpoint: BinlogCoordinates,
  previous: BinlogCoordinates | null,
): Error {
  const first = transactions[0];
  const range =
    first === undefined
      ? `the checkpoint move to ${describeCoordinates(checkpoint)}`
      : `${transactions.length} transactions from ${first.file}:${first.position} to ${describeCoordinates(checkpoint)}`;
  const fields = {
    server: serverName,
    checkpoint,
    previous,
    transactions: transactions.length,
  };
  if (isDbtrailError(err) && err.kind === 'conflict') {
    return new CheckpointConflictError(
      `Cannot commit ${range} for server "${serverName}": the stored checkpoint is no longer ${previous === null ? 'empty' : describeCoordinates(previous)} (is another capture of this server running?): ${err.message}`,
      { cause: err, fields },
    );
  }
  return new CaptureWriteError(
    `Cannot commit ${range} for server "${serverName}": ${messageOf(err)}; capture stopped, nothing after ${previous === null ? 'the start' : describeCoordinates(previous)} was skipped`,
    { cause: err, fields },
  );
}
