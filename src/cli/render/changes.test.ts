import { describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../store/change-index.js';
import { renderChangeTable, renderCsv, renderJson, renderNdjson } from './changes.js';
import { exactJson } from './json.js';

const base: ChangeRecord = {
  serverId: 's',
  seq: 9_007_199_254_740_993n, // 2^53 + 1: not a JS number
  gtid: '0-1-100',
  file: 'binlog.000042',
  position: 1234,
  commitTimeUs: 1_714_557_600_123_456n,
  threadId: 7,
  schema: 'app',
  table: 'users',
  type: 'update',
  pk: '["42"]',
  pkColumns: ['id'],
  pkIsFullImage: false,
  before: { id: '42', name: 'ann', balance: '12345678901234567890.12' },
  after: { id: '42', name: 'anna', balance: '12345678901234567890.13' },
  changedColumns: ['name', 'balance'],
};

const noPk: ChangeRecord = {
  ...base,
  seq: 5n,
  table: 'events',
  type: 'insert',
  pk: '["2024-05-01 10:00:00","hello, world"]',
  pkColumns: ['at', 'msg'],
  pkIsFullImage: true,
  before: null,
  after: { at: '2024-05-01 10:00:00', msg: 'hello, world' },
  changedColumns: null,
};

describe('query output', () => {
  it('writes NDJSON with exactly the public fields and exact numbers', () => {
    const [line] = renderNdjson('db1', [base]).split('\n');
    expect(line).toBe(
      '{"server":"db1","seq":9007199254740993,"gtid":"0-1-100","file":"binlog.000042","pos":1234,' +
        '"timestamp":"2024-05-01T10:00:00.123456Z","schema":"app","table":"users","type":"update","pk":{"id":"42"},' +
        '"before":{"id":"42","name":"ann","balance":"12345678901234567890.12"},' +
        '"after":{"id":"42","name":"anna","balance":"12345678901234567890.13"},"changed_columns":["name","balance"]}',
    );
    const noPkLine = JSON.parse(renderNdjson('db1', [noPk]).trim()) as Record<string, unknown>;
    expect(noPkLine['pk_is_full_image']).toBe(true);
    expect(noPkLine['pk']).toEqual({ at: '2024-05-01 10:00:00', msg: 'hello, world' });
    expect(Object.keys(noPkLine)).toContain('changed_columns');
  });

  it('writes a JSON array of the same objects', () => {
    const text = renderJson('db1', [base, noPk]);
    expect(text).toContain('"seq": 9007199254740993');
    expect((JSON.parse(text) as unknown[]).length).toBe(2);
    expect(renderJson('db1', [])).toBe('[]\n');
  });

  it('writes RFC 4180 CSV with JSON cells', () => {
    const lines = renderCsv('db1', [noPk]).split('\r\n');
    expect(lines[0]).toBe(
      'server,seq,gtid,file,pos,timestamp,schema,table,type,pk,pk_is_full_image,before,after,changed_columns',
    );
    expect(lines[1]).toBe(
      'db1,5,0-1-100,binlog.000042,1234,2024-05-01T10:00:00.123456Z,app,events,insert,' +
        '"{""at"":""2024-05-01 10:00:00"",""msg"":""hello, world""}",true,,' +
        '"{""at"":""2024-05-01 10:00:00"",""msg"":""hello, world""}",',
    );
  });

  it('fits the table into 120 columns and notes tables without a primary key', () => {
    const long = { ...base, after: { ...base.after!, name: 'x'.repeat(300) } };
    const text = renderChangeTable([long, noPk]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+TIME \(UTC\)\s+TYPE\s+TABLE\s+PK\s+CHANGE$/);
    expect(lines[1]).toMatch(
      /^9007199254740993 {2}2024-05-01 10:00:00\.123456 {2}update {2}app\.users +42 +name: ann -> x+…$/,
    );
    expect(lines[2]).toMatch(
      /insert {2}app\.events +\(no PK\) +at="2024-05-01 10:00:00" msg="hello, world"$/,
    );
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(120);
    expect(lines.at(-1)).toBe(
      '(no PK) app.events has no primary key: the full row image identifies its rows (pk_is_full_image)',
    );
    expect(
      renderChangeTable([base], 100)
        .split('\n')
        .every((l) => l.length <= 100),
    ).toBe(true);
  });

  it('serialises bigints exactly at any depth', () => {
    expect(exactJson({ a: [1n, 2n ** 64n - 1n], b: undefined, c: null, d: 'x' })).toBe(
      '{"a":[1,18446744073709551615],"c":null,"d":"x"}',
    );
  });
});
