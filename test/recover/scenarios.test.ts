import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSource } from '../capture/helpers.js';
import { scratchDir, type MariaDbSandbox } from '../harness/mariadb.js';
import { dsnArgs, nextSecond, recover, snapshot, startCaptured, type Captured } from './helpers.js';

const run = promisify(execFile);

const SETUP = [
  'CREATE DATABASE shop',
  `CREATE TABLE shop.customers (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) CHARACTER SET latin1 COLLATE latin1_swedish_ci,
     balance DECIMAL(20,4) NOT NULL, note TEXT)`,
  `CREATE TABLE shop.orders (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(12,2),
     FOREIGN KEY (customer_id) REFERENCES shop.customers (id))`,
  'CREATE TABLE shop.lines (order_id BIGINT UNSIGNED NOT NULL, sku VARCHAR(10) NOT NULL, qty INT, PRIMARY KEY (sku, order_id))',
  'CREATE TABLE shop.log (msg VARCHAR(20), n INT)',
];

const TABLES = [
  ['shop', 'customers'],
  ['shop', 'orders'],
  ['shop', 'lines'],
  ['shop', 'log'],
] as const;

/** Runs a script through the mariadb client, as a DBA would (`mariadb < undo.sql`). */
function pipeInto(db: MariaDbSandbox, script: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('mariadb', ['-S', db.socket, '-uroot'], (err, _stdout, stderr) => {
      if (err === null) resolve({ code: 0, stderr });
      else if (typeof err.code === 'number') resolve({ code: err.code, stderr });
      else reject(new Error(`mariadb client failed: ${err.message}`));
    });
    child.stdin!.end(script);
  });
}

/** The GTID of the last transaction the server committed. */
async function lastGtid(db: MariaDbSandbox): Promise<string> {
  const [row] = await db.query<{ g: string }>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
  return row!.g.split(',').pop()!;
}

async function row(db: MariaDbSandbox, id: number): Promise<Record<string, unknown> | undefined> {
  const [r] = await db.query<Record<string, unknown>>(
    `SELECT id, name, balance, note FROM shop.customers WHERE id = ${id}`,
  );
  return r;
}

describe('recover: transactions, conflicts, foreign keys, forward replay', () => {
  let c: Captured;

  beforeAll(async () => {
    c = await startCaptured('shop', SETUP);
    const values = Array.from({ length: 20 }, (_, i) => `(${i + 1}, 'cust ${i + 1}', ${i}.5000, NULL)`);
    await c.db.query(`INSERT INTO shop.customers VALUES ${values.join(', ')}`);
    await c.db.query(
      "INSERT INTO shop.orders VALUES (18446744073709551615, 1, 10.00), (2, 2, 20.00); INSERT INTO shop.log VALUES ('a', 1), ('a', 1), ('b', 2)",
    );
    await c.caughtUp();
  }, 120_000);

  afterAll(async () => {
    await c?.stop();
  });

  it('undoes one transaction and leaves later unrelated changes alone', async () => {
    await c.db.query(
      "BEGIN; UPDATE shop.customers SET balance = balance * 10, name = 'WRONG' WHERE id IN (3, 4); DELETE FROM shop.log WHERE msg = 'a' LIMIT 1; INSERT INTO shop.lines VALUES (2, 'x|y', 5); COMMIT",
    );
    const bad = await lastGtid(c.db);
    const position = await c.db.coordinates();
    await c.db.query(
      "UPDATE shop.customers SET note = 'later' WHERE id = 5; INSERT INTO shop.log VALUES ('c', 3)",
    );
    await c.caughtUp();
    const later = await snapshot(c.db, TABLES);

    // Exact lower bounds: after the transaction, or from the position right after it.
    for (const bound of [
      ['--after-gtid', bad],
      ['--after-position', `${position.file}:${position.position}`],
    ]) {
      const dry = await recover(c, [...bound, '--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = JSON.parse(dry.stdout) as { changes: number; tables: { table: string }[] };
      expect([plan.changes, plan.tables.map((t) => t.table)]).toEqual([2, ['customers', 'log']]);
    }
    const nd = await recover(c, ['--gtid', bad, '--format', 'ndjson']);
    expect(nd.code, nd.stderr).toBe(0);
    const lines = nd.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; verb?: string; gtid?: string; expect_rows?: number[] });
    expect(lines[0]).toMatchObject({ kind: 'plan', changes: 4, gtids: [bad] });
    // Newest first: the insert is undone first, then the delete, then the two updates.
    expect(lines.slice(1).map((l) => [l.kind, l.verb, l.gtid, l.expect_rows])).toEqual([
      ['statement', 'DELETE', bad, [1]],
      ['statement', 'INSERT', bad, [1]],
      ['statement', 'UPDATE', bad, [1]],
      ['statement', 'UPDATE', bad, [1]],
    ]);

    const r = await recover(c, ['--gtid', bad, '--apply', ...dsnArgs(c.db)]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`GTIDs: ${bad}`);
    expect(r.stdout).toMatch(/shop\.customers: 0 inserts, 2 updates, 0 deletes/);
    expect(await row(c.db, 3)).toEqual({ id: 3, name: 'cust 3', balance: '2.5000', note: null });
    expect(await row(c.db, 4)).toEqual({ id: 4, name: 'cust 4', balance: '3.5000', note: null });
    expect(await row(c.db, 5)).toEqual({ id: 5, name: 'cust 5', balance: '4.5000', note: 'later' });
    const now = await snapshot(c.db, TABLES);
    expect(now['shop.lines']).toEqual([]);
    // Only one of the two identical rows came back: the table has no key, the undo matched one row.
    expect(now['shop.log']!.length).toBe(later['shop.log']!.length + 1);
  });

  it('refuses a conflict under abort, naming the later change; skip leaves the row; force overwrites it', async () => {
    await c.db.query('UPDATE shop.customers SET balance = 100 WHERE id = 6');
    const undo = await lastGtid(c.db);
    await c.db.query("UPDATE shop.customers SET balance = 200, name = 'Later' WHERE id = 6");
    const laterGtid = await lastGtid(c.db);
    await c.caughtUp();

    const abort = await recover(c, ['--gtid', undo, '--apply', ...dsnArgs(c.db)]);
    expect(abort.code).toBe(8);
    expect(abort.stderr).toContain('changed later by change');
    expect(abort.stderr).toContain(`GTID ${laterGtid}`);
    expect(await row(c.db, 6)).toMatchObject({ balance: '200.0000', name: 'Later' });

    const dry = await recover(c, ['--gtid', undo, '--dry-run', '--json']);
    expect(dry.code).toBe(8);
    const plan = JSON.parse(dry.stdout) as { conflicts: { later: { gtid: string } }[] };
    expect(plan.conflicts.map((k) => k.later.gtid)).toEqual([laterGtid]);

    const skip = await recover(c, ['--gtid', undo, '--on-conflict', 'skip', '--apply', ...dsnArgs(c.db)]);
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stdout).toMatch(/left out/);
    expect(await row(c.db, 6)).toMatchObject({ balance: '200.0000', name: 'Later' });

    const force = await recover(c, ['--gtid', undo, '--on-conflict', 'force', '--apply', ...dsnArgs(c.db)]);
    expect(force.code, force.stderr).toBe(0);
    expect(await row(c.db, 6)).toMatchObject({ balance: '5.5000', name: 'cust 6' });
  });

  it('with --columns changed, reverts only the changed columns and ignores later changes to others', async () => {
    await c.db.query('UPDATE shop.customers SET balance = 777 WHERE id = 7');
    const undo = await lastGtid(c.db);
    await c.db.query("UPDATE shop.customers SET note = 'kept' WHERE id = 7");
    await c.caughtUp();
    const all = await recover(c, ['--gtid', undo, '--dry-run']);
    expect(all.code).toBe(8);
    const changed = await recover(c, ['--gtid', undo, '--columns', 'changed', '--apply', ...dsnArgs(c.db)]);
    expect(changed.code, changed.stderr).toBe(0);
    expect(await row(c.db, 7)).toEqual({ id: 7, name: 'cust 7', balance: '6.5000', note: 'kept' });
  });

  it('detects a conflict the index cannot see: the script stops before COMMIT, --apply rolls back', async () => {
    await c.db.query(
      'BEGIN; UPDATE shop.customers SET balance = 1 WHERE id = 8; UPDATE shop.customers SET balance = 2 WHERE id = 9; COMMIT',
    );
    const undo = await lastGtid(c.db);
    await c.caughtUp();
    // A change outside the binlog: the index never hears of it.
    const conn = await c.db.connection();
    await conn.query("SET SESSION sql_log_bin = 0; UPDATE shop.customers SET name = 'Ghost' WHERE id = 8");
    await conn.end();

    const dir = await scratchDir('dbtrail-recover-');
    const file = join(dir, 'undo.sql');
    const script = await recover(c, ['--gtid', undo, '--output', file]);
    expect(script.code, script.stderr).toBe(0);
    const sql = await readFile(file, 'utf8');
    expect(sql).toMatch(/^-- dbtrail recover: undo of 2 row changes in 1 transaction/m);
    expect(sql).toContain("SET SESSION time_zone = '+00:00';");
    expect(sql).toContain('START TRANSACTION;');
    const client = await pipeInto(c.db, sql);
    expect(client.code).not.toBe(0);
    expect(client.stderr).toContain('1242');
    expect(client.stderr).toContain('dbtrail_check_seq_');
    expect(await row(c.db, 9)).toMatchObject({ balance: '2.0000' });

    const apply = await recover(c, ['--gtid', undo, '--apply', ...dsnArgs(c.db)]);
    expect(apply.code).toBe(8);
    expect(apply.stderr).toContain('a change the index does not hold');
    expect(apply.stderr).toContain('everything was rolled back');
    expect(await row(c.db, 8)).toMatchObject({ balance: '1.0000', name: 'Ghost' });
    expect(await row(c.db, 9)).toMatchObject({ balance: '2.0000' });
  });

  it('re-inserts parents before children deleted in one transaction', async () => {
    await c.db.query(
      "INSERT INTO shop.customers VALUES (30, _utf8mb4'Zoë', 1, NULL); INSERT INTO shop.orders VALUES (30, 30, 1.50)",
    );
    await c.caughtUp();
    const before = await snapshot(c.db, TABLES);
    // Parent first in the binlog (checks off for the session): a plain reverse order would insert the child first.
    await c.db.query(
      'SET SESSION foreign_key_checks = 0; BEGIN; DELETE FROM shop.customers WHERE id = 30; DELETE FROM shop.orders WHERE id = 30; COMMIT; SET SESSION foreign_key_checks = 1',
    );
    const undo = await lastGtid(c.db);
    await c.caughtUp();
    const out = await recover(c, ['--gtid', undo, ...dsnArgs(c.db)]);
    expect(out.code, out.stderr).toBe(0);
    const inserts = out.stdout.split('\n').filter((l) => l.startsWith('INSERT'));
    expect(inserts.map((l) => /INTO `shop`\.`(\w+)`/.exec(l)?.[1])).toEqual(['customers', 'orders']);
    const r = await recover(c, ['--gtid', undo, '--apply', ...dsnArgs(c.db)]);
    expect(r.code, r.stderr).toBe(0);
    expect(await snapshot(c.db, TABLES)).toEqual(before);
  });

  it('replays forward on a copy taken at T and reproduces the current state', async () => {
    const copy = await startSource();
    await c.caughtUp();
    const since = await nextSecond();
    const { stdout: dump } = await run(
      'mariadb-dump',
      ['-S', c.db.socket, '-uroot', '--databases', 'shop', '--hex-blob'],
      {
        maxBuffer: 64 << 20,
      },
    );
    const loaded = await pipeInto(copy, dump);
    expect(loaded.code, loaded.stderr).toBe(0);
    await c.db.query(
      "BEGIN; UPDATE shop.customers SET balance = balance + 0.0001, name = CONCAT(name, '!') WHERE id <= 10; DELETE FROM shop.orders WHERE id = 2; COMMIT",
    );
    await c.db.query(
      "INSERT INTO shop.customers VALUES (40, 'new', 40, 'n\\\\ote''s'); UPDATE shop.customers SET id = 41 WHERE id = 40; INSERT INTO shop.log VALUES ('a', 1); DELETE FROM shop.log WHERE msg = 'a' LIMIT 1",
    );
    await c.caughtUp();
    const applied = await recover(
      c,
      ['--direction', 'forward', '--since', since, '--apply', '--dsn', copy.dsnWithoutPassword],
      { DBTRAIL_SOURCE_PASSWORD: copy.appPassword },
    );
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(await snapshot(copy, TABLES)).toEqual(await snapshot(c.db, TABLES));
  }, 120_000);

  it('answers bad input clearly and applies nothing', async () => {
    const unknown = await recover({ ...c, name: 'nope' }, ['--since', '2024-01-01T00:00:00Z']);
    expect(unknown.code).toBe(7);
    expect(unknown.stderr).toMatch(/Cannot find server "nope".*expected one of shop/);
    const table = await recover(c, ['--schema', 'shop', '--table', 'nope', '--dry-run']);
    expect(table.code).toBe(7);
    expect(table.stderr).toContain('Cannot recover table shop.nope');
    const time = await recover(c, ['--since', 'yesterday']);
    expect(time.code).toBe(2);
    expect(time.stderr).toContain('Cannot parse --since "yesterday"');
    const pos = await recover(c, ['--after-position', 'mysql-bin']);
    expect(pos.code).toBe(3);
    expect(pos.stderr).toContain('expected FILE:POSITION');
    const gtid = await recover(c, ['--after-gtid', '0-1-999999', '--dry-run']);
    expect(gtid.code).toBe(3);
    expect(gtid.stderr).toContain('the index holds no transaction with that GTID');
    const none = await recover(c, ['--since', '2999-01-01T00:00:00Z', '--dry-run']);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^Nothing to recover: no changes of server "shop" match/);
    const apply = await recover(c, ['--since', '2024-01-01T00:00:00Z', '--apply']);
    expect(apply.code).toBe(2);
    expect(apply.stderr).toContain('give --dsn');
  });
});

describe('recover: partial row images', () => {
  it('refuses to undo a change whose before image lacks columns (binlog_row_image=MINIMAL)', async () => {
    const c = await startCaptured('minimal', [
      'CREATE DATABASE m',
      'CREATE TABLE m.t (id INT PRIMARY KEY, a INT, b INT)',
    ]);
    try {
      await c.db.query('SET GLOBAL binlog_row_image = MINIMAL');
      const conn = await c.db.connection();
      await conn.query('INSERT INTO m.t VALUES (1, 1, 1); UPDATE m.t SET a = 2 WHERE id = 1');
      await conn.end();
      await c.caughtUp();
      const r = await recover(c, ['--schema', 'm', '--type', 'update']);
      expect(r.code).toBe(11);
      expect(r.stderr).toMatch(
        /Cannot generate SQL for change \d+ \(update of m\.t, key \["1"\]\): its (after|before) image lacks columns? /,
      );
      expect(r.stdout).toBe('');
    } finally {
      await c.stop();
    }
  }, 120_000);
});
