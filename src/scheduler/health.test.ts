import { describe, expect, it } from 'vitest';
import { scheduleHealth, serverHealth } from './health.js';

const schedule = {
  cron: '0 * * * *',
  timezone: 'UTC',
  enabled: true,
  createdAt: new Date('2024-05-01T00:00:00Z'),
};
const ok = { status: 'succeeded' as const, error: null };
const bad = (message: string) => ({ status: 'failed' as const, error: { code: 'X', message } });

describe('scheduleHealth', () => {
  it('is healthy after a recent success', () => {
    const h = scheduleHealth({
      schedule,
      recentRuns: [ok, bad('old')],
      lastSuccessAt: new Date('2024-05-01T10:00:30Z'),
      now: new Date('2024-05-01T11:30:00Z'),
    });
    expect(h.status).toBe('healthy');
    expect(h.reasons).toEqual([]);
    expect(h.consecutiveFailures).toBe(0);
    expect(h.staleAt?.toISOString()).toBe('2024-05-01T12:00:30.000Z');
  });

  it('is unhealthy when the last three runs failed, quoting the latest error', () => {
    const h = scheduleHealth({
      schedule,
      recentRuns: [bad('disk full'), bad('b'), bad('c')],
      lastSuccessAt: new Date('2024-05-01T10:00:30Z'),
      now: new Date('2024-05-01T10:30:00Z'),
    });
    expect(h.status).toBe('unhealthy');
    expect(h.consecutiveFailures).toBe(3);
    expect(h.reasons[0]).toContain('disk full');
    expect(
      scheduleHealth({
        schedule,
        recentRuns: [bad('a'), bad('b'), ok],
        lastSuccessAt: new Date('2024-05-01T10:00:30Z'),
        now: new Date('2024-05-01T10:30:00Z'),
      }).status,
    ).toBe('healthy');
  });

  it('is unhealthy when nothing succeeded within twice the interval, counting from creation when never', () => {
    const stale = scheduleHealth({
      schedule,
      recentRuns: [],
      lastSuccessAt: new Date('2024-05-01T10:00:00Z'),
      now: new Date('2024-05-01T12:00:00Z'),
    });
    expect(stale.status).toBe('unhealthy');
    expect(stale.reasons[0]).toMatch(/No successful backup since 2024-05-01T10:00:00.000Z/);
    const never = scheduleHealth({
      schedule,
      recentRuns: [],
      lastSuccessAt: null,
      now: new Date('2024-05-01T01:59:00Z'),
    });
    expect(never.status).toBe('healthy');
    const neverLate = scheduleHealth({
      schedule,
      recentRuns: [],
      lastSuccessAt: null,
      now: new Date('2024-05-01T02:00:00Z'),
    });
    expect(neverLate.status).toBe('unhealthy');
  });

  it('warns when dumps are further apart than the binlog retention, and a disabled schedule is not unhealthy', () => {
    const weekly = { ...schedule, cron: '0 2 * * 0' };
    const h = scheduleHealth({
      schedule: weekly,
      recentRuns: [],
      lastSuccessAt: new Date('2024-05-05T02:10:00Z'),
      now: new Date('2024-05-06T00:00:00Z'),
      binlogRetentionSeconds: 3 * 86_400,
    });
    expect(h.status).toBe('healthy');
    expect(h.warnings[0]).toMatch(/longer than the server's binlog retention.*7 days.*3 days/);
    expect(
      scheduleHealth({
        schedule: weekly,
        recentRuns: [],
        lastSuccessAt: null,
        now: new Date(),
        binlogRetentionSeconds: 0,
      }).warnings,
    ).toEqual([]);
    const off = scheduleHealth({
      schedule: { ...schedule, enabled: false },
      recentRuns: [bad('a'), bad('b'), bad('c')],
      lastSuccessAt: null,
      now: new Date('2025-01-01T00:00:00Z'),
    });
    expect(off.status).toBe('disabled');
    expect(serverHealth([off]).status).toBe('unprotected');
  });
});
