import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CoordinatesMissingError, DumpFailedError, DumpMetadataError } from './errors.js';
import { parseMydumperMetadata, readMydumperMetadata } from './mydumper-metadata.js';

// Samples written from the formats mydumper documents (docs/files.rst) and from what its metadata writer prints
// in each release family; the legacy MariaDB sample is byte-for-byte what Debian's mydumper 0.10 writes.

const LEGACY_MARIADB = [
  'Started dump at: 2026-11-25 13:21:04',
  'SHOW MASTER STATUS:',
  '\tLog: binlog.000001',
  '\tPos: 1162',
  '\tGTID:0-7-5',
  '',
  'Finished dump at: 2026-11-25 13:21:04',
  '',
].join('\n');

const LEGACY_MYSQL_MULTILINE = [
  'Started dump at: 2022-10-27 07:28:54',
  'SHOW MASTER STATUS:',
  '\tLog: mysql-bin.000042',
  '\tPos: 194',
  '\tGTID:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,',
  '4f22fb58-82db-22f2-af44-d91bb0530673:1-1000',
  '',
  'SHOW SLAVE STATUS:',
  '\tHost: 10.0.0.1',
  '\tLog: upstream-bin.000007',
  '\tPos: 999',
  '\tGTID:',
  '',
  'Finished dump at: 2022-10-27 07:29:01',
].join('\n');

const LEGACY_NO_GTID = [
  'Started dump at: 2011-05-05 13:57:17',
  'SHOW MASTER STATUS:',
  '  Log: linuxjedi-laptop-bin.000001',
  '  Pos: 106',
  '',
  'Finished dump at: 2011-05-05 13:57:17',
].join('\n');

const MASTER_SECTION = [
  '# Started dump at: 2023-06-09 11:47:18',
  '[master]',
  "# Channel_Name = '' # It can be use to setup replication FOR CHANNEL",
  'File = mydumper1-bin.000017',
  'Position = 241149225',
  'Executed_Gtid_Set = 7b166a41-65a2-11ed-9de3-0800275ff74d:1-147115,7b166a41-65a2-11ed-9de3-0800275ff74e:1-61558',
  '',
  '[`sakila`.`store`]',
  'Rows = 2',
  'data_checksum = 3119812626',
  '',
  '# Finished dump at: 2023-06-09 11:47:18',
].join('\n');

const SOURCE_SECTION = [
  '# Started dump at: 2024-08-01 02:00:00',
  '[source]',
  "# Channel_Name = '' # It can be use to setup replication FOR CHANNEL",
  'File = binlog.000003',
  'Position = 4567',
  'Executed_Gtid_Set = 0-1-100,1-2-7',
  '',
  '[`app`.`users`]',
  'real_table_name=users',
  'rows = 10',
  '# Finished dump at: 2024-08-01 02:00:09',
].join('\n');

const SOURCE_DATA = [
  '# Started dump at: 2024-09-01 02:00:00',
  '[source]',
  "# Channel_Name = '' # It can be use to setup replication FOR CHANNEL",
  '#SOURCE_HOST = "db1"',
  '#SOURCE_PORT = ',
  '#SOURCE_USER = ""',
  '#SOURCE_PASSWORD = ""',
  '#SOURCE_SSL = {0|1}',
  'executed_gtid_set = "0-1-100"',
  'SOURCE_LOG_FILE = "binlog.000009"',
  'SOURCE_LOG_POS = 328',
  '#SOURCE_AUTO_POSITION = {0|1}',
  'myloader_exec_reset_replica = 0',
].join('\n');

const SOURCE_COMMENTED = [
  '# Started dump at: 2025-10-01 02:00:00',
  '[source]',
  "# Channel_Name = '' # It can be use to setup replication FOR CHANNEL",
  '# SOURCE_LOG_FILE = "binlog.000012"',
  '# SOURCE_LOG_POS = 1048576',
  'executed_gtid_set = "5f7d1a5e-0000-11ef-8000-000000000001:1-77"',
  '',
  '[replication]',
  'SOURCE_LOG_FILE = "relay-upstream.000001"',
  'SOURCE_LOG_POS = 4',
  '# Finished dump at: 2025-10-01 02:00:09',
].join('\n');

describe('parseMydumperMetadata', () => {
  it('reads the legacy SHOW MASTER STATUS block written by mydumper 0.10 on MariaDB', () => {
    const m = parseMydumperMetadata(LEGACY_MARIADB);
    expect(m.format).toBe('legacy');
    expect(m.coordinates).toEqual({ file: 'binlog.000001', position: 1162, gtid: '0-7-5' });
    expect(m.startedAt).toBe('2026-11-25 13:21:04');
    expect(m.finishedAt).toBe('2026-11-25 13:21:04');
  });

  it('joins a MySQL GTID set split over lines and ignores the SHOW SLAVE STATUS block', () => {
    const m = parseMydumperMetadata(LEGACY_MYSQL_MULTILINE);
    expect(m.coordinates).toEqual({
      file: 'mysql-bin.000042',
      position: 194,
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4f22fb58-82db-22f2-af44-d91bb0530673:1-1000',
    });
  });

  it('gives a null GTID set when the legacy block has none', () => {
    expect(parseMydumperMetadata(LEGACY_NO_GTID).coordinates).toEqual({
      file: 'linuxjedi-laptop-bin.000001',
      position: 106,
      gtid: null,
    });
  });

  it('reads the [master] section of 0.14-0.16 and ignores per-table sections', () => {
    const m = parseMydumperMetadata(MASTER_SECTION);
    expect(m.format).toBe('master');
    expect(m.coordinates.file).toBe('mydumper1-bin.000017');
    expect(m.coordinates.position).toBe(241149225);
    expect(m.coordinates.gtid).toBe(
      '7b166a41-65a2-11ed-9de3-0800275ff74d:1-147115,7b166a41-65a2-11ed-9de3-0800275ff74e:1-61558',
    );
    expect(m.startedAt).toBe('2023-06-09 11:47:18');
  });

  it('reads the [source] section of 0.17-0.19', () => {
    const m = parseMydumperMetadata(SOURCE_SECTION);
    expect(m.format).toBe('source');
    expect(m.coordinates).toEqual({ file: 'binlog.000003', position: 4567, gtid: '0-1-100,1-2-7' });
  });

  it('reads the quoted --source-data keys', () => {
    const m = parseMydumperMetadata(SOURCE_DATA);
    expect(m.format).toBe('source');
    expect(m.coordinates).toEqual({ file: 'binlog.000009', position: 328, gtid: '0-1-100' });
  });

  it('reads the commented SOURCE_LOG_FILE form of 0.20.2-5+ and not the [replication] section', () => {
    const m = parseMydumperMetadata(SOURCE_COMMENTED);
    expect(m.format).toBe('source-commented');
    expect(m.coordinates).toEqual({
      file: 'binlog.000012',
      position: 1048576,
      gtid: '5f7d1a5e-0000-11ef-8000-000000000001:1-77',
    });
  });

  it('accepts CRLF line ends', () => {
    expect(parseMydumperMetadata(SOURCE_SECTION.replace(/\n/g, '\r\n')).coordinates.position).toBe(4567);
  });

  it('refuses a file without any coordinates section (mydumper 0.20.1-0.20.2-4)', () => {
    const text =
      '# Started dump at: 2025-06-01 02:00:00\n[`app`.`t`]\nrows = 1\n# Finished dump at: 2025-06-01 02:00:01\n';
    expect(() => parseMydumperMetadata(text)).toThrow(CoordinatesMissingError);
    expect(() => parseMydumperMetadata(text)).toThrow(
      /no "SHOW MASTER STATUS:", \[master\] or \[source\] section/,
    );
  });

  it('refuses a section without file or position', () => {
    const noPos = '[source]\nFile = binlog.000001\nExecuted_Gtid_Set = 0-1-1\n';
    expect(() => parseMydumperMetadata(noPos)).toThrow(/has no position/);
    const noFile = 'SHOW MASTER STATUS:\n\tPos: 4\n\n';
    expect(() => parseMydumperMetadata(noFile)).toThrow(CoordinatesMissingError);
    const empty = '[source]\nFile = \nPosition = \n';
    expect(() => parseMydumperMetadata(empty)).toThrow(/no binlog file and position/);
  });

  it('refuses a position that is not a whole number', () => {
    expect(() => parseMydumperMetadata('[master]\nFile = b.000001\nPosition = 12x\n')).toThrow(
      DumpMetadataError,
    );
  });

  it('names the file in its messages', () => {
    expect(() => parseMydumperMetadata('', '/backups/x/metadata')).toThrow(/\/backups\/x\/metadata/);
  });
});

describe('readMydumperMetadata', () => {
  it('treats a leftover metadata.partial as a failed dump', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbtrail-meta-'));
    try {
      await writeFile(join(dir, 'metadata.partial'), LEGACY_MARIADB);
      await expect(readMydumperMetadata(dir)).rejects.toThrow(DumpFailedError);
      await expect(readMydumperMetadata(dir)).rejects.toThrow(/metadata\.partial/);
      await rm(join(dir, 'metadata.partial'));
      await writeFile(join(dir, 'metadata'), LEGACY_MARIADB);
      expect((await readMydumperMetadata(dir)).coordinates.position).toBe(1162);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with the path when there is no metadata file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbtrail-meta-'));
    try {
      await expect(readMydumperMetadata(dir)).rejects.toThrow(/Cannot read .*metadata/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
