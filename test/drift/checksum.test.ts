import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTable, type ComparedTable } from '../../src/drift/checksum.js';
import { openSnapshot } from '../../src/drift/snapshot.js';
import { connectSource, type SourceConnection } from '../../src/source/connect.js';
import { parseDsn, resolvePassword } from '../../src/source/dsn.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';

/**
 * Chunked checksums against a real MariaDB: the "actual" and "expected" sides are two schemas of one private
 * server (the expected side of a real drift run is a scratch server; the SQL is the same).
 */
let db: MariaDbSandbox;
let actual: SourceConnection;
let expected: SourceConnection;

const items: ComparedTable = {
  schema: 'live',
  expectedSchema: 'want',
  table: 'items',
  columns: ['tenant', 'id', 'price', 'name', 'blob', 'at', 'note'],
  primaryKey: ['tenant', 'id'],
};
const bag: ComparedTable = {
  schema: 'live',
  expectedSchema: 'want',
  table: 'bag',
  columns: ['a', 'b'],
  primaryKey: [],
};

async function connect(): Promise<SourceConnection> {
  return connectSource(resolvePassword(parseDsn(db.dsn), {}));
}

beforeAll(async () => {
  db = await startMariaDb();
  for (const s of ['live', 'want']) {
    await db.query(`CREATE DATABASE ${s};
      CREATE TABLE ${s}.items (tenant BIGINT UNSIGNED, id INT, price DECIMAL(30,10), name VARCHAR(40),
        \`blob\` VARBINARY(16), at DATETIME(6), note TEXT, PRIMARY KEY (tenant, id));
      INSERT INTO ${s}.items
        SELECT 18446744073709551615 - (seq % 3), seq, seq * 1.0000000001, CONCAT('item ', seq), UNHEX(HEX(seq)),
               '2024-05-01 10:00:00.000001' + INTERVAL seq SECOND, IF(seq % 7 = 0, NULL, IF(seq % 5 = 0, '', 'n'))
          FROM ${s}.seq_1_to_5000;
      CREATE TABLE ${s}.bag (a INT, b VARCHAR(10));
      INSERT INTO ${s}.bag VALUES (1, 'x'), (1, 'x'), (2, NULL), (3, '');`);
  }
  actual = await connect();
  expected = await connect();
});

afterAll(async () => {
  await actual?.close();
  await expected?.close();
});

describe('compareTable', () => {
  it('finds equal tables equal, over many chunks', async () => {
    const r = await compareTable(actual, expected, items, { initialChunkRows: 300, targetChunkMs: 5 });
    expect(r.equal).toBe(true);
    expect(r.actualRows).toBe(5000n);
    expect(r.expectedRows).toBe(5000n);
    expect(r.chunks).toBeGreaterThan(3);
    expect(r.driftedRows).toEqual([]);
    expect((await compareTable(actual, expected, bag)).equal).toBe(true);
  });

  it('names each drifted row with expected and actual values: changed, missing, unexpected, NULL vs empty', async () => {
    await db.query(`UPDATE live.items SET price = price + 0.0000000001 WHERE id = 4321;
      DELETE FROM live.items WHERE id = 17;
      INSERT INTO live.items VALUES (5, 99999, 1, 'new', NULL, NULL, NULL);
      UPDATE live.items SET note = '' WHERE id = 7;`);
    try {
      const r = await compareTable(actual, expected, items, { initialChunkRows: 500 });
      expect(r.equal).toBe(false);
      expect(r.driftedRowCount).toBe(4);
      const byId = new Map(r.driftedRows.map((d) => [d.key.id, d]));
      const changed = byId.get('4321')!;
      expect(changed.kind).toBe('changed');
      expect(changed.key.tenant).toBe('18446744073709551614');
      expect(changed.expected?.price).toBe('4321.0000004321');
      expect(changed.actual?.price).toBe('4321.0000004322');
      expect(byId.get('17')).toMatchObject({ kind: 'missing', actual: null });
      expect(byId.get('17')?.expected?.at).toBe('2024-05-01 10:00:17.000001');
      expect(byId.get('99999')).toMatchObject({ kind: 'unexpected', expected: null });
      expect(byId.get('7')).toMatchObject({
        kind: 'changed',
        expected: { note: null },
        actual: { note: '' },
      });
    } finally {
      await db.query(`DELETE FROM live.items; INSERT INTO live.items SELECT * FROM want.items;`);
    }
  });

  it('counts copies of identical rows in a table without a primary key', async () => {
    await db.query(`DELETE FROM live.bag WHERE a = 1 LIMIT 1`);
    try {
      const r = await compareTable(actual, expected, bag);
      expect(r.equal).toBe(false);
      expect(r.driftedRows).toEqual([
        {
          kind: 'changed',
          key: { a: '1', b: 'x' },
          expected: { a: '1', b: 'x' },
          actual: { a: '1', b: 'x' },
        },
      ]);
    } finally {
      await db.query(`INSERT INTO live.bag VALUES (1, 'x')`);
    }
  });

  it('waits while the server is busier than allowed', async () => {
    const busy = await db.connection();
    const sleeping = busy.query('SELECT SLEEP(1.2)');
    try {
      // Start comparing only once the server runs the sleeping query: sent is not yet running.
      for (let i = 0; i < 100; i++) {
        const rows = await db.query<{ n: string | number }>(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(1.2)%'",
        );
        if (Number(rows[0]?.n ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      // Threads_running counts the comparison's own query too: with another thread sleeping it is 2.
      const r = await compareTable(actual, expected, bag, { maxThreadsRunning: 1, pauseMs: 100 });
      expect(r.equal).toBe(true);
      expect(r.pauses).toBeGreaterThan(0);
    } finally {
      await sleeping;
      await busy.end();
    }
  });

  it('keeps chunks near the target time on a table of a million rows', async () => {
    await db.query(`CREATE TABLE live.big (id INT PRIMARY KEY, v VARCHAR(40), d DECIMAL(12,2));
      INSERT INTO live.big SELECT seq, MD5(seq), seq / 100 FROM live.seq_1_to_1000000;
      CREATE TABLE want.big LIKE live.big; INSERT INTO want.big SELECT * FROM live.big;`);
    const big: ComparedTable = {
      schema: 'live',
      expectedSchema: 'want',
      table: 'big',
      columns: ['id', 'v', 'd'],
      primaryKey: ['id'],
    };
    const r = await compareTable(actual, expected, big, { targetChunkMs: 100, initialChunkRows: 1000 });
    expect(r.equal).toBe(true);
    expect(r.actualRows).toBe(1_000_000n);
    // The chunk size adapts: many chunks, and the slow tail stays within a few targets even on a loaded machine.
    expect(r.chunks).toBeGreaterThan(10);
    expect(r.chunkMs.p95).toBeLessThan(1000);
    expect(r.chunkMs.max).toBeLessThan(3000);
  });
});

describe('openSnapshot (MariaDB)', () => {
  it('ties the snapshot to the coordinates and GTID of the last commit it sees', async () => {
    const conn = await connect();
    try {
      await db.query(`INSERT INTO live.bag VALUES (9, 'snap')`);
      const [master] = await db.query<{ File: string; Position: string }>('SHOW MASTER STATUS');
      const [gtid] = await db.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g');
      const snap = await openSnapshot(conn, 'mariadb');
      // A commit after the snapshot is neither in the coordinates nor visible through the snapshot.
      await db.query(`INSERT INTO live.bag VALUES (10, 'after')`);
      expect(snap.method).toBe('binlog_snapshot_status');
      expect(snap.coordinates).toEqual({
        file: master!.File,
        position: Number(master!.Position),
        gtidSet: gtid!.g,
      });
      const seen = await conn.query<{ n: string | number }>(
        'SELECT COUNT(*) AS n FROM live.bag WHERE a >= 9',
      );
      expect(Number(seen[0]!.n)).toBe(1);
      await snap.release();
    } finally {
      await db.query(`DELETE FROM live.bag WHERE a >= 9`);
      await conn.close();
    }
  });
});
