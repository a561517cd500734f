import { describe, expect, it } from 'vitest';
import type { CommitBatch } from '../store/change-index.js';
import { commitBatchFromJson, commitBatchToJson, statsFromJson, statsToJson } from './capture-wire.js';

const batch: CommitBatch = {
  transactions: [
    {
      gtid: '0-1-9007199254740993',
      file: 'binlog.000002',
      position: 400,
      endPosition: 900,
      // Beyond 2^53: a JSON number would round it.
      commitTimeUs: 9_007_199_254_740_993n,
      threadId: null,
      changes: [
        {
          schema: 'app',
          table: 't',
          type: 'update',
          pk: '["18446744073709551615"]',
          pkColumns: ['id'],
          pkIsFullImage: false,
          before: { id: '18446744073709551615', b: { hex: '00' }, n: null, ['__proto__']: 'x' },
          after: { id: '18446744073709551615', b: { hex: 'FF' }, n: '1.50', ['__proto__']: 'y' },
          changedColumns: ['b', 'n', '__proto__'],
        },
      ],
      ddl: [{ schema: null, statement: 'CREATE TABLE t (id INT)' }],
    },
  ],
  checkpoint: {
    coordinates: { file: 'binlog.000002', position: 900, gtidSet: '0-1-9007199254740993' },
    identity: { serverUuid: null, serverId: '1', hostname: 'h', flavor: 'mariadb' },
  },
  expectPrevious: { file: 'binlog.000002', position: 400, gtidSet: null },
  gap: {
    from: { file: 'binlog.000001', position: 4, gtidSet: null },
    to: { file: 'binlog.000002', position: 4, gtidSet: null },
    fromTimeUs: null,
    toTimeUs: 1n,
    reason: 'binlog_purged',
    detail: 'purged',
  },
  tableSchemas: [
    {
      schema: 'app',
      table: 't',
      validFrom: { file: 'binlog.000002', position: 900, gtidSet: null },
      validFromSeq: 12n,
      columns: [
        {
          name: 'id',
          type: 'bigint(20) unsigned',
          unsigned: true,
          charset: null,
          collation: null,
          nullable: false,
        },
      ],
      primaryKey: ['id'],
    },
  ],
};

/** Through JSON text, as on the wire. */
const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('capture wire format', () => {
  it('round-trips a commit batch exactly, bigints included', () => {
    const back = commitBatchFromJson(wire(commitBatchToJson(batch)));
    expect(back).toEqual(batch);
    expect(back.transactions[0]!.commitTimeUs).toBe(9_007_199_254_740_993n);
    // A column named __proto__ stays a column, not a prototype.
    expect(Object.keys(back.transactions[0]!.changes[0]!.after!)).toContain('__proto__');
  });

  it('keeps "no checkpoint yet" apart from "no fencing"', () => {
    const first = commitBatchFromJson(wire(commitBatchToJson({ ...batch, expectPrevious: null })));
    expect(first.expectPrevious).toBeNull();
    const json = commitBatchToJson(batch) as Record<string, unknown>;
    delete json['expect_previous'];
    expect(() => commitBatchFromJson(wire(json))).toThrow(/expect_previous/);
  });

  it('refuses numbers where exact integers are expected, and values that are not canonical', () => {
    const json = wire(commitBatchToJson(batch)) as { transactions: Record<string, unknown>[] };
    json.transactions[0]!['commit_time_us'] = Number('9007199254740993');
    expect(() => commitBatchFromJson(json)).toThrow(/transactions\[0\]\.commit_time_us.*decimal string/);
    const bad = wire(commitBatchToJson(batch)) as {
      transactions: { changes: { after: Record<string, unknown> }[] }[];
    };
    bad.transactions[0]!.changes[0]!.after['n'] = 1.5;
    expect(() => commitBatchFromJson(bad)).toThrow(/after\.n.*text, null/);
    bad.transactions[0]!.changes[0]!.after['n'] = { hex: 'XYZ' };
    expect(() => commitBatchFromJson(bad)).toThrow(/after\.n/);
  });

  it('round-trips stats', () => {
    const stats = {
      rowChanges: 2n ** 60n,
      transactions: 3n,
      ddlEvents: 0n,
      firstCommitTimeUs: null,
      lastCommitTimeUs: 1_732_550_400_123_456n,
      lastSeq: 2n ** 60n,
    };
    expect(statsFromJson(wire(statsToJson(stats)))).toEqual(stats);
  });
});
