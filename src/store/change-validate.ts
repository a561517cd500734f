import {
  CHANGE_TYPES,
  DEFAULT_CHANGE_QUERY_LIMIT,
  MAX_CHANGE_QUERY_LIMIT,
  type BinlogCoordinates,
  type CapturedTransaction,
  type ChangeQuery,
  type ChangeType,
  type CommitBatch,
  type DdlFilter,
  type NewGap,
  type ServerIdentity,
  type TableSchemaEntry,
} from './change-index.js';
import { InvalidValueError } from './errors.js';
import { checkId } from './validate.js';

/**
 * Checks of values handed to the change index, shared by every backend so that all refuse the same input with
 * the same message, before anything is written.
 */

const GAP_REASONS = ['binlog_purged', 'pruned', 'accepted_restart', 'other'] as const;
const MAX_NAME = 64 * 4;

function invalid(message: string, fields: Record<string, unknown> = {}): InvalidValueError {
  return new InvalidValueError(message, { fields });
}

function checkPosition(what: string, position: number): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw invalid(`Cannot record ${what}: expected a binlog position of at least 0, got ${position}`, {
      position,
    });
  }
}

export function checkBinlogCoordinates(what: string, c: BinlogCoordinates): void {
  if (typeof c.file !== 'string' || c.file.length === 0 || c.file.length > 512) {
    throw invalid(`Cannot record ${what}: expected a binlog file name of 1 to 512 characters`, {
      file: c.file,
    });
  }
  checkPosition(what, c.position);
  if (c.gtidSet !== null && (typeof c.gtidSet !== 'string' || c.gtidSet.length > 1_000_000)) {
    throw invalid(`Cannot record ${what}: expected a GTID set of at most 1000000 characters or null`);
  }
}

function checkIdentity(identity: ServerIdentity): void {
  if (typeof identity.serverId !== 'string' || identity.serverId.length === 0) {
    throw invalid('Cannot record checkpoint: expected the source server_id in its identity');
  }
  if (identity.flavor !== 'mysql' && identity.flavor !== 'mariadb') {
    throw invalid(
      `Cannot record checkpoint: expected flavor mysql or mariadb, got "${String(identity.flavor)}"`,
    );
  }
}

function checkMicros(what: string, value: bigint): void {
  if (typeof value !== 'bigint' || value < 0n || value >= 1n << 63n) {
    throw invalid(`Cannot record ${what}: expected microseconds since the epoch as a non-negative bigint`);
  }
}

function checkName(what: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
    throw invalid(`Cannot record ${what}: expected a name of 1 to ${MAX_NAME} characters`, { name });
  }
}

export function checkTransaction(tx: CapturedTransaction, index: number): void {
  const what = `transaction ${index} of the batch`;
  if (tx.file.length === 0) throw invalid(`Cannot record ${what}: expected a binlog file name`);
  checkPosition(what, tx.position);
  checkPosition(what, tx.endPosition);
  checkMicros(`commit time of ${what}`, tx.commitTimeUs);
  if (tx.threadId !== null && (!Number.isSafeInteger(tx.threadId) || tx.threadId < 0)) {
    throw invalid(`Cannot record ${what}: expected a thread id of at least 0 or null, got ${tx.threadId}`);
  }
  tx.changes.forEach((ch, i) => {
    const where = `row change ${i} of ${what}`;
    checkName(`schema of ${where}`, ch.schema);
    checkName(`table of ${where}`, ch.table);
    if (!(CHANGE_TYPES as readonly string[]).includes(ch.type)) {
      throw invalid(
        `Cannot record ${where}: expected type insert, update or delete, got "${String(ch.type)}"`,
      );
    }
    if (typeof ch.pk !== 'string' || !ch.pk.startsWith('[')) {
      throw invalid(
        `Cannot record ${where} on ${ch.schema}.${ch.table}: expected the pk as a JSON array text`,
      );
    }
    const needBefore = ch.type !== 'insert';
    const needAfter = ch.type !== 'delete';
    if ((ch.before !== null) !== needBefore || (ch.after !== null) !== needAfter) {
      throw invalid(
        `Cannot record ${where} on ${ch.schema}.${ch.table}: a ${ch.type} needs ${
          ch.type === 'update' ? 'both images' : needBefore ? 'only a before image' : 'only an after image'
        }`,
      );
    }
  });
  tx.ddl.forEach((d, i) => {
    if (typeof d.statement !== 'string' || d.statement.length === 0) {
      throw invalid(`Cannot record DDL ${i} of ${what}: expected a statement`);
    }
  });
}

export function checkGap(gap: NewGap): void {
  if (!(GAP_REASONS as readonly string[]).includes(gap.reason)) {
    throw invalid(
      `Cannot record gap: expected reason ${GAP_REASONS.join(', ')}, got "${String(gap.reason)}"`,
    );
  }
  checkBinlogCoordinates('start of the gap', gap.from);
  checkBinlogCoordinates('end of the gap', gap.to);
  if (gap.fromTimeUs !== null) checkMicros('start time of the gap', gap.fromTimeUs);
  if (gap.toTimeUs !== null) checkMicros('end time of the gap', gap.toTimeUs);
  if (typeof gap.detail !== 'string') throw invalid('Cannot record gap: expected a detail text');
}

/** The binlog file's numeric suffix (`binlog.000042` -> 42), by which files are ordered. */
export function binlogFileNumber(file: string): number {
  const m = /(\d+)$/.exec(file);
  const n = m === null ? NaN : Number(m[1]);
  if (!Number.isSafeInteger(n)) {
    throw invalid(`Cannot order binlog file "${file}": expected a name ending in a sequence number`, {
      file,
    });
  }
  return n;
}

export function checkTableSchema(entry: TableSchemaEntry): void {
  const what = `schema history of ${entry.schema}.${entry.table}`;
  checkName(`schema name of ${what}`, entry.schema);
  checkName(`table name of ${what}`, entry.table);
  checkBinlogCoordinates(what, entry.validFrom);
  binlogFileNumber(entry.validFrom.file);
  if (
    entry.validFromSeq !== undefined &&
    (typeof entry.validFromSeq !== 'bigint' || entry.validFromSeq < 0n)
  ) {
    throw invalid(`Cannot record ${what}: expected validFromSeq as a non-negative bigint`);
  }
  if (entry.columns.length === 0) throw invalid(`Cannot record ${what}: expected at least one column`);
  const names = new Set(entry.columns.map((c) => c.name));
  for (const k of entry.primaryKey) {
    if (!names.has(k)) {
      throw invalid(`Cannot record ${what}: primary key column "${k}" is not one of its columns`);
    }
  }
}

export function checkCommitBatch(serverId: string, batch: CommitBatch): void {
  checkId('server id', serverId);
  checkBinlogCoordinates('checkpoint', batch.checkpoint.coordinates);
  checkIdentity(batch.checkpoint.identity);
  if (batch.expectPrevious !== undefined && batch.expectPrevious !== null) {
    checkBinlogCoordinates('expected previous checkpoint', batch.expectPrevious);
  }
  batch.transactions.forEach(checkTransaction);
  if (batch.gap !== undefined) checkGap(batch.gap);
  for (const s of batch.tableSchemas ?? []) checkTableSchema(s);
}

export function checkLimit(what: string, limit: number | undefined): number {
  const n = limit ?? DEFAULT_CHANGE_QUERY_LIMIT;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CHANGE_QUERY_LIMIT) {
    throw invalid(`Cannot ${what}: limit must be between 1 and ${MAX_CHANGE_QUERY_LIMIT}, got ${n}`, {
      limit: n,
    });
  }
  return n;
}

/** The validated query with its defaults resolved. */
export interface CheckedQuery {
  readonly types: readonly ChangeType[];
  readonly limit: number;
  readonly order: 'asc' | 'desc';
}

export function checkChangeQuery(q: ChangeQuery): CheckedQuery {
  checkId('tenant id', q.tenantId);
  checkId('server id', q.serverId);
  if (q.table !== undefined && q.schema === undefined) {
    throw invalid(`Cannot query changes of table "${q.table}": expected its schema too`);
  }
  if (q.pk !== undefined && q.table === undefined) {
    throw invalid('Cannot query changes by primary key: expected a schema and table too');
  }
  if (q.sinceUs !== undefined && q.untilUs !== undefined && q.sinceUs > q.untilUs) {
    throw invalid('Cannot query changes: the start of the time range is after its end');
  }
  const types: readonly ChangeType[] =
    q.type === undefined ? [] : typeof q.type === 'string' ? [q.type] : q.type;
  for (const t of types) {
    if (!(CHANGE_TYPES as readonly string[]).includes(t)) {
      throw invalid(`Cannot query changes of type "${String(t)}": expected insert, update or delete`);
    }
  }
  if (q.columnEq !== undefined) checkJsonKey(q.columnEq.column);
  if (q.seqRange !== undefined) {
    const { after, until } = q.seqRange;
    for (const [name, v] of [
      ['after', after],
      ['until', until],
    ] as const) {
      if (v !== undefined && (typeof v !== 'bigint' || v < 0n)) {
        throw invalid(
          `Cannot query changes: seqRange.${name} must be a non-negative bigint, got ${String(v)}`,
        );
      }
    }
    if (after !== undefined && until !== undefined && after > until) {
      throw invalid(`Cannot query changes: seqRange.after ${after} is above seqRange.until ${until}`);
    }
  }
  const order = q.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') {
    throw invalid(`Cannot query changes in order "${String(order)}": expected asc or desc`);
  }
  return { types, limit: checkLimit('query changes', q.limit), order };
}

export function checkDdlFilter(f: DdlFilter): number {
  return checkLimit('list DDL events', f.limit);
}

/**
 * Column names are looked up in the JSON images by a quoted path (`$."name"`), in which SQLite has no escape for
 * a double quote or backslash: refuse those rather than match the wrong key.
 */
export function checkJsonKey(column: string): void {
  if (column.length === 0 || /["\\]/.test(column)) {
    throw invalid(
      `Cannot match column "${column}" in row images: expected a non-empty name without double quotes or backslashes`,
      { column },
    );
  }
}
