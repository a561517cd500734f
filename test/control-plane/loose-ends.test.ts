/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   response bodies are walked freely here; the assertions, not the types, check their shape. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRunnerExtension } from '../../src/agent/extension.js';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { generateApiKey } from '../../src/server/api-keys.js';
import type { TestResponse } from '../../src/server/app.js';
import { createControlPlane, type ControlPlane } from '../../src/server/control-plane.js';
import { backupToJson } from '../../src/store/catalog.js';
import { JobActiveError } from '../../src/store/errors.js';
import type { JobRepository } from '../../src/store/jobs.js';

/**
 * The control plane's loose ends: health in schedule and server responses, labels and TLS in server defaults,
 * the tool actually run recorded through the agent protocol, and "one active backup per server" holding across
 * two processes on one SQLite file (two apps with their own connections and their own in-process locks).
 */
const home = mkdtempSync(join(tmpdir(), 'dbtrail-loose-ends-'));
const T0 = '2024-05-01T10:00:00.000Z';
const clock = new ManualClock(T0);
const logger = pino({ level: 'silent' });
let app: App;
let other: App;
let plane: ControlPlane;
let otherPlane: ControlPlane;
let key: string;
let tenantId: string;
let retention: number | null = null;

const call = (p: ControlPlane, method: string, path: string, body?: unknown): Promise<TestResponse> =>
  p.http.request(method, path, {
    headers: { authorization: `Bearer ${key}` },
    ...(body === undefined ? {} : { body }),
  });
const api = (method: string, path: string, body?: unknown) => call(plane, method, path, body);
const body = (r: TestResponse): any => r.json;

beforeAll(async () => {
  const config = loadConfig({ env: { DBTRAIL_HOME: home } });
  app = await openApp(config, { clock });
  other = await openApp(config, { clock });
  const options = {
    logger,
    rateLimit: { capacity: 100_000, refillPerSecond: 1 },
    binlogRetentionSeconds: () => retention,
  };
  plane = createControlPlane(app, {
    ...options,
    extensions: [jobRunnerExtension({ agent: false, scheduler: false })],
  });
  otherPlane = createControlPlane(other, options);
  const tenant = await app.store.tenants.create('acme');
  tenantId = tenant.id;
  const k = generateApiKey();
  await app.store.apiKeys.create({ tenantId, name: null, prefix: k.prefix, keyHash: k.hash });
  key = k.key;
});

afterAll(async () => {
  await other?.close();
  await app?.close();
  rmSync(home, { recursive: true, force: true });
});

async function newServer(name: string, defaults?: unknown): Promise<string> {
  const r = await api('POST', '/api/v1/servers', {
    name,
    connection: { host: 'h', user: 'u' },
    ...(defaults === undefined ? {} : { defaults }),
  });
  expect(r.status).toBe(201);
  return body(r).id as string;
}

describe('server defaults', () => {
  it('accepts labels and tls, returns them, and names each bad field', async () => {
    const r = await api('POST', '/api/v1/servers', {
      name: 'labelled',
      connection: { host: 'h', user: 'u' },
      defaults: { labels: ['dc=eu-1', 'rack:7'], tls: 'required', threads: 2 },
    });
    expect(r.status).toBe(201);
    expect(body(r).defaults).toEqual({ labels: ['dc=eu-1', 'rack:7'], tls: 'required', threads: 2 });
    const patched = await api('PATCH', `/api/v1/servers/${body(r).id}`, {
      defaults: { labels: [], tls: 'off' },
    });
    expect(patched.status).toBe(200);
    expect(body(patched).defaults).toEqual({ labels: [], tls: 'off' });

    const bad = await api('POST', '/api/v1/servers', {
      name: 'bad-defaults',
      connection: { host: 'h', user: 'u' },
      defaults: { labels: ['has space', ''], tls: 'maybe' },
    });
    expect(bad.status).toBe(400);
    expect(Object.keys(body(bad).error.fields).sort()).toEqual([
      'defaults.labels[0]',
      'defaults.labels[1]',
      'defaults.tls',
    ]);
    expect(body(bad).error.fields['defaults.tls']).toMatch(/"off", "preferred", "required"/);
  });
});

describe('health in responses', () => {
  let serverId: string;
  let scheduleId: string;

  beforeAll(async () => {
    clock.set(T0);
    serverId = await newServer('health-db');
  });

  it('calls a server without an enabled schedule unprotected', async () => {
    const r = await api('GET', `/api/v1/servers/${serverId}`);
    expect(body(r).health).toEqual({
      status: 'unprotected',
      reasons: ['No enabled backup schedule covers this server'],
      warnings: [],
    });
  });

  it('reports a healthy schedule, then an unhealthy one after three failed runs, on the schedule and its server', async () => {
    const created = await api('POST', '/api/v1/schedules', { server_id: serverId, cron: '0 * * * *' });
    scheduleId = body(created).id;
    expect(body(created).health).toMatchObject({ status: 'healthy', consecutive_failures: 0, reasons: [] });
    expect(body(await api('GET', `/api/v1/servers/${serverId}`)).health.status).toBe('healthy');

    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      const b = await app.store.catalog.create({
        tenantId,
        serverId,
        serverName: 'health-db',
        scheduleId,
        tool: 'mydumper',
        status: 'running',
      });
      await app.store.catalog.transition(b.id, 'failed', {
        error: { code: 'DUMP_FAILED', message: `Cannot dump: run ${i + 1} failed` },
      });
    }
    const schedule = body(await api('GET', `/api/v1/schedules/${scheduleId}`));
    expect(schedule.health.status).toBe('unhealthy');
    expect(schedule.health.consecutive_failures).toBe(3);
    expect(schedule.health.reasons[0]).toBe(
      'The last 3 runs failed; the latest with: Cannot dump: run 3 failed',
    );
    const listed = body(await api('GET', `/api/v1/schedules?server_id=${serverId}`)).schedules;
    expect(listed.map((s: any) => s.health.status)).toEqual(['unhealthy']);

    const servers = body(await api('GET', '/api/v1/servers')).servers;
    const mine = servers.find((s: any) => s.id === serverId);
    expect(mine.health.status).toBe('unhealthy');
    expect(mine.health.reasons).toContain(
      'The last 3 runs failed; the latest with: Cannot dump: run 3 failed',
    );
    // Other servers are judged on their own schedules only.
    expect(servers.find((s: any) => s.name === 'labelled').health.status).toBe('unprotected');
  });

  it('warns when binlogs are kept for less than the dump interval, and says disabled when paused', async () => {
    const daily = body(await api('POST', '/api/v1/schedules', { server_id: serverId, cron: '0 3 * * *' }));
    retention = 3_600;
    try {
      const r = body(await api('GET', `/api/v1/schedules/${daily.id}`));
      expect(r.health.warnings).toEqual([
        expect.stringMatching(/^Dump interval is longer than the server's binlog retention/),
      ]);
      const server = body(await api('GET', `/api/v1/servers/${serverId}`));
      expect(server.health.warnings).toHaveLength(1);
    } finally {
      retention = null;
    }
    const paused = await api('PATCH', `/api/v1/schedules/${daily.id}`, { enabled: false });
    expect(body(paused).health.status).toBe('disabled');
  });
});

describe('one active backup per server across processes', () => {
  it('lets exactly one of many racing requests through two control planes on one state file', async () => {
    const serverId = await newServer('race-two-planes');
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call(i % 2 === 0 ? plane : otherPlane, 'POST', '/api/v1/backup', { server_id: serverId }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([202, 409, 409, 409, 409, 409, 409, 409]);
    for (const r of replies.filter((x) => x.status === 409)) {
      expect(body(r).error.code).toBe('BACKUP_ALREADY_ACTIVE');
    }
    const jobs = await app.store.jobs.list({ serverId, kind: 'backup' });
    expect(jobs).toHaveLength(1);
    // The refused requests left nothing queued behind in the history.
    const history = await app.store.catalog.list({ tenantId, serverId });
    expect(history.map((b) => b.id)).toEqual([body(replies.find((r) => r.status === 202)!).backup_id]);
  });

  it('refuses an exclusive enqueue from another connection while a backup job is active', async () => {
    const serverId = await newServer('exclusive-db');
    const job = await app.store.jobs.enqueue({ tenantId, kind: 'backup', serverId, exclusive: true });
    const refused = await other.store.jobs
      .enqueue({ tenantId, kind: 'backup', serverId, exclusive: true })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JobActiveError);
    expect((refused as JobActiveError).fields).toMatchObject({ jobId: job.id, status: 'queued' });
    // Another kind, or a non-exclusive job, is not affected.
    await expect(
      other.store.jobs.enqueue({ tenantId, kind: 'drill', serverId, exclusive: true }),
    ).resolves.toMatchObject({ kind: 'drill' });
    const claimed = await app.store.jobs.claim({
      agentId: 'a1',
      kinds: ['backup'],
      leaseMs: 60_000,
      serverIds: [serverId],
    });
    expect(claimed?.id).toBe(job.id);
    await expect(
      other.store.jobs.enqueue({ tenantId, kind: 'backup', serverId, exclusive: true }),
    ).rejects.toBeInstanceOf(JobActiveError);
    await app.store.jobs.finish(job.id, 'a1', { status: 'succeeded' });
    await expect(
      other.store.jobs.enqueue({ tenantId, kind: 'backup', serverId, exclusive: true }),
    ).resolves.toMatchObject({ status: 'queued' });
  });

  it('looks the active job up through the jobs_active index', () => {
    const db = new Database(join(home, 'dbtrail.db'), { readonly: true });
    try {
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE server_id = ? AND kind = ? AND status IN ('queued', 'running')
           ORDER BY created_at, id LIMIT 1`,
        )
        .all('x', 'backup') as { detail: string }[];
      expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX jobs_active/);
    } finally {
      db.close();
    }
  });

  it('records a scheduled slot that loses the race to an on-demand backup as skipped, with the schedule prefix', async () => {
    const serverId = await newServer('sched-race');
    clock.set('2024-05-02T00:00:00.000Z');
    const schedule = await app.store.schedules.create({
      tenantId,
      serverId,
      cron: '0 * * * *',
      tool: 'mydumper',
      objectPrefix: 'acme/custom/sched-race/',
      nextRunAt: new Date('2024-05-02T00:00:00.000Z'),
    });
    // The on-demand backup arrives between the scheduler's check and its enqueue: the check saw nothing.
    const blind: JobRepository = {
      enqueue: (j) => app.store.jobs.enqueue(j),
      get: (id, scope) => app.store.jobs.get(id, scope),
      list: (f) => app.store.jobs.list(f),
      claim: (r) => app.store.jobs.claim(r),
      heartbeat: (id, agent, ms) => app.store.jobs.heartbeat(id, agent, ms),
      finish: (id, agent, outcome) => app.store.jobs.finish(id, agent, outcome),
      expireLeases: () => app.store.jobs.expireLeases(),
      activeFor: () => Promise.resolve(undefined),
    };
    const scheduler = new Scheduler({
      schedules: app.store.schedules,
      jobs: blind,
      catalog: app.store.catalog,
      servers: app.store.servers,
      expireLeases: () => Promise.resolve([]),
      clock,
      logger,
    });
    const onDemand = await call(otherPlane, 'POST', '/api/v1/backup', { server_id: serverId });
    expect(onDemand.status).toBe(202);
    const result = await scheduler.tick();
    const slot = result.slots.find((s) => s.scheduleId === schedule.id);
    expect(slot?.outcome.kind).toBe('skipped');
    const skipped = (await app.store.catalog.list({ tenantId, scheduleId: schedule.id }))[0];
    expect(skipped?.status).toBe('failed');
    expect(skipped?.error?.code).toBe('SCHEDULE_SLOT_SKIPPED');
    expect((await app.store.jobs.list({ serverId, kind: 'backup' })).length).toBe(1);

    // Once the server is free, the next slot is enqueued with the schedule's object prefix for the agent.
    const active = await app.store.jobs.claim({
      agentId: 'a2',
      kinds: ['backup'],
      leaseMs: 60_000,
      serverIds: [serverId],
    });
    await app.store.jobs.finish(active!.id, 'a2', { status: 'succeeded' });
    clock.set('2024-05-02T01:00:00.000Z');
    const next = (await scheduler.tick()).slots.find((s) => s.scheduleId === schedule.id);
    expect(next?.outcome.kind).toBe('enqueued');
    if (next?.outcome.kind === 'enqueued') {
      expect(next.outcome.job.payload).toEqual({
        tool: 'mydumper',
        object_prefix: 'acme/custom/sched-race/',
      });
    }
  });
});

describe('the tool actually run', () => {
  it('is recorded through the agent protocol: xtrabackup asked, mariadb-backup run', async () => {
    const serverId = await newServer('physical-db');
    const started = await api('POST', '/api/v1/backup', { server_id: serverId, tool: 'xtrabackup' });
    expect(started.status).toBe(202);
    const backupId = body(started).backup_id as string;
    // Jobs queued by earlier tests come first (oldest first): claim until this backup's job comes up.
    let job: any;
    for (let i = 0; i < 20 && job?.backup_id !== backupId; i++) {
      job = body(await api('POST', '/api/v1/agent/claim', { agent_id: 'agent-x', kinds: ['backup'] })).job;
    }
    expect(job?.backup_id).toBe(backupId);
    const jobId = job.id as string;
    const moved = await api('POST', `/api/v1/agent/jobs/${jobId}/backup/transition`, {
      agent_id: 'agent-x',
      to: 'running',
      tool: 'mariadb-backup',
    });
    expect(moved.status).toBe(200);
    expect(body(await api('GET', `/api/v1/backups/${backupId}`)).tool).toBe('mariadb-backup');
    const bad = await api('POST', `/api/v1/agent/jobs/${jobId}/backup/facts`, {
      agent_id: 'agent-x',
      tool: 'tar',
    });
    expect(bad.status).toBe(400);
    expect(Object.keys(body(bad).error.fields)).toEqual(['tool']);
  });
});

describe('the history listing written by SQLite', () => {
  it('is exactly backupToJson of every record, for every field and filter', async () => {
    const serverId = await newServer('json-db');
    const ok = await app.store.catalog.create({
      tenantId,
      serverId,
      serverName: 'json-db',
      tool: 'mydumper',
      status: 'running',
    });
    clock.advance(1_000);
    await app.store.catalog.transition(ok.id, 'uploading', {
      coordinates: { file: 'binlog.000042', position: 9_007_199_254_740_991, gtid: '0-1-100,1-2-3' },
      sizeBytes: 123_456_789_012,
      toolVersion: 'mydumper 0.16.9-1',
      localDir: '/var/lib/dbtrail/backups/json-db-x',
    });
    await app.store.catalog.transition(ok.id, 'succeeded', {
      location: 'file:///objects/acme/json-db/2024-05-02/010000',
    });
    const bad = await app.store.catalog.create({
      tenantId,
      serverId,
      serverName: 'json-db',
      tool: 'xtrabackup',
      status: 'running',
    });
    await app.store.catalog.transition(bad.id, 'failed', {
      error: { code: null, message: 'Cannot dump: "quoted" \\ back\nslash, tab\t, ünïcödé ✓, \u0001' },
    });
    await app.store.catalog.create({ tenantId, serverId, serverName: 'json-db', tool: 'mydumper' });

    for (const filter of [
      { tenantId, limit: 1000 },
      { tenantId, serverId },
      { tenantId, status: 'failed' as const },
      { tenantId, serverId, limit: 2 },
      { tenantId, before: ok.id, limit: 5 },
    ]) {
      const records = await app.store.catalog.list(filter);
      const texts = await app.store.catalog.listJson(filter);
      expect(texts.map((t) => t.id)).toEqual(records.map((r) => r.id));
      expect(texts.map((t) => JSON.parse(t.json) as unknown)).toEqual(records.map(backupToJson));
    }

    const page = await api('GET', `/api/v1/backups?server_id=${serverId}&limit=2`);
    expect(page.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(body(page).backups.map((b: any) => b.server_name)).toEqual(['json-db', 'json-db']);
    expect(body(page).next_before).toBe(body(page).backups[1].id);
    const ofOk = body(await api('GET', `/api/v1/backups?status=succeeded&server_id=${serverId}`));
    expect(ofOk.backups).toEqual([backupToJson(await app.store.catalog.get(ok.id))]);
    expect(ofOk.next_before).toBeNull();
  });
});
