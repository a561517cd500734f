import { describe, expect, it } from 'vitest';
import type { BackupRecord } from '../store/catalog.js';
import type { ChangeRecord, DdlRecord, Gap } from '../store/change-index.js';
import { planRestore, type PlanDeps } from './plan.js';

/** A server's index and catalog in memory: transactions at binlog.000001 positions 100, 200, ... */
function world(opts: { gaps?: Gap[]; firstAt?: number } = {}) {
  const rows: ChangeRecord[] = [];
  const ddl: DdlRecord[] = [];
  const first = opts.firstAt ?? 100;
  for (let i = 0; i < 10; i++) {
    const position = first + i * 100;
    const base = {
      serverId: 's1',
      seq: BigInt(i + 1),
      gtid: `0-1-${i + 11}`,
      file: 'binlog.000001',
      position,
      commitTimeUs: 1_000_000_000n + BigInt(i) * 1_000_000n,
      threadId: 1,
    };
    if (i === 5) ddl.push({ ...base, schema: 'app', statement: 'ALTER TABLE t ADD c INT' });
    else
      rows.push({
        ...base,
        schema: 'app',
        table: 't',
        type: 'insert',
        pk: `["${i}"]`,
        pkColumns: ['id'],
        pkIsFullImage: false,
        before: null,
        after: { id: String(i) },
        changedColumns: null,
      });
  }
  const backup: BackupRecord = {
    id: 'b1',
    tenantId: 't1',
    tenant: 'acme',
    serverId: 's1',
    serverName: 'db1',
    scheduleId: null,
    tool: 'mydumper',
    toolVersion: '0.10.0',
    status: 'succeeded',
    createdAt: new Date(999_000),
    startedAt: new Date(999_000),
    dumpFinishedAt: null,
    finishedAt: null,
    durationMs: null,
    sizeBytes: 1000,
    coordinates: { file: 'binlog.000001', position: 300, gtid: '0-1-12' },
    location: 'file:///x',
    localDir: null,
    error: null,
    updatedAt: new Date(),
  };
  const deps: PlanDeps = {
    catalog: {
      list: () => Promise.resolve([backup]),
      get: () => Promise.resolve(backup),
    },
    changes: {
      checkpoint: () =>
        Promise.resolve({
          serverId: 's1',
          coordinates: { file: 'binlog.000001', position: 5000, gtidSet: '0-1-20' },
          identity: { serverUuid: null, serverId: '1', hostname: 'h', flavor: 'mariadb' },
          updatedAt: new Date(),
        }),
      gaps: () => Promise.resolve(opts.gaps ?? []),
      coverage: () => Promise.resolve({ startUs: null, endUs: null, gaps: [] }),
      query: (q: { limit?: number; sinceUs?: bigint }) =>
        Promise.resolve(
          rows.filter((r) => q.sinceUs === undefined || r.commitTimeUs >= q.sinceUs).slice(0, q.limit),
        ),
      ddl: (_s: string, f: { limit?: number } = {}) => Promise.resolve(ddl.slice(0, f.limit)),
    } as unknown as PlanDeps['changes'],
  };
  return deps;
}

const req = { tenantId: 't1', serverId: 's1', serverName: 'db1' };

describe('restore planning', () => {
  it('replays from the backup coordinates to just before the bad GTID, DDL in place', async () => {
    const plan = await planRestore(world(), { ...req, target: { kind: 'before-gtid', gtid: '0-1-18' } });
    expect(plan.transactions.map((t) => t.position)).toEqual([300, 400, 500, 600, 700]);
    expect(plan.ddlEvents).toBe(1);
    expect(plan.stopAt).toEqual({ file: 'binlog.000001', position: 800, gtid: '0-1-18' });
  });

  it('includes the target GTID with --to-gtid and cuts a time target at the first later commit', async () => {
    const to = await planRestore(world(), { ...req, target: { kind: 'to-gtid', gtid: '0-1-18' } });
    expect(to.transactions.at(-1)?.gtid).toBe('0-1-18');
    const at = await planRestore(world(), { ...req, target: { kind: 'time', atUs: 1_004_500_000n } });
    expect(at.transactions.map((t) => t.position)).toEqual([300, 400, 500]);
  });

  it('refuses a gap between the backup and the target, naming it', async () => {
    const gap: Gap = {
      id: 'g1',
      serverId: 's1',
      from: { file: 'binlog.000001', position: 450, gtidSet: null },
      to: { file: 'binlog.000001', position: 550, gtidSet: null },
      fromTimeUs: null,
      toTimeUs: null,
      reason: 'binlog_purged',
      detail: 'purged before capture resumed',
      recordedAt: new Date(),
    };
    await expect(
      planRestore(world({ gaps: [gap] }), { ...req, target: { kind: 'latest' } }),
    ).rejects.toMatchObject({
      kind: 'gap',
      message: expect.stringMatching(/gap g1 from binlog\.000001:450 to binlog\.000001:550, binlog purged/),
    });
    // Before the gap, the same backup serves.
    const before = await planRestore(world({ gaps: [gap] }), {
      ...req,
      target: { kind: 'position', file: 'binlog.000001', position: 450 },
    });
    expect(before.transactions.map((t) => t.position)).toEqual([300, 400]);
  });

  it('refuses a backup taken before capture began unless GTIDs prove nothing is missing', async () => {
    // Capture's first transaction is at 350, the backup at 300 with GTID 0-1-12; the next is 0-1-11: not seq + 1.
    await expect(
      planRestore(world({ firstAt: 350 }), { ...req, target: { kind: 'latest' } }),
    ).rejects.toMatchObject({
      kind: 'gap',
      message: expect.stringMatching(
        /capture of "db1" began at binlog\.000001:350, after the backup's coordinates/,
      ),
    });
  });

  it('resumes after the transactions already replayed', async () => {
    const plan = await planRestore(world(), {
      ...req,
      target: { kind: 'latest' },
      resumeFrom: { file: 'binlog.000001', position: 600 },
    });
    expect(plan.transactions[0]?.position).toBe(600);
  });
});
