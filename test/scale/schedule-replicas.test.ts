/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are walked freely; the assertions check them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { client, waitFor } from '../control-plane/helpers.js';
import { freshPostgresDatabase } from './pg.js';
import { startReplica, stopReplica } from './replica.js';

/**
 * Several replicas, one PostgreSQL: two `dbtrail server` processes, each with its scheduler loop and its embedded
 * agent, race for the same schedules. Every slot of every schedule is enqueued once and backed up once, by
 * whichever replica's agent claimed it. Takes a minute or two: the schedules are real cron, every minute.
 */
const home = mkdtempSync(join(tmpdir(), 'dbtrail-sched-replicas-'));
let db: MariaDbSandbox;
let app: App;
let env: Record<string, string>;
let dropDatabase: (() => Promise<void>) | undefined;
const replicas: Awaited<ReturnType<typeof startReplica>>[] = [];

beforeAll(async () => {
  const fresh = await freshPostgresDatabase();
  dropDatabase = fresh.drop;
  env = { DBTRAIL_HOME: home, DBTRAIL_STATE_URL: fresh.url };
  db = await startMariaDb();
  await db.query(
    `CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1), (2);`,
  );
  expect((await cli(['tenant', 'create', 'acme'], env)).code).toBe(0);
  app = await openApp(loadConfig({ env }));
  // Embedded agents on: both replicas also compete for the backup jobs.
  replicas.push(...(await Promise.all([startReplica(env, []), startReplica(env, [])])));
}, 180_000);

afterAll(async () => {
  for (const r of replicas) await stopReplica(r);
  await app?.close();
  await dropDatabase?.();
  rmSync(home, { recursive: true, force: true });
});

describe('schedules across server replicas (PostgreSQL)', () => {
  it('runs each slot of each schedule once', async () => {
    const made = await cli(['apikey', 'create', '--tenant', 'acme'], env);
    const key = /bt_live_\S+/.exec(made.stdout)![0];
    const apis = replicas.map((r) => client(r.url, key));
    const schedules: any[] = [];
    for (const [i, name] of ['db-a', 'db-b'].entries()) {
      // Each server through a different replica: the API is stateless.
      const api = apis[i % apis.length]!;
      const s = await api('POST', '/api/v1/servers', {
        name,
        connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: db.appPassword },
      });
      expect(s.status).toBe(201);
      const created = await api('POST', '/api/v1/schedules', { server_id: s.json.id, cron: '* * * * *' });
      expect(created.status).toBe(201);
      schedules.push(created.json);
    }
    const firstSlot = new Date(Math.max(...schedules.map((s) => Date.parse(String(s.next_run_at)))));
    const jobs = await waitFor(
      'the first slot of both schedules to be backed up',
      async () => {
        const all = await app.store.jobs.list({ kind: 'backup', limit: 1000 });
        const done = schedules.every((s) =>
          all.some(
            (j) =>
              j.scheduleId === s.id &&
              j.scheduledFor !== null &&
              j.scheduledFor >= firstSlot &&
              j.status === 'succeeded',
          ),
        );
        return done ? all : undefined;
      },
      150_000,
    );
    for (const s of schedules) {
      const mine = jobs.filter((j) => j.scheduleId === s.id);
      const slots = mine.map((j) => j.scheduledFor!.toISOString());
      // One job per slot, never two.
      expect(new Set(slots).size).toBe(slots.length);
      expect(
        mine.every((j) => j.status === 'succeeded' || j.status === 'running' || j.status === 'queued'),
      ).toBe(true);
      // One backup per slot: the catalog holds as many backups of the schedule as there were jobs.
      const backups = await app.store.catalog.list({ tenantId: mine[0]!.tenantId, scheduleId: s.id });
      expect(backups.map((b) => b.id).sort()).toEqual(mine.map((j) => j.backupId).sort());
      expect(backups.filter((b) => b.status === 'succeeded').length).toBeGreaterThanOrEqual(1);
    }
    // Work was spread over the replicas' embedded agents or not; either way each slot ran exactly once.
    const owners = new Set(jobs.map((j) => j.leaseOwner));
    expect(owners.size).toBeGreaterThan(0);
  }, 200_000);
});
