import { describe, expect, it } from 'vitest';
import type { DecodedEvent, EventBody, RowsBody, TableMap } from '../binlog/events.js';
import { TransactionAssembler, type AssembledTransaction } from './assembler.js';
import { parseTableFilter } from './filter.js';

/** Builds a binlog of synthetic events laid end to end from offset 4, as a file reader would yield them. */
class Binlog {
  readonly events: DecodedEvent[] = [];
  pos = 4;
  constructor(readonly file = 'binlog.000001') {}

  add(body: EventBody, size = 50, time = 1_700_000_000, gtid?: string): DecodedEvent {
    const e: DecodedEvent = {
      file: this.file,
      pos: this.pos,
      nextPos: this.pos + size,
      type: body.kind,
      header: {
        timestamp: time,
        typeCode: 2,
        serverId: 1,
        eventSize: size,
        logPos: this.pos + size,
        flags: 0,
      },
      gtid,
      payloadIndex: undefined,
      body,
    };
    this.pos += size;
    this.events.push(e);
    return e;
  }
}

const tableMap = (schema: string, table: string, pk: number[], names = ['id', 'v']): TableMap => ({
  tableId: 1,
  flags: 0,
  schema,
  table,
  columns: names.map((name, index) => ({
    index,
    name,
    type: 3,
    meta: 0,
    nullable: false,
    unsigned: false,
    flavor: 'mariadb',
  })),
  columnsSource: 'binlog',
  primaryKey: pk.map((index) => ({ index, prefix: 0 })),
  vectorDimensions: new Map(),
});

function rows(
  op: RowsBody['op'],
  tm: TableMap,
  images: [Record<string, string> | null, Record<string, string> | null][],
): RowsBody {
  return {
    kind: 'rows',
    op,
    tableId: tm.tableId,
    flags: 0,
    schema: tm.schema,
    table: tm.table,
    columns: tm.columns.map((c) => c.name),
    rows: images.map(([before, after]) => ({ before, after })),
    tableMap: tm,
  };
}

const query = (q: string, threadId = 7, hrnow?: number): EventBody => ({
  kind: 'query',
  threadId,
  execTime: 0,
  errorCode: 0,
  schema: 'app',
  query: q,
  statusVars: hrnow === undefined ? {} : { hrnow },
});

const mariaGtid = (seq: number, standalone = false): EventBody => ({
  kind: 'mariadb_gtid',
  gtid: `0-1-${seq}`,
  domainId: 0,
  seqNo: BigInt(seq),
  flags2: standalone ? 1 : 0,
  standalone,
  commitId: undefined,
  xa: undefined,
  flagsExtra: 0,
  extraEngines: undefined,
  startAlterSeqNo: undefined,
  threadId: undefined,
});

function assembler(filter = parseTableFilter(undefined, undefined)): TransactionAssembler {
  return new TransactionAssembler({
    flavor: 'mariadb',
    start: { file: 'binlog.000001', position: 4, gtidSet: '0-1-0' },
    filter,
    primaryKey: (_body, tm) => tm?.primaryKey.map((p) => tm.columns[p.index]?.name ?? '') ?? [],
  });
}

function feed(
  a: TransactionAssembler,
  log: Binlog,
): { done: AssembledTransaction[]; safeAfterEach: string[] } {
  const done: AssembledTransaction[] = [];
  const safeAfterEach: string[] = [];
  for (const e of log.events) {
    const t = a.push(e);
    if (t !== undefined) done.push(t);
    safeAfterEach.push(`${a.safeCoordinates.file}:${a.safeCoordinates.position}`);
  }
  return { done, safeAfterEach };
}

describe('TransactionAssembler', () => {
  it('assembles GTID/BEGIN ... XID into one transaction and never moves the safe position inside it', () => {
    const tm = tableMap('app', 't', [0]);
    const log = new Binlog();
    log.add(
      {
        kind: 'format_description',
        binlogVersion: 4,
        serverVersion: '10.11',
        createTimestamp: 0,
        headerLength: 19,
        checksum: 'crc32',
        flavor: 'mariadb',
      },
      256,
    );
    log.add(mariaGtid(1));
    log.add(query('BEGIN', 42));
    log.add({ kind: 'table_map', tableMap: tm });
    log.add(
      rows('insert', tm, [
        [null, { id: '1', v: 'a' }],
        [null, { id: '2', v: 'b' }],
      ]),
    );
    log.add({ kind: 'table_map', tableMap: tm });
    log.add(
      rows('update', tm, [
        [
          { id: '1', v: 'a' },
          { id: '1', v: 'z' },
        ],
      ]),
    );
    log.add({ kind: 'xid', xid: 9n }, 31, 1_700_000_123);
    const a = assembler();
    const { done, safeAfterEach } = feed(a, log);
    expect(done).toHaveLength(1);
    const t = done[0]!;
    expect(t.transaction).toMatchObject({
      gtid: '0-1-1',
      file: 'binlog.000001',
      position: 260,
      endPosition: log.pos,
      threadId: 42,
      commitTimeUs: 1_700_000_123_000_000n,
    });
    expect(t.transaction.changes.map((c) => [c.type, c.pk, c.changedColumns])).toEqual([
      ['insert', '["1"]', null],
      ['insert', '["2"]', null],
      ['update', '["1"]', ['v']],
    ]);
    expect(t.after).toEqual({ file: 'binlog.000001', position: log.pos, gtidSet: '0-1-1' });
    // After the FORMAT_DESCRIPTION the safe point moves; from the GTID to the XID it must not.
    expect(safeAfterEach).toEqual([
      'binlog.000001:260',
      'binlog.000001:260',
      'binlog.000001:260',
      'binlog.000001:260',
      'binlog.000001:260',
      'binlog.000001:260',
      'binlog.000001:260',
      `binlog.000001:${log.pos}`,
    ]);
    expect(a.inTransaction).toBe(false);
  });

  it('records a standalone DDL as its own transaction with the statement microseconds', () => {
    const log = new Binlog();
    log.add(mariaGtid(5, true));
    log.add(query('ALTER TABLE t ADD COLUMN c INT', 3, 250_000), 80, 1_700_000_010);
    const { done } = feed(assembler(), log);
    expect(done).toHaveLength(1);
    expect(done[0]!.transaction.ddl).toEqual([
      { schema: 'app', statement: 'ALTER TABLE t ADD COLUMN c INT' },
    ]);
    expect(done[0]!.transaction.changes).toEqual([]);
    expect(done[0]!.transaction.commitTimeUs).toBe(1_700_000_010_250_000n);
  });

  it('keeps a non-standalone DDL open until its XID (CREATE ... SELECT rows)', () => {
    const tm = tableMap('app', 'copy', [0]);
    const log = new Binlog();
    log.add(mariaGtid(6, false));
    log.add(query('CREATE TABLE copy SELECT * FROM t'));
    log.add({ kind: 'table_map', tableMap: tm });
    log.add(rows('insert', tm, [[null, { id: '1', v: 'a' }]]));
    log.add({ kind: 'xid', xid: 1n });
    const { done } = feed(assembler(), log);
    expect(done).toHaveLength(1);
    expect(done[0]!.transaction.ddl).toHaveLength(1);
    expect(done[0]!.transaction.changes).toHaveLength(1);
  });

  it('ignores SAVEPOINT inside a MariaDB transaction (the GTID event stands for BEGIN)', () => {
    const tm = tableMap('app', 't', [0]);
    const log = new Binlog();
    log.add(mariaGtid(7, false));
    log.add({ kind: 'table_map', tableMap: tm });
    log.add(rows('insert', tm, [[null, { id: '1', v: 'a' }]]));
    log.add(query('SAVEPOINT `sp`'));
    log.add({ kind: 'xid', xid: 1n });
    const { done } = feed(assembler(), log);
    expect(done).toHaveLength(1);
    expect(done[0]!.transaction.ddl).toEqual([]);
    expect(done[0]!.transaction.changes).toHaveLength(1);
  });

  it('uses the MySQL GTID commit timestamp in microseconds', () => {
    const log = new Binlog();
    log.add({
      kind: 'mysql_gtid',
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:7',
      uuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562',
      tag: undefined,
      gno: 7n,
      flags: 0,
      lastCommitted: 0n,
      sequenceNumber: 1n,
      immediateCommitTimestamp: 1_700_000_000_123_456n,
      originalCommitTimestamp: 1_700_000_000_123_456n,
      transactionLength: undefined,
      immediateServerVersion: undefined,
      originalServerVersion: undefined,
      commitGroupTicket: undefined,
    });
    log.add(query('BEGIN'));
    log.add({ kind: 'xid', xid: 1n });
    const a = new TransactionAssembler({
      flavor: 'mysql',
      start: { file: 'binlog.000001', position: 4, gtidSet: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6' },
      filter: parseTableFilter(undefined, undefined),
      primaryKey: () => [],
    });
    const { done } = feed(a, log);
    expect(done[0]!.transaction.commitTimeUs).toBe(1_700_000_000_123_456n);
    expect(done[0]!.after.gtidSet).toBe('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7');
  });

  it('filters rows but still closes (and checkpoints) the transaction', () => {
    const tm = tableMap('other', 't', [0]);
    const log = new Binlog();
    log.add(mariaGtid(1));
    log.add(query('BEGIN'));
    log.add({ kind: 'table_map', tableMap: tm });
    log.add(rows('insert', tm, [[null, { id: '1', v: 'a' }]]));
    log.add({ kind: 'xid', xid: 1n });
    const { done } = feed(assembler(parseTableFilter(['app'], undefined)), log);
    expect(done).toHaveLength(1);
    expect(done[0]!.transaction.changes).toEqual([]);
    expect(done[0]!.rowsSeen).toBe(1);
    expect(done[0]!.after.position).toBe(log.pos);
  });

  it('keys a table without a primary key by its full image', () => {
    const tm = tableMap('app', 'nopk', []);
    const log = new Binlog();
    log.add(mariaGtid(1));
    log.add(query('BEGIN'));
    log.add({ kind: 'table_map', tableMap: tm });
    log.add(rows('delete', tm, [[{ id: '1', v: 'a' }, null]]));
    log.add(rows('insert', tm, [[null, { id: '2', v: 'b' }]]));
    log.add({ kind: 'xid', xid: 1n });
    const { done } = feed(assembler(), log);
    expect(done[0]!.transaction.changes.map((c) => [c.pk, c.pkIsFullImage, c.pkColumns])).toEqual([
      ['["1","a"]', true, ['id', 'v']],
      ['["2","b"]', true, ['id', 'v']],
    ]);
  });

  it('drops an unterminated transaction when a new GTID starts, and reports it', () => {
    const tm = tableMap('app', 't', [0]);
    const log = new Binlog();
    log.add(mariaGtid(1));
    log.add(query('BEGIN'));
    log.add({ kind: 'table_map', tableMap: tm });
    log.add(rows('insert', tm, [[null, { id: '1', v: 'a' }]]));
    log.add(mariaGtid(2));
    log.add(query('BEGIN'));
    log.add({ kind: 'xid', xid: 1n });
    const warnings: string[] = [];
    const a = new TransactionAssembler({
      flavor: 'mariadb',
      start: { file: 'binlog.000001', position: 4, gtidSet: '' },
      filter: parseTableFilter(undefined, undefined),
      primaryKey: () => ['id'],
      onWarning: (m) => warnings.push(m),
    });
    const { done } = feed(a, log);
    expect(done).toHaveLength(1);
    expect(done[0]!.transaction.gtid).toBe('0-1-2');
    expect(done[0]!.transaction.changes).toEqual([]);
    expect(warnings[0]).toMatch(/^Dropping an unterminated transaction at binlog\.000001:4/);
  });

  it('moves the safe position to the next file on ROTATE', () => {
    const log = new Binlog();
    log.add({ kind: 'rotate', position: 4, nextFile: 'binlog.000002' }, 44);
    const a = assembler();
    feed(a, log);
    expect(a.safeCoordinates).toEqual({ file: 'binlog.000002', position: 4, gtidSet: '0-1-0' });
  });
});
