import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import type { NewBinlogSegment } from '../../src/store/binlog-archive.js';
import { DuplicateError, InvalidValueError, NotFoundError } from '../../src/store/errors.js';
import { newId } from '../../src/store/ids.js';
import type { StateStore } from '../../src/store/state-store.js';
import type { ContractBackend, ContractDatabase } from './catalog.contract.js';

const T0 = '2024-05-01T10:00:00.000Z';
const SHA = (c: string): string => c.repeat(64);

/**
 * The binlog archive repository's contract (store.binlogArchive), run against every real backend
 * (test/store/sqlite-binlog-archive.test.ts, later PostgreSQL).
 */
export function binlogArchiveContract(backend: ContractBackend): void {
  describe(`binlog archive store contract: ${backend.name}`, () => {
    let db: ContractDatabase;
    let clock: ManualClock;
    let store: StateStore;
    let serverId: string;

    beforeEach(async () => {
      db = await backend.createDatabase();
      clock = new ManualClock(T0);
      store = await db.open({ clock });
      const tenant = await store.tenants.ensure('acme');
      serverId = (
        await store.servers.create({ tenantId: tenant.id, name: 'db1', host: 'h', port: 3306, username: 'u' })
      ).id;
    });

    afterEach(async () => {
      await store.close();
      await db.drop();
    });

    const segment = (
      file: string,
      start: number,
      end: number,
      extra: Partial<NewBinlogSegment> = {},
    ): NewBinlogSegment => ({
      serverId,
      file,
      startPosition: start,
      endPosition: end,
      endsFile: false,
      startGtidSet: '0-1-10',
      endGtidSet: '0-1-12',
      firstGtid: '0-1-11',
      lastGtid: '0-1-12',
      // Beyond 2^53: microsecond times must come back exact.
      firstCommitUs: 9_007_199_254_740_993n,
      lastCommitUs: 9_007_199_254_740_995n,
      transactions: 2,
      bytes: 1234,
      sha256: SHA('a'),
      objectKey: `acme/db1/binlogs/${file}/${start}-${end}.binlog`,
      ...extra,
    });

    it('records segments and lists them in coordinate order, exact values kept', async () => {
      await store.binlogArchive.add(segment('binlog.1000000', 4, 500));
      await store.binlogArchive.add(segment('binlog.999999', 900, 1000, { endsFile: true }));
      const added = await store.binlogArchive.add(segment('binlog.999999', 4, 900));
      expect(added.createdAt.toISOString()).toBe(T0);
      const list = await store.binlogArchive.list(serverId);
      expect(list.map((s) => `${s.file}:${s.startPosition}`)).toEqual([
        'binlog.999999:4',
        'binlog.999999:900',
        'binlog.1000000:4',
      ]);
      expect(list[0]).toEqual(added);
      expect(list[0]!.firstCommitUs).toBe(9_007_199_254_740_993n);
      expect(list[1]!.endsFile).toBe(true);
      expect((await store.binlogArchive.last(serverId))?.file).toBe('binlog.1000000');
      const after = await store.binlogArchive.list(serverId, {
        endingAfter: { file: 'binlog.999999', position: 900 },
      });
      expect(after.map((s) => `${s.file}:${s.startPosition}`)).toEqual([
        'binlog.999999:900',
        'binlog.1000000:4',
      ]);
    });

    it('is idempotent for the same segment and refuses another one at the same start', async () => {
      const first = await store.binlogArchive.add(segment('binlog.000001', 4, 100));
      expect(await store.binlogArchive.add(segment('binlog.000001', 4, 100))).toEqual(first);
      await expect(
        store.binlogArchive.add(segment('binlog.000001', 4, 100, { sha256: SHA('b') })),
      ).rejects.toThrow(DuplicateError);
      expect(await store.binlogArchive.list(serverId)).toHaveLength(1);
    });

    it('refuses bad values with a message naming the field, and unknown servers', async () => {
      await expect(store.binlogArchive.add(segment('binlog.000001', 100, 50))).rejects.toThrow(
        /"endPosition" must be an offset not before startPosition/,
      );
      await expect(
        store.binlogArchive.add(segment('binlog.000001', 4, 50, { sha256: 'xyz' })),
      ).rejects.toThrow(InvalidValueError);
      await expect(
        store.binlogArchive.add({ ...segment('binlog.000001', 4, 50), serverId: newId() }),
      ).rejects.toThrow(NotFoundError);
      expect(await store.binlogArchive.last(serverId)).toBeUndefined();
    });

    it('deletes per item and records gaps that are never deleted', async () => {
      const a = await store.binlogArchive.add(segment('binlog.000001', 4, 100));
      const results = await store.binlogArchive.delete([a.id, newId(), 'nope']);
      expect(results.map((r) => r.ok)).toEqual([true, false, false]);
      expect(await store.binlogArchive.list(serverId)).toEqual([]);
      const gap = await store.binlogArchive.recordGap(serverId, {
        from: { file: 'binlog.000001', position: 100, gtidSet: '0-1-12' },
        to: { file: 'binlog.000003', position: 4, gtidSet: null },
        reason: 'capture_gap',
        detail: 'purged',
      });
      expect(await store.binlogArchive.gaps(serverId)).toEqual([gap]);
      expect(gap.recordedAt.toISOString()).toBe(T0);
    });
  });
}
