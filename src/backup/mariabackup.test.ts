import { describe, expect, it } from 'vitest';
import { CoordinatesMissingError, DumpMetadataError, DumpOptionsError } from './errors.js';
import { checkPhysicalTool, parseBinlogInfo, physicalBackupArgs, physicalToolFor } from './mariabackup.js';

describe('parseBinlogInfo', () => {
  it('reads the MariaDB form with a GTID position', () => {
    expect(parseBinlogInfo('binlog.000001\t1793\t0-7-9\n')).toEqual({
      file: 'binlog.000001',
      position: 1793,
      gtid: '0-7-9',
    });
  });

  it('reads file and position without GTIDs', () => {
    expect(parseBinlogInfo('mysql-bin.000003\t154\n')).toEqual({
      file: 'mysql-bin.000003',
      position: 154,
      gtid: null,
    });
  });

  it('reads a quoted, multi-line MySQL GTID set', () => {
    const text =
      "mysql-bin.000002\t1232\t'c777888a-b6df-11e2-a604-080027635ef5:1-4,\nd0a0c1e2-b6df-11e2-a604-080027635ef5:1-9'\n";
    expect(parseBinlogInfo(text)).toEqual({
      file: 'mysql-bin.000002',
      position: 1232,
      gtid: 'c777888a-b6df-11e2-a604-080027635ef5:1-4,d0a0c1e2-b6df-11e2-a604-080027635ef5:1-9',
    });
  });

  it('refuses empty or partial files', () => {
    expect(() => parseBinlogInfo('')).toThrow(CoordinatesMissingError);
    expect(() => parseBinlogInfo('binlog.000001\n')).toThrow(/expected "file<TAB>position/);
    expect(() => parseBinlogInfo('binlog.000001\tabc\n')).toThrow(DumpMetadataError);
  });
});

describe('tool choice', () => {
  it('uses mariadb-backup on MariaDB and xtrabackup on MySQL, and refuses the other', () => {
    expect(physicalToolFor('mariadb')).toBe('mariadb-backup');
    expect(physicalToolFor('mysql')).toBe('xtrabackup');
    expect(() => checkPhysicalTool('xtrabackup', 'mariadb')).toThrow(DumpOptionsError);
    expect(() => checkPhysicalTool('mariadb-backup', 'mysql')).toThrow(/use xtrabackup/);
    expect(() => checkPhysicalTool('mariadb-backup', 'mariadb')).not.toThrow();
  });

  it('puts --defaults-file first and no secret on argv', () => {
    const args = physicalBackupArgs('/tmp/c/my.cnf', '/b/x', 4);
    expect(args[0]).toBe('--defaults-file=/tmp/c/my.cnf');
    expect(args.join(' ')).not.toMatch(/password|--user/);
  });
});
