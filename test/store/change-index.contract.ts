import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import {
  isoMicros,
  pkText,
  type ChangeRecord,
  type NewGap,
  type TableSchemaEntry,
} from '../../src/store/change-index.js';
import {
  CheckpointConflictError,
  InvalidValueError,
  NotFoundError,
  StoreQueryError,
} from '../../src/store/errors.js';
import type { StateStore } from '../../src/store/state-store.js';
import { coveredWindows } from '../../src/store/windows.js';
import type { ContractBackend, ContractDatabase } from './catalog.contract.js';
import { after, IDENTITY, insert, remove, T0_US, tx, update } from './change-fixtures.js';

/**
 * The change-index contract, run against every real backend (test/store/sqlite-change-index.test.ts, later
 * PostgreSQL). Everything goes through the public ChangeIndex interface, except the one fault the backend
 * injects to make a commit fail halfway through its writes.
 */
export interface ChangeContractBackend extends ContractBackend {
  /** Makes the database reject, inside the commit's transaction, any row change whose pk text is `pk`. */
  failChangeWithPk(db: ContractDatabase, pk: string): Promise<void>;
}

const DECIMAL_20 = '12345678901234567890.123456789';
const BIGINT_MAX_UNSIGNED = '18446744073709551615';

export function changeIndexContract(backend: ChangeContractBackend): void {
  describe(`change index contract: ${backend.name}`, () => {
    let db: ContractDatabase;
    let clock: ManualClock;
    let store: StateStore;
    let tenantId: string;
    let serverId: string;
    const opened: StateStore[] = [];

    const open = async (): Promise<StateStore> => {
      const s = await db.open({ clock });
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      db = await backend.createDatabase();
      clock = new ManualClock('2024-05-02T00:00:00Z');
      store = await open();
      tenantId = (await store.tenants.create('acme')).id;
      serverId = (await registerServer(tenantId, 'db1')).id;
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await db.drop();
    });

    function registerServer(tenant: string, name: string) {
      return store.servers.create({
        tenantId: tenant,
        name,
        host: '127.0.0.1',
        port: 3306,
        username: 'dbtrail',
      });
    }

    const all = (extra: Partial<Parameters<StateStore['changes']['query']>[0]> = {}) =>
      store.changes.query({ tenantId, serverId, limit: 10_000, ...extra });
    const seqs = (records: readonly ChangeRecord[]) => records.map((r) => r.seq);

    describe('commit', () => {
      it('appends changes with per-server seqs and moves the checkpoint in one step', async () => {
        const t1 = tx(1, [
          insert('app', 'users', { id: '1', name: 'ann' }),
          insert('app', 'users', { id: '2', name: 'bob' }),
        ]);
        const t2 = tx(2, [update('app', 'users', { id: '1', name: 'ann' }, { id: '1', name: 'anna' })]);
        expect(await store.changes.checkpoint(serverId)).toBeUndefined();
        const r = await store.changes.commit(serverId, {
          transactions: [t1, t2],
          checkpoint: after(t2, '0-1-9'),
        });
        expect(r).toEqual({ firstSeq: 1n, lastSeq: 3n });
        const cp = await store.changes.checkpoint(serverId);
        expect(cp).toEqual({
          serverId,
          coordinates: { file: 'binlog.000001', position: t2.endPosition, gtidSet: '0-1-9' },
          identity: IDENTITY,
          updatedAt: new Date('2024-05-02T00:00:00Z'),
        });
        const rows = await all();
        expect(seqs(rows)).toEqual([1n, 2n, 3n]);
        expect(rows[2]).toEqual({
          serverId,
          seq: 3n,
          gtid: t2.gtid,
          file: 'binlog.000001',
          position: t2.position,
          commitTimeUs: t2.commitTimeUs,
          threadId: 7,
          schema: 'app',
          table: 'users',
          type: 'update',
          pk: '["1"]',
          pkColumns: ['id'],
          pkIsFullImage: false,
          before: { id: '1', name: 'ann' },
          after: { id: '1', name: 'anna' },
          changedColumns: ['name'],
        });
        const next = tx(3, [remove('app', 'users', { id: '2', name: 'bob' })]);
        expect(
          await store.changes.commit(serverId, { transactions: [next], checkpoint: after(next) }),
        ).toEqual({
          firstSeq: 4n,
          lastSeq: 4n,
        });
        const stats = await store.changes.stats(serverId);
        expect(stats).toEqual({
          rowChanges: 4n,
          transactions: 3n,
          ddlEvents: 0n,
          firstCommitTimeUs: t1.commitTimeUs,
          lastCommitTimeUs: next.commitTimeUs,
          lastSeq: 4n,
        });
      });

      it('moves only the checkpoint for a batch without changes', async () => {
        const t = tx(1, []);
        expect(await store.changes.commit(serverId, { transactions: [t], checkpoint: after(t) })).toEqual({
          firstSeq: null,
          lastSeq: null,
        });
        expect((await store.changes.checkpoint(serverId))?.coordinates.position).toBe(t.endPosition);
        expect((await store.changes.stats(serverId)).rowChanges).toBe(0n);
      });

      it('writes nothing of a batch that fails halfway through', async () => {
        const ok = tx(1, [insert('app', 'users', { id: '1' })]);
        await store.changes.commit(serverId, { transactions: [ok], checkpoint: after(ok) });
        await backend.failChangeWithPk(db, '["boom"]');
        const t1 = tx(2, [insert('app', 'users', { id: '2' }), insert('app', 'orders', { id: '5' })]);
        const t2 = tx(3, [insert('app', 'users', { id: 'boom' })], { ddl: [] });
        const gap: NewGap = {
          reason: 'other',
          detail: 'x',
          from: { file: 'binlog.000001', position: 4, gtidSet: null },
          to: { file: 'binlog.000001', position: 5, gtidSet: null },
          fromTimeUs: null,
          toTimeUs: null,
        };
        const err = await store.changes
          .commit(serverId, { transactions: [t1, t2], checkpoint: after(t2), gap })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreQueryError);
        expect((err as Error).message).toMatch(new RegExp(`^Cannot commit changes of server ${serverId}: `));
        expect(seqs(await all())).toEqual([1n]);
        expect((await store.changes.checkpoint(serverId))?.coordinates.position).toBe(ok.endPosition);
        expect(await store.changes.gaps(serverId)).toEqual([]);
        expect(await store.changes.stats(serverId)).toMatchObject({ rowChanges: 1n, lastSeq: 1n });
        // The table first seen in the failed batch left no trace either: the same store commits it later.
        const t3 = tx(4, [insert('app', 'orders', { id: '6' })]);
        expect(await store.changes.commit(serverId, { transactions: [t3], checkpoint: after(t3) })).toEqual({
          firstSeq: 2n,
          lastSeq: 2n,
        });
        expect((await all({ schema: 'app', table: 'orders' })).map((r) => r.pk)).toEqual(['["6"]']);
      });

      it('refuses a batch with an invalid transaction before writing any of it', async () => {
        const good = tx(1, [insert('app', 'users', { id: '1' })]);
        const bad = { ...tx(2, [insert('app', 'users', { id: '2' })]), commitTimeUs: -1n };
        const err = await store.changes
          .commit(serverId, { transactions: [good, bad], checkpoint: after(bad) })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidValueError);
        expect((err as Error).message).toMatch(/^Cannot record commit time of transaction 1 of the batch/);
        expect(await all()).toEqual([]);
        expect(await store.changes.checkpoint(serverId)).toBeUndefined();
      });

      it('refuses a server that is not registered', async () => {
        const t = tx(1, [insert('app', 'users', { id: '1' })]);
        const err = await store.changes
          .commit('00000000-0000-4000-8000-000000000000', { transactions: [t], checkpoint: after(t) })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(NotFoundError);
      });

      it('fences on the expected previous checkpoint', async () => {
        const t1 = tx(1, [insert('app', 'users', { id: '1' })]);
        await store.changes.commit(serverId, {
          transactions: [t1],
          checkpoint: after(t1),
          expectPrevious: null,
        });
        // Replaying the same batch ("no checkpoint yet") is refused: no duplicates.
        const replay = await store.changes
          .commit(serverId, { transactions: [t1], checkpoint: after(t1), expectPrevious: null })
          .catch((e: unknown) => e);
        expect(replay).toBeInstanceOf(CheckpointConflictError);
        expect((replay as CheckpointConflictError).code).toBe('STORE_CHECKPOINT_CONFLICT');
        expect((replay as Error).message).toBe(
          `Cannot commit changes of server ${serverId}: the checkpoint is binlog.000001:${t1.endPosition} (GTID ${t1.gtid}), expected none; another writer moved it, or these transactions were already committed`,
        );
        const t2 = tx(2, [insert('app', 'users', { id: '2' })]);
        const stale = { file: 'binlog.000001', position: 4, gtidSet: t1.gtid };
        await expect(
          store.changes.commit(serverId, {
            transactions: [t2],
            checkpoint: after(t2),
            expectPrevious: stale,
          }),
        ).rejects.toThrow(CheckpointConflictError);
        // A differing GTID set alone is a conflict too.
        await expect(
          store.changes.commit(serverId, {
            transactions: [t2],
            checkpoint: after(t2),
            expectPrevious: { ...after(t1).coordinates, gtidSet: '0-1-1' },
          }),
        ).rejects.toThrow(CheckpointConflictError);
        expect(seqs(await all())).toEqual([1n]);
        await store.changes.commit(serverId, {
          transactions: [t2],
          checkpoint: after(t2),
          expectPrevious: after(t1).coordinates,
        });
        expect(seqs(await all())).toEqual([1n, 2n]);
      });

      it('lets exactly one of two writers with the same expectation win', async () => {
        const other = await open();
        const t0 = tx(0, []);
        await store.changes.commit(serverId, { transactions: [t0], checkpoint: after(t0) });
        const a = tx(1, [insert('app', 'users', { id: 'a' })]);
        const b = tx(1, [insert('app', 'users', { id: 'b' })]);
        const results = await Promise.allSettled([
          store.changes.commit(serverId, {
            transactions: [a],
            checkpoint: after(a),
            expectPrevious: after(t0).coordinates,
          }),
          other.changes.commit(serverId, {
            transactions: [b],
            checkpoint: after(b),
            expectPrevious: after(t0).coordinates,
          }),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toBeInstanceOf(CheckpointConflictError);
        expect(await all()).toHaveLength(1);
      });

      it('keeps seqs per server: two servers share the index without collisions', async () => {
        const second = (await registerServer(tenantId, 'db2')).id;
        for (let i = 0; i < 3; i++) {
          const ta = tx(i, [insert('app', 'users', { id: String(i) })]);
          const tb = tx(i, [
            insert('app', 'users', { id: String(i) }),
            insert('app', 'users', { id: `${i}b` }),
          ]);
          await store.changes.commit(serverId, { transactions: [ta], checkpoint: after(ta) });
          await store.changes.commit(second, { transactions: [tb], checkpoint: after(tb) });
        }
        expect(seqs(await all())).toEqual([1n, 2n, 3n]);
        const b = await store.changes.query({ tenantId, serverId: second, limit: 100 });
        expect(seqs(b)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
        expect(b.every((r) => r.serverId === second)).toBe(true);
        expect(await all({ schema: 'app', table: 'users', pk: '["1b"]' })).toEqual([]);
        expect((await store.changes.stats(second)).rowChanges).toBe(6n);
      });

      it('keeps tenants apart: another tenant cannot query the server', async () => {
        const t = tx(1, [insert('app', 'users', { id: '1' })]);
        await store.changes.commit(serverId, { transactions: [t], checkpoint: after(t) });
        const other = (await store.tenants.create('other')).id;
        const err = await store.changes.query({ tenantId: other, serverId }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(NotFoundError);
        expect((err as Error).message).toBe(`Cannot query changes of server ${serverId}: no such server`);
      });

      it('keeps 64-bit and DECIMAL values, times and seqs exact', async () => {
        const image = {
          id: BIGINT_MAX_UNSIGNED,
          amount: DECIMAL_20,
          small: '-9223372036854775808',
          blob: { hex: '00FF' },
        };
        const t = tx(1, [insert('app', 'ledger', image)], { micros: 123_456n });
        await store.changes.commit(serverId, { transactions: [t], checkpoint: after(t) });
        const [r] = await all({ schema: 'app', table: 'ledger', pk: pkText([BIGINT_MAX_UNSIGNED]) });
        expect(r?.after).toEqual(image);
        expect(r?.pk).toBe(`["${BIGINT_MAX_UNSIGNED}"]`);
        expect(r?.commitTimeUs).toBe(T0_US + 1_000_000n + 123_456n);
        expect(isoMicros(r!.commitTimeUs)).toBe('2024-05-01T10:00:01.123456Z');
        expect(typeof r?.seq).toBe('bigint');
        const eq = await all({ columnEq: { column: 'amount', value: DECIMAL_20 } });
        expect(eq).toHaveLength(1);
        // One digit off must not match: nothing went through a float.
        expect(
          await all({ columnEq: { column: 'amount', value: '12345678901234567890.123456788' } }),
        ).toEqual([]);
        expect(await all({ columnEq: { column: 'blob', value: { hex: '00ff' } } })).toHaveLength(1);
        expect(await all({ columnEq: { column: 'blob', value: '00FF' } })).toEqual([]);
      });

      it('records DDL in the same sequence as row changes', async () => {
        const t1 = tx(1, [], { ddl: [{ schema: 'app', statement: 'CREATE TABLE t (id INT PRIMARY KEY)' }] });
        const t2 = tx(2, [insert('app', 't', { id: '1' })]);
        const t3 = tx(3, [], { ddl: [{ schema: null, statement: 'CREATE DATABASE x' }] });
        expect(
          await store.changes.commit(serverId, { transactions: [t1, t2, t3], checkpoint: after(t3) }),
        ).toEqual({
          firstSeq: 1n,
          lastSeq: 3n,
        });
        const ddl = await store.changes.ddl(serverId);
        expect(ddl.map((d) => [d.seq, d.schema, d.statement, d.position, d.commitTimeUs])).toEqual([
          [1n, 'app', 'CREATE TABLE t (id INT PRIMARY KEY)', t1.position, t1.commitTimeUs],
          [3n, null, 'CREATE DATABASE x', t3.position, t3.commitTimeUs],
        ]);
        expect(await store.changes.ddl(serverId, { afterSeq: 1n })).toHaveLength(1);
        expect(await store.changes.ddl(serverId, { schema: 'app' })).toHaveLength(1);
        expect(seqs(await all())).toEqual([2n]);
        expect((await store.changes.stats(serverId)).ddlEvents).toBe(2n);
      });
    });

    describe('query', () => {
      // Three tables, four transactions over four seconds.
      async function seed() {
        const txs = [
          tx(
            10,
            [
              insert('app', 'users', { id: '1', name: 'ann', status: 'new' }),
              insert('app', 'users', { id: '2', name: 'bob', status: 'new' }),
              insert('app', 'items', { shop: '1', sku: 'a|b', qty: '5' }, ['shop', 'sku']),
            ],
            { gtid: '0-1-100' },
          ),
          tx(
            11,
            [
              update(
                'app',
                'users',
                { id: '1', name: 'ann', status: 'new' },
                { id: '1', name: 'ann', status: 'active' },
              ),
              insert('logs', 'events', { at: '2024-05-01 10:00:11', msg: 'hi' }, []),
            ],
            { gtid: '0-1-101' },
          ),
          tx(
            12,
            [
              update(
                'app',
                'users',
                { id: '2', name: 'bob', status: 'new' },
                { id: '2', name: 'rob', status: 'new' },
              ),
              update(
                'app',
                'items',
                { shop: '1', sku: 'a|b', qty: '5' },
                { shop: '1', sku: 'a|b', qty: '4' },
                ['shop', 'sku'],
              ),
            ],
            { gtid: '0-1-102' },
          ),
          tx(13, [remove('app', 'users', { id: '2', name: 'rob', status: 'new' })], { gtid: '0-1-103' }),
        ];
        await store.changes.commit(serverId, { transactions: txs, checkpoint: after(txs[3]!) });
        return txs;
      }

      it('filters by schema, table and primary key (composite and PK-less too)', async () => {
        await seed();
        expect(seqs(await all({ schema: 'app' }))).toEqual([1n, 2n, 3n, 4n, 6n, 7n, 8n]);
        expect(seqs(await all({ schema: 'app', table: 'users' }))).toEqual([1n, 2n, 4n, 6n, 8n]);
        expect(seqs(await all({ schema: 'app', table: 'users', pk: '["2"]' }))).toEqual([2n, 6n, 8n]);
        expect(seqs(await all({ schema: 'app', table: 'items', pk: pkText(['1', 'a|b']) }))).toEqual([
          3n,
          7n,
        ]);
        const [log] = await all({ schema: 'logs', table: 'events' });
        expect(log?.pkIsFullImage).toBe(true);
        expect(log?.pk).toBe('["2024-05-01 10:00:11","hi"]');
        expect(await all({ schema: 'app', table: 'nope' })).toEqual([]);
        expect(await all({ schema: 'app', table: 'users', pk: '["3"]' })).toEqual([]);
      });

      it('filters by time range, type, GTID, changed column and column value', async () => {
        const txs = await seed();
        expect(seqs(await all({ sinceUs: txs[1]!.commitTimeUs, untilUs: txs[3]!.commitTimeUs }))).toEqual([
          4n,
          5n,
          6n,
          7n,
        ]);
        expect(seqs(await all({ schema: 'app', table: 'users', sinceUs: txs[2]!.commitTimeUs }))).toEqual([
          6n,
          8n,
        ]);
        expect(seqs(await all({ type: 'update' }))).toEqual([4n, 6n, 7n]);
        expect(seqs(await all({ type: ['insert', 'delete'] }))).toEqual([1n, 2n, 3n, 5n, 8n]);
        expect(seqs(await all({ gtid: '0-1-102' }))).toEqual([6n, 7n]);
        expect(await all({ gtid: '0-1-999' })).toEqual([]);
        expect(seqs(await all({ changedColumn: 'status' }))).toEqual([4n]);
        expect(seqs(await all({ changedColumn: 'name' }))).toEqual([6n]);
        expect(seqs(await all({ schema: 'app', table: 'items', changedColumn: 'qty' }))).toEqual([7n]);
        expect(seqs(await all({ columnEq: { column: 'status', value: 'active' } }))).toEqual([4n]);
        // Before or after image: the row was 'bob' before update 6.
        expect(seqs(await all({ columnEq: { column: 'name', value: 'bob' } }))).toEqual([2n, 6n]);
        expect(
          seqs(
            await all({
              schema: 'app',
              table: 'users',
              type: 'update',
              columnEq: { column: 'id', value: '2' },
            }),
          ),
        ).toEqual([6n]);
      });

      it('orders, limits and pages in both directions', async () => {
        await seed();
        expect(seqs(await all({ order: 'desc', limit: 3 }))).toEqual([8n, 7n, 6n]);
        const pages: bigint[][] = [];
        let afterSeq: bigint | undefined;
        for (;;) {
          const page = await all({ limit: 3, ...(afterSeq === undefined ? {} : { afterSeq }) });
          if (page.length === 0) break;
          pages.push(seqs(page));
          afterSeq = page[page.length - 1]!.seq;
        }
        expect(pages).toEqual([
          [1n, 2n, 3n],
          [4n, 5n, 6n],
          [7n, 8n],
        ]);
        expect(seqs(await all({ order: 'desc', limit: 2, afterSeq: 6n }))).toEqual([5n, 4n]);
        expect(seqs(await store.changes.query({ tenantId, serverId }))).toHaveLength(8);
        await expect(all({ afterSeq: 99n })).rejects.toThrow(/no change has seq 99/);
      });

      it('narrows to a seq range, alone or with other filters', async () => {
        await seed();
        expect(seqs(await all({ seqRange: { after: 2n, until: 6n } }))).toEqual([3n, 4n, 5n, 6n]);
        expect(seqs(await all({ seqRange: { after: 6n } }))).toEqual([7n, 8n]);
        expect(seqs(await all({ seqRange: { until: 2n } }))).toEqual([1n, 2n]);
        expect(
          seqs(await all({ seqRange: { after: 1n, until: 7n }, schema: 'app', table: 'users' })),
        ).toEqual([2n, 4n, 6n]);
        expect(
          seqs(await all({ seqRange: { after: 1n, until: 8n }, type: 'update', order: 'desc' })),
        ).toEqual([7n, 6n, 4n]);
        expect(seqs(await all({ seqRange: { after: 3n, until: 8n }, gtid: '0-1-102' }))).toEqual([6n, 7n]);
        expect(
          seqs(await all({ seqRange: { after: 6n, until: 8n }, pk: '["2"]', schema: 'app', table: 'users' })),
        ).toEqual([8n]);
        expect(await all({ seqRange: { after: 8n, until: 8n } })).toEqual([]);
        await expect(all({ seqRange: { after: 5n, until: 2n } })).rejects.toThrow(
          'Cannot query changes: seqRange.after 5 is above seqRange.until 2',
        );
      });

      it('returns changes in commit-time order, then seq, even when the clock stepped back', async () => {
        const a = tx(20, [insert('app', 'users', { id: '10' })]);
        const b = tx(19, [insert('app', 'users', { id: '11' })]);
        await store.changes.commit(serverId, { transactions: [a, b], checkpoint: after(b) });
        expect(seqs(await all())).toEqual([2n, 1n]);
      });

      it('refuses malformed filters with a message naming them', async () => {
        await expect(all({ table: 'users' })).rejects.toThrow(
          'Cannot query changes of table "users": expected its schema too',
        );
        await expect(all({ limit: 0 })).rejects.toThrow(/limit must be between 1 and 100000, got 0/);
        await expect(all({ sinceUs: 10n, untilUs: 5n })).rejects.toThrow(
          /start of the time range is after its end/,
        );
        await expect(all({ columnEq: { column: 'a"b', value: 'x' } })).rejects.toThrow(InvalidValueError);
      });
    });

    describe('gaps, pruning and coverage', () => {
      const purge: NewGap = {
        reason: 'binlog_purged',
        detail: 'binlog.000002 to binlog.000004 were purged before capture read them',
        from: { file: 'binlog.000002', position: 4, gtidSet: '0-1-5' },
        to: { file: 'binlog.000005', position: 4, gtidSet: '0-1-90' },
        fromTimeUs: null,
        toTimeUs: null,
      };

      it('records gaps forever, alone or with a commit, and resolves their times for coverage', async () => {
        const t1 = tx(1, [insert('app', 'users', { id: '1' })]);
        await store.changes.commit(serverId, { transactions: [t1], checkpoint: after(t1) });
        clock.advance(1000);
        const g = await store.changes.recordGap(serverId, purge);
        expect(g).toMatchObject({ ...purge, serverId, recordedAt: new Date('2024-05-02T00:00:01Z') });
        expect(await store.changes.gaps(serverId)).toEqual([g]);
        // Capture has not resumed: coverage ends where the gap starts.
        let cov = await store.changes.coverage(serverId);
        expect(cov.gaps[0]).toMatchObject({ fromUs: t1.commitTimeUs, toUs: null });
        expect(coveredWindows(cov)).toEqual([{ fromUs: t1.commitTimeUs, toUs: t1.commitTimeUs }]);
        const t2 = tx(100, [insert('app', 'users', { id: '2' })], { file: 'binlog.000005' });
        await store.changes.commit(serverId, { transactions: [t2], checkpoint: after(t2) });
        cov = await store.changes.coverage(serverId);
        expect(cov.gaps[0]).toMatchObject({ fromUs: t1.commitTimeUs, toUs: t2.commitTimeUs });
        expect(coveredWindows(cov)).toEqual([
          { fromUs: t1.commitTimeUs, toUs: t1.commitTimeUs },
          { fromUs: t2.commitTimeUs, toUs: t2.commitTimeUs },
        ]);
        const t3 = tx(200, [insert('app', 'users', { id: '3' })], { file: 'binlog.000007' });
        await store.changes.commit(serverId, {
          transactions: [t3],
          checkpoint: after(t3),
          gap: {
            ...purge,
            reason: 'accepted_restart',
            fromTimeUs: t2.commitTimeUs + 1n,
            toTimeUs: t3.commitTimeUs - 1n,
          },
        });
        const gaps = await store.changes.gaps(serverId);
        expect(gaps.map((x) => x.reason)).toEqual(['binlog_purged', 'accepted_restart']);
        expect(coveredWindows(await store.changes.coverage(serverId))).toEqual([
          { fromUs: t1.commitTimeUs, toUs: t1.commitTimeUs },
          { fromUs: t2.commitTimeUs, toUs: t2.commitTimeUs + 1n },
          { fromUs: t3.commitTimeUs - 1n, toUs: t3.commitTimeUs },
        ]);
      });

      it('prunes old changes and records a pruned gap, atomically', async () => {
        const txs = [0, 10, 20, 30].map((s) =>
          tx(s, [
            insert('app', 'users', { id: String(s), v: '0' }),
            update('app', 'users', { id: String(s), v: '0' }, { id: String(s), v: '1' }),
          ]),
        );
        await store.changes.commit(serverId, { transactions: txs, checkpoint: after(txs[3]!) });
        const cutoff = txs[2]!.commitTimeUs; // changes at 0 s and 10 s go
        const r = await store.changes.prune(serverId, cutoff);
        expect(r.deleted).toBe(4n);
        expect(r.gap).toMatchObject({
          reason: 'pruned',
          serverId,
          from: { file: 'binlog.000001', position: txs[0]!.position, gtidSet: null },
          to: { file: 'binlog.000001', position: txs[1]!.endPosition, gtidSet: null },
          fromTimeUs: txs[0]!.commitTimeUs,
          toTimeUs: cutoff,
        });
        expect(r.gap?.detail).toBe('4 row changes committed before 2024-05-01T10:00:20.000000Z were pruned');
        expect(seqs(await all())).toEqual([5n, 6n, 7n, 8n]);
        expect(await all({ changedColumn: 'v' })).toHaveLength(2);
        expect(await all({ schema: 'app', table: 'users', pk: '["0"]' })).toEqual([]);
        expect(await store.changes.stats(serverId)).toMatchObject({
          rowChanges: 4n,
          transactions: 2n,
          firstCommitTimeUs: txs[2]!.commitTimeUs,
          lastSeq: 8n,
        });
        expect(await store.changes.gaps(serverId)).toEqual([r.gap]);
        expect(coveredWindows(await store.changes.coverage(serverId))).toEqual([
          { fromUs: cutoff, toUs: txs[3]!.commitTimeUs },
        ]);
        // Nothing older left: no second gap.
        expect(await store.changes.prune(serverId, cutoff)).toEqual({ deleted: 0n, gap: null });
        expect(await store.changes.gaps(serverId)).toHaveLength(1);
        // Seqs continue after pruning; they are never reused.
        const t5 = tx(40, [insert('app', 'users', { id: '40' })]);
        expect(
          (await store.changes.commit(serverId, { transactions: [t5], checkpoint: after(t5) })).firstSeq,
        ).toBe(9n);
        // Pruning everything keeps the gap history and the seq counter.
        const all3 = await store.changes.prune(serverId, T0_US + 1_000_000_000n);
        expect(all3.deleted).toBe(5n);
        expect(await all()).toEqual([]);
        expect(await store.changes.gaps(serverId)).toHaveLength(2);
        expect((await store.changes.stats(serverId)).lastSeq).toBe(9n);
      });

      it('prunes nothing of an unknown or empty server', async () => {
        expect(await store.changes.prune(serverId, T0_US)).toEqual({ deleted: 0n, gap: null });
        expect(await store.changes.gaps(serverId)).toEqual([]);
      });
    });

    describe('schema history', () => {
      const cols = (...names: string[]) =>
        names.map((name) => ({
          name,
          type: 'int(11)',
          unsigned: false,
          charset: null,
          collation: null,
          nullable: false,
        }));
      const entry = (file: string, position: number, names: string[], seq?: bigint): TableSchemaEntry => ({
        schema: 'app',
        table: 'users',
        validFrom: { file, position, gtidSet: null },
        ...(seq === undefined ? {} : { validFromSeq: seq }),
        columns: cols(...names),
        primaryKey: ['id'],
      });

      it('finds the definition valid at a position or seq', async () => {
        await store.changes.recordTableSchema(serverId, entry('binlog.999999', 100, ['id', 'a']));
        await store.changes.recordTableSchema(serverId, entry('binlog.999999', 5000, ['id', 'a', 'b'], 10n));
        // The suffix grew a digit: still later than binlog.999999, although it sorts before it as text.
        await store.changes.recordTableSchema(serverId, entry('binlog.1000000', 4, ['id', 'b'], 20n));
        const at = (file: string, position: number) =>
          store.changes
            .tableSchemaAt(serverId, 'app', 'users', { coordinates: { file, position, gtidSet: null } })
            .then((e) => e?.columns.map((c) => c.name));
        expect(await at('binlog.999999', 99)).toBeUndefined();
        expect(await at('binlog.999999', 100)).toEqual(['id', 'a']);
        expect(await at('binlog.999999', 4999)).toEqual(['id', 'a']);
        expect(await at('binlog.999999', 5000)).toEqual(['id', 'a', 'b']);
        expect(await at('binlog.1000000', 3)).toEqual(['id', 'a', 'b']);
        expect(await at('binlog.1000000', 4)).toEqual(['id', 'b']);
        const bySeq = (seq: bigint) =>
          store.changes.tableSchemaAt(serverId, 'app', 'users', { seq }).then((e) => e?.columns.length);
        expect(await bySeq(0n)).toBeUndefined();
        // The first entry was recorded before any change: valid from seq 1.
        expect(await bySeq(1n)).toBe(2);
        expect(await bySeq(15n)).toBe(3);
        expect(await bySeq(25n)).toBe(2);
        const latest = await store.changes.tableSchemaAt(serverId, 'app', 'users', {});
        expect(latest).toEqual({ ...entry('binlog.1000000', 4, ['id', 'b'], 20n) });
        expect(await store.changes.tableSchemaAt(serverId, 'app', 'other', {})).toBeUndefined();
      });

      it('records schema entries of a commit in its transaction, at the seq of their position', async () => {
        const t1 = tx(1, [insert('app', 'users', { id: '1', a: '1' })]);
        const t2 = tx(2, [], { ddl: [{ schema: 'app', statement: 'ALTER TABLE users ADD b INT' }] });
        const t3 = tx(3, [insert('app', 'users', { id: '2', a: '1', b: '2' })]);
        await store.changes.commit(serverId, {
          transactions: [t1, t2, t3],
          checkpoint: after(t3),
          tableSchemas: [entry('binlog.000001', t2.endPosition, ['id', 'a', 'b'])],
        });
        const s = await store.changes.tableSchemaAt(serverId, 'app', 'users', { seq: 3n });
        expect(s?.validFromSeq).toBe(3n);
        expect(s?.columns.map((c) => c.name)).toEqual(['id', 'a', 'b']);
        expect(await store.changes.tableSchemaAt(serverId, 'app', 'users', { seq: 2n })).toBeUndefined();
      });

      it('refuses an entry whose primary key is not among its columns', async () => {
        await expect(
          store.changes.recordTableSchema(serverId, {
            ...entry('binlog.000001', 4, ['a']),
            primaryKey: ['id'],
          }),
        ).rejects.toThrow(
          'Cannot record schema history of app.users: primary key column "id" is not one of its columns',
        );
      });
    });
  });
}
