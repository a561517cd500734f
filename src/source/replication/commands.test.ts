import { describe, expect, it } from 'vitest';
import {
  binlogDumpGtidPayload,
  binlogDumpPayload,
  DumpFlag,
  framePacket,
  MAX_PACKET_PAYLOAD,
  quitPayload,
  registerReplicaPayload,
} from './commands.js';
import { ReplicaIdError, StartPositionError } from './errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('framePacket', () => {
  it('prefixes the 3-byte length and the sequence id', () => {
    expect(framePacket(Buffer.from([0x01]))).toEqual(hex('01 00 00 00 01'));
    expect(framePacket(Buffer.from('abc'), 7)).toEqual(hex('03 00 00 07 616263'));
  });

  it('splits a payload of 0xffffff bytes or more and ends it with a shorter packet', () => {
    const payload = Buffer.alloc(MAX_PACKET_PAYLOAD + 2, 0xab);
    const framed = framePacket(payload);
    expect(framed.subarray(0, 4)).toEqual(hex('ff ff ff 00'));
    const second = 4 + MAX_PACKET_PAYLOAD;
    expect(framed.subarray(second, second + 4)).toEqual(hex('02 00 00 01'));
    expect(framed.length).toBe(payload.length + 8);

    // Exactly 0xffffff bytes: an empty packet follows so the receiver knows the payload ended.
    const exact = framePacket(Buffer.alloc(MAX_PACKET_PAYLOAD));
    expect(exact.length).toBe(MAX_PACKET_PAYLOAD + 8);
    expect(exact.subarray(exact.length - 4)).toEqual(hex('00 00 00 01'));
  });
});

describe('COM_BINLOG_DUMP', () => {
  it('matches the example packet of the MariaDB protocol documentation', () => {
    // https://mariadb.com/kb/en/com_binlog_dump/: position 0x634, flags 2, server id 10101, "mysql-bin.000034".
    const payload = binlogDumpPayload({
      serverId: 10101,
      file: 'mysql-bin.000034',
      position: 0x634,
      flags: DumpFlag.MARIADB_SEND_ANNOTATE_ROWS,
    });
    expect(framePacket(payload)).toEqual(
      hex('1b000000 12 34060000 0200 75270000 6d7973716c2d62696e2e303030303334'),
    );
  });

  it('writes an empty file name as nothing and the non-blocking flag as bit 0', () => {
    const payload = binlogDumpPayload({
      serverId: 0xfffffffe,
      file: '',
      position: 4,
      flags: DumpFlag.NON_BLOCK,
    });
    expect(payload).toEqual(hex('12 04000000 0100 feffffff'));
  });

  it('refuses positions and server ids that do not fit 32 bits', () => {
    expect(() => binlogDumpPayload({ serverId: 1, file: 'f', position: 2 ** 32, flags: 0 })).toThrow(
      StartPositionError,
    );
    expect(() => binlogDumpPayload({ serverId: 0, file: 'f', position: 4, flags: 0 })).toThrow(
      ReplicaIdError,
    );
    expect(() => binlogDumpPayload({ serverId: 1, file: 'f', position: 4, flags: 0x10000 })).toThrow(
      StartPositionError,
    );
  });
});

describe('COM_BINLOG_DUMP_GTID', () => {
  it('lays out flags, server id, file, 8-byte position and the GTID data', () => {
    const data = hex('0102030405');
    const payload = binlogDumpGtidPayload({
      serverId: 0x01020304,
      file: 'b.1',
      position: 4n,
      flags: DumpFlag.NON_BLOCK,
      gtidData: data,
    });
    expect(payload).toEqual(hex('1e 0500 04030201 03000000 622e31 0400000000000000 05000000 0102030405'));
  });

  it('leaves out the data block without a GTID set', () => {
    const payload = binlogDumpGtidPayload({
      serverId: 9,
      file: '',
      position: 4n,
      flags: 0,
      gtidData: undefined,
    });
    expect(payload).toEqual(hex('1e 0000 09000000 00000000 0400000000000000'));
  });
});

describe('COM_REGISTER_SLAVE', () => {
  it('lays out server id, three length-prefixed strings, port, rank and master id', () => {
    const payload = registerReplicaPayload({ serverId: 0x11223344, reportHost: 'db1', reportPort: 3306 });
    expect(payload).toEqual(hex('15 44332211 03 646231 00 00 ea0c 00000000 00000000'));
  });

  it('refuses a report host over 255 bytes', () => {
    expect(() => registerReplicaPayload({ serverId: 5, reportHost: 'x'.repeat(256) })).toThrow(
      ReplicaIdError,
    );
  });
});

describe('COM_QUIT', () => {
  it('is the single command byte', () => {
    expect(quitPayload()).toEqual(hex('01'));
  });
});
