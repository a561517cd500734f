import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import {
  auditEntryHash,
  GENESIS_HASH,
  verifyAuditChain,
  type AuditEvent,
} from '../../src/store/audit-log.js';
import { InvalidValueError, NotFoundError } from '../../src/store/errors.js';
import type { StateStore } from '../../src/store/state-store.js';
import type { ContractBackend, ContractDatabase } from './catalog.contract.js';

/**
 * The audit log and server facts contract, run against every real backend (test/store/sqlite-audit-log.test.ts;
 * the PostgreSQL runner passes its own ContractBackend). Tampering tests edit the backend's tables with plain SQL
 * through `exec`, as someone with database access would.
 */
export function auditLogContract(backend: ContractBackend): void {
  describe(`audit log contract (${backend.name})`, () => {
    let db: ContractDatabase;
    let store: StateStore;
    let clock: ManualClock;
    let tenantId: string;

    beforeEach(async () => {
      db = await backend.createDatabase();
      clock = new ManualClock(new Date('2024-05-01T10:00:00.000Z'));
      store = await db.open({ clock });
      tenantId = (await store.tenants.create('acme')).id;
    });
    afterEach(async () => {
      await store.close();
      await db.drop();
    });

    const event = (i: number, over: Partial<AuditEvent> = {}): AuditEvent => ({
      tenantId,
      actor: { kind: 'cli', id: 'alice' },
      action: 'backup.run',
      target: `backup-${i}`,
      outcome: 'success',
      details: { n: i, server_name: 'db1', big: '18446744073709551615', flag: true, none: null },
      ...over,
    });

    async function appendMany(n: number): Promise<void> {
      for (let i = 1; i <= n; i++) {
        await store.audit.append(event(i));
        clock.advance(1000);
      }
    }

    it('chains entries: seq from 1, each links to the previous hash, hashes recompute', async () => {
      const first = await store.audit.append(event(1));
      clock.advance(1);
      const second = await store.audit.append(
        event(2, { tenantId: null, actor: { kind: 'system', id: 'scheduler' } }),
      );
      expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, at: '2024-05-01T10:00:00.000Z' });
      expect(second).toMatchObject({ seq: 2, prevHash: first.hash, tenantId: null });
      expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(auditEntryHash(first)).toBe(first.hash);
      const listed = await store.audit.list();
      expect(listed).toEqual([first, second]);
      expect(listed[0]?.details).toEqual({
        n: 1,
        server_name: 'db1',
        big: '18446744073709551615',
        flag: true,
        none: null,
      });
      expect(await store.audit.head()).toEqual({ seq: 2, hash: second.hash });
      const result = await verifyAuditChain(store.audit);
      expect(result).toEqual({ ok: true, entries: 2, head: { seq: 2, hash: second.hash }, problems: [] });
    });

    it('filters by tenant, time, action and pages by seq', async () => {
      const other = (await store.tenants.create('globex')).id;
      await store.audit.append(event(1));
      clock.advance(60_000);
      await store.audit.append(event(2, { tenantId: other, action: 'apikey.create' }));
      clock.advance(60_000);
      await store.audit.append(event(3));
      expect((await store.audit.list({ tenantId })).map((e) => e.seq)).toEqual([1, 3]);
      expect((await store.audit.list({ tenantId: other })).map((e) => e.seq)).toEqual([2]);
      expect((await store.audit.list({ action: 'apikey.create' })).map((e) => e.seq)).toEqual([2]);
      expect(
        (
          await store.audit.list({
            from: new Date('2024-05-01T10:01:00.000Z'),
            to: new Date('2024-05-01T10:02:00.000Z'),
          })
        ).map((e) => e.seq),
      ).toEqual([2]);
      expect((await store.audit.list({ afterSeq: 1, limit: 1 })).map((e) => e.seq)).toEqual([2]);
      await expect(store.audit.list({ limit: 0 })).rejects.toThrow(InvalidValueError);
    });

    it('refuses malformed events without writing anything', async () => {
      await expect(store.audit.append(event(1, { action: 'Backup Run' }))).rejects.toThrow(
        /action "Backup Run"/,
      );
      await expect(store.audit.append(event(1, { details: { x: 1.5 } }))).rejects.toThrow(/details/);
      await expect(store.audit.append(event(1, { actor: { kind: 'cli', id: '' } }))).rejects.toThrow(
        InvalidValueError,
      );
      expect(await store.audit.head()).toBeUndefined();
    });

    it('verify finds an edited entry', async () => {
      await appendMany(5);
      await db.exec(`UPDATE audit_log SET target = 'backup-forged' WHERE seq = 3`);
      const result = await verifyAuditChain(store.audit);
      expect(result.ok).toBe(false);
      expect(result.problems.map((p) => [p.seq, p.kind])).toEqual([[3, 'edited']]);
      expect(result.problems[0]?.message).toMatch(/entry 3 \(backup.run at .*\) does not match its hash/);
    });

    it('verify finds an edited detail and an edited time', async () => {
      await appendMany(4);
      await db.exec(`UPDATE audit_log SET details = replace(details, '"n":2', '"n":20') WHERE seq = 2`);
      await db.exec(`UPDATE audit_log SET at = '2024-04-01T00:00:00.000Z' WHERE seq = 4`);
      const result = await verifyAuditChain(store.audit);
      expect(result.problems.map((p) => [p.seq, p.kind])).toEqual([
        [2, 'edited'],
        [4, 'edited'],
      ]);
    });

    it('verify finds a deleted entry', async () => {
      await appendMany(5);
      await db.exec('DELETE FROM audit_log WHERE seq = 2');
      const result = await verifyAuditChain(store.audit);
      expect(result.ok).toBe(false);
      expect(result.problems.map((p) => [p.seq, p.kind])).toEqual([[3, 'missing']]);
      expect(result.problems[0]?.message).toBe('entry 2 is missing before entry 3: deleted');
    });

    it('verify finds reordered entries (rows swapped)', async () => {
      await appendMany(5);
      // Swap the positions of entries 2 and 4: each keeps its own fields and hash, only the order changes.
      await db.exec('UPDATE audit_log SET seq = 100 WHERE seq = 2');
      await db.exec('UPDATE audit_log SET seq = 2 WHERE seq = 4');
      await db.exec('UPDATE audit_log SET seq = 4 WHERE seq = 100');
      const result = await verifyAuditChain(store.audit);
      expect(result.ok).toBe(false);
      expect(result.problems.map((p) => p.seq)).toContain(2);
      expect(result.problems.map((p) => p.seq)).toContain(4);
    });

    it('verify finds an entry replaced by a forged one with a correct hash of its own', async () => {
      await appendMany(3);
      const [, second] = await store.audit.list();
      const forged = { ...second!, target: 'backup-forged', prevHash: GENESIS_HASH };
      const hash = auditEntryHash(forged);
      await db.exec(
        `UPDATE audit_log SET target = 'backup-forged', prev_hash = '${GENESIS_HASH}', hash = '${hash}' WHERE seq = 2`,
      );
      const result = await verifyAuditChain(store.audit);
      expect(result.problems.map((p) => [p.seq, p.kind])).toEqual([
        [2, 'reordered'],
        [3, 'reordered'],
      ]);
    });

    it('an anchor reveals deleted newest entries', async () => {
      await appendMany(4);
      const head = await store.audit.head();
      expect(head?.seq).toBe(4);
      expect((await verifyAuditChain(store.audit, { anchor: head! })).ok).toBe(true);
      await db.exec('DELETE FROM audit_log WHERE seq = 4');
      expect((await verifyAuditChain(store.audit)).ok).toBe(true);
      const anchored = await verifyAuditChain(store.audit, { anchor: head! });
      expect(anchored.problems.map((p) => p.kind)).toEqual(['anchor']);
    });

    it('verify pages through a long chain', async () => {
      await appendMany(25);
      const result = await verifyAuditChain(store.audit, { pageSize: 7 });
      expect(result).toMatchObject({ ok: true, entries: 25, head: { seq: 25 } });
    });

    it('keeps one linear chain when two connections append at once', async () => {
      const second = await db.open({ clock });
      try {
        await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? store : second).audit.append(event(i))),
        );
      } finally {
        await second.close();
      }
      const result = await verifyAuditChain(store.audit);
      expect(result).toMatchObject({ ok: true, entries: 40 });
    });

    it('records and replaces server facts; an unknown server is not found', async () => {
      const server = await store.servers.create({
        tenantId,
        name: 'db1',
        host: 'h',
        port: 3306,
        username: 'u',
      });
      expect(await store.serverFacts.get(server.id)).toBeUndefined();
      await store.serverFacts.record(server.id, {
        binlogRetentionSeconds: 86_400,
        flavor: 'mariadb',
        version: '10.11',
      });
      clock.advance(5000);
      const again = await store.serverFacts.record(server.id, {
        binlogRetentionSeconds: 0,
        flavor: 'mariadb',
        version: '10.11.9',
      });
      expect(await store.serverFacts.get(server.id)).toEqual(again);
      expect(again).toMatchObject({
        binlogRetentionSeconds: 0,
        version: '10.11.9',
        reportedAt: new Date('2024-05-01T10:00:05.000Z'),
      });
      await expect(
        store.serverFacts.record('00000000-0000-4000-8000-000000000000', {
          binlogRetentionSeconds: null,
          flavor: 'mysql',
          version: '8',
        }),
      ).rejects.toThrow(NotFoundError);
    });
  });
}
