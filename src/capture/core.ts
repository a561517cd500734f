import type { DecodedEvent, RowsBody, TableMap } from '../binlog/events.js';
import type { Logger } from '../log/logger.js';
import type {
  BinlogCoordinates,
  CapturedTransaction,
  ChangeIndex,
  ServerIdentity,
  TableSchemaEntry,
} from '../store/change-index.js';
import { TransactionAssembler } from './assembler.js';
import { BatchWriter, type BatchLimits, type CommitStats } from './batch.js';
import { compareCoordinates } from './coordinates.js';
import { parseDdl, type TableName } from './ddl.js';
import type { TableFilter } from './filter.js';
import type { SchemaHistory } from './schema-history.js';

/**
 * The part of capture shared by the live stream and offline indexing: events in, committed transactions out.
 * Assembles transactions, applies each DDL to the schema history at its position, batches and commits.
 *
 * `push` returns a promise only when it had to wait (a commit, a DDL re-read), so the hot path stays synchronous.
 */
export interface CaptureCoreOptions {
  readonly index: Pick<ChangeIndex, 'commit' | 'tableSchemaAt'>;
  readonly serverId: string;
  readonly serverName: string;
  readonly identity: ServerIdentity;
  /** The stored checkpoint (null for a new server): the first commit is fenced on it. */
  readonly committed: BinlogCoordinates | null;
  /** Where the events start (the checkpoint, or the oldest binlog after an accepted gap). */
  readonly start: BinlogCoordinates;
  readonly flavor: 'mysql' | 'mariadb';
  readonly filter: TableFilter;
  readonly history: SchemaHistory;
  /**
   * Reads the current definitions of tables from the source (live capture). Undefined offline: tables a DDL
   * changed are then decoded from stored history when it has them, else with positional names.
   */
  readonly snapshot?: (
    tables: readonly TableName[],
    validFrom: BinlogCoordinates,
  ) => Promise<TableSchemaEntry[]>;
  readonly logger: Logger;
  readonly limits?: Partial<BatchLimits>;
  readonly now?: () => number;
}

export interface CaptureCounters {
  /** Transactions committed by this run. */
  transactions: number;
  /** Row changes committed by this run. */
  changes: number;
  /** Row changes seen in the binlog (before filtering), for rate display. */
  rowsSeen: number;
  commits: number;
  /** Header timestamp (seconds) of the newest event read. */
  lastEventTime: number | undefined;
}

export class CaptureCore {
  readonly #options: CaptureCoreOptions;
  readonly batch: BatchWriter;
  #assembler: TransactionAssembler;
  #lastSafe: BinlogCoordinates;
  readonly counters: CaptureCounters = {
    transactions: 0,
    changes: 0,
    rowsSeen: 0,
    commits: 0,
    lastEventTime: undefined,
  };
  readonly #warnedPositional = new Set<string>();
  readonly #log: Logger;

  constructor(options: CaptureCoreOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.batch = new BatchWriter({
      index: options.index,
      serverId: options.serverId,
      serverName: options.serverName,
      identity: options.identity,
      committed: options.committed,
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
    this.#assembler = this.#newAssembler(options.start);
    this.#lastSafe = options.start;
  }

  /** Coordinates after the last complete transaction seen (committed or pending). */
  get safeCoordinates(): BinlogCoordinates {
    return this.#assembler.safeCoordinates;
  }

  get inTransaction(): boolean {
    return this.#assembler.inTransaction;
  }

  /**
   * Drops the open transaction and continues from `from` (a safe position): used when offline indexing re-reads a
   * file from there with better schema history.
   */
  restartAt(from: BinlogCoordinates): void {
    this.#assembler = this.#newAssembler(from);
    this.#lastSafe = from;
  }

  #newAssembler(start: BinlogCoordinates): TransactionAssembler {
    return new TransactionAssembler({
      flavor: this.#options.flavor,
      start,
      filter: this.#options.filter,
      primaryKey: (body, tableMap) => this.#primaryKey(body, tableMap),
      onWarning: (message, fields) => this.#log.warn(fields, message),
    });
  }

  push(event: DecodedEvent): Promise<void> | undefined {
    if (event.header.timestamp !== 0 && event.header.logPos !== 0) {
      this.counters.lastEventTime = event.header.timestamp;
    }
    const done = this.#assembler.push(event);
    if (done !== undefined) {
      this.counters.rowsSeen += done.rowsSeen;
      this.batch.addTransaction(done.transaction, done.after, done.bytes);
      this.#lastSafe = done.after;
      if (done.transaction.ddl.length > 0) return this.#afterDdl(done.transaction, done.after);
    } else if (!this.#assembler.inTransaction && this.#assembler.safeCoordinates !== this.#lastSafe) {
      this.#lastSafe = this.#assembler.safeCoordinates;
      this.batch.advance(this.#lastSafe);
    }
    return this.batch.due ? this.flush().then(() => undefined) : undefined;
  }

  /** Commits whatever is pending. */
  async flush(): Promise<CommitStats | undefined> {
    const stats = await this.batch.flush();
    if (stats !== undefined) {
      this.counters.commits++;
      this.counters.transactions += stats.transactions;
      this.counters.changes += stats.changes;
    }
    return stats;
  }

  #primaryKey(body: RowsBody, tableMap: TableMap | undefined): readonly string[] {
    if (tableMap !== undefined && tableMap.columnsSource === 'binlog') {
      // Full row metadata names the key itself; no key there means the table has none.
      const names: string[] = [];
      for (const p of tableMap.primaryKey) {
        const c = tableMap.columns[p.index];
        if (c !== undefined) names.push(c.name);
      }
      return names;
    }
    const entry = this.#options.history.get(body.schema, body.table);
    if (entry !== undefined && entry.columns.length === body.columns.length) return entry.primaryKey;
    if (tableMap !== undefined && tableMap.columnsSource === 'positional') {
      const key = `${body.schema}.${body.table}`;
      if (!this.#warnedPositional.has(key)) {
        this.#warnedPositional.add(key);
        this.#log.warn(
          { schema: body.schema, table: body.table, columns: body.columns.length },
          `Capturing table "${key}" with positional column names (@1, @2...): the binlog has no column metadata and the schema history has no definition with ${body.columns.length} columns`,
        );
      }
    }
    return tableMap?.columns.filter((c) => c.primaryKey === true).map((c) => c.name) ?? [];
  }

  /**
   * Applies the transaction's DDL to the schema history, valid from the coordinates right after it. A definition
   * stored at exactly those coordinates (by an earlier run that saw the same DDL) wins over a new read of the
   * source, which may already reflect later DDL.
   */
  async #afterDdl(trx: CapturedTransaction, after: BinlogCoordinates): Promise<void> {
    const { history, filter } = this.#options;
    for (const d of trx.ddl) {
      const effect = parseDdl(d.statement, d.schema ?? '');
      switch (effect.kind) {
        case 'create':
        case 'alter': {
          const tables = [effect.table];
          if (effect.kind === 'alter' && effect.renamedTo !== undefined) {
            this.#forget(effect.table, after);
            tables[0] = effect.renamedTo;
          }
          await this.#refresh(
            tables.filter((t) => filter.matches(t.schema, t.table)),
            after,
          );
          break;
        }
        case 'drop':
          for (const t of effect.tables) this.#forget(t, after);
          break;
        case 'rename':
          for (const { from, to } of effect.pairs) {
            const old = history.get(from.schema, from.table);
            if (old !== undefined) this.#forget(from, after);
            if (!filter.matches(to.schema, to.table)) continue;
            if (old !== undefined) {
              this.#record({ ...old, schema: to.schema, table: to.table, validFrom: after });
            } else {
              await this.#refresh([to], after);
            }
          }
          break;
        case 'drop_schema':
          for (const t of history.tablesOf(effect.schema)) this.#forget(t, after);
          break;
        case 'truncate':
        case 'other':
          break;
      }
    }
    if (this.batch.due) await this.flush();
  }

  /**
   * A dropped table leaves the history in memory only: the store keeps definitions, not their absence; a table
   * created again under the same name gets a new entry from its CREATE.
   */
  #forget(t: TableName, after: BinlogCoordinates): void {
    this.#options.history.apply(dropped(t, after));
  }

  #record(entry: TableSchemaEntry): void {
    this.#options.history.apply(entry);
    this.batch.addTableSchema(entry);
  }

  async #refresh(tables: readonly TableName[], after: BinlogCoordinates): Promise<void> {
    const { index, serverId, snapshot, history } = this.#options;
    const fresh: TableName[] = [];
    for (const t of tables) {
      const stored = await index.tableSchemaAt(serverId, t.schema, t.table, { coordinates: after });
      if (stored !== undefined && compareCoordinates(stored.validFrom, after) === 0) {
        history.apply(stored);
      } else {
        fresh.push(t);
      }
    }
    if (fresh.length === 0) return;
    if (snapshot === undefined) {
      for (const t of fresh) {
        // Offline: the new definition is unknown; forget the old one rather than decode with it.
        history.apply(dropped(t, after));
      }
      return;
    }
    const entries = await snapshot(fresh, after);
    const found = new Set(entries.map((e) => `${e.schema}.${e.table}`));
    for (const e of entries) this.#record(e);
    for (const t of fresh) {
      if (!found.has(`${t.schema}.${t.table}`)) {
        // Gone again by now (dropped later in the binlog): its definition at this point cannot be read.
        history.apply(dropped(t, after));
      }
    }
  }
}

function dropped(t: TableName, validFrom: BinlogCoordinates): TableSchemaEntry {
  return { schema: t.schema, table: t.table, validFrom, columns: [], primaryKey: [] };
}
