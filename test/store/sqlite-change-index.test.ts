import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { connectSqlite } from '../../src/store/sqlite/driver.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { changeIndexContract } from './change-index.contract.js';
import { after, tx, update } from './change-fixtures.js';
import { sqliteBackend } from './backends.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-change-index-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  return join(root, `db${++counter}`, 'dbtrail.db');
}

/** Nulls for every parameter: the plan is made when the statement is prepared, not from the values. */
function params(sql: string): null[] {
  return Array.from({ length: sql.split('?').length - 1 }, () => null);
}

function raw<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

changeIndexContract(sqliteBackend('change-index-contract'));

describe('sqlite change index', () => {
  it('answers each kind of lookup by searching an index, never scanning changes', async () => {
    const path = freshPath();
    const prepared: string[] = [];
    const store = await openSqliteStateStore({
      path,
      connect: (p, o) => {
        const db = connectSqlite(p, o);
        return {
          ...db,
          prepare: (sql) => {
            prepared.push(sql);
            return db.prepare(sql);
          },
        };
      },
    });
    const tenantId = (await store.tenants.create('acme')).id;
    const serverId = (
      await store.servers.create({ tenantId, name: 'db1', host: 'h', port: 3306, username: 'u' })
    ).id;
    const t = tx(1, [update('app', 'users', { id: '1', a: '1' }, { id: '1', a: '2' })], { gtid: '0-1-1' });
    await store.changes.commit(serverId, { transactions: [t], checkpoint: after(t) });
    const q = { tenantId, serverId };
    const cases: [string, Parameters<typeof store.changes.query>[0], RegExp][] = [
      [
        'pk',
        { ...q, schema: 'app', table: 'users', pk: '["1"]' },
        /INDEX changes_by_pk_key \(table_key=\? AND <expr>=\?\)/,
      ],
      ['gtid', { ...q, gtid: '0-1-1' }, /INDEX changes_by_seq \(server_key=\? AND seq>\? AND seq<\?\)/],
      [
        'changed column',
        { ...q, schema: 'app', table: 'users', changedColumn: 'a' },
        /PRIMARY KEY \(table_key=\? AND column_name=\?\).* SEARCH c USING INDEX changes_by_seq \(server_key=\? AND seq=\?\)/,
      ],
      [
        'changed column of any table',
        { ...q, changedColumn: 'a', order: 'desc' },
        /PRIMARY KEY \(table_key=\? AND column_name=\?\).* SEARCH c USING INDEX changes_by_seq \(server_key=\? AND seq=\?\)/,
      ],
      [
        'table and time',
        { ...q, schema: 'app', table: 'users', sinceUs: 1n, untilUs: 2n ** 62n },
        /INDEX changes_by_table_time \(table_key=\? AND commit_time_us>\? AND commit_time_us<\?\)/,
      ],
      ['time', { ...q, sinceUs: 1n }, /INDEX changes_by_time \(server_key=\? AND commit_time_us>\?\)/],
    ];
    for (const [name, filter, expected] of cases) {
      prepared.length = 0;
      expect(await store.changes.query(filter), name).toHaveLength(1);
      const sql = prepared.find((s) => s.includes('JOIN change_tables t'));
      expect(sql, name).toBeDefined();
      const detail = raw(path, (db) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql!}`).all(...params(sql!)) as { detail: string }[])
          .map((r) => r.detail)
          .join(' | '),
      );
      expect(detail, name).toMatch(new RegExp(`SEARCH c{1,2} USING ${expected.source}`));
      expect(detail, name).not.toMatch(/SCAN c\b/);
      // Every other statement of the query (key lookups, the GTID's transactions) searches too.
      for (const other of prepared.filter((x) => x !== sql && /^\s*SELECT/i.test(x))) {
        const plan = raw(path, (db) =>
          (db.prepare(`EXPLAIN QUERY PLAN ${other}`).all(...params(other)) as { detail: string }[])
            .map((r) => r.detail)
            .join(' | '),
        );
        expect(plan, `${name}: ${other}`).not.toMatch(/\bSCAN\b/);
        if (other.includes('gtid = ?'))
          expect(plan).toMatch(/change_transactions_by_gtid \(server_key=\? AND gtid=\?\)/);
      }
      // One table, or one time range: the index yields the sort order, so a page reads only its own rows.
      if (name.includes('time') || name === 'changed column') expect(detail, name).not.toMatch(/TEMP B-TREE/);
    }
    await store.close();
  });
});
