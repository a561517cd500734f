/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument,
   @typescript-eslint/no-unsafe-call --
   response bodies are walked freely here; the assertions, not the types, check their shape. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { generateApiKey } from '../../src/server/api-keys.js';
import { serveControlPlane, type RunningControlPlane } from '../../src/server/control-plane.js';
import { audit } from '../../src/store/audit-log.js';
import type { NewDrill } from '../../src/store/drills.js';

/**
 * `GET /api/v1/servers/{id}/drills` and `/drift-checks` over real HTTP: drills recorded in the catalog and drift
 * checks recorded as `drift.run` audit entries, exactly as `dbtrail drill` and `dbtrail drift` record them, read
 * back newest first, limited, scoped to the tenant, and documented.
 */
const home = mkdtempSync(join(tmpdir(), 'dbtrail-checks-'));
let app: App;
let running: RunningControlPlane;
let keyA: string;
let keyB: string;
let tenantA: string;
let tenantB: string;
let serverA: string;
let serverA2: string;
let serverB: string;

async function call(key: string, path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${running.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function makeKey(tenantId: string): Promise<string> {
  const k = generateApiKey();
  await app.store.apiKeys.create({ tenantId, name: null, prefix: k.prefix, keyHash: k.hash });
  return k.key;
}

async function makeServer(key: string, name: string): Promise<string> {
  const res = await fetch(`${running.url}/api/v1/servers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, connection: { host: '127.0.0.1', user: 'app' } }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

function drill(tenantId: string, serverId: string, minute: number, passed: boolean): NewDrill {
  const finished = new Date(Date.UTC(2024, 4, 1, 10, minute));
  return {
    tenantId,
    serverId,
    backupId: `backup-${minute}`,
    status: passed ? 'passed' : 'failed',
    startedAt: new Date(finished.getTime() - 90_000),
    finishedAt: finished,
    rtoMs: passed ? 81_250 : null,
    coordinates: { file: 'mariadb-bin.000007', position: 4_294_967_396, gtid: '0-1-1042' },
    steps: [
      { step: 'fetch', ms: 1_200 },
      { step: 'load', ms: 60_050 },
      { step: 'replay', ms: 20_000 },
    ],
    tables: [
      {
        table: 'shop.orders',
        // Beyond 2^53: row counts travel as strings and must come back digit for digit.
        sourceRows: '9007199254740993',
        scratchRows: passed ? '9007199254740993' : '9007199254740992',
        sourceChecksum: '3735928559',
        scratchChecksum: passed ? '3735928559' : '12345',
        match: passed,
      },
    ],
    error: passed ? null : 'Table shop.orders differs: checksum 12345 vs 3735928559',
  };
}

function driftRun(
  tenantId: string,
  serverId: string,
  run: { status?: 'clean' | 'drift'; rows?: number; error?: string },
): Promise<unknown> {
  return audit(app.store, {
    tenantId,
    actor: { kind: 'cli', id: 'ops' },
    action: 'drift.run',
    target: serverId,
    outcome: run.status === 'clean' ? 'success' : 'failure',
    details:
      run.error !== undefined
        ? { server_id: serverId, server_name: 'x', error: run.error }
        : {
            server_id: serverId,
            server_name: 'x',
            mode: 'live',
            status: run.status!,
            backup_id: 'b-1',
            compared_backup_id: null,
            file: 'mariadb-bin.000009',
            position: 1234,
            gtid: '0-1-2000',
            tables: 3,
            drifted_tables: run.status === 'drift' ? 1 : 0,
            drifted_rows: run.rows ?? 0,
          },
  });
}

beforeAll(async () => {
  app = await openApp(loadConfig({ env: { DBTRAIL_HOME: home } }));
  running = await serveControlPlane(app, { host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  tenantA = (await app.store.tenants.create('acme')).id;
  tenantB = (await app.store.tenants.create('globex')).id;
  keyA = await makeKey(tenantA);
  keyB = await makeKey(tenantB);
  serverA = await makeServer(keyA, 'orders-db');
  serverA2 = await makeServer(keyA, 'users-db');
  serverB = await makeServer(keyB, 'orders-db');

  // Recorded out of time order: the listing orders by when a drill finished.
  await app.store.drills.record(drill(tenantA, serverA, 5, true));
  await app.store.drills.record(drill(tenantA, serverA, 30, false));
  await app.store.drills.record(drill(tenantA, serverA, 15, true));
  await app.store.drills.record(drill(tenantA, serverA2, 40, true));
  await app.store.drills.record(drill(tenantB, serverB, 50, true));

  await driftRun(tenantA, serverA, { status: 'clean' });
  await driftRun(tenantA, serverA2, { status: 'clean' });
  await driftRun(tenantA, serverA, { error: 'Cannot connect to the scratch server: refused' });
  await driftRun(tenantB, serverB, { status: 'drift', rows: 9 });
  await driftRun(tenantA, serverA, { status: 'drift', rows: 2 });
  // Another action on the same server is not a drift check.
  await audit(app.store, {
    tenantId: tenantA,
    actor: { kind: 'cli', id: 'ops' },
    action: 'drill.run',
    target: serverA,
    outcome: 'success',
    details: { server_id: serverA },
  });
});

afterAll(async () => {
  await running?.close();
  await app?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('GET /api/v1/servers/{id}/drills', () => {
  it("lists the server's drills newest first, in the drill command's JSON form, exactly", async () => {
    const res = await call(keyA, `/api/v1/servers/${serverA}/drills`);
    expect(res.status).toBe(200);
    const drills = res.json.drills as any[];
    expect(drills.map((d) => d.finished_at)).toEqual([
      '2024-05-01T10:30:00.000Z',
      '2024-05-01T10:15:00.000Z',
      '2024-05-01T10:05:00.000Z',
    ]);
    expect(drills.every((d) => d.server_id === serverA)).toBe(true);
    expect(drills[0]).toEqual({
      id: expect.any(String),
      server_id: serverA,
      backup_id: 'backup-30',
      status: 'failed',
      started_at: '2024-05-01T10:28:30.000Z',
      finished_at: '2024-05-01T10:30:00.000Z',
      rto_ms: null,
      coordinates: { file: 'mariadb-bin.000007', position: 4_294_967_396, gtid: '0-1-1042' },
      steps: [
        { step: 'fetch', ms: 1_200 },
        { step: 'load', ms: 60_050 },
        { step: 'replay', ms: 20_000 },
      ],
      tables: [
        {
          table: 'shop.orders',
          source_rows: '9007199254740993',
          scratch_rows: '9007199254740992',
          source_checksum: '3735928559',
          scratch_checksum: '12345',
          match: false,
        },
      ],
      error: 'Table shop.orders differs: checksum 12345 vs 3735928559',
    });
    expect(drills[1]).toMatchObject({ status: 'passed', rto_ms: 81_250, error: null });
  });

  it('honours limit', async () => {
    const res = await call(keyA, `/api/v1/servers/${serverA}/drills?limit=1`);
    expect(res.status).toBe(200);
    expect((res.json.drills as any[]).map((d) => d.backup_id)).toEqual(['backup-30']);
  });

  it('answers an empty list for a server without drills', async () => {
    const fresh = await makeServer(keyA, 'fresh-db');
    const res = await call(keyA, `/api/v1/servers/${fresh}/drills`);
    expect(res).toEqual({ status: 200, json: { drills: [] } });
  });
});

describe('GET /api/v1/servers/{id}/drift-checks', () => {
  it("lists the server's drift.run entries newest first, leaving out other servers and actions", async () => {
    const res = await call(keyA, `/api/v1/servers/${serverA}/drift-checks`);
    expect(res.status).toBe(200);
    const checks = res.json.drift_checks as any[];
    expect(checks.map((c) => c.status)).toEqual(['drift', 'error', 'clean']);
    expect(checks[0].seq).toBeGreaterThan(checks[1].seq);
    expect(checks[1].seq).toBeGreaterThan(checks[2].seq);
    expect(checks[0]).toEqual({
      seq: expect.any(Number),
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      outcome: 'failure',
      status: 'drift',
      mode: 'live',
      drifted_rows: 2,
      drifted_tables: 1,
      backup_id: 'b-1',
      coordinates: { file: 'mariadb-bin.000009', position: 1234, gtid: '0-1-2000' },
      error: null,
    });
    expect(checks[1]).toMatchObject({
      outcome: 'failure',
      status: 'error',
      drifted_rows: null,
      coordinates: null,
      error: 'Cannot connect to the scratch server: refused',
    });
    expect(checks[2]).toMatchObject({ outcome: 'success', status: 'clean', drifted_rows: 0, error: null });
  });

  it('honours limit', async () => {
    const res = await call(keyA, `/api/v1/servers/${serverA}/drift-checks?limit=2`);
    expect((res.json.drift_checks as any[]).map((c) => c.status)).toEqual(['drift', 'error']);
  });

  it("shows the other tenant only its own server's checks", async () => {
    const res = await call(keyB, `/api/v1/servers/${serverB}/drift-checks`);
    expect((res.json.drift_checks as any[]).map((c) => [c.status, c.drifted_rows])).toEqual([['drift', 9]]);
  });
});

describe('tenant isolation and input errors', () => {
  it.each(['drills', 'drift-checks'])(
    "answers 404 for another tenant's server on /%s, like a server that does not exist",
    async (resource) => {
      const other = await call(keyB, `/api/v1/servers/${serverA}/${resource}`);
      const missing = await call(keyB, `/api/v1/servers/00000000-0000-4000-8000-000000000000/${resource}`);
      expect(other.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(other.json.error.code).toBe('NOT_FOUND');
      expect(JSON.stringify(other.json)).not.toContain('backup-');
      expect(other.json.error.message.replace(serverA, 'X')).toBe(
        missing.json.error.message.replace('00000000-0000-4000-8000-000000000000', 'X'),
      );
    },
  );

  it.each([
    ['drills', '0'],
    ['drills', '1001'],
    ['drift-checks', 'ten'],
    ['drift-checks', '-1'],
  ])('refuses /%s?limit=%s with a 400 naming the field', async (resource, limit) => {
    const res = await call(keyA, `/api/v1/servers/${serverA}/${resource}?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('VALIDATION_FAILED');
    expect(res.json.error.fields.limit).toMatch(/^must be a whole number from 1 to 1000, got/);
  });

  it('refuses a malformed server id with a 400', async () => {
    const res = await call(keyA, '/api/v1/servers/not-a-uuid/drills');
    expect(res.status).toBe(400);
    expect(Object.keys(res.json.error.fields)).toEqual(['server_id']);
  });

  it('requires an API key', async () => {
    const res = await fetch(`${running.url}/api/v1/servers/${serverA}/drills`);
    expect(res.status).toBe(401);
  });
});

describe('OpenAPI document', () => {
  it('documents both routes with their limit and response shape', async () => {
    const res = await fetch(`${running.url}/api/v1/openapi.json`);
    const doc = (await res.json()) as any;
    const drills = doc.paths['/api/v1/servers/{server_id}/drills'].get;
    const drift = doc.paths['/api/v1/servers/{server_id}/drift-checks'].get;
    expect(drills.operationId).toBe('listServerDrills');
    expect(drift.operationId).toBe('listServerDriftChecks');
    for (const op of [drills, drift]) {
      const limit = op.parameters.find((p: any) => p.name === 'limit');
      expect(limit).toMatchObject({
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 1000 },
      });
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '404']));
    }
    const drillItem = drills.responses['200'].content['application/json'].schema.properties.drills.items;
    expect(Object.keys(drillItem.properties)).toEqual(
      expect.arrayContaining(['status', 'rto_ms', 'backup_id', 'finished_at', 'tables']),
    );
    const checkItem = drift.responses['200'].content['application/json'].schema.properties.drift_checks.items;
    expect(Object.keys(checkItem.properties)).toEqual(
      expect.arrayContaining([
        'at',
        'outcome',
        'status',
        'drifted_rows',
        'drifted_tables',
        'backup_id',
        'coordinates',
        'error',
      ]),
    );
  });
});
