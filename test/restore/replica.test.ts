import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { captureHome, startSource } from '../capture/helpers.js';

/**
 * Replica bootstrap: load the newest backup into a fresh server and replicate from the source from the backup's
 * exact coordinates. The replica must reach the source's state, including what was written after the backup, and
 * a change made on the source afterwards must appear on it. The replication password never shows in any output.
 */
async function rows(db: MariaDbSandbox): Promise<string> {
  const r = await db.query<{ id: string; v: string; d: string }>(
    'SELECT id, v, d FROM shop.items ORDER BY id',
  );
  return JSON.stringify(r);
}

describe('dbtrail restore --as-replica-of-dsn', () => {
  let source: MariaDbSandbox;
  let replica: MariaDbSandbox;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    [source, replica] = await Promise.all([startSource(), startMariaDb()]);
    ({ env } = await captureHome(source));
    env = {
      ...env,
      DBTRAIL_TARGET_PASSWORD: replica.appPassword,
      DBTRAIL_REPLICATION_PASSWORD: source.appPassword,
      DBTRAIL_LOG_LEVEL: 'info',
    };
    await source.query(`CREATE DATABASE shop;
      CREATE TABLE shop.items (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20), d DECIMAL(40,20));
      INSERT INTO shop.items SELECT seq, CONCAT('v', seq), seq / 3 FROM shop.seq_1_to_500;`);
    const backup = await cli(
      ['backup', 'run', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'],
      env,
    );
    expect(backup.code, backup.stderr).toBe(0);
    // Written after the backup: the replica must fetch these through replication.
    await source.query(
      "UPDATE shop.items SET v = 'after-backup' WHERE id % 7 = 0; DELETE FROM shop.items WHERE id > 490",
    );
  }, 120_000);

  it('loads the backup, replicates from its coordinates and catches up; later changes arrive', async () => {
    const r = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        replica.dsnWithoutPassword,
        '--as-replica-of-dsn',
        `mysql://${source.appUser}@127.0.0.1:${source.port}`,
        '--json',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(source.appPassword);
    const report = JSON.parse(r.stdout) as {
      steps: { step: string }[];
      replica: { io_running: boolean; sql_running: boolean };
    };
    expect(report.steps.map((s) => s.step)).toEqual(['check', 'fetch', 'load', 'replica']);
    expect(report.replica).toMatchObject({ io_running: true, sql_running: true });
    expect(await rows(replica)).toBe(await rows(source));

    await source.query("INSERT INTO shop.items VALUES (1000, 'later', 0.00000000000000000001)");
    const deadline = Date.now() + 20_000;
    while ((await rows(replica)) !== (await rows(source)) && Date.now() < deadline) await sleep(100);
    expect(await rows(replica)).toBe(await rows(source));
    expect(await replica.query('SELECT d FROM shop.items WHERE id = 1000')).toEqual([
      { d: '0.00000000000000000001' },
    ]);
  }, 120_000);

  it('refuses restore targets that make no sense for a replica', async () => {
    const r = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        replica.dsnWithoutPassword,
        '--as-replica-of-dsn',
        `mysql://${source.appUser}@127.0.0.1:${source.port}`,
        '--to-gtid',
        '0-1-5',
      ],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Cannot bootstrap a replica with --to-gtid/);
  });
});
