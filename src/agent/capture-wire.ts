import type { CanonicalValue } from '../binlog/column-types.js';
import {
  CHANGE_TYPES,
  type BinlogCoordinates,
  type CapturedRowChange,
  type CapturedTransaction,
  type ChangeStats,
  type Checkpoint,
  type CommitBatch,
  type CommitResult,
  type NewGap,
  type RowImage,
  type ServerIdentity,
  type TableColumn,
  type TableSchemaEntry,
} from '../store/change-index.js';
import { WireFormatError } from './errors.js';

/**
 * The JSON forms of the capture part of the agent protocol (/api/v1/agent/jobs/{id}/capture/*), used by both ends.
 * snake_case like the rest of the API; every bigint (commit times, seq numbers, counts) travels as a decimal
 * string, since a JSON number is read as a double and a microsecond timestamp or a seq past 2^53 would be rounded.
 * Row images are canonical values already (text, null or `{"hex": ...}`), so they pass through unchanged, but are
 * checked value by value on the way in: the control plane must not store what an agent made up.
 */

export interface CoordinatesJson {
  readonly file: string;
  readonly position: number;
  readonly gtid_set: string | null;
}

type Json = Record<string, unknown>;

const GAP_REASONS: readonly NewGap['reason'][] = ['binlog_purged', 'pruned', 'accepted_restart', 'other'];

export function coordinatesToJson(c: BinlogCoordinates): CoordinatesJson {
  return { file: c.file, position: c.position, gtid_set: c.gtidSet };
}

export function coordinatesFromJson(value: unknown, path: string): BinlogCoordinates {
  const o = obj(value, path);
  return {
    file: str(o, 'file', path),
    position: int(o, 'position', path),
    gtidSet: strOrNull(o, 'gtid_set', path),
  };
}

function identityToJson(i: ServerIdentity): Json {
  return { server_uuid: i.serverUuid, server_id: i.serverId, hostname: i.hostname, flavor: i.flavor };
}

function identityFromJson(value: unknown, path: string): ServerIdentity {
  const o = obj(value, path);
  const flavor = str(o, 'flavor', path);
  if (flavor !== 'mysql' && flavor !== 'mariadb') throw bad(`${path}.flavor`, 'mysql or mariadb');
  return {
    serverUuid: strOrNull(o, 'server_uuid', path),
    serverId: str(o, 'server_id', path),
    hostname: str(o, 'hostname', path),
    flavor,
  };
}

export function checkpointToJson(c: Checkpoint | undefined): Json | null {
  if (c === undefined) return null;
  return {
    server_id: c.serverId,
    coordinates: coordinatesToJson(c.coordinates),
    identity: identityToJson(c.identity),
    updated_at: c.updatedAt.toISOString(),
  };
}

export function checkpointFromJson(value: unknown): Checkpoint | undefined {
  if (value === null || value === undefined) return undefined;
  const o = obj(value, 'checkpoint');
  const updatedAt = new Date(str(o, 'updated_at', 'checkpoint'));
  if (Number.isNaN(updatedAt.getTime())) throw bad('checkpoint.updated_at', 'an ISO 8601 time');
  return {
    serverId: str(o, 'server_id', 'checkpoint'),
    coordinates: coordinatesFromJson(o['coordinates'], 'checkpoint.coordinates'),
    identity: identityFromJson(o['identity'], 'checkpoint.identity'),
    updatedAt,
  };
}

function changeToJson(c: CapturedRowChange): Json {
  return {
    schema: c.schema,
    table: c.table,
    type: c.type,
    pk: c.pk,
    pk_columns: c.pkColumns,
    pk_is_full_image: c.pkIsFullImage,
    before: c.before,
    after: c.after,
    changed_columns: c.changedColumns,
  };
}

function changeFromJson(value: unknown, path: string): CapturedRowChange {
  const o = obj(value, path);
  const type = str(o, 'type', path);
  if (!(CHANGE_TYPES as readonly string[]).includes(type))
    throw bad(`${path}.type`, 'insert, update or delete');
  const pkFull = o['pk_is_full_image'];
  if (typeof pkFull !== 'boolean') throw bad(`${path}.pk_is_full_image`, 'true or false');
  const changed = o['changed_columns'];
  return {
    schema: str(o, 'schema', path),
    table: str(o, 'table', path),
    type: type as CapturedRowChange['type'],
    pk: str(o, 'pk', path),
    pkColumns: strings(o['pk_columns'], `${path}.pk_columns`),
    pkIsFullImage: pkFull,
    before: imageOrNull(o['before'], `${path}.before`),
    after: imageOrNull(o['after'], `${path}.after`),
    changedColumns:
      changed === null || changed === undefined ? null : strings(changed, `${path}.changed_columns`),
  };
}

export function transactionToJson(tx: CapturedTransaction): Json {
  return {
    gtid: tx.gtid,
    file: tx.file,
    position: tx.position,
    end_position: tx.endPosition,
    commit_time_us: tx.commitTimeUs.toString(),
    thread_id: tx.threadId,
    changes: tx.changes.map(changeToJson),
    ddl: tx.ddl.map((d) => ({ schema: d.schema, statement: d.statement })),
  };
}

function transactionFromJson(value: unknown, path: string): CapturedTransaction {
  const o = obj(value, path);
  const threadId = o['thread_id'];
  if (
    threadId !== null &&
    threadId !== undefined &&
    (typeof threadId !== 'number' || !Number.isSafeInteger(threadId))
  ) {
    throw bad(`${path}.thread_id`, 'a whole number or null');
  }
  return {
    gtid: strOrNull(o, 'gtid', path),
    file: str(o, 'file', path),
    position: int(o, 'position', path),
    endPosition: int(o, 'end_position', path),
    commitTimeUs: big(o, 'commit_time_us', path),
    threadId: typeof threadId === 'number' ? threadId : null,
    changes: list(o['changes'], `${path}.changes`).map((c, i) => changeFromJson(c, `${path}.changes[${i}]`)),
    ddl: list(o['ddl'], `${path}.ddl`).map((d, i) => {
      const p = `${path}.ddl[${i}]`;
      const od = obj(d, p);
      return { schema: strOrNull(od, 'schema', p), statement: str(od, 'statement', p) };
    }),
  };
}

export function tableSchemaToJson(e: TableSchemaEntry): Json {
  return {
    schema: e.schema,
    table: e.table,
    valid_from: coordinatesToJson(e.validFrom),
    ...(e.validFromSeq !== undefined ? { valid_from_seq: e.validFromSeq.toString() } : {}),
    columns: e.columns.map((c) => ({
      name: c.name,
      type: c.type,
      unsigned: c.unsigned,
      charset: c.charset,
      collation: c.collation,
      nullable: c.nullable,
    })),
    primary_key: e.primaryKey,
  };
}

export function tableSchemaFromJson(value: unknown, path: string): TableSchemaEntry {
  const o = obj(value, path);
  const columns = list(o['columns'], `${path}.columns`).map((c, i): TableColumn => {
    const p = `${path}.columns[${i}]`;
    const oc = obj(c, p);
    return {
      name: str(oc, 'name', p),
      type: str(oc, 'type', p),
      unsigned: bool(oc, 'unsigned', p),
      charset: strOrNull(oc, 'charset', p),
      collation: strOrNull(oc, 'collation', p),
      nullable: bool(oc, 'nullable', p),
    };
  });
  return {
    schema: str(o, 'schema', path),
    table: str(o, 'table', path),
    validFrom: coordinatesFromJson(o['valid_from'], `${path}.valid_from`),
    ...(o['valid_from_seq'] !== undefined && o['valid_from_seq'] !== null
      ? { validFromSeq: big(o, 'valid_from_seq', path) }
      : {}),
    columns,
    primaryKey: strings(o['primary_key'], `${path}.primary_key`),
  };
}

function gapToJson(g: NewGap): Json {
  return {
    from: coordinatesToJson(g.from),
    to: coordinatesToJson(g.to),
    from_time_us: g.fromTimeUs?.toString() ?? null,
    to_time_us: g.toTimeUs?.toString() ?? null,
    reason: g.reason,
    detail: g.detail,
  };
}

function gapFromJson(value: unknown, path: string): NewGap {
  const o = obj(value, path);
  const reason = str(o, 'reason', path);
  if (!(GAP_REASONS as readonly string[]).includes(reason))
    throw bad(`${path}.reason`, GAP_REASONS.join(', '));
  return {
    from: coordinatesFromJson(o['from'], `${path}.from`),
    to: coordinatesFromJson(o['to'], `${path}.to`),
    fromTimeUs: bigOrNull(o, 'from_time_us', path),
    toTimeUs: bigOrNull(o, 'to_time_us', path),
    reason: reason as NewGap['reason'],
    detail: str(o, 'detail', path),
  };
}

/**
 * A commit batch for the wire. `expect_previous` is always present: null means "no checkpoint yet", exactly as in
 * `CommitBatch`; a remote commit without fencing is not offered.
 */
export function commitBatchToJson(batch: CommitBatch): Json {
  return {
    transactions: batch.transactions.map(transactionToJson),
    checkpoint: {
      coordinates: coordinatesToJson(batch.checkpoint.coordinates),
      identity: identityToJson(batch.checkpoint.identity),
    },
    expect_previous:
      batch.expectPrevious === undefined || batch.expectPrevious === null
        ? null
        : coordinatesToJson(batch.expectPrevious),
    ...(batch.gap !== undefined ? { gap: gapToJson(batch.gap) } : {}),
    ...(batch.tableSchemas !== undefined ? { table_schemas: batch.tableSchemas.map(tableSchemaToJson) } : {}),
  };
}

export function commitBatchFromJson(value: unknown): CommitBatch {
  const o = obj(value, 'batch');
  const cp = obj(o['checkpoint'], 'checkpoint');
  if (!('expect_previous' in o))
    throw bad('expect_previous', 'the coordinates the agent last committed, or null');
  const prev = o['expect_previous'];
  return {
    transactions: list(o['transactions'], 'transactions').map((t, i) =>
      transactionFromJson(t, `transactions[${i}]`),
    ),
    checkpoint: {
      coordinates: coordinatesFromJson(cp['coordinates'], 'checkpoint.coordinates'),
      identity: identityFromJson(cp['identity'], 'checkpoint.identity'),
    },
    expectPrevious: prev === null ? null : coordinatesFromJson(prev, 'expect_previous'),
    ...(o['gap'] !== undefined && o['gap'] !== null ? { gap: gapFromJson(o['gap'], 'gap') } : {}),
    ...(o['table_schemas'] !== undefined && o['table_schemas'] !== null
      ? {
          tableSchemas: list(o['table_schemas'], 'table_schemas').map((e, i) =>
            tableSchemaFromJson(e, `table_schemas[${i}]`),
          ),
        }
      : {}),
  };
}

export function commitResultToJson(r: CommitResult): Json {
  return { first_seq: r.firstSeq?.toString() ?? null, last_seq: r.lastSeq?.toString() ?? null };
}

export function commitResultFromJson(value: unknown): CommitResult {
  const o = obj(value, 'commit result');
  return {
    firstSeq: bigOrNull(o, 'first_seq', 'commit result'),
    lastSeq: bigOrNull(o, 'last_seq', 'commit result'),
  };
}

export function statsToJson(s: ChangeStats): Json {
  return {
    row_changes: s.rowChanges.toString(),
    transactions: s.transactions.toString(),
    ddl_events: s.ddlEvents.toString(),
    first_commit_time_us: s.firstCommitTimeUs?.toString() ?? null,
    last_commit_time_us: s.lastCommitTimeUs?.toString() ?? null,
    last_seq: s.lastSeq.toString(),
  };
}

export function statsFromJson(value: unknown): ChangeStats {
  const o = obj(value, 'stats');
  return {
    rowChanges: big(o, 'row_changes', 'stats'),
    transactions: big(o, 'transactions', 'stats'),
    ddlEvents: big(o, 'ddl_events', 'stats'),
    firstCommitTimeUs: bigOrNull(o, 'first_commit_time_us', 'stats'),
    lastCommitTimeUs: bigOrNull(o, 'last_commit_time_us', 'stats'),
    lastSeq: big(o, 'last_seq', 'stats'),
  };
}

// ---------------------------------------------------------------------------------------------------------------

function bad(path: string, expected: string): WireFormatError {
  return new WireFormatError(`Cannot read the capture batch: field "${path}" must be ${expected}`, {
    fields: { field: path },
  });
}

function obj(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(path, 'an object');
  return value as Json;
}

function list(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw bad(path, 'an array');
  return value;
}

function strings(value: unknown, path: string): readonly string[] {
  const items = list(value, path);
  items.forEach((s, i) => {
    if (typeof s !== 'string') throw bad(`${path}[${i}]`, 'a string');
  });
  return items as readonly string[];
}

function str(o: Json, k: string, path: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw bad(`${path}.${k}`, 'a string');
  return v;
}

function strOrNull(o: Json, k: string, path: string): string | null {
  const v = o[k];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw bad(`${path}.${k}`, 'a string or null');
  return v;
}

function bool(o: Json, k: string, path: string): boolean {
  const v = o[k];
  if (typeof v !== 'boolean') throw bad(`${path}.${k}`, 'true or false');
  return v;
}

function int(o: Json, k: string, path: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(`${path}.${k}`, 'a whole number');
  return v;
}

const DECIMAL = /^-?(0|[1-9][0-9]{0,19})$/;

function big(o: Json, k: string, path: string): bigint {
  const v = o[k];
  if (typeof v !== 'string' || !DECIMAL.test(v))
    throw bad(`${path}.${k}`, 'a whole number as a decimal string');
  return BigInt(v);
}

function bigOrNull(o: Json, k: string, path: string): bigint | null {
  const v = o[k];
  return v === null || v === undefined ? null : big(o, k, path);
}

function imageOrNull(value: unknown, path: string): RowImage | null {
  if (value === null || value === undefined) return null;
  const image = obj(value, path);
  for (const column of Object.keys(image)) {
    if (!isCanonical(image[column])) throw bad(`${path}.${column}`, 'text, null or {"hex": "..."}');
  }
  return image as RowImage;
}

function isCanonical(v: unknown): v is CanonicalValue {
  if (v === null || typeof v === 'string') return true;
  if (typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const hex = (v as { hex?: unknown }).hex;
  return keys.length === 1 && typeof hex === 'string' && /^(?:[0-9A-F]{2})*$/i.test(hex);
}
