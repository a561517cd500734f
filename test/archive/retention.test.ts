import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { segmentKey } from '../../src/archive/segment-file.js';
import { ManualClock } from '../../src/lib/clock.js';
import { LocalObjectStore } from '../../src/objects/local.js';
import { Retention } from '../../src/scheduler/retention.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';

const DAY = 86_400_000;
const T0 = Date.parse('2024-05-01T02:00:00Z');
const logger = pino({ level: 'silent' });
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('retention of archive segments follows the backups they serve', () => {
  it('deletes a segment only when no kept backup can replay it, objects and rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbtrail-archive-retention-'));
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
    // Backups on days 0, 2, ... 12 at binlog.000001:(100 * day + 4); segments of 100 bytes each, then two in the
    // next file.
    for (const day of [0, 2, 4, 6, 8, 10, 12]) {
      clock.set(T0 + day * DAY);
      const b = await store.catalog.create({
        tenantId: tenant.id,
        serverId: server.id,
        serverName: 'db1',
        scheduleId: schedule.id,
        tool: 'mydumper',
        status: 'running',
      });
      clock.advance(60_000);
      const prefix = `acme/db1/day-${day}`;
      await objects.put(`${prefix}/manifest.json`, Buffer.from('{}'));
      await store.catalog.transition(b.id, 'uploading', {
        coordinates: { file: 'binlog.000001', position: 100 * day + 4, gtid: null },
        sizeBytes: 2,
      });
      await store.catalog.transition(b.id, 'succeeded', { location: `${objects.url}/${prefix}` });
    }
    const ranges: [string, number, number, boolean][] = [];
    for (let start = 4; start < 1300; start += 100) ranges.push(['binlog.000001', start, start + 100, false]);
    ranges.push(['binlog.000001', 1304, 1500, true], ['binlog.000002', 4, 900, false]);
    for (const [file, start, end, endsFile] of ranges) {
      const key = segmentKey('acme/db1', file, start, end);
      const put = await objects.put(key, Buffer.from(`segment ${file}:${start}`));
      await store.binlogArchive.add({
        serverId: server.id,
        file,
        startPosition: start,
        endPosition: end,
        endsFile,
        startGtidSet: null,
        endGtidSet: null,
        firstGtid: null,
        lastGtid: null,
        firstCommitUs: null,
        lastCommitUs: null,
        transactions: 1,
        bytes: put.size,
        sha256: put.sha256,
        objectKey: key,
      });
    }
    const retention = new Retention({
      schedules: store.schedules,
      tenants: store.tenants,
      catalog: store.catalog,
      archive: store.binlogArchive,
      objects,
      clock,
      logger,
    });

    clock.set(T0 + 14 * DAY + 3_600_000); // cutoff: day 7; backups of days 0, 2 and 4 expire, day 6 anchors
    const report = await retention.run();
    expect(report.deleted).toHaveLength(3);
    // The oldest kept backup is at binlog.000001:604: the segments ending at or before it go, the one that
    // holds the transactions right after it stays.
    expect(report.segmentsDeleted).toBe(6);
    const left = await store.binlogArchive.list(server.id);
    expect(left[0]).toMatchObject({ file: 'binlog.000001', startPosition: 604 });
    expect(left).toHaveLength(ranges.length - 6);
    const keys: string[] = [];
    for await (const e of objects.list('acme/db1/binlogs/')) keys.push(e.key);
    expect(keys.sort()).toEqual(left.map((s) => s.objectKey).sort());
    // A second pass deletes nothing more.
    expect((await retention.run()).segmentsDeleted).toBe(0);
  });
});
