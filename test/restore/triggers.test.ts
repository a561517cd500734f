import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { captureHome, spawnCli, startSource, waitCaughtUp, type RunningCli } from '../capture/helpers.js';

/**
 * A restore replays row changes that triggers already caused on the source (they are in the binlog as rows of
 * their own): the target's triggers must not fire again during replay, and must exist afterwards.
 */
describe('restore with triggers', () => {
  let source: MariaDbSandbox;
  let target: MariaDbSandbox;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let capture: RunningCli;

  beforeAll(async () => {
    [source, target] = await Promise.all([startSource(), startMariaDb()]);
    ({ env, home } = await captureHome(source));
    env = { ...env, DBTRAIL_TARGET_PASSWORD: target.appPassword, DBTRAIL_LOG_LEVEL: 'warn' };
    await source.query(`CREATE DATABASE shop;
      CREATE TABLE shop.orders (id INT PRIMARY KEY, amount DECIMAL(10,2));
      CREATE TABLE shop.order_log (n INT AUTO_INCREMENT PRIMARY KEY, order_id INT, what VARCHAR(10));
      CREATE TABLE shop.totals (k INT PRIMARY KEY, total DECIMAL(12,2));
      INSERT INTO shop.totals VALUES (1, 0);
      CREATE TRIGGER shop.orders_ai AFTER INSERT ON shop.orders FOR EACH ROW
        INSERT INTO shop.order_log (order_id, what) VALUES (NEW.id, 'insert');
      CREATE TRIGGER shop.orders_ai_total AFTER INSERT ON shop.orders FOR EACH ROW FOLLOWS orders_ai
        UPDATE shop.totals SET total = total + NEW.amount WHERE k = 1;
      INSERT INTO shop.orders VALUES (1, 10.00), (2, 20.00);`);
    capture = spawnCli(['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'], env);
    await waitCaughtUp(home, 'src', source, 60_000);
    const b = await cli(['backup', 'run', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'], env);
    expect(b.code, b.stderr).toBe(0);
    await source.query(`INSERT INTO shop.orders VALUES (3, 30.00), (4, 40.50);
      INSERT INTO shop.orders VALUES (5, 1.25);`);
    await waitCaughtUp(home, 'src', source, 60_000);
  }, 180_000);

  afterAll(async () => {
    capture?.child.kill('SIGTERM');
    await capture?.exited;
  });

  it('replays the rows the triggers wrote once, and recreates the triggers in their order', async () => {
    const r = await cli(
      ['restore', '--server-name', 'src', '--target-dsn', target.dsnWithoutPassword, '--latest', '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const content = async (db: MariaDbSandbox) => ({
      log: await db.query('SELECT n, order_id, what FROM shop.order_log ORDER BY n'),
      totals: await db.query('SELECT k, total FROM shop.totals'),
      triggers: await db.query(
        "SELECT TRIGGER_NAME, ACTION_ORDER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop' ORDER BY ACTION_ORDER",
      ),
    });
    const want = await content(source);
    const got = await content(target);
    expect(want.log).toHaveLength(5);
    expect(got).toEqual(want);
    // And they fire again on the target afterwards.
    await target.query('INSERT INTO shop.orders VALUES (6, 2.00)');
    expect(await target.query('SELECT COUNT(*) AS n FROM shop.order_log WHERE order_id = 6')).toEqual([
      { n: '1' },
    ]);
  });
});
