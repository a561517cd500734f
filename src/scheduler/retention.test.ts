import { describe, expect, it } from 'vitest';
import type { BackupRecord } from '../store/catalog.js';
import { planRetention } from './retention.js';

const DAY = 86_400_000;
const T0 = Date.parse('2024-05-01T00:00:00Z');
const us = (ms: number): bigint => BigInt(ms) * 1000n;

function backup(id: string, day: number, status: BackupRecord['status'] = 'succeeded'): BackupRecord {
  const start = new Date(T0 + day * DAY);
  const end = new Date(start.getTime() + 600_000);
  return {
    id,
    tenantId: 't',
    tenant: 'acme',
    serverId: 's',
    serverName: 'db1',
    scheduleId: 'sch',
    tool: 'mydumper',
    toolVersion: null,
    status,
    createdAt: start,
    startedAt: start,
    dumpFinishedAt: status === 'succeeded' ? end : null,
    finishedAt: status === 'succeeded' || status === 'failed' ? end : null,
    durationMs: null,
    sizeBytes: null,
    coordinates: null,
    location: null,
    localDir: null,
    error: null,
    updatedAt: end,
  };
}

const all = [backup('d0', 0), backup('d3', 3), backup('d5', 5), backup('d9', 9), backup('d12', 12)];
const now = new Date(T0 + 14 * DAY); // retention 7 days: cutoff at day 7

describe('planRetention', () => {
  it('keeps the dump the covered window reaching the cutoff starts from', () => {
    const plan = planRetention({
      now,
      retentionDays: 7,
      scheduleBackups: all,
      serverSuccesses: all,
      windows: [{ fromUs: us(T0 + 4 * DAY), toUs: us(now.getTime()) }],
    });
    expect(plan.cutoff.toISOString()).toBe('2024-05-08T00:00:00.000Z');
    expect(plan.expired.map((b) => b.id)).toEqual(['d0', 'd3']);
    expect(plan.kept).toEqual([{ backup: all[2], reason: 'window_anchor' }]);
  });

  it('keeps no anchor when the newest dump before the cutoff lies before a gap in the coverage', () => {
    const plan = planRetention({
      now,
      retentionDays: 7,
      scheduleBackups: all,
      serverSuccesses: all,
      // Coverage restarted on day 6 after a gap: day 5 cannot be replayed forward to the cutoff.
      windows: [
        { fromUs: us(T0), toUs: us(T0 + 5.5 * DAY) },
        { fromUs: us(T0 + 6 * DAY), toUs: us(now.getTime()) },
      ],
    });
    expect(plan.expired.map((b) => b.id)).toEqual(['d0', 'd3', 'd5']);
    expect(plan.kept).toEqual([]);
  });

  it('keeps the newest dump before the cutoff when nothing is captured, and never unfinished backups', () => {
    const running = backup('r1', 1, 'running');
    const plan = planRetention({
      now,
      retentionDays: 7,
      scheduleBackups: [...all, running],
      serverSuccesses: all,
      windows: undefined,
    });
    expect(plan.expired.map((b) => b.id)).toEqual(['d0', 'd3']);
    expect(plan.kept.map((k) => [k.backup.id, k.reason])).toEqual([
      ['d5', 'window_anchor'],
      ['r1', 'not_finished'],
    ]);
  });

  it('keeps the newest success of the server even when every backup is past retention', () => {
    const old = [backup('a', 0), backup('b', 1, 'failed')];
    const plan = planRetention({
      now: new Date(T0 + 100 * DAY),
      retentionDays: 30,
      scheduleBackups: old,
      serverSuccesses: [old[0]!],
      windows: [],
    });
    expect(plan.expired.map((b) => b.id)).toEqual(['b']);
    expect(plan.kept.map((k) => k.reason)).toEqual(['newest_success']);
  });
});
