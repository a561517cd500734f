import { describe, expect, it } from 'vitest';
import { BinlogDecoder } from '../binlog/decoder.js';
import { nextFileName, sameGtidState } from './archiver.js';
import { buildEvent, gtidContextEvent, segmentKey } from './segment-file.js';

describe('segment file layout', () => {
  it('writes a MariaDB GTID_LIST that decodes back to the GTID state, with a valid CRC32', () => {
    const bytes = gtidContextEvent({
      flavor: 'mariadb',
      gtidSet: '0-1-18446744073709551615,7-4294967295-3',
      serverId: 9,
      timestamp: 1_700_000_000,
      checksum: true,
    })!;
    const e = new BinlogDecoder({ checksum: 'crc32' }).decode(bytes);
    expect(e.body).toMatchObject({
      kind: 'gtid_list',
      gtids: ['0-1-18446744073709551615', '7-4294967295-3'],
    });
    expect(e.header).toMatchObject({
      serverId: 9,
      timestamp: 1_700_000_000,
      logPos: 0,
      eventSize: bytes.length,
    });
    // A flipped byte fails the checksum.
    bytes[25] = (bytes[25] as number) ^ 1;
    expect(() => new BinlogDecoder({ checksum: 'crc32' }).decode(bytes)).toThrow(/CRC32 is/);
  });

  it('writes a MySQL PREVIOUS_GTIDS of the executed set', () => {
    const set = '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,4e11fa47-71ca-11e1-9e33-c80aa9429562:9';
    const bytes = gtidContextEvent({
      flavor: 'mysql',
      gtidSet: set,
      serverId: 1,
      timestamp: 0,
      checksum: false,
    })!;
    const e = new BinlogDecoder({ checksum: 'off' }).decode(bytes);
    expect(e.body.kind).toBe('previous_gtids');
    if (e.body.kind !== 'previous_gtids') return;
    expect(e.body.sids.map((s) => s.uuid)).toEqual([
      '3e11fa47-71ca-11e1-9e33-c80aa9429562',
      '4e11fa47-71ca-11e1-9e33-c80aa9429562',
    ]);
    expect(e.body.sids[0]!.intervals).toEqual([
      { start: 1n, end: 6n },
      { start: 7n, end: 8n },
    ]);
  });

  it('writes no context without GTIDs or for tagged MySQL sets', () => {
    const base = { serverId: 1, timestamp: 0, checksum: true } as const;
    expect(gtidContextEvent({ ...base, flavor: 'mariadb', gtidSet: null })).toBeUndefined();
    expect(
      gtidContextEvent({
        ...base,
        flavor: 'mysql',
        gtidSet: '3e11fa47-71ca-11e1-9e33-c80aa9429562:tag_a:1-3',
      }),
    ).toBeUndefined();
  });

  it('builds events whose size field counts the checksum', () => {
    const e = buildEvent({ type: 2, serverId: 1, timestamp: 5, body: Buffer.alloc(10), checksum: true });
    expect(e.length).toBe(19 + 10 + 4);
    expect(e.readUInt32LE(9)).toBe(e.length);
  });

  it('names segments so that keys sort by coordinates', () => {
    const keys = [
      segmentKey('acme/db1', 'binlog.000002', 4, 90),
      segmentKey('acme/db1', 'binlog.000001', 1_000_000, 2_000_000),
      segmentKey('acme/db1', 'binlog.000001', 256, 1_000_000),
    ];
    expect(keys[2]).toBe('acme/db1/binlogs/binlog.000001/000000000256-000001000000.binlog');
    expect([...keys].sort()).toEqual([keys[2], keys[1], keys[0]]);
  });

  it('compares GTID states and names the next binlog file', () => {
    expect(sameGtidState('mariadb', '1-1-5,0-1-7', '0-1-7,1-1-5')).toBe(true);
    expect(sameGtidState('mariadb', '0-1-7', '0-1-8')).toBe(false);
    expect(sameGtidState('mariadb', null, '0-1-8')).toBe(false);
    expect(
      sameGtidState(
        'mysql',
        '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-3:4',
        '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-4',
      ),
    ).toBe(true);
    expect(nextFileName('binlog.000009')).toBe('binlog.000010');
    expect(nextFileName('binlog.999999')).toBe('binlog.1000000');
    expect(nextFileName('weird')).toBeUndefined();
  });
});
