import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { LocalObjectStore } from '../../src/objects/local.js';
import { Retention } from '../../src/scheduler/retention.js';
import type { BackupRecord } from '../../src/store/catalog.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import type { StateStore } from '../../src/store/state-store.js';

const DAY = 86_400_000;
const T0 = Date.parse('2024-05-01T02:00:00Z');
const logger = pino({ level: 'silent' });

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'dbtrail-retention-'));
  const clock = new ManualClock(T0);
  const store = await openSqliteStateStore({ path: join(dir, 'state.db'), clock });
  const objects = new LocalObjectStore(join(dir, 'objects'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  cleanup.push(() => store.close());
  const tenant = await store.tenants.create('acme');
  const server = await store.servers.create({
    tenantId: tenant.id,
    name: 'db1',
    host: 'h',
    port: 3306,
    username: 'u',
  });
  const schedule = await store.schedules.create({
    tenantId: tenant.id,
    serverId: server.id,
    cron: '0 2 * * *',
    tool: 'mydumper',
    retentionDays: 7,
    objectPrefix: 'acme/db1/',
    nextRunAt: new Date(T0),
  });
  const retention = new Retention({
    schedules: store.schedules,
    tenants: store.tenants,
    catalog: store.catalog,
    changes: store.changes,
    objects,
    clock,
    logger,
  });
  /** A backup of the schedule taken on `day` (after T0), with two objects in the store when it succeeded. */
  const backup = async (
    day: number,
    outcome: 'succeeded' | 'failed',
    s: StateStore = store,
  ): Promise<BackupRecord> => {
    clock.set(T0 + day * DAY);
    const b = await s.catalog.create({
      tenantId: tenant.id,
      serverId: server.id,
      serverName: 'db1',
      scheduleId: schedule.id,
      tool: 'mydumper',
      status: 'running',
    });
    clock.advance(60_000);
    if (outcome === 'failed')
      return s.catalog.transition(b.id, 'failed', { error: { code: null, message: 'boom' } });
    const prefix = `acme/db1/day-${day}`;
    await objects.put(`${prefix}/data.sql`, Buffer.from(`rows of day ${day}`));
    await objects.put(`${prefix}/manifest.json`, Buffer.from('{}'));
    await s.catalog.transition(b.id, 'uploading', {
      coordinates: { file: 'binlog.000001', position: 4 + day, gtid: null },
      sizeBytes: 20,
    });
    return s.catalog.transition(b.id, 'succeeded', { location: `${objects.url}/${prefix}` });
  };
  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const e of objects.list('')) out.push(e.key);
    return out.sort();
  };
  return { store, clock, objects, retention, backup, keys, tenant, schedule };
}

describe('retention (ManualClock, local object store)', () => {
  it('deletes expired backups, objects first, keeping the window anchor and everything younger than the cutoff', async () => {
    const { store, clock, retention, backup, keys, tenant } = await setup();
    const b = new Map<number, BackupRecord>();
    for (const day of [0, 2, 4, 6, 8, 10, 12]) b.set(day, await backup(day, 'succeeded'));
    const failedOld = await backup(1, 'failed');
    clock.set(T0 + 14 * DAY + 3_600_000); // cutoff: day 7, 03:00

    const report = await retention.run();

    const deleted = report.deleted.map((d) => d.backupId).sort();
    expect(deleted).toEqual([b.get(0)!.id, b.get(2)!.id, b.get(4)!.id, failedOld.id].sort());
    expect(report.failed).toEqual([]);
    // Day 6 is the newest dump at or before the cutoff: the window [cutoff, now] is replayed from it.
    expect(report.kept).toEqual([
      { backupId: b.get(6)!.id, scheduleId: expect.any(String), reason: 'window_anchor' },
    ]);
    for (const d of report.deleted) {
      expect(d.ok).toBe(true);
      if (d.backupId !== failedOld.id) expect(d.objectsDeleted).toBe(2);
    }
    const remaining = (await store.catalog.list({ tenantId: tenant.id })).map((r) => r.id).sort();
    expect(remaining).toEqual([6, 8, 10, 12].map((d) => b.get(d)!.id).sort());
    expect(await keys()).toEqual(
      [6, 8, 10, 12].flatMap((d) => [`acme/db1/day-${d}/data.sql`, `acme/db1/day-${d}/manifest.json`]).sort(),
    );

    // A second pass finds nothing more to delete.
    expect((await retention.run()).deleted).toEqual([]);
  });

  it('never deletes the newest successful backup of the server, however old', async () => {
    const { store, clock, retention, backup, keys, tenant } = await setup();
    const good = await backup(0, 'succeeded');
    await backup(3, 'failed');
    await backup(5, 'failed');
    clock.set(T0 + 60 * DAY);
    const report = await retention.run();
    expect(report.deleted).toHaveLength(2);
    expect(report.kept).toEqual([
      { backupId: good.id, scheduleId: expect.any(String), reason: 'newest_success' },
    ]);
    expect((await store.catalog.list({ tenantId: tenant.id })).map((r) => r.id)).toEqual([good.id]);
    expect(await keys()).toEqual(['acme/db1/day-0/data.sql', 'acme/db1/day-0/manifest.json']);
  });

  it('reports a backup it cannot delete per item and keeps its row, without stopping the others', async () => {
    const { store, clock, retention, backup, tenant } = await setup();
    const foreign = await backup(0, 'succeeded');
    const plain = await backup(1, 'succeeded');
    await backup(20, 'succeeded');
    // Stored by another agent into another store: retention here cannot reach its objects.
    await store.catalog.delete([foreign.id]);
    clock.set(T0);
    const moved = await store.catalog.create({
      id: foreign.id,
      tenantId: tenant.id,
      serverId: foreign.serverId,
      serverName: 'db1',
      scheduleId: foreign.scheduleId,
      tool: 'mydumper',
      status: 'running',
    });
    await store.catalog.transition(moved.id, 'uploading', {
      coordinates: { file: 'binlog.000001', position: 4, gtid: null },
    });
    await store.catalog.transition(moved.id, 'succeeded', { location: 's3://elsewhere/acme/db1/x' });
    clock.set(T0 + 30 * DAY);

    const report = await retention.run();
    expect(report.deleted.map((d) => d.backupId)).toContain(plain.id);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]!.backupId).toBe(foreign.id);
    expect(report.failed[0]!.error?.code).toBe('RETENTION_LOCATION_FOREIGN');
    expect((await store.catalog.get(foreign.id)).status).toBe('succeeded');
  });
});
