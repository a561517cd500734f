/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call --
   response bodies are walked freely here; the assertions, not the types, check their shape. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { loadSecretBox } from '../../src/lib/secret-box.js';
import { generateApiKey } from '../../src/server/api-keys.js';
import {
  createControlPlane,
  serveControlPlane,
  type RunningControlPlane,
} from '../../src/server/control-plane.js';
import type { ServerExtension } from '../../src/server/extensions.js';
import { json } from '../../src/server/response.js';
import { route } from '../../src/server/router.js';
import { serverPasswordContext } from '../../src/store/servers.js';

/**
 * The control-plane API over real HTTP: a server listening on 127.0.0.1 (port 0), called with fetch, with two
 * tenants. Every response body is kept, so the last test can check that no password ever left the server.
 */
const home = mkdtempSync(join(tmpdir(), 'dbtrail-control-plane-'));
const T0 = '2024-05-01T10:00:00.000Z';
const clock = new ManualClock(T0);
const PASSWORD_A = 'correct horse battery staple';
const PASSWORD_A2 = 'Tr0ub4dor&3-second';
const PASSWORD_B = 'tenant-b-secret-pw';
const bodies: string[] = [];

let app: App;
let running: RunningControlPlane;
let base: string;
let keyA: string;
let keyA2: string;
let keyB: string;
let tenantA: string;
let revokedKey: string;

interface Reply {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

async function call(
  method: string,
  path: string,
  options: { key?: string | undefined; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.key !== undefined) headers['authorization'] = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  bodies.push(text);
  return {
    status: res.status,
    headers: res.headers,
    text,
    json:
      (res.headers.get('content-type') ?? '').includes('json') && text !== '' ? JSON.parse(text) : undefined,
  };
}

const a = (method: string, path: string, body?: unknown) => call(method, path, { key: keyA, body });
const b = (method: string, path: string, body?: unknown) => call(method, path, { key: keyB, body });

function raw<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(join(home, 'dbtrail.db'), { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

async function makeKey(tenantId: string, name: string | null = null): Promise<string> {
  const k = generateApiKey();
  await app.store.apiKeys.create({ tenantId, name, prefix: k.prefix, keyHash: k.hash });
  return k.key;
}

const probe: ServerExtension = {
  name: 'probe',
  routes: () => [
    route({
      method: 'GET',
      path: '/probe',
      operationId: 'probe',
      summary: 'A route mounted by an extension',
      auth: 'none',
      hidden: true,
      responses: { 200: { description: 'ok' } },
      handle: () => json({ mounted: true }),
    }),
  ],
  start: (ctx) => {
    started.push(ctx.url);
    return Promise.resolve({
      stop: () => {
        stopped.push(ctx.url);
        return Promise.resolve();
      },
    });
  },
};
const started: string[] = [];
const stopped: string[] = [];

beforeAll(async () => {
  app = await openApp(loadConfig({ env: { DBTRAIL_HOME: home } }), { clock });
  running = await serveControlPlane(app, {
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    rateLimit: { capacity: 100_000, refillPerSecond: 1 },
    extensions: [probe],
  });
  base = running.url;
  const ta = await app.store.tenants.create('acme');
  const tb = await app.store.tenants.create('globex');
  tenantA = ta.id;
  keyA = await makeKey(ta.id, 'ops');
  keyA2 = await makeKey(ta.id);
  keyB = await makeKey(tb.id);
  revokedKey = await makeKey(ta.id);
});

afterAll(async () => {
  await running?.close();
  await app?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('authentication', () => {
  it('answers 401 without a key, with a malformed, unknown or revoked key', async () => {
    const none = await call('GET', '/api/v1/servers');
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('AUTH_REQUIRED');
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="dbtrail"');

    const malformed = await call('GET', '/api/v1/servers', { headers: { authorization: 'Bearer nope' } });
    expect(malformed.status).toBe(401);
    expect(malformed.json.error.code).toBe('AUTH_INVALID');

    const unknown = await call('GET', '/api/v1/servers', { key: generateApiKey().key });
    expect(unknown.status).toBe(401);
    expect(unknown.json.error.message).toBe('Cannot authenticate request: the API key is unknown or revoked');

    expect((await call('GET', '/api/v1/servers', { key: revokedKey })).status).toBe(200);
    const record = await app.store.apiKeys.findByHash(createHash('sha256').update(revokedKey).digest('hex'));
    await app.store.apiKeys.revoke(record!.id);
    const revoked = await call('GET', '/api/v1/servers', { key: revokedKey });
    expect(revoked.status).toBe(401);
    expect(revoked.json.error.code).toBe('AUTH_INVALID');
  });

  it('stores only the SHA-256 of each key, and records its use', async () => {
    const rows = raw((db) => db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all()) as Record<
      string,
      unknown
    >[];
    expect(rows).toHaveLength(4);
    const dump = JSON.stringify(rows);
    for (const key of [keyA, keyA2, keyB, revokedKey]) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(14));
      const hash = createHash('sha256').update(key, 'utf8').digest('hex');
      expect(rows.filter((r) => r['key_hash'] === hash)).toHaveLength(1);
    }
    await a('GET', '/api/v1/servers');
    const used = raw((db) => db.prepare('SELECT last_used_at FROM api_keys WHERE name = ?').get('ops')) as {
      last_used_at: string | null;
    };
    expect(used.last_used_at).toBe(T0);
  });

  it('tells a key whose it is', async () => {
    const me = await a('GET', '/api/v1/whoami');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ tenant: { id: tenantA, name: 'acme' }, api_key: { name: 'ops' } });
    expect(keyA.startsWith(me.json.api_key.prefix)).toBe(true);
  });
});

describe('servers', () => {
  let serverId: string;

  it('registers a server, sealing the password and never returning it', async () => {
    const res = await a('POST', '/api/v1/servers', {
      name: 'db1',
      connection: { host: '10.0.0.7', user: 'backup', password: PASSWORD_A },
      defaults: { tool: 'mydumper', threads: 4 },
    });
    expect(res.status).toBe(201);
    serverId = res.json.id;
    expect(res.headers.get('location')).toBe(`/api/v1/servers/${serverId}`);
    expect(res.json).toEqual({
      id: serverId,
      name: 'db1',
      connection: { host: '10.0.0.7', port: 3306, user: 'backup', has_password: true },
      defaults: { tool: 'mydumper', threads: 4 },
      // No schedule yet: nothing protects it.
      health: {
        status: 'unprotected',
        reasons: ['No enabled backup schedule covers this server'],
        warnings: [],
      },
      created_at: T0,
      updated_at: T0,
    });
    const stored = raw((db) =>
      db.prepare('SELECT password_ciphertext FROM servers WHERE id = ?').get(serverId),
    ) as { password_ciphertext: Buffer };
    expect(stored.password_ciphertext.includes(Buffer.from(PASSWORD_A))).toBe(false);
    const box = loadSecretBox({ home });
    expect(box.openText(stored.password_ciphertext, serverPasswordContext(serverId))).toBe(PASSWORD_A);
  });

  it('reads and lists servers', async () => {
    const one = await a('GET', `/api/v1/servers/${serverId}`);
    expect(one.status).toBe(200);
    expect(one.json.name).toBe('db1');
    const list = await a('GET', '/api/v1/servers');
    expect(list.json.servers.map((s: { id: string }) => s.id)).toEqual([serverId]);
  });

  it('answers field-level 400s and 409 for a taken name', async () => {
    const bad = await a('POST', '/api/v1/servers', {
      name: '-bad name',
      connection: { port: 70000, user: '', password: 12 },
      colour: 'red',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('VALIDATION_FAILED');
    expect(bad.json.error.fields).toEqual({
      name: 'must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit, got "-bad name"',
      'connection.host': 'is required',
      'connection.port': 'must be a whole number from 1 to 65535, got 70000',
      'connection.user': 'must be 1 to 80 characters long, got 0',
      'connection.password': 'must be a string, got a number',
      colour: 'is not a known field',
    });
    const notJson = await a('POST', '/api/v1/servers', '{"name":');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.code).toBe('BODY_INVALID_JSON');
    const taken = await a('POST', '/api/v1/servers', { name: 'db1', connection: { host: 'h', user: 'u' } });
    expect(taken.status).toBe(409);
    expect(taken.json.error.code).toBe('NAME_TAKEN');
    expect((await a('GET', '/api/v1/servers/not-a-uuid')).json.error.fields).toEqual({
      server_id: 'must be a UUID, got "not-a-uuid"',
    });
  });

  it('patches only the fields given; the password stays unless replaced or removed', async () => {
    clock.advance(60_000);
    const port = await a('PATCH', `/api/v1/servers/${serverId}`, { connection: { port: 3307 } });
    expect(port.status).toBe(200);
    expect(port.json).toMatchObject({
      name: 'db1',
      connection: { host: '10.0.0.7', port: 3307, user: 'backup', has_password: true },
      defaults: { tool: 'mydumper', threads: 4 },
      updated_at: clock.now().toISOString(),
    });
    const box = loadSecretBox({ home });
    const sealed = async () => app.store.servers.passwordCiphertext(serverId);
    expect(box.openText((await sealed())!, serverPasswordContext(serverId))).toBe(PASSWORD_A);
    await a('PATCH', `/api/v1/servers/${serverId}`, { connection: { password: PASSWORD_A2 } });
    expect(box.openText((await sealed())!, serverPasswordContext(serverId))).toBe(PASSWORD_A2);
    const removed = await a('PATCH', `/api/v1/servers/${serverId}`, { connection: { password: null } });
    expect(removed.json.connection.has_password).toBe(false);
    expect(await sealed()).toBeNull();
    const renamed = await a('PATCH', `/api/v1/servers/${serverId}`, {
      name: 'db-one',
      connection: { password: PASSWORD_A },
    });
    expect(renamed.json).toMatchObject({ name: 'db-one', connection: { port: 3307, has_password: true } });
    const bad = await a('PATCH', `/api/v1/servers/${serverId}`, { connection: { port: 0 }, id: 'x' });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.error.fields).sort()).toEqual(['connection.port', 'id']);
  });

  it('deletes a server: 204, then 404', async () => {
    const made = await a('POST', '/api/v1/servers', { name: 'tmp', connection: { host: 'h', user: 'u' } });
    expect((await a('DELETE', `/api/v1/servers/${made.json.id}`)).status).toBe(204);
    const gone = await a('GET', `/api/v1/servers/${made.json.id}`);
    expect(gone.status).toBe(404);
    expect(gone.json.error).toEqual({
      code: 'NOT_FOUND',
      message: `Cannot find server ${made.json.id}: it does not exist`,
      fields: {},
    });
  });
});

describe('schedules', () => {
  let serverId: string;
  let scheduleId: string;

  beforeAll(async () => {
    clock.set(T0);
    const res = await a('POST', '/api/v1/servers', {
      name: 'sched-db',
      connection: { host: 'h', user: 'u', password: PASSWORD_A },
    });
    serverId = res.json.id;
  });

  it('creates a schedule with defaults, the auto prefix and the next run in its time zone', async () => {
    const res = await a('POST', '/api/v1/schedules', { server_id: serverId, cron: '0 3 * * *' });
    expect(res.status).toBe(201);
    scheduleId = res.json.id;
    expect(res.json).toEqual({
      id: scheduleId,
      server_id: serverId,
      server_name: 'sched-db',
      cron: '0 3 * * *',
      timezone: 'UTC',
      tool: 'mydumper',
      retention_days: 30,
      s3_prefix: 'acme/sched-db/',
      enabled: true,
      next_run_at: '2024-05-02T03:00:00.000Z',
      last_run: null,
      // Daily: stale only after twice the interval without a success, counted from creation.
      health: {
        status: 'healthy',
        reasons: [],
        warnings: [],
        consecutive_failures: 0,
        last_success_at: null,
        stale_at: '2024-05-03T10:00:00.000Z',
      },
      created_at: T0,
      updated_at: T0,
    });
    const berlin = await a('POST', '/api/v1/schedules', {
      server_id: serverId,
      cron: '30 9 * * 1-5',
      timezone: 'Europe/Berlin',
      tool: 'xtrabackup',
      retention_days: 7,
      s3_prefix: 'acme/weekday',
    });
    expect(berlin.status).toBe(201);
    // 2024-05-01 is a Wednesday; 09:30 CEST is 07:30 UTC, already past at 10:00 UTC, so Thursday.
    expect(berlin.json).toMatchObject({
      timezone: 'Europe/Berlin',
      tool: 'xtrabackup',
      retention_days: 7,
      s3_prefix: 'acme/weekday/',
      next_run_at: '2024-05-02T07:30:00.000Z',
    });
  });

  it('answers field-level 400s for every bad field', async () => {
    const res = await a('POST', '/api/v1/schedules', {
      server_id: serverId,
      cron: '61 * * * *',
      timezone: 'Mars/Olympus',
      tool: 'mysqldump',
      retention_days: 366,
      enabled: 'yes',
    });
    expect(res.status).toBe(400);
    const fields = res.json.error.fields;
    expect(Object.keys(fields).sort()).toEqual(['cron', 'enabled', 'retention_days', 'timezone', 'tool']);
    expect(fields.cron).toMatch(/minute/);
    expect(fields.timezone).toBe(
      'expected an IANA time zone name such as "UTC" or "Europe/Berlin", got "Mars/Olympus"',
    );
    expect(fields.retention_days).toBe('must be a whole number from 1 to 365, got 366');
    const zero = await a('POST', '/api/v1/schedules', {
      server_id: serverId,
      cron: '@daily',
      retention_days: 0,
    });
    expect(zero.json.error.fields).toEqual({ retention_days: 'must be a whole number from 1 to 365, got 0' });
    const outside = await a('POST', '/api/v1/schedules', {
      server_id: serverId,
      cron: '@daily',
      s3_prefix: 'globex/steal/',
    });
    expect(outside.status).toBe(400);
    expect(outside.json.error.fields).toEqual({
      s3_prefix: 'must start with the tenant\'s namespace "acme/", got "globex/steal/"',
    });
    const escape = await a('POST', '/api/v1/schedules', {
      server_id: serverId,
      cron: '@daily',
      s3_prefix: 'acme/../x',
    });
    expect(escape.json.error.fields).toEqual({ s3_prefix: 'must not contain "." or ".." segments' });
    const never = await a('POST', '/api/v1/schedules', { server_id: serverId, cron: '0 0 31 2 *' });
    expect(never.status).toBe(400);
    expect(Object.keys(never.json.error.fields)).toEqual(['cron']);
    const missing = await a('POST', '/api/v1/schedules', {});
    expect(missing.json.error.fields).toEqual({ server_id: 'is required', cron: 'is required' });
    const unknownServer = await a('POST', '/api/v1/schedules', {
      server_id: '00000000-0000-4000-8000-000000000000',
      cron: '@daily',
    });
    expect(unknownServer.status).toBe(404);
  });

  it('disables without deleting, and a disabled schedule is never due', async () => {
    clock.advance(3_600_000);
    const off = await a('PATCH', `/api/v1/schedules/${scheduleId}`, { enabled: false });
    expect(off.status).toBe(200);
    expect(off.json).toMatchObject({ enabled: false, next_run_at: null, cron: '0 3 * * *' });
    const due = await app.store.schedules.listDue(new Date('2030-01-01T00:00:00Z'));
    expect(due.map((s) => s.id)).not.toContain(scheduleId);
    expect((await a('GET', `/api/v1/schedules/${scheduleId}`)).json.enabled).toBe(false);
    const enabledOnly = await a('GET', `/api/v1/schedules?enabled=true&server_id=${serverId}`);
    expect(enabledOnly.json.schedules.map((s: { id: string }) => s.id)).not.toContain(scheduleId);
    const all = await a('GET', `/api/v1/schedules?server_id=${serverId}`);
    expect(all.json.schedules.map((s: { id: string }) => s.id)).toContain(scheduleId);

    // Switched back on two days later: the next slot counts from now, missed slots are not run.
    clock.set('2024-05-03T05:00:00Z');
    const on = await a('PATCH', `/api/v1/schedules/${scheduleId}`, { enabled: true });
    expect(on.json).toMatchObject({ enabled: true, next_run_at: '2024-05-04T03:00:00.000Z' });
  });

  it('patches fields, re-timing only when cron, time zone or enabled change', async () => {
    const kept = await a('PATCH', `/api/v1/schedules/${scheduleId}`, {
      retention_days: 90,
      tool: 'xtrabackup',
    });
    expect(kept.json).toMatchObject({
      retention_days: 90,
      tool: 'xtrabackup',
      next_run_at: '2024-05-04T03:00:00.000Z',
    });
    const retimed = await a('PATCH', `/api/v1/schedules/${scheduleId}`, { cron: '*/15 * * * *' });
    expect(retimed.json).toMatchObject({ cron: '*/15 * * * *', next_run_at: '2024-05-03T05:15:00.000Z' });
    const zoned = await a('PATCH', `/api/v1/schedules/${scheduleId}`, {
      cron: '0 6 * * *',
      timezone: 'America/New_York',
    });
    // 06:00 EDT is 10:00 UTC.
    expect(zoned.json).toMatchObject({
      timezone: 'America/New_York',
      next_run_at: '2024-05-03T10:00:00.000Z',
    });
    const bad = await a('PATCH', `/api/v1/schedules/${scheduleId}`, {
      server_id: serverId,
      retention_days: 0,
    });
    expect(Object.keys(bad.json.error.fields).sort()).toEqual(['retention_days', 'server_id']);
  });

  it('shows the last run of the schedule', async () => {
    const backup = await app.store.catalog.create({
      tenantId: tenantA,
      serverId,
      serverName: 'sched-db',
      scheduleId,
      tool: 'mydumper',
      status: 'running',
    });
    clock.advance(5000);
    await app.store.catalog.transition(backup.id, 'failed', {
      error: { code: 'DUMP_FAILED', message: 'Cannot dump: access denied' },
    });
    const res = await a('GET', `/api/v1/schedules/${scheduleId}`);
    expect(res.json.last_run).toEqual({
      status: 'failed',
      time: clock.now().toISOString(),
      backup_id: backup.id,
    });
  });

  it('deletes a schedule', async () => {
    expect((await a('DELETE', `/api/v1/schedules/${scheduleId}`)).status).toBe(204);
    expect((await a('GET', `/api/v1/schedules/${scheduleId}`)).status).toBe(404);
  });
});

describe('backups', () => {
  let serverId: string;
  let backupId: string;

  beforeAll(async () => {
    clock.set('2024-06-01T00:00:00Z');
    const res = await a('POST', '/api/v1/servers', {
      name: 'backup-db',
      connection: { host: 'h', user: 'u', password: PASSWORD_A },
      defaults: { tool: 'xtrabackup' },
    });
    serverId = res.json.id;
  });

  it('accepts a backup at once: 202, a queued catalog record and a backup job', async () => {
    const res = await a('POST', '/api/v1/backup', { server_id: serverId });
    expect(res.status).toBe(202);
    backupId = res.json.backup_id;
    expect(res.json).toEqual({ backup_id: backupId, job_id: expect.any(String), status: 'queued' });
    expect(res.headers.get('location')).toBe(`/api/v1/backups/${backupId}`);
    const job = await app.store.jobs.get(res.json.job_id);
    expect(job).toMatchObject({ kind: 'backup', status: 'queued', serverId, backupId, tenantId: tenantA });
    expect(job.payload).toEqual({ tool: 'xtrabackup' });
    const detail = await a('GET', `/api/v1/backups/${backupId}`);
    expect(detail.json).toMatchObject({
      id: backupId,
      status: 'queued',
      server_id: serverId,
      server_name: 'backup-db',
      tool: 'xtrabackup',
      duration_ms: null,
      size_bytes: null,
      coordinates: null,
      location: null,
      error: null,
    });
  });

  it('answers 409 while a backup of the server is queued or running, and accepts one after', async () => {
    const queued = await a('POST', '/api/v1/backup', { server_id: serverId, tool: 'mydumper' });
    expect(queued.status).toBe(409);
    expect(queued.json.error.code).toBe('BACKUP_ALREADY_ACTIVE');
    expect(queued.json.error.fields).toMatchObject({ server_id: serverId, backup_id: backupId });
    const job = await app.store.jobs.claim({ agentId: 'agent-1', kinds: ['backup'], leaseMs: 60_000 });
    expect(job?.backupId).toBe(backupId);
    await app.store.catalog.transition(backupId, 'running');
    expect((await a('POST', '/api/v1/backup', { server_id: serverId })).status).toBe(409);
    clock.advance(90_000);
    await app.store.catalog.transition(backupId, 'uploading', {
      coordinates: { file: 'binlog.000003', position: 1234, gtid: '0-1-77' },
      sizeBytes: 5_242_880,
    });
    clock.advance(30_000);
    await app.store.catalog.transition(backupId, 'succeeded', {
      location: 'file:///objects/acme/backup-db/x/',
    });
    await app.store.jobs.finish(job!.id, 'agent-1', { status: 'succeeded' });
    const again = await a('POST', '/api/v1/backup', { server_id: serverId, tool: 'mydumper' });
    expect(again.status).toBe(202);
    expect((await app.store.catalog.get(again.json.backup_id)).tool).toBe('mydumper');
  });

  it('lets one of several racing requests through', async () => {
    const made = await a('POST', '/api/v1/servers', {
      name: 'race-db',
      connection: { host: 'h', user: 'u' },
    });
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => a('POST', '/api/v1/backup', { server_id: made.json.id })),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([202, 409, 409, 409, 409, 409]);
    const rows = await app.store.catalog.list({ tenantId: tenantA, serverId: made.json.id });
    expect(rows).toHaveLength(1);
  });

  it('shows status, timings, duration, size, coordinates and location of a finished backup', async () => {
    const res = await a('GET', `/api/v1/backups/${backupId}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id: backupId,
      status: 'succeeded',
      created_at: '2024-06-01T00:00:00.000Z',
      started_at: '2024-06-01T00:00:00.000Z',
      dump_finished_at: '2024-06-01T00:01:30.000Z',
      finished_at: '2024-06-01T00:02:00.000Z',
      duration_ms: 120_000,
      size_bytes: 5_242_880,
      coordinates: { file: 'binlog.000003', position: 1234, gtid: '0-1-77' },
      location: 'file:///objects/acme/backup-db/x/',
      error: null,
    });
  });

  it('lists history newest first, filtered and paged', async () => {
    const all = await a('GET', '/api/v1/backups?limit=100');
    expect(all.status).toBe(200);
    const ids = all.json.backups.map((x: { id: string }) => x.id);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    expect(all.json.next_before).toBeNull();
    const created = all.json.backups.map((x: { created_at: string }) => x.created_at);
    expect([...created].sort().reverse()).toEqual(created);

    const ofServer = await a('GET', `/api/v1/backups?server_id=${serverId}`);
    expect(ofServer.json.backups.map((x: { server_id: string }) => x.server_id)).toEqual([
      serverId,
      serverId,
    ]);
    const succeeded = await a('GET', '/api/v1/backups?status=succeeded');
    expect(succeeded.json.backups.map((x: { id: string }) => x.id)).toEqual([backupId]);

    const page1 = await a('GET', '/api/v1/backups?limit=2');
    expect(page1.json.backups).toHaveLength(2);
    expect(page1.json.next_before).toBe(page1.json.backups[1].id);
    const page2 = await a('GET', `/api/v1/backups?limit=2&before=${page1.json.next_before}`);
    expect(page2.json.backups.map((x: { id: string }) => x.id)).toEqual(ids.slice(2, 4));

    const bad = await a('GET', '/api/v1/backups?status=done&limit=0&colour=red');
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.error.fields).sort()).toEqual(['colour', 'limit', 'status']);
    expect((await a('GET', '/api/v1/backups/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await a('POST', '/api/v1/backup', { server_id: 'x', tool: 'tar' })).json.error.fields).toEqual({
      server_id: 'must be a UUID, got "x"',
      tool: 'must be one of "mydumper", "xtrabackup", got "tar"',
    });
  });
});

describe('tenant isolation', () => {
  it("answers 404 for every route that names another tenant's resource, and lists nothing of it", async () => {
    const server = (
      await a('POST', '/api/v1/servers', { name: 'private', connection: { host: 'h', user: 'u' } })
    ).json;
    const schedule = (await a('POST', '/api/v1/schedules', { server_id: server.id, cron: '@daily' })).json;
    const accepted = (await a('POST', '/api/v1/backup', { server_id: server.id })).json;

    const other = await b('POST', '/api/v1/servers', {
      name: 'private',
      connection: { host: 'h', user: 'u', password: PASSWORD_B },
    });
    expect(other.status).toBe(201);

    const attempts: [string, string, unknown?][] = [
      ['GET', `/api/v1/servers/${server.id}`],
      ['PATCH', `/api/v1/servers/${server.id}`, { connection: { host: 'evil' } }],
      ['DELETE', `/api/v1/servers/${server.id}`],
      ['GET', `/api/v1/schedules/${schedule.id}`],
      ['PATCH', `/api/v1/schedules/${schedule.id}`, { enabled: false }],
      ['DELETE', `/api/v1/schedules/${schedule.id}`],
      ['POST', '/api/v1/schedules', { server_id: server.id, cron: '@daily' }],
      ['POST', '/api/v1/backup', { server_id: server.id }],
      ['GET', `/api/v1/backups/${accepted.backup_id}`],
      ['GET', `/api/v1/backups?before=${accepted.backup_id}`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await b(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json.error.code, `${method} ${path}`).toBe('NOT_FOUND');
    }
    expect((await b('GET', '/api/v1/servers')).json.servers.map((s: { id: string }) => s.id)).toEqual([
      other.json.id,
    ]);
    expect((await b('GET', '/api/v1/schedules')).json.schedules).toEqual([]);
    expect((await b('GET', '/api/v1/backups')).json.backups).toEqual([]);
    expect((await b('GET', `/api/v1/backups?server_id=${server.id}`)).json.backups).toEqual([]);
    // Nothing was changed by the attempts.
    expect((await a('GET', `/api/v1/servers/${server.id}`)).json.connection.host).toBe('h');
    expect((await a('GET', `/api/v1/schedules/${schedule.id}`)).json.enabled).toBe(true);
  });
});

describe('the document and the extensions', () => {
  it('serves the OpenAPI document of every route, without a key', async () => {
    const doc = await call('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toBe('3.1.0');
    expect(Object.keys(doc.json.paths).sort()).toEqual([
      '/api/v1/backup',
      '/api/v1/backups',
      '/api/v1/backups/{backup_id}',
      '/api/v1/openapi.json',
      '/api/v1/schedules',
      '/api/v1/schedules/{schedule_id}',
      '/api/v1/servers',
      '/api/v1/servers/{server_id}',
      '/api/v1/servers/{server_id}/drift-checks',
      '/api/v1/servers/{server_id}/drills',
      '/api/v1/whoami',
    ]);
    expect(Object.keys(doc.json.paths['/api/v1/servers/{server_id}']).sort()).toEqual([
      'delete',
      'get',
      'patch',
    ]);
    const create = doc.json.paths['/api/v1/schedules'].post;
    expect(create.requestBody.content['application/json'].schema.properties.retention_days).toEqual({
      type: 'integer',
      description: 'Days a backup of this schedule is kept',
      minimum: 1,
      maximum: 365,
      default: 30,
    });
  });

  it('mounts extension routes and runs extension services with the server URL', async () => {
    const res = await call('GET', '/probe');
    expect(res.json).toEqual({ mounted: true });
    expect(started).toEqual([base]);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once a key exceeds its burst, other keys unaffected', async () => {
    const limited = createControlPlane(app, {
      logger: pino({ level: 'silent' }),
      rateLimit: { capacity: 3, refillPerSecond: 1 },
    });
    const server = await limited.http.listen('127.0.0.1', 0);
    try {
      const get = (key: string) =>
        fetch(`${server.url}/api/v1/servers`, { headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 3; i++) expect((await get(keyA)).status).toBe(200);
      const refused = await get(keyA);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
      expect((await get(keyA2)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('secrets', () => {
  it('never returned a password in any response body', () => {
    expect(bodies.length).toBeGreaterThan(50);
    const all = bodies.join('\n');
    for (const secret of [PASSWORD_A, PASSWORD_A2, PASSWORD_B]) expect(all).not.toContain(secret);
    // No body carries a password value under any name (the OpenAPI document only describes the field).
    expect(all).not.toMatch(/"password"\s*:\s*"/);
    expect(all).not.toContain('password_ciphertext');
  });

  it('stops extension services when the server closes', async () => {
    await running.close();
    expect(stopped).toEqual([base]);
    await expect(fetch(`${base}/api/v1/openapi.json`)).rejects.toThrow();
  });
});
