import { describe, expect, it } from 'vitest';
import { dumpPlan } from './binlog-stream.js';
import { Command, DumpFlag } from './commands.js';
import { StartPositionError } from './errors.js';
import { MysqlGtidSet } from './gtid.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

describe('dumpPlan', () => {
  it('sends COM_BINLOG_DUMP from a file and position, with ANNOTATE_ROWS on MariaDB', () => {
    const plan = dumpPlan({ file: 'binlog.000007', position: 1234 }, { flavor: 'mariadb' }, 99, true);
    expect(plan.command[0]).toBe(Command.COM_BINLOG_DUMP);
    expect(plan.command.readUInt32LE(1)).toBe(1234);
    expect(plan.command.readUInt16LE(5)).toBe(DumpFlag.NON_BLOCK | DumpFlag.MARIADB_SEND_ANNOTATE_ROWS);
    expect(plan.command.readUInt32LE(7)).toBe(99);
    expect(plan.command.subarray(11).toString()).toBe('binlog.000007');
    expect(plan.mariadbGtid).toBeUndefined();

    const mysql = dumpPlan({ file: 'b.1', position: 4 }, { flavor: 'mysql' }, 99, false);
    expect(mysql.command.readUInt16LE(5)).toBe(0);
  });

  it('starts MariaDB from a GTID with @slave_connect_state, an empty file name and position 4', () => {
    const plan = dumpPlan({ gtid: ' 1-2-3,0-1-100 ' }, { flavor: 'mariadb' }, 7, false);
    expect(plan.mariadbGtid).toBe('0-1-100,1-2-3');
    expect(plan.start).toEqual({ gtid: '0-1-100,1-2-3' });
    expect(plan.command[0]).toBe(Command.COM_BINLOG_DUMP);
    expect(plan.command.readUInt32LE(1)).toBe(4);
    expect(plan.command.length).toBe(11);
  });

  it('starts MySQL from a GTID set with COM_BINLOG_DUMP_GTID carrying the encoded set', () => {
    const plan = dumpPlan({ gtid: `${U1}:1-5` }, { flavor: 'mysql' }, 7, true);
    const c = plan.command;
    expect(c[0]).toBe(Command.COM_BINLOG_DUMP_GTID);
    expect(c.readUInt16LE(1)).toBe(DumpFlag.NON_BLOCK | DumpFlag.MYSQL_THROUGH_GTID);
    expect(c.readUInt32LE(3)).toBe(7);
    expect(c.readUInt32LE(7)).toBe(0); // empty file name
    expect(c.readBigUInt64LE(11)).toBe(4n);
    const size = c.readUInt32LE(19);
    expect(c.subarray(23)).toEqual(MysqlGtidSet.parse(`${U1}:1-5`).encode());
    expect(size).toBe(c.length - 23);
    expect(plan.mariadbGtid).toBeUndefined();
  });

  it('refuses a GTID of the other flavour and malformed positions', () => {
    expect(() => dumpPlan({ gtid: `${U1}:1` }, { flavor: 'mariadb' }, 7, true)).toThrow(
      /the server is MariaDB/,
    );
    expect(() => dumpPlan({ gtid: '0-1-2' }, { flavor: 'mysql' }, 7, true)).toThrow(/the server is MySQL/);
    expect(() => dumpPlan({ file: '', position: 4 }, { flavor: 'mysql' }, 7, true)).toThrow(
      StartPositionError,
    );
    expect(() => dumpPlan({ file: '../etc/x', position: 4 }, { flavor: 'mysql' }, 7, true)).toThrow(
      /expected a file name/,
    );
    expect(() => dumpPlan({ file: 'b.1', position: 3 }, { flavor: 'mysql' }, 7, true)).toThrow(/at least 4/);
  });
});
