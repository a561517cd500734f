import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentService } from '../agent/service.js';
import { ManualClock } from '../lib/clock.js';
import type { StateStore } from '../store/state-store.js';
import { openSqliteStateStore } from '../store/sqlite/state-store.js';
import { Scheduler, SKIPPED_CODE, slotBackupId } from './scheduler.js';
import type { ControlPlaneEvent, Notifier } from './webhook.js';

const logger = pino({ level: 'silent' });
const T0 = '2024-05-01T10:00:00.000Z';
const HOUR = 3_600_000;

interface Fixture {
  readonly store: StateStore;
  readonly clock: ManualClock;
  readonly tenantId: string;
  readonly serverId: string;
  readonly events: ControlPlaneEvent[];
  readonly service: AgentService;
  scheduler(store?: StateStore): Scheduler;
}

const open: StateStore[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function fixture(path = ':memory:'): Promise<Fixture> {
  const clock = new ManualClock(T0);
  const store = await openSqliteStateStore({ path, clock });
  open.push(store);
  const tenant = await store.tenants.create('acme');
  const server = await store.servers.create({
    tenantId: tenant.id,
    name: 'db1',
    host: '127.0.0.1',
    port: 3306,
    username: 'u',
  });
  const events: ControlPlaneEvent[] = [];
  const notifier: Notifier = { notify: (e) => void events.push(e), flush: () => Promise.resolve() };
  const service = (s: StateStore): AgentService =>
    new AgentService({
      jobs: s.jobs,
      catalog: s.catalog,
      servers: s.servers,
      tenants: s.tenants,
      decryptPassword: () => 'pw',
      clock,
      logger,
      notifier,
    });
  const main = service(store);
  return {
    store,
    clock,
    tenantId: tenant.id,
    serverId: server.id,
    events,
    service: main,
    scheduler: (s = store) =>
      new Scheduler({
        schedules: s.schedules,
        jobs: s.jobs,
        catalog: s.catalog,
        servers: s.servers,
        expireLeases: () => service(s).expireLeases(),
        clock,
        logger,
      }),
  };
}

async function hourly(f: Fixture, nextRunAt: Date | null, enabled = true) {
  return f.store.schedules.create({
    tenantId: f.tenantId,
    serverId: f.serverId,
    cron: '0 * * * *',
    tool: 'mydumper',
    objectPrefix: 'acme/db1/',
    enabled,
    nextRunAt,
  });
}

describe('Scheduler', () => {
  it('runs a due slot once: a queued backup of the schedule, one job for the slot, next_run_at advanced', async () => {
    const f = await fixture();
    const schedule = await hourly(f, new Date(T0));
    f.clock.advance(1000);
    const first = await f.scheduler().tick();
    expect(first.slots).toHaveLength(1);
    expect(first.slots[0]!.outcome.kind).toBe('enqueued');

    const jobs = await f.store.jobs.list({ tenantId: f.tenantId });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.scheduleId).toBe(schedule.id);
    expect(jobs[0]!.scheduledFor?.toISOString()).toBe(T0);
    expect(jobs[0]!.backupId).toBe(slotBackupId(schedule.id, new Date(T0)));
    const backup = await f.store.catalog.get(jobs[0]!.backupId!);
    expect(backup.status).toBe('queued');
    expect(backup.scheduleId).toBe(schedule.id);
    expect((await f.store.schedules.get(schedule.id)).nextRunAt?.toISOString()).toBe(
      '2024-05-01T11:00:00.000Z',
    );

    // The same tick again finds nothing due.
    const second = await f.scheduler().tick();
    expect(second.slots).toHaveLength(0);
    expect(await f.store.jobs.list({ tenantId: f.tenantId })).toHaveLength(1);
  });

  it('runs an overdue schedule once after downtime, then waits for the next future slot', async () => {
    const f = await fixture();
    const schedule = await hourly(f, new Date(T0));
    f.clock.advance(5 * HOUR + 30 * 60_000); // 15:30: the 10:00 to 15:00 slots were all missed
    const result = await f.scheduler().tick();
    expect(result.slots.map((s) => s.outcome.kind)).toEqual(['enqueued']);
    expect(await f.store.jobs.list({ tenantId: f.tenantId })).toHaveLength(1);
    expect((await f.store.schedules.get(schedule.id)).nextRunAt?.toISOString()).toBe(
      '2024-05-01T16:00:00.000Z',
    );
    expect((await f.scheduler().tick()).slots).toHaveLength(0);
  });

  it('never runs a disabled schedule', async () => {
    const f = await fixture();
    await hourly(f, null, false);
    f.clock.advance(48 * HOUR);
    const result = await f.scheduler().tick();
    expect(result.slots).toHaveLength(0);
    expect(await f.store.jobs.list({ tenantId: f.tenantId })).toHaveLength(0);
    expect(await f.store.catalog.list({ tenantId: f.tenantId })).toHaveLength(0);
  });

  it('records a slot as a failed, skipped backup while a backup of the server is still active', async () => {
    const f = await fixture();
    const schedule = await hourly(f, new Date(T0));
    const earlier = await f.store.catalog.create({
      tenantId: f.tenantId,
      serverId: f.serverId,
      serverName: 'db1',
      tool: 'mydumper',
    });
    await f.store.jobs.enqueue({
      tenantId: f.tenantId,
      kind: 'backup',
      serverId: f.serverId,
      backupId: earlier.id,
    });
    f.clock.advance(1000);
    const result = await f.scheduler().tick();
    expect(result.slots[0]!.outcome.kind).toBe('skipped');
    const skipped = await f.store.catalog.get(slotBackupId(schedule.id, new Date(T0)));
    expect(skipped.status).toBe('failed');
    expect(skipped.error?.code).toBe(SKIPPED_CODE);
    expect(skipped.error?.message).toContain(earlier.id);
    expect(await f.store.jobs.list({ tenantId: f.tenantId })).toHaveLength(1);
    expect((await f.store.schedules.get(schedule.id)).nextRunAt?.toISOString()).toBe(
      '2024-05-01T11:00:00.000Z',
    );
  });

  it('completes a slot whose record was created before a crash, without a second record', async () => {
    const f = await fixture();
    const schedule = await hourly(f, new Date(T0));
    const id = slotBackupId(schedule.id, new Date(T0));
    await f.store.catalog.create({
      id,
      tenantId: f.tenantId,
      serverId: f.serverId,
      serverName: 'db1',
      scheduleId: schedule.id,
      tool: 'mydumper',
    });
    f.clock.advance(1000);
    const result = await f.scheduler().tick();
    expect(result.slots[0]!.outcome.kind).toBe('enqueued');
    const jobs = await f.store.jobs.list({ tenantId: f.tenantId });
    expect(jobs.map((j) => j.backupId)).toEqual([id]);
    expect(await f.store.catalog.list({ tenantId: f.tenantId })).toHaveLength(1);
  });

  it('runs each slot once when schedulers on two connections to one database race', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbtrail-sched-'));
    dirs.push(dir);
    const f = await fixture(join(dir, 'state.db'));
    const other = await openSqliteStateStore({ path: join(dir, 'state.db'), clock: f.clock });
    open.push(other);
    const schedules = [];
    for (let i = 0; i < 5; i++) {
      const server = await f.store.servers.create({
        tenantId: f.tenantId,
        name: `db-${i}`,
        host: 'h',
        port: 3306,
        username: 'u',
      });
      schedules.push(
        await f.store.schedules.create({
          tenantId: f.tenantId,
          serverId: server.id,
          cron: '*/10 * * * *',
          tool: 'mydumper',
          objectPrefix: `acme/db-${i}/`,
          nextRunAt: new Date(T0),
        }),
      );
    }
    const a = f.scheduler();
    const b = f.scheduler(other);
    for (let round = 0; round < 3; round++) {
      f.clock.advance(10 * 60_000);
      await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
      // Finish this round's jobs so the next slot is not skipped as "still active".
      for (
        let job = await f.store.jobs.claim({ agentId: 'x', kinds: ['backup'], leaseMs: 60_000 });
        job !== undefined;
        job = await f.store.jobs.claim({ agentId: 'x', kinds: ['backup'], leaseMs: 60_000 })
      ) {
        await f.store.jobs.finish(job.id, 'x', { status: 'succeeded' });
      }
    }
    const jobs = await f.store.jobs.list({ tenantId: f.tenantId, limit: 1000 });
    const slots = jobs.map((j) => `${j.scheduleId} ${j.scheduledFor?.toISOString()}`);
    expect(new Set(slots).size).toBe(slots.length);
    // 5 schedules x 3 rounds: the slots 10:00, 10:10, 10:20 of each.
    expect(jobs).toHaveLength(15);
    expect(await f.store.catalog.list({ tenantId: f.tenantId, limit: 1000 })).toHaveLength(15);
  });

  it('fails a job whose agent stopped sending heartbeats, and its backup, with the same reason', async () => {
    const f = await fixture();
    const backup = await f.store.catalog.create({
      tenantId: f.tenantId,
      serverId: f.serverId,
      serverName: 'db1',
      tool: 'mydumper',
    });
    await f.store.jobs.enqueue({
      tenantId: f.tenantId,
      kind: 'backup',
      serverId: f.serverId,
      backupId: backup.id,
    });
    const job = await f.service.claim({ agentId: 'dead-agent', labels: [] }, ['backup'], 5_000);
    expect(job).toBeDefined();
    await f.store.catalog.transition(backup.id, 'running');

    f.clock.advance(4_000);
    expect((await f.scheduler().tick()).expired).toHaveLength(0);
    f.clock.advance(2_000);
    const { expired } = await f.scheduler().tick();
    expect(expired.map((j) => j.id)).toEqual([job!.id]);
    const failedJob = await f.store.jobs.get(job!.id);
    expect(failedJob.status).toBe('failed');
    const failedBackup = await f.store.catalog.get(backup.id);
    expect(failedBackup.status).toBe('failed');
    expect(failedBackup.error?.message).toBe(failedJob.error?.message);
    expect(failedBackup.error?.message).toMatch(/dead-agent lost its lease/);
    expect(f.events.map((e) => e.event)).toEqual(['backup.failed']);
  });
});
