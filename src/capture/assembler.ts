import { EventFlag } from '../binlog/event-types.js';
import type { DecodedEvent, QueryBody, RowsBody, TableMap } from '../binlog/events.js';
import { CoordinateTracker } from '../source/replication/coordinates.js';
import type {
  BinlogCoordinates,
  CapturedDdl,
  CapturedRowChange,
  CapturedTransaction,
} from '../store/change-index.js';
import type { TableFilter } from './filter.js';
import { approximateSize, rowChanges } from './row-change.js';

/**
 * Assembles decoded binlog events into whole source transactions, and keeps the coordinates at which a resume is
 * safe. Pure: no I/O; the capture loop feeds events in binlog order and commits what comes out.
 *
 * Transaction boundaries (MySQL `binlog.cc`, MariaDB `log.cc`):
 * - a GTID event (MySQL GTID/ANONYMOUS_GTID, MariaDB GTID) opens a transaction;
 * - `BEGIN` (or `XA START`) opens one when no GTID did (binlogs without GTIDs);
 * - XID, `COMMIT`, `ROLLBACK` or XA_PREPARE closes it;
 * - any other QUERY outside `BEGIN` is a DDL: its own transaction, closed right after it unless the binlog says more
 *   follows: MariaDB's GTID without FL_STANDALONE (CREATE ... SELECT rows), or a MySQL GTID whose
 *   transaction_length reaches past the statement.
 *
 * The thread id comes from the transaction's QUERY events (BEGIN, COMMIT, the DDL) or MariaDB 11's GTID event;
 * MariaDB 10.x writes none for a row-only transaction (its GTID event stands for BEGIN), so it stays null there.
 *
 * The checkpoint is never inside a transaction: `safeCoordinates` only moves at transaction ends and on events
 * between transactions (ROTATE, FORMAT_DESCRIPTION, GTID_LIST...), never between a TABLE_MAP and its rows.
 */
export interface AssemblerOptions {
  readonly flavor: 'mysql' | 'mariadb';
  /** Where the events start: the resume coordinates (the GTID state seeds the tracker). */
  readonly start: BinlogCoordinates;
  readonly filter: TableFilter;
  /** Primary key column names, in key order, for the table a rows event was decoded with; [] for none. */
  readonly primaryKey: (body: RowsBody, tableMap: TableMap | undefined) => readonly string[];
  /** Something was seen that capture cannot record faithfully; the caller logs it. */
  readonly onWarning?: (message: string, fields: Record<string, unknown>) => void;
}

/** A transaction that closed, with the coordinates right after it (the checkpoint once it is committed). */
export interface AssembledTransaction {
  readonly transaction: CapturedTransaction;
  readonly after: BinlogCoordinates;
  /** Approximate bytes held by its changes, for batch limits. */
  readonly bytes: number;
  /** Row changes before filtering (the binlog's own count). */
  readonly rowsSeen: number;
}

interface OpenTransaction {
  gtid: string | null;
  file: string;
  position: number;
  /** `BEGIN` seen: statements until COMMIT/XID belong to the transaction. */
  begun: boolean;
  /** MariaDB GTID without FL_STANDALONE: a terminating XID/COMMIT follows even after a DDL. */
  expectsTerminator: boolean;
  /** MySQL: end offset computed from transaction_length. */
  mysqlEnd: number | undefined;
  mysqlCommitUs: bigint | undefined;
  threadId: number | null;
  changes: CapturedRowChange[];
  ddl: CapturedDdl[];
  bytes: number;
  rowsSeen: number;
}

const TRANSACTION_START = /^\s*(BEGIN|XA\s+START)\b/i;
const TRANSACTION_END = /^\s*(COMMIT|ROLLBACK(?!\s+TO\b)|XA\s+(COMMIT|ROLLBACK))\b/i;
const XA_END = /^\s*XA\s+END\b/i;
const SAVEPOINT = /^\s*(SAVEPOINT|ROLLBACK\s+TO|RELEASE\s+SAVEPOINT)\b/i;
const STATEMENT_DML = /^\s*(INSERT|UPDATE|DELETE|REPLACE|LOAD\s+DATA)\b/i;

export class TransactionAssembler {
  readonly #options: AssemblerOptions;
  readonly #tracker: CoordinateTracker;
  #open: OpenTransaction | undefined;
  #safe: BinlogCoordinates;
  #file: string;

  constructor(options: AssemblerOptions) {
    this.#options = options;
    const { file, position, gtidSet } = options.start;
    this.#tracker = new CoordinateTracker(options.flavor, {
      file,
      position,
      ...(gtidSet !== null && gtidSet !== '' ? { gtid: gtidSet } : {}),
    });
    this.#safe = options.start;
    this.#file = file;
  }

  /** The coordinates after the last complete transaction or between-transaction event: where a resume is safe. */
  get safeCoordinates(): BinlogCoordinates {
    return this.#safe;
  }

  /** Whether the last event left a transaction open. */
  get inTransaction(): boolean {
    return this.#open !== undefined;
  }

  /**
   * Feeds one event (events inside a TRANSACTION_PAYLOAD after their payload event, as the decoder flattens them).
   * Returns the transaction the event closed, if any.
   */
  push(event: DecodedEvent): AssembledTransaction | undefined {
    const body = event.body;
    if (body.kind === 'heartbeat') return undefined;
    this.#tracker.observe(event);
    if (event.file !== undefined) this.#file = event.file;
    const artificial = (event.header.flags & EventFlag.ARTIFICIAL) !== 0 || event.header.logPos === 0;
    switch (body.kind) {
      case 'mysql_gtid':
        this.#begin(event, body.gtid ?? null);
        if (this.#open !== undefined) {
          if (body.transactionLength !== undefined && body.transactionLength > 0n) {
            this.#open.mysqlEnd = event.pos + Number(body.transactionLength);
          }
          this.#open.mysqlCommitUs = body.immediateCommitTimestamp ?? body.originalCommitTimestamp;
        }
        return undefined;
      case 'mariadb_gtid':
        this.#begin(event, body.gtid);
        if (this.#open !== undefined) {
          // Without FL_STANDALONE the GTID event opens a transaction that XID or COMMIT closes (it replaces BEGIN).
          this.#open.expectsTerminator = !body.standalone;
          if (body.threadId !== undefined) this.#open.threadId = body.threadId;
        }
        return undefined;
      case 'query':
        return this.#query(event, body);
      case 'table_map':
        this.#ensureOpen(event);
        return undefined;
      case 'rows':
        this.#rows(event, body);
        return undefined;
      case 'xid':
      case 'xa_prepare':
        this.#ensureOpen(event);
        return this.#close(event, undefined);
      case 'transaction_payload':
        // Its inner events follow, each carrying the payload's position.
        return undefined;
      default:
        if (this.#open === undefined && !artificial && event.payloadIndex === undefined) {
          this.#safe = this.#coordinates();
        }
        return undefined;
    }
  }

  #coordinates(): BinlogCoordinates {
    const c = this.#tracker.coordinates;
    return { file: c.file ?? this.#file, position: c.position, gtidSet: c.gtid ?? null };
  }

  #begin(event: DecodedEvent, gtid: string | null): void {
    if (this.#open !== undefined) {
      // A GTID inside an open transaction: the previous one never closed (a truncated binlog, a server crash).
      // Its events are not a complete transaction; drop them rather than record half of one.
      this.#options.onWarning?.(
        `Dropping an unterminated transaction at ${this.#open.file}:${this.#open.position}: a new GTID event started before its end`,
        { file: this.#open.file, position: this.#open.position, gtid: this.#open.gtid },
      );
    }
    this.#open = {
      gtid,
      file: event.file ?? this.#file,
      position: event.pos,
      begun: false,
      expectsTerminator: false,
      mysqlEnd: undefined,
      mysqlCommitUs: undefined,
      threadId: null,
      changes: [],
      ddl: [],
      bytes: 0,
      rowsSeen: 0,
    };
  }

  #ensureOpen(event: DecodedEvent): OpenTransaction {
    if (this.#open === undefined) this.#begin(event, event.gtid ?? null);
    return this.#open as OpenTransaction;
  }

  #query(event: DecodedEvent, q: QueryBody): AssembledTransaction | undefined {
    const text = q.query;
    if (TRANSACTION_START.test(text)) {
      const open = this.#ensureOpen(event);
      open.begun = true;
      open.threadId = q.threadId;
      return undefined;
    }
    if (TRANSACTION_END.test(text)) {
      const open = this.#ensureOpen(event);
      if (open.threadId === null) open.threadId = q.threadId;
      return this.#close(event, q);
    }
    const open = this.#open;
    const schema = q.schema === '' ? null : q.schema;
    if (open !== undefined && (open.begun || open.expectsTerminator)) {
      // Inside a transaction that a COMMIT/XID will close (MariaDB's GTID event stands for BEGIN).
      if (XA_END.test(text) || SAVEPOINT.test(text)) return undefined;
      if (STATEMENT_DML.test(text)) {
        this.#options.onWarning?.(
          `Cannot capture a statement-based change at ${event.file ?? this.#file}:${event.pos}: the binlog holds the statement, not its rows (use binlog_format=ROW)`,
          { file: event.file ?? this.#file, position: event.pos },
        );
        return undefined;
      }
      // A DDL that is part of the transaction (CREATE TABLE ... SELECT): recorded, the transaction stays open.
      if (this.#keepDdl(schema, text)) open.ddl.push({ schema, statement: text });
      return undefined;
    }
    // A DDL (or another statement logged on its own: GRANT, CREATE USER...).
    const trx = this.#ensureOpen(event);
    trx.threadId = q.threadId;
    if (this.#keepDdl(schema, text)) trx.ddl.push({ schema, statement: text });
    const more =
      trx.mysqlEnd !== undefined && event.payloadIndex === undefined && event.nextPos < trx.mysqlEnd;
    return more ? undefined : this.#close(event, q);
  }

  #keepDdl(schema: string | null, statement: string): boolean {
    const filter = this.#options.filter;
    if (filter.all) return true;
    // Keep a DDL that may concern a captured table: it names one, or runs in a captured schema.
    if (schema !== null && filter.matchesSchema(schema)) return true;
    for (const s of filter.schemas) if (statement.includes(s)) return true;
    for (const t of filter.tables) if (statement.includes(t.slice(t.indexOf('.') + 1))) return true;
    return false;
  }

  #rows(event: DecodedEvent, body: RowsBody): void {
    const trx = this.#ensureOpen(event);
    trx.rowsSeen += body.rows.length;
    if (!this.#options.filter.matches(body.schema, body.table)) return;
    const pk = this.#options.primaryKey(body, body.tableMap);
    for (const change of rowChanges(body, pk)) {
      trx.changes.push(change);
      trx.bytes += approximateSize(change);
    }
  }

  #close(event: DecodedEvent, terminator: QueryBody | undefined): AssembledTransaction {
    const trx = this.#open as OpenTransaction;
    this.#open = undefined;
    let commitTimeUs = trx.mysqlCommitUs;
    if (commitTimeUs === undefined) {
      // Only seconds in the header; MariaDB adds the statement's microseconds (Q_HRNOW) to QUERY events.
      commitTimeUs = BigInt(event.header.timestamp) * 1_000_000n + BigInt(terminator?.statusVars.hrnow ?? 0);
    }
    const after = this.#coordinates();
    this.#safe = after;
    return {
      transaction: {
        gtid: trx.gtid,
        file: trx.file,
        position: trx.position,
        endPosition: event.nextPos,
        commitTimeUs,
        threadId: trx.threadId,
        changes: trx.changes,
        ddl: trx.ddl,
      },
      after,
      bytes: trx.bytes + 128,
      rowsSeen: trx.rowsSeen,
    };
  }
}
