import { describe, expect, it } from 'vitest';
import type { BackupRecord } from '../store/catalog.js';
import { recoverableWindows, serverCoverage } from './coverage.js';

const NOW = new Date('2024-05-20T00:00:00.000Z');
const DAY = 86_400_000;
const us = (iso: string) => BigInt(Date.parse(iso)) * 1000n;

function backup(
  id: string,
  startIso: string,
  minutes = 10,
  status: BackupRecord['status'] = 'succeeded',
): BackupRecord {
  const started = new Date(startIso);
  const ended = new Date(started.getTime() + minutes * 60_000);
  return {
    id,
    tenantId: 't',
    tenant: 'acme',
    serverId: 's',
    serverName: 'db1',
    scheduleId: null,
    tool: 'mydumper',
    toolVersion: '0.19',
    status,
    createdAt: started,
    startedAt: started,
    dumpFinishedAt: ended,
    finishedAt: ended,
    durationMs: minutes * 60_000,
    sizeBytes: 1,
    coordinates: { file: 'b.000001', position: 4, gtid: null },
    location: 'file:///x',
    localDir: null,
    error: null,
    updatedAt: ended,
  };
}

describe('recoverableWindows', () => {
  const windows = [
    { fromUs: us('2024-05-01T00:00:00Z'), toUs: us('2024-05-10T00:00:00Z') },
    { fromUs: us('2024-05-12T00:00:00Z'), toUs: us('2024-05-19T00:00:00Z') },
  ];

  it('starts each window at the end of the dump step of the first good dump inside it', () => {
    const got = recoverableWindows(windows, [
      backup('b2', '2024-05-05T00:00:00Z'),
      backup('b1', '2024-05-02T00:00:00Z'),
    ]);
    expect(got).toEqual([
      { fromUs: us('2024-05-02T00:10:00Z'), toUs: us('2024-05-10T00:00:00Z'), backupId: 'b1' },
    ]);
  });

  it('does not count a dump that started before the window (its changes before capture began are missing)', () => {
    expect(recoverableWindows(windows, [backup('b0', '2024-04-30T23:55:00Z')])).toEqual([]);
    // ...nor one whose dump step outlasts the window
    expect(recoverableWindows(windows, [backup('late', '2024-05-18T23:55:00Z')])).toEqual([]);
  });

  it('gives each covered window its own start after a gap', () => {
    const got = recoverableWindows(windows, [
      backup('b1', '2024-05-02T00:00:00Z'),
      backup('b3', '2024-05-13T00:00:00Z'),
    ]);
    expect(got.map((w) => w.backupId)).toEqual(['b1', 'b3']);
  });
});

describe('serverCoverage warnings', () => {
  const base = { now: NOW, windows: [] };
  it('warns when the newest dump is older than the binlog retention', () => {
    const c = serverCoverage({
      ...base,
      backups: [
        backup('b1', new Date(NOW.getTime() - 9 * DAY).toISOString()),
        backup('b2', new Date(NOW.getTime() - 8 * DAY).toISOString()),
      ],
      binlogRetentionSeconds: 7 * 86_400,
    });
    expect(c.warnings.map((w) => w.code)).toContain('dump_older_than_retention');
    expect(c.warnings.find((w) => w.code === 'dump_older_than_retention')?.message).toMatch(
      /older than the server's binlog retention \(7d\): dump at least as often as binlogs are kept/,
    );
    expect(c.binlogRetentionHorizon).toEqual(new Date(NOW.getTime() - 7 * DAY));
  });

  it('warns when fewer than two good dumps fall within two retention cycles; failed dumps do not count', () => {
    const c = serverCoverage({
      ...base,
      backups: [
        backup('old', new Date(NOW.getTime() - 20 * DAY).toISOString()),
        backup('new', new Date(NOW.getTime() - 1 * DAY).toISOString()),
        backup('bad', new Date(NOW.getTime() - 2 * DAY).toISOString(), 10, 'failed'),
      ],
      binlogRetentionSeconds: 7 * 86_400,
    });
    expect(c.warnings.map((w) => w.code)).toEqual(['fewer_than_two_retention_cycles']);
    expect(c.goodDumps).toBe(2);
    expect(c.newestDumpId).toBe('new');
  });

  it('is quiet with fresh dumps in both cycles', () => {
    const c = serverCoverage({
      ...base,
      backups: [
        backup('a', new Date(NOW.getTime() - 10 * DAY).toISOString()),
        backup('b', new Date(NOW.getTime() - DAY).toISOString()),
      ],
      binlogRetentionSeconds: 7 * 86_400,
    });
    expect(c.warnings).toEqual([]);
  });

  it('with retention unknown or 0 asks for two dumps in all, and says when there is none', () => {
    expect(
      serverCoverage({ ...base, backups: [], binlogRetentionSeconds: null }).warnings.map((w) => w.code),
    ).toEqual(['no_dump']);
    const one = serverCoverage({
      ...base,
      backups: [backup('a', '2020-01-01T00:00:00Z')],
      binlogRetentionSeconds: 0,
    });
    expect(one.warnings.map((w) => w.code)).toEqual(['fewer_than_two_retention_cycles']);
    expect(one.binlogRetentionHorizon).toBeNull();
  });
});
