import { describe, expect, it } from 'vitest';
import type { BackupRecord } from '../../store/catalog.js';
import { renderBackupTable } from './backup-list.js';

const base: BackupRecord = {
  id: '3f2a9100-1234-4567-89ab-cdef01234567',
  tenantId: '00000000-0000-4000-8000-000000000000',
  tenant: 'default',
  serverId: null,
  serverName: 'db1',
  scheduleId: null,
  tool: 'mydumper',
  toolVersion: '0.19.1',
  status: 'succeeded',
  createdAt: new Date('2024-05-01T10:00:00.000Z'),
  startedAt: new Date('2024-05-01T10:00:05.400Z'),
  dumpFinishedAt: new Date('2024-05-01T10:01:00.000Z'),
  finishedAt: new Date('2024-05-01T10:01:35.000Z'),
  durationMs: 89_600,
  sizeBytes: 1_610_612_736,
  coordinates: { file: 'binlog.000042', position: 123_456, gtid: '0-1-100' },
  location: 'file:///x/',
  localDir: null,
  error: null,
  updatedAt: new Date('2024-05-01T10:01:35.000Z'),
};

describe('renderBackupTable', () => {
  it('prints one aligned line per backup with readable values, and errors below their backup', () => {
    const failed: BackupRecord = {
      ...base,
      id: 'aa000000-0000-4000-8000-000000000000',
      serverName: 'billing-primary',
      tool: 'mariadb-backup',
      status: 'failed',
      durationMs: 3_723_000,
      sizeBytes: null,
      coordinates: null,
      error: {
        code: 'BACKUP_DUMP_FAILED',
        message: 'Cannot dump server "billing-primary":\nmydumper exited 2',
      },
    };
    const queued: BackupRecord = {
      ...base,
      id: 'bb000000-0000-4000-8000-000000000000',
      status: 'queued',
      startedAt: null,
      durationMs: null,
      sizeBytes: null,
      coordinates: null,
    };
    const lines = renderBackupTable([base, failed, queued]).trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(
      /^ID\s+SERVER\s+TOOL\s+STATUS\s+STARTED \(UTC\)\s+DURATION\s+SIZE\s+COORDINATES$/,
    );
    expect(lines[1]).toMatch(
      /^3f2a9100\s+db1\s+mydumper\s+succeeded\s+2024-05-01 10:00\s+1:30\s+1\.50 GiB\s+binlog\.000042:123456 0-1-100$/,
    );
    expect(lines[2]).toMatch(
      /^aa000000\s+billing-primary\s+mariadb-backup\s+failed\s+2024-05-01 10:00\s+1:02:03\s+-\s+-$/,
    );
    expect(lines[3]).toBe('          error: Cannot dump server "billing-primary": mydumper exited 2');
    expect(lines[4]).toMatch(/^bb000000\s+db1\s+mydumper\s+queued\s+-\s+-\s+-\s+-$/);
    // Columns line up: every STATUS cell starts where the header does.
    const at = lines[0]!.indexOf('STATUS');
    for (const i of [1, 2, 4]) expect(lines[i]!.slice(at)).toMatch(/^(succeeded|failed|queued) /);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(120);
  });

  it('fits the width by cutting coordinates, then the server name, then the error line', () => {
    const long: BackupRecord = {
      ...base,
      serverName: 'a-rather-long-server-name-indeed',
      tool: 'mariadb-backup',
      status: 'failed',
      coordinates: {
        file: 'mysql-bin.000123',
        position: 987_654_321,
        gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4f22ab58-71ca-11e1-9e33-c80aa9429562:1-9',
      },
      error: { code: null, message: `Cannot upload ${'very '.repeat(40)}large file` },
    };
    const out = renderBackupTable([long], 120);
    for (const line of out.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(120);
    // Coordinates are cut first, down to 16 characters; then the server name (capped at 24 anyway).
    expect(out).toMatch(/ mysql-bin\.000123:9876…$/m);
    expect(out).toContain(' a-rather-long-server-na… ');
    expect(out).toMatch(/error: Cannot upload very .*…$/m);
    const narrow = renderBackupTable([long], 100);
    for (const line of narrow.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(narrow).toMatch(/ mysql-bin\.00012…$/m);
    expect(narrow).toMatch(/ a-rather-… /);
    expect(narrow).toContain('3f2a9100');
  });
});
