/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- response bodies are
   walked freely here; the assertions, not the types, check their shape. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRunnerExtension, jobRunnerOf } from '../../src/agent/extension.js';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { dashboardExtension } from '../../src/server/dashboard/extension.js';
import { serveControlPlane, type RunningControlPlane } from '../../src/server/control-plane.js';
import { cli, PROJECT_ROOT } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { client, OffsetClock, startWebhookReceiver, waitFor, type Reply } from './helpers.js';

/**
 * End to end against a private MariaDB: `dbtrail server` in process (real HTTP on port 0, the embedded agent, the
 * scheduler loop on a clock the test can move), a tenant and key made with the CLI, a server registered through
 * the API, on-demand and scheduled backups, /metrics, the webhook, and a real `dbtrail agent` process killed with
 * SIGKILL in the middle of a backup.
 */
const home = mkdtempSync(join(tmpdir(), 'dbtrail-e2e-'));
const agentHome = mkdtempSync(join(tmpdir(), 'dbtrail-e2e-agent-'));
const clock = new OffsetClock();
let db: MariaDbSandbox;
let app: App;
let running: RunningControlPlane;
let key: string;
let api: (method: string, path: string, body?: unknown) => Promise<Reply>;
let serverId: string;
let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  [db, webhook] = await Promise.all([startMariaDb(), startWebhookReceiver()]);
  await db.query(`CREATE DATABASE shop;
    CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(65,30), note TEXT);
    INSERT INTO shop.orders SELECT seq, seq / 7, REPEAT('x', seq % 50) FROM shop.seq_1_to_5000;`);
  const env = { DBTRAIL_HOME: home, DBTRAIL_WEBHOOK_URL: webhook.url };
  const tenant = await cli(['tenant', 'create', 'acme'], env);
  expect(tenant.code).toBe(0);
  const created = await cli(['apikey', 'create', '--tenant', 'acme', '--name', 'e2e'], env);
  expect(created.code).toBe(0);
  key = /bt_live_\S+/.exec(created.stdout)![0];

  app = await openApp(loadConfig({ env }), { clock });
  running = await serveControlPlane(app, {
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: process.env['DBTRAIL_TEST_LOG'] ?? 'silent' }),
    extensions: [
      dashboardExtension(),
      jobRunnerExtension({
        agent: { pollMs: 100, leaseMs: 10_000 },
        scheduler: { tickMs: 100, healthEveryMs: 500 },
      }),
    ],
  });
  api = client(running.url, key);
}, 180_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await running?.close();
  await app?.close();
  await webhook?.close();
  rmSync(home, { recursive: true, force: true });
  rmSync(agentHome, { recursive: true, force: true });
});

async function backupDone(id: string): Promise<any> {
  return waitFor(`backup ${id} to finish`, async () => {
    const r = await api('GET', `/api/v1/backups/${id}`);
    return r.json.status === 'succeeded' || r.json.status === 'failed' ? r.json : undefined;
  });
}

describe('control plane end to end', () => {
  it('registers a MariaDB, backs it up on demand, and reports size and duration', async () => {
    const r = await api('POST', '/api/v1/servers', {
      name: 'db1',
      connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: db.appPassword },
    });
    expect(r.status).toBe(201);
    serverId = r.json.id;

    const started = await api('POST', '/api/v1/backup', { server_id: serverId });
    expect(started.status).toBe(202);
    const done = await backupDone(started.json.backup_id);
    expect(done.error).toBeNull();
    expect(done.status).toBe('succeeded');
    expect(done.size_bytes).toBeGreaterThan(10_000);
    expect(done.duration_ms).toBeGreaterThan(0);
    expect(done.coordinates.file).toMatch(/^binlog\.\d+$/);
    expect(done.location).toMatch(/^file:\/\/.*\/acme\/db1\//);
    expect(done.tool_version).not.toBeNull();
  });

  it('runs a schedule once when the clock reaches its slot', async () => {
    const created = await api('POST', '/api/v1/schedules', { server_id: serverId, cron: '0 3 * * *' });
    expect(created.status).toBe(201);
    const schedule = created.json;
    const slot = new Date(schedule.next_run_at);
    expect(slot.getTime()).toBeGreaterThan(clock.now().getTime());

    // Backup paths have one-second resolution (<tenant>/<server>/<date>/<HHMMSS>): let the previous backup's second pass.
    await new Promise((r) => setTimeout(r, 1_100));
    clock.jumpTo(new Date(slot.getTime() + 1_000));
    const backup = await waitFor('the scheduled backup to succeed', async () => {
      const list = await api('GET', `/api/v1/backups?server_id=${serverId}`);
      const mine = list.json.backups.filter((b: any) => b.schedule_id === schedule.id);
      return mine.length > 0 && (mine[0].status === 'succeeded' || mine[0].status === 'failed')
        ? mine
        : undefined;
    });
    expect(backup).toHaveLength(1);
    expect(backup[0].error).toBeNull();
    expect(backup[0].status).toBe('succeeded');
    // A few more scheduler ticks change nothing: the slot ran once.
    await new Promise((r) => setTimeout(r, 1_000));
    const after = await api('GET', `/api/v1/backups?server_id=${serverId}`);
    expect(after.json.backups.filter((b: any) => b.schedule_id === schedule.id)).toHaveLength(1);
    const again = await api('GET', `/api/v1/schedules/${schedule.id}`);
    expect(new Date(again.json.next_run_at).getTime()).toBe(slot.getTime() + 86_400_000);
    expect(jobRunnerOf(app)?.worker?.runningJobs).toEqual([]);
  });

  it('serves Prometheus metrics for the key’s tenant', async () => {
    const r = await api('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.text).toContain('# TYPE dbtrail_backups gauge');
    expect(r.text).toContain(`dbtrail_backups{server_id="${serverId}",server="db1",status="succeeded"} 2`);
    expect(r.text).toMatch(
      new RegExp(
        `dbtrail_backup_last_success_timestamp_seconds\\{server_id="${serverId}",server="db1"\\} \\d+`,
      ),
    );
    expect(r.text).toMatch(/dbtrail_backup_last_size_bytes\{[^}]*\} [1-9]\d*/);
    expect(r.text).toMatch(/dbtrail_schedule_healthy\{[^}]*\} 1/);
    const anonymous = await fetch(`${running.url}/metrics`);
    expect(anonymous.status).toBe(401);
  });

  it('calls the webhook when a backup fails, with the reason', async () => {
    const r = await api('POST', '/api/v1/servers', {
      name: 'db-badpw',
      connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: 'wrong password' },
    });
    const started = await api('POST', '/api/v1/backup', { server_id: r.json.id });
    const done = await backupDone(started.json.backup_id);
    expect(done.status).toBe('failed');
    expect(done.error.message).toMatch(/denied|password/i);
    const event = await waitFor('the webhook event', () =>
      Promise.resolve(webhook.events.find((e) => e.event === 'backup.failed' && e.backup_id === done.id)),
    );
    expect(event.server_name).toBe('db-badpw');
    expect(event.error.message).toBe(done.error.message);
    expect(JSON.stringify(webhook.events)).not.toContain(db.appPassword);
  });

  it('records mariadb-backup for xtrabackup on MariaDB, and uploads under the schedule’s own prefix', async () => {
    const r = await api('POST', '/api/v1/servers', {
      name: 'db-phys',
      connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: db.appPassword },
    });
    const serverId2 = r.json.id;
    const started = await api('POST', '/api/v1/backup', { server_id: serverId2, tool: 'xtrabackup' });
    expect(started.status).toBe(202);
    const physical = await backupDone(started.json.backup_id);
    expect(physical.error).toBeNull();
    expect(physical.tool).toBe('mariadb-backup');
    expect(physical.location).toMatch(/\/acme\/db-phys\/\d{4}-\d{2}-\d{2}\/\d{6}$/);

    const created = await api('POST', '/api/v1/schedules', {
      server_id: serverId2,
      cron: '17 * * * *',
      s3_prefix: 'acme/custom/nightly',
    });
    expect(created.json.s3_prefix).toBe('acme/custom/nightly/');
    await new Promise((res) => setTimeout(res, 1_100));
    clock.jumpTo(new Date(new Date(created.json.next_run_at).getTime() + 1_000));
    const scheduled = await waitFor('the scheduled backup under the custom prefix', async () => {
      const list = await api('GET', `/api/v1/backups?server_id=${serverId2}`);
      const mine = list.json.backups.filter((b: any) => b.schedule_id === created.json.id);
      return mine.length > 0 && (mine[0].status === 'succeeded' || mine[0].status === 'failed')
        ? mine[0]
        : undefined;
    });
    expect(scheduled.error).toBeNull();
    expect(scheduled.location).toMatch(/\/acme\/custom\/nightly\/\d{4}-\d{2}-\d{2}\/\d{6}$/);
    await api('PATCH', `/api/v1/schedules/${created.json.id}`, { enabled: false });
  });
});

describe('remote agent', () => {
  let remoteId: string;
  let locker: mysql.Connection | undefined;

  function startAgent(): ChildProcess & { output: () => string } {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(PROJECT_ROOT, 'src', 'cli', 'main.ts'),
        'agent',
        '--server',
        running.url,
        '--labels',
        'remote',
        '--lease',
        '2',
        '--poll',
        '100',
      ],
      {
        cwd: PROJECT_ROOT,
        // Its own process group: killing the group takes its mydumper down with it, as a host crash would.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env['PATH'],
          HOME: process.env['HOME'],
          DBTRAIL_HOME: agentHome,
          DBTRAIL_AGENT_KEY: key,
          DBTRAIL_OBJECTS_URL: app.config.objectsUrl,
          DBTRAIL_LOG_LEVEL: 'info',
          DBTRAIL_LOG_FORMAT: 'json',
        },
      },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    children.push(child);
    return Object.assign(child, { output: () => out });
  }

  beforeAll(async () => {
    const r = await api('POST', '/api/v1/servers', {
      name: 'db-remote',
      connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: db.appPassword },
    });
    remoteId = r.json.id;
    // Labels route this server to agents carrying them; the embedded agent (no labels) leaves it alone.
    await app.store.servers.update(remoteId, { defaults: { labels: ['remote'] } });
  });

  afterAll(async () => {
    await locker?.end().catch(() => undefined);
  });

  it('fails the job with the reason when the agent is killed mid-backup, and the next run works', async () => {
    // A session holding a write lock makes the dump wait in FLUSH TABLES WITH READ LOCK: the backup is
    // reliably in the middle when the agent dies.
    locker = await mysql.createConnection({ socketPath: db.socket, user: 'root' });
    await locker.query('LOCK TABLES shop.orders WRITE');

    const agent = startAgent();
    const started = await api('POST', '/api/v1/backup', { server_id: remoteId });
    expect(started.status).toBe(202);
    const backupId: string = started.json.backup_id;
    await waitFor(
      'the remote agent to start the dump',
      async () => {
        const b = await api('GET', `/api/v1/backups/${backupId}`);
        return b.json.status === 'running' ? true : undefined;
      },
      60_000,
    );
    await waitFor(
      'the dump to wait for the lock',
      async () => {
        const rows = await db.query<{ State: string | null; Info: string | null }>('SHOW PROCESSLIST');
        return rows.some((r) => /FLUSH TABLES WITH READ LOCK|BACKUP STAGE/i.test(r.Info ?? ''))
          ? true
          : undefined;
      },
      30_000,
    );
    expect((await api('POST', '/api/v1/backup', { server_id: remoteId })).status).toBe(409);

    process.kill(-agent.pid!, 'SIGKILL');
    await new Promise((resolve) => agent.once('exit', resolve));

    const failed = await backupDone(backupId);
    expect(failed.status).toBe('failed');
    expect(failed.error.message).toMatch(/lost its lease \(no heartbeat since /);
    const job = (
      await app.store.jobs.list({
        tenantId: (await app.store.tenants.findByName('acme'))!.id,
        serverId: remoteId,
      })
    )[0]!;
    expect(job.status).toBe('failed');
    expect(job.error?.message).toBe(failed.error.message);

    await locker.query('UNLOCK TABLES');
    const again = startAgent();
    const next = await api('POST', '/api/v1/backup', { server_id: remoteId });
    expect(next.status).toBe(202);
    const done = await backupDone(next.json.backup_id);
    expect(done.error).toBeNull();
    expect(done.status).toBe('succeeded');
    expect(done.size_bytes).toBeGreaterThan(10_000);
    expect(again.output()).not.toContain(db.appPassword);
    again.kill('SIGTERM');
    await new Promise((resolve) => again.once('exit', resolve));
  });
});
