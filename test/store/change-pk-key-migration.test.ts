import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { pkText } from '../../src/store/change-index.js';
import { pkHash } from '../../src/store/sqlite/change-index.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { after, insert, tx, update } from './change-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-pk-key-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const PK_KEY_VERSION = SQLITE_MIGRATIONS.findIndex((m) => m.name === 'change_pk_key_index') + 1;

/**
 * Migration change_pk_key_index replaces the hash-keyed pk index with one keyed by the pk text (short keys) or
 * pk_hash (long keys). Changes written before it must still be found by primary key afterwards, short and long
 * keys alike, and every change keeps its SHA-256 pk_hash.
 */
describe('change pk key index migration', () => {
  it('finds changes written before the migration by short and long keys, and keeps pk_hash', async () => {
    expect(PK_KEY_VERSION).toBeGreaterThan(3);
    const path = join(root, 'upgrade', 'dbtrail.db');
    const old = await openSqliteStateStore({ path, migrateTo: PK_KEY_VERSION - 1 });
    const tenantId = (await old.tenants.create('acme')).id;
    const serverId = (
      await old.servers.create({ tenantId, name: 'db1', host: 'h', port: 3306, username: 'u' })
    ).id;
    const uuid = '3f2a9c4e-1b7d-4e8a-9c61-0d5e2f7a8b90';
    const before = tx(1, [
      insert('app', 'users', { id: '7', name: 'a' }),
      insert('app', 'sessions', { id: uuid, user: '7' }),
      // Two rows of a table without a primary key: keyed by their full image, longer than the text limit.
      insert('app', 'log', { at: '2024-05-01 10:00:00.000000', msg: 'first line of the log' }, []),
      insert('app', 'log', { at: '2024-05-01 10:00:01.000000', msg: 'second line of the log' }, []),
    ]);
    await old.changes.commit(serverId, { transactions: [before], checkpoint: after(before) });
    await old.close();

    const store = await openSqliteStateStore({ path });
    expect(await store.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
    const later = tx(2, [update('app', 'users', { id: '7', name: 'a' }, { id: '7', name: 'b' })]);
    await store.changes.commit(serverId, {
      transactions: [later],
      checkpoint: after(later),
      expectPrevious: after(before).coordinates,
    });
    const q = { tenantId, serverId, schema: 'app' };
    const users = await store.changes.query({ ...q, table: 'users', pk: '["7"]' });
    expect(users.map((c) => [c.type, c.after?.['name']])).toEqual([
      ['insert', 'a'],
      ['update', 'b'],
    ]);
    const sessions = await store.changes.query({ ...q, table: 'sessions', pk: pkText([uuid]) });
    expect(sessions.map((c) => c.after?.['user'])).toEqual(['7']);
    const second = pkText(['2024-05-01 10:00:01.000000', 'second line of the log']);
    const log = await store.changes.query({ ...q, table: 'log', pk: second });
    expect(log.map((c) => c.after?.['msg'])).toEqual(['second line of the log']);
    expect(await store.changes.query({ ...q, table: 'users', pk: '["70"]' })).toEqual([]);
    await store.close();

    const db = new Database(path);
    try {
      const rows = db.prepare('SELECT pk, pk_hash FROM changes ORDER BY seq').safeIntegers(true).all() as {
        pk: string;
        pk_hash: bigint;
      }[];
      expect(rows).toHaveLength(5);
      for (const r of rows) expect(r.pk_hash, r.pk).toBe(pkHash(r.pk));
      const indexes = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'changes' ORDER BY name")
        .all() as { name: string }[];
      expect(indexes.map((i) => i.name)).toContain('changes_by_pk_key');
      expect(indexes.map((i) => i.name)).not.toContain('changes_by_pk');
    } finally {
      db.close();
    }
  });
});
