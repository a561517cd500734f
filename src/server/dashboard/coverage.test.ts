import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import type { Coverage, Gap } from '../../store/change-index.js';
import { NotFoundError } from '../../store/errors.js';
import type { ServerRecord } from '../../store/servers.js';
import { createApp } from '../app.js';
import type { Middleware } from '../context.js';
import { coverageRoutes, isoMicros, type CoverageJson } from './coverage.js';

const SERVER = '0b0f4a52-1c1e-4c6e-9d55-6f0e3c1a2b3c';
const OTHER_TENANT_SERVER = '5d2c7a10-8e4b-4f7d-a1c3-2b9e8f7a6d5c';
const T0 = 1_714_558_500_123_456n; // 2024-05-01T10:15:00.123456Z

const gap: Gap = {
  id: 'g1',
  serverId: SERVER,
  from: { file: 'mariadb-bin.000009', position: 4, gtidSet: '0-1-100' },
  to: { file: 'mariadb-bin.000011', position: 4, gtidSet: null },
  fromTimeUs: null,
  toTimeUs: null,
  reason: 'binlog_purged',
  detail: 'mariadb-bin.000009 to mariadb-bin.000010 were purged before capture read them',
  recordedAt: new Date('2024-05-01T12:00:00Z'),
};

const coverage: Coverage = {
  startUs: T0,
  endUs: T0 + 7_200_000_000n,
  gaps: [{ gap, fromUs: T0 + 1_800_000_000n, toUs: T0 + 3_600_000_000n }],
};

const store = {
  servers: {
    get(id: string, scope?: { tenantId?: string }): Promise<ServerRecord> {
      if (id === SERVER && scope?.tenantId === 't1') return Promise.resolve({ id } as ServerRecord);
      return Promise.reject(new NotFoundError(`Cannot find server ${id}`));
    },
  },
  changes: { coverage: (): Promise<Coverage> => Promise.resolve(coverage) },
};

const asTenant: Middleware = (ctx, next) => {
  ctx.principal = { tenantId: 't1', keyId: 'k1' };
  return next();
};

function appWith(retention?: number | null) {
  return createApp({
    routes: coverageRoutes({
      store,
      clock: new ManualClock('2024-05-02T00:00:00Z'),
      ...(retention === undefined ? {} : { binlogRetentionSeconds: () => retention }),
    }),
    middleware: [asTenant],
    logger: pino({ level: 'silent' }),
  });
}

describe('GET /api/v1/servers/{server_id}/coverage', () => {
  it('reports windows split by the gap, with microsecond times, and the gap with its coordinates', async () => {
    const res = await appWith(86_400).request('GET', `/api/v1/servers/${SERVER}/coverage`);
    expect(res.status).toBe(200);
    const body = res.json as CoverageJson;
    expect(body.captured_from).toBe('2024-05-01T10:15:00.123456Z');
    expect(body.captured_to).toBe('2024-05-01T12:15:00.123456Z');
    expect(body.windows).toEqual([
      { from: '2024-05-01T10:15:00.123456Z', to: '2024-05-01T10:45:00.123456Z' },
      { from: '2024-05-01T11:15:00.123456Z', to: '2024-05-01T12:15:00.123456Z' },
    ]);
    expect(body.gaps).toEqual([
      {
        id: 'g1',
        from: '2024-05-01T10:45:00.123456Z',
        to: '2024-05-01T11:15:00.123456Z',
        reason: 'binlog_purged',
        detail: gap.detail,
        from_coordinates: { file: 'mariadb-bin.000009', position: 4, gtid: '0-1-100' },
        to_coordinates: { file: 'mariadb-bin.000011', position: 4, gtid: null },
        recorded_at: '2024-05-01T12:00:00.000Z',
      },
    ]);
    expect(body.binlog_retention_seconds).toBe(86_400);
    expect(body.binlog_retention_horizon).toBe('2024-05-01T00:00:00.000Z');
  });

  it('has no horizon when the retention is unknown or binlogs are never purged', async () => {
    for (const retention of [undefined, null, 0]) {
      const res = await appWith(retention).request('GET', `/api/v1/servers/${SERVER}/coverage`);
      expect((res.json as CoverageJson).binlog_retention_horizon).toBeNull();
    }
  });

  it("answers 404 for another tenant's server, as for one that does not exist", async () => {
    const res = await appWith().request('GET', `/api/v1/servers/${OTHER_TENANT_SERVER}/coverage`);
    expect(res.status).toBe(404);
    expect((res.json as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('answers 400 naming the parameter for an id that is not a UUID', async () => {
    const res = await appWith().request('GET', '/api/v1/servers/db1/coverage');
    expect(res.status).toBe(400);
    expect((res.json as { error: { fields: object } }).error.fields).toHaveProperty('server_id');
  });
});

describe('isoMicros', () => {
  it('keeps all six fractional digits, also before 1970 and on whole milliseconds', () => {
    expect(isoMicros(T0)).toBe('2024-05-01T10:15:00.123456Z');
    expect(isoMicros(1_000n)).toBe('1970-01-01T00:00:00.001000Z');
    expect(isoMicros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(isoMicros(null)).toBeNull();
  });
});
