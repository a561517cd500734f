import type {
  CapturedRowChange,
  CapturedTransaction,
  RowImage,
  ServerIdentity,
} from '../../src/store/change-index.js';
import { pkText } from '../../src/store/change-index.js';

/** Builders of captured transactions for change-index tests and benchmarks. */

export const IDENTITY: ServerIdentity = Object.freeze({
  serverUuid: null,
  serverId: '1',
  hostname: 'db1.test',
  flavor: 'mariadb',
});

/** 2024-05-01T10:00:00Z in microseconds. */
export const T0_US = 1_714_557_600_000_000n;

export function insert(
  schema: string,
  table: string,
  after: RowImage,
  pkColumns = ['id'],
): CapturedRowChange {
  return {
    schema,
    table,
    type: 'insert',
    pk:
      pkColumns.length === 0 ? pkText(Object.values(after)) : pkText(pkColumns.map((c) => after[c] ?? null)),
    pkColumns: pkColumns.length === 0 ? Object.keys(after) : pkColumns,
    pkIsFullImage: pkColumns.length === 0,
    before: null,
    after,
    changedColumns: null,
  };
}

export function update(
  schema: string,
  table: string,
  before: RowImage,
  after: RowImage,
  pkColumns = ['id'],
): CapturedRowChange {
  const changed = Object.keys(after).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return {
    schema,
    table,
    type: 'update',
    pk:
      pkColumns.length === 0
        ? pkText(Object.values(before))
        : pkText(pkColumns.map((c) => before[c] ?? null)),
    pkColumns: pkColumns.length === 0 ? Object.keys(before) : pkColumns,
    pkIsFullImage: pkColumns.length === 0,
    before,
    after,
    changedColumns: changed,
  };
}

export function remove(
  schema: string,
  table: string,
  before: RowImage,
  pkColumns = ['id'],
): CapturedRowChange {
  return {
    schema,
    table,
    type: 'delete',
    pk:
      pkColumns.length === 0
        ? pkText(Object.values(before))
        : pkText(pkColumns.map((c) => before[c] ?? null)),
    pkColumns: pkColumns.length === 0 ? Object.keys(before) : pkColumns,
    pkIsFullImage: pkColumns.length === 0,
    before,
    after: null,
    changedColumns: null,
  };
}

let nextPosition = 4;

/** A transaction at the next binlog position of binlog.000001, `n` seconds after T0. */
export function tx(
  seconds: number,
  changes: readonly CapturedRowChange[],
  options: { gtid?: string | null; file?: string; ddl?: CapturedTransaction['ddl']; micros?: bigint } = {},
): CapturedTransaction {
  const position = nextPosition;
  nextPosition += 1000;
  return {
    gtid: options.gtid === undefined ? `0-1-${position}` : options.gtid,
    file: options.file ?? 'binlog.000001',
    position,
    endPosition: position + 900,
    commitTimeUs: T0_US + BigInt(seconds) * 1_000_000n + (options.micros ?? 0n),
    threadId: 7,
    changes,
    ddl: options.ddl ?? [],
  };
}

/** The checkpoint after a transaction: its end position, in its file. */
export function after(t: CapturedTransaction, gtidSet: string | null = t.gtid) {
  return { coordinates: { file: t.file, position: t.endPosition, gtidSet }, identity: IDENTITY };
}
