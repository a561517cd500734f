import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import type { NewDrill } from '../../src/store/drills.js';
import { InvalidValueError, NotFoundError } from '../../src/store/errors.js';
import type { StateStore } from '../../src/store/state-store.js';
import type { ContractBackend, ContractDatabase } from './catalog.contract.js';

/** The drill repository contract, run against every real backend (test/store/sqlite-drills.test.ts for SQLite). */
export function drillsContract(backend: ContractBackend): void {
  describe(`drill repository contract (${backend.name})`, () => {
    let db: ContractDatabase;
    let store: StateStore;
    let tenantId: string;
    let serverId: string;

    beforeEach(async () => {
      db = await backend.createDatabase();
      store = await db.open({ clock: new ManualClock(new Date('2024-05-01T10:00:00.000Z')) });
      tenantId = (await store.tenants.create('acme')).id;
      serverId = (
        await store.servers.create({
          tenantId,
          name: 'db1',
          host: '127.0.0.1',
          port: 3306,
          username: 'dbtrail',
        })
      ).id;
    });
    afterEach(async () => {
      await store.close();
      await db.drop();
    });

    const drill = (minute: number, over: Partial<NewDrill> = {}): NewDrill => ({
      tenantId,
      serverId,
      backupId: 'b1',
      status: 'passed',
      startedAt: new Date(Date.UTC(2024, 4, 1, 10, minute, 0)),
      finishedAt: new Date(Date.UTC(2024, 4, 1, 10, minute, 30, 123)),
      rtoMs: 30_123,
      coordinates: { file: 'binlog.000002', position: 1234, gtid: '0-1-18446744073709551615' },
      steps: [{ step: 'load', ms: 100 }],
      tables: [
        {
          table: 'app.t',
          sourceRows: '3',
          scratchRows: '3',
          sourceChecksum: '18446744073709551617',
          scratchChecksum: '18446744073709551617',
          match: true,
        },
      ],
      error: null,
      ...over,
    });

    it('records drills and lists them newest first, exactly as recorded', async () => {
      const a = await store.drills.record(drill(1));
      const b = await store.drills.record(
        drill(5, { status: 'failed', error: 'table app.t differs', rtoMs: null }),
      );
      const list = await store.drills.list(tenantId, serverId);
      expect(list.map((d) => d.id)).toEqual([b.id, a.id]);
      expect(list[1]).toEqual(a);
      expect(list[0]).toMatchObject({ status: 'failed', error: 'table app.t differs', rtoMs: null });
      expect(await store.drills.list(tenantId, serverId, 1)).toHaveLength(1);
    });

    it('keeps tenants apart and refuses bad values', async () => {
      const other = (await store.tenants.create('other')).id;
      await expect(store.drills.record(drill(1, { tenantId: other }))).rejects.toBeInstanceOf(NotFoundError);
      await store.drills.record(drill(1));
      expect(await store.drills.list(other, serverId)).toEqual([]);
      await expect(store.drills.record(drill(1, { rtoMs: -1 }))).rejects.toBeInstanceOf(InvalidValueError);
    });
  });
}
