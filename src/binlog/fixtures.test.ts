import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MARIADB_TYPES_ROW_1 } from '../../test/binlog/fixture-expectations.js';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent, EventBody, RowsBody } from './events.js';
import { readBinlogFile } from './file-reader.js';

/** Real server binlogs shared between workspaces: `<project root>/../shared/fixtures/binlog`, read in place. */
const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/binlog/', import.meta.url));
const present = existsSync(FIXTURES);
if (!present) console.warn(`Skipping binlog fixture tests: ${FIXTURES} does not exist`);

async function decode(rel: string): Promise<DecodedEvent[]> {
  const out: DecodedEvent[] = [];
  for await (const e of readBinlogFile(join(FIXTURES, rel))) out.push(e);
  return out;
}

function bodies<K extends EventBody['kind']>(
  events: DecodedEvent[],
  kind: K,
): Extract<EventBody, { kind: K }>[] {
  return events.filter((e) => e.body.kind === kind).map((e) => e.body as Extract<EventBody, { kind: K }>);
}

function rows(events: DecodedEvent[]): RowsBody[] {
  return bodies(events, 'rows');
}

describe.skipIf(!present)('binlog fixtures (../shared/fixtures/binlog)', () => {
  const files = present
    ? ['mysql', 'mariadb'].flatMap((d) => readdirSync(join(FIXTURES, d)).map((f) => `${d}/${f}`))
    : [];

  it.each(files)('%s decodes without error, positions chained', async (rel) => {
    const events = await decode(rel);
    expect(events.length).toBeGreaterThan(2);
    expect(events[0]!.type).toBe('FORMAT_DESCRIPTION');
    const top = events.filter((e) => e.payloadIndex === undefined);
    for (let i = 1; i < top.length; i++) expect(top[i]!.pos).toBe(top[i - 1]!.nextPos);
  });

  it('Aurora: type 100 is reported as unknown data', async () => {
    const events = await decode('mysql/mysql-bin.aurora-padding');
    const unknown = events.find((e) => e.header.typeCode === 100)!;
    expect(unknown.type).toBe('UNKNOWN_100');
    expect(unknown.body.kind).toBe('raw');
    expect(events.at(-1)!.type).toBe('QUERY');
  });

  it('CRC32 file: checksums verified on all 60 transactions; the no-checksum file has none', async () => {
    const crc = await decode('mysql/mysql-bin.checksum-crc32');
    expect(bodies(crc, 'format_description')[0]!.checksum).toBe('crc32');
    expect(bodies(crc, 'xid')).toHaveLength(60);
    expect(rows(crc).map((r) => r.op)).toEqual(expect.arrayContaining(['insert', 'update', 'delete']));
    const none = await decode('mysql/mysql-bin.checksum-none');
    expect(bodies(none, 'format_description')[0]!.checksum).toBe('off');
    expect(none.at(-1)!.type).toBe('STOP');
  });

  it('compressed transaction: the inner UPDATE decodes with the payload position and index', async () => {
    const events = await decode('mysql/mysql-bin.compressed');
    const payload = events.find((e) => e.type === 'TRANSACTION_PAYLOAD')!;
    expect(payload.body).toMatchObject({ compression: 'zstd', uncompressedSize: 960 });
    const update = events.find((e) => e.type === 'UPDATE_ROWS')!;
    expect(update).toMatchObject({ pos: payload.pos, nextPos: payload.nextPos, payloadIndex: 2 });
    const r = (update.body as RowsBody).rows[0]!;
    expect((update.body as RowsBody).table).toBe('movies');
    expect(r.before?.['@2']).toBe('Once Upon a Time in the West');
    expect(r.before?.['@3']).toBe('1968');
    const inner = await decode('mysql/transaction_compression.000001');
    expect(rows(inner)[0]!.rows).toEqual([{ before: null, after: { '@1': '1' } }]);
  });

  it('GTID_TAGGED: the tag, the tagged PREVIOUS_GTIDS and the DECIMAL row', async () => {
    const events = await decode('mysql/binlog_transaction_with_GTID_TAG.000001');
    expect(bodies(events, 'previous_gtids')[0]!.gtidSet).toBe(
      '55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2',
    );
    const gtid = bodies(events, 'mysql_gtid')[0]!;
    expect(gtid).toMatchObject({
      tag: 'mytag',
      gno: 3n,
      gtid: '55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3',
      immediateServerVersion: 90600,
    });
    const write = events.find((e) => e.type === 'WRITE_ROWS')!;
    expect(write.gtid).toBe('55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3');
    expect((write.body as RowsBody).rows).toEqual([
      { before: null, after: { '@1': '3', '@2': '100', '@3': '250.00' } },
    ]);
    const untagged = await decode('mysql/binlog_transaction_previous_GTID_no_tag.000001');
    expect(bodies(untagged, 'previous_gtids')[0]!.sids.every((s) => s.tag === '')).toBe(true);
  });

  it('FULL metadata: names, ENUM/SET members, BIT, invisible columns', async () => {
    const ess = rows(await decode('mysql/mysql-enum-string-set.000001'));
    expect(ess[0]!.columns).toEqual(['f1', 'f2', 'f3', 'f4', 'f5']);
    expect(ess[0]!.rows[0]!.after).toMatchObject({ f3: 'var1', f4: 'one,three' });
    expect(ess[2]!.rows[0]!.before).toMatchObject({
      f1: 'field1',
      f2: 'field_2',
      f3: 'variant2',
      f4: 'two,four',
    });
    const bit = rows(await decode('mysql/mysql_type_bit.000001'));
    expect(bit[0]!.rows[0]!.after).toEqual({ a: { hex: '04' }, b: 'foo', c: { hex: '20' } });
    const inv = rows(await decode('mysql/binlog-invisible-columns.000001'));
    expect(inv[0]!.tableMap!.columns.map((c) => c.visible)).toEqual([false, false, true, true, true, false]);
    expect(inv[0]!.rows[0]!.after).toEqual({
      f1: '1',
      f2: '2',
      f3: '-3',
      f4: '4',
      f5: { hex: '05' },
      f6: '6000000000',
    });
    expect(inv[2]!.rows[0]!.after).toMatchObject({ f1: '111', f3: '-333' });
  });

  it('MINIMAL metadata names columns @N; TIME2 hour overflow; JSON partial update', async () => {
    const minimal = rows(await decode('mysql/minimal_row_metadata.000001'));
    expect(minimal[0]!.tableMap!.columnsSource).toBe('positional');
    expect(minimal[0]!.rows[0]!.after).toEqual({ '@1': '1', '@3': 'a', '@5': '3230202323' });
    expect(rows(await decode('mysql/time_issue.000001'))[0]!.rows[0]!.after).toEqual({ '@1': '-507:48:27' });
    const json = rows(await decode('mysql/json.binlog.000001'));
    const full = json.find((r) => r.op === 'update' && r.unappliedJsonDiffs === undefined)!;
    expect(full.rows[0]!.after!['@2']).toBe('{"age": 25, "data": "xxxxxxxxxx", "name": "Joe"}');
    const partial = json.at(-1)!;
    expect(partial.rows[0]).toEqual({ before: { '@1': '1' }, after: { '@3': 'Joe', '@4': '26' } });
    expect(partial.unappliedJsonDiffs).toHaveLength(6);
    expect(partial.unappliedJsonDiffs![0]).toMatchObject({ row: 0, column: '@2' });
  });

  it('MariaDB 10.11 types: every value of the edge-value row, then UPDATE and DELETE', async () => {
    const events = await decode('mariadb/mariadb-10.11-types.000001');
    const r = rows(events);
    expect(r.map((x) => [x.op, events.find((e) => e.body === x)!.gtid])).toEqual([
      ['insert', '0-1-7'],
      ['update', '0-1-8'],
      ['delete', '0-1-9'],
      ['insert', '0-1-10'],
      ['insert', '0-1-11'],
    ]);
    expect(r[0]!.rows[0]!.after).toEqual({ ...MARIADB_TYPES_ROW_1, vc: 'héllo ????' });
    expect(r[1]!.rows[0]!.after).toMatchObject({ vc: 'changed', dec2: '99999999.99' });
    expect(r[2]!.rows[0]!.before).toMatchObject({ id: '1', vc: 'changed' });
    expect(r[4]!.rows[0]!.after).toMatchObject({ id: '3', vc: 'héllo 🐬' });
    expect(bodies(events, 'mariadb_gtid').filter((g) => g.standalone).length).toBeGreaterThan(0);
  });

  it('MariaDB MINIMAL/NOBLOB images and compressed rows events', async () => {
    const events = await decode('mariadb/mariadb-10.11-minimal-compressed.000003');
    const r = rows(events);
    expect(r[0]!.rows[0]).toEqual({ before: { id: '3' }, after: { vc: 'minimal-image' } });
    // NOBLOB: blob columns absent from the before image, not null.
    expect(Object.hasOwn(r[1]!.rows[0]!.before!, 'bl')).toBe(false);
    expect(r[1]!.rows[0]!.before).toMatchObject({ id: '3', vc: 'minimal-image', ti: null });
    const write = events.find((e) => e.type === 'WRITE_ROWS_COMPRESSED_V1')!;
    expect((write.body as RowsBody).rows[0]!.after).toMatchObject({
      id: '5',
      vc: 'compressed',
      tx: 'abc'.repeat(200),
    });
    const del = events.find((e) => e.type === 'DELETE_ROWS_COMPRESSED_V1')!;
    expect((del.body as RowsBody).rows[0]!.before).toMatchObject({ id: '5', tx: 'abc'.repeat(200) });
  });

  it('MariaDB 10.5: GTID_LIST, BINLOG_CHECKPOINT, GTIDs and ANNOTATE_ROWS', async () => {
    const events = await decode('mariadb/mariadb-10.5.15-bin.000001');
    expect(bodies(events, 'binlog_checkpoint')[0]!.logFile).toMatch(/bin\.000001$/);
    expect(bodies(events, 'mariadb_gtid').map((g) => g.gtid)).toEqual(['0-1-1', '0-1-2']);
    expect(bodies(events, 'rows_query')[0]!.query).toContain('insert into outbox');
    expect(rows(events)[0]!.rows[0]!.after).toEqual({
      id: '62',
      topic: 'foo',
      event_type: 'JSON',
      event: { hex: '7B22666F6F223A317D' },
      created: '2022-04-20 22:18:04',
    });
  });
});
