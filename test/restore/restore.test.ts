import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { captureHome, spawnCli, startSource, waitCaughtUp, type RunningCli } from '../capture/helpers.js';
import { Workload, WORKLOAD_DDL } from '../capture/workload.js';

/**
 * The seed scenario of point-in-time restore, on private MariaDB instances with capture running as a real
 * process: base data, a backup at T0, a workload with an ALTER TABLE in it, the state of every table recorded at
 * T1, then a DROP TABLE by accident. `restore --before-gtid <the DROP>` and `restore --to-time T1` must each give
 * T1's content for every table, byte for byte as SELECT returns it. Then the source purges its binlogs (the index
 * still serves the restore), and a gap recorded after T1 makes a restore across it refuse, naming the gap.
 */
const TABLES = ['app.comp', 'app.nopk', 'app.zoo', 'app.acct'];

/** Every table's rows as the server's text (binary columns as hex), sorted: the oracle of equality. */
async function content(db: MariaDbSandbox, schema: string): Promise<Record<string, string[]>> {
  const conn = await mysql.createConnection({
    socketPath: db.socket,
    user: 'root',
    charset: 'UTF8MB4_GENERAL_CI',
  });
  try {
    await conn.query("SET SESSION time_zone = '+00:00'");
    const out: Record<string, string[]> = {};
    const [tables] = await conn.query(
      'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1',
      [schema],
    );
    for (const { t } of tables as { t: string }[]) {
      const [rows] = await conn.query({
        sql: `SELECT * FROM \`${schema}\`.\`${t}\``,
        // Strings and binary as the exact bytes the server holds (hex); everything else as the server's text.
        typeCast: (field) => {
          if (/BLOB|STRING|BIT|JSON|GEOMETRY/.test(field.type)) {
            const b = field.buffer();
            return b === null ? null : `0x${b.toString('hex')}`;
          }
          return field.string();
        },
      });
      out[t] = (rows as unknown[]).map((r) => JSON.stringify(r)).sort();
    }
    return out;
  } finally {
    await conn.end();
  }
}

describe('dbtrail restore (point in time)', () => {
  let source: MariaDbSandbox;
  let target: MariaDbSandbox;
  let env: NodeJS.ProcessEnv;
  let capture: RunningCli;
  let atT1: Record<string, string[]>;
  let t1: string;
  let dropGtid: string;

  beforeAll(async () => {
    [source, target] = await Promise.all([startSource(), startMariaDb()]);
    ({ env } = await captureHome(source));
    env = { ...env, DBTRAIL_TARGET_PASSWORD: target.appPassword, DBTRAIL_LOG_LEVEL: 'warn' };
    await source.query(WORKLOAD_DDL.join(';\n'));
    await source.query(
      'CREATE TABLE app.acct (id BIGINT UNSIGNED PRIMARY KEY, balance DECIMAL(65,30), note VARCHAR(40) CHARACTER SET latin1)',
    );
    capture = spawnCli(['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'], env);
    await waitCaughtUp(env['DBTRAIL_HOME'] as string, 'src', source, 60_000);

    // Base data, then the backup at T0.
    const conn = await source.connection();
    const work = new Workload(7);
    for (let i = 0; i < 60; i++) await work.transaction(conn);
    await source.query(
      "INSERT INTO app.acct SELECT seq, seq / 7, CONCAT('n', seq, 'é') FROM app.seq_1_to_300",
    );
    const backup = await cli(
      ['backup', 'run', '--dsn', source.dsnWithoutPassword, '--server-name', 'src', '--json'],
      env,
    );
    expect(backup.code, backup.stderr).toBe(0);

    // The workload after T0, an ALTER TABLE in the middle of it.
    for (let i = 0; i < 80; i++) await work.transaction(conn);
    await source.query('ALTER TABLE app.acct ADD COLUMN w INT NOT NULL DEFAULT 7 AFTER balance');
    await source.query(
      'UPDATE app.acct SET balance = balance * 3, note = CONCAT(note, "ß") WHERE id % 5 = 0',
    );
    for (let i = 0; i < 80; i++) await work.transaction(conn);
    await source.query('UPDATE app.acct SET w = w + id % 3 WHERE id < 100');
    await conn.end();

    // T1: the next whole second (binlog commit times have one-second resolution), then the accident a second later.
    await sleep(1100 - (Date.now() % 1000));
    t1 = new Date(Date.now() - 50).toISOString().replace('T', ' ').replace('Z', '');
    atT1 = await content(source, 'app');
    await sleep(1200);
    await source.query('DROP TABLE app.zoo');
    dropGtid = (await source.query<{ g: string }>('SELECT @@gtid_binlog_pos AS g'))[0]!.g;
    await source.query("INSERT INTO app.acct (id, balance, note) VALUES (100000, 1, 'after the drop')");
    await waitCaughtUp(env['DBTRAIL_HOME'] as string, 'src', source, 60_000);
  }, 240_000);

  afterAll(async () => {
    capture?.child.kill('SIGTERM');
    await capture?.exited;
  });

  it('dry run prints the plan: the backup, the transactions to replay and where it stops', async () => {
    const r = await cli(
      ['restore', '--server-name', 'src', '--before-gtid', dropGtid, '--dry-run', '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as {
      steps: { step: string; transactions?: number; ddl_events?: number }[];
      stop_at: { gtid: string };
      pkless_tables: { table: string }[];
    };
    const replay = plan.steps.find((s) => s.step === 'replay')!;
    expect(replay.transactions).toBeGreaterThan(100);
    expect(replay.ddl_events).toBe(1);
    expect(plan.stop_at.gtid).toBe(dropGtid);
    expect(plan.pkless_tables.map((t) => t.table)).toContain('app.nopk');
  });

  it('--before-gtid <the DROP> gives every table exactly as it was at T1', async () => {
    const r = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        target.dsnWithoutPassword,
        '--before-gtid',
        dropGtid,
        '--json',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      steps: { step: string; ms: number }[];
      transactions_replayed: number;
    };
    expect(report.steps.map((s) => s.step)).toEqual(['check', 'fetch', 'load', 'replay']);
    expect(report.transactions_replayed).toBeGreaterThan(100);
    const restored = await content(target, 'app');
    expect(Object.keys(restored).sort()).toEqual(TABLES.map((t) => t.slice(4)).sort());
    expect(restored).toEqual(atT1);
  }, 120_000);

  it('refuses a target that already holds the schema, without --force', async () => {
    const r = await cli(
      ['restore', '--server-name', 'src', '--target-dsn', target.dsnWithoutPassword, '--latest'],
      env,
    );
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/schema app holds \d+ tables/);
  });

  it('--to-time T1 gives the same, into a renamed schema', async () => {
    const r = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        target.dsnWithoutPassword,
        '--to-time',
        t1,
        '--tz',
        'UTC',
        '--rename-schema',
        'app:app_t1',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await content(target, 'app_t1')).toEqual(atT1);
  }, 120_000);

  it('--tables restores only the listed table, with its changes and DDL, into a renamed schema', async () => {
    const r = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        target.dsnWithoutPassword,
        '--before-gtid',
        dropGtid,
        '--tables',
        'app.acct',
        '--rename-schema',
        'app:app_acct',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await content(target, 'app_acct')).toEqual({ acct: atT1['acct'] });
  }, 120_000);

  it('a failed replay names the step, the last transaction replayed and how to resume; resuming finishes it', async () => {
    const dry = await cli(
      ['restore', '--server-name', 'src', '--before-gtid', dropGtid, '--dry-run', '--json'],
      env,
    );
    const plan = JSON.parse(dry.stdout) as {
      backup: { id: string; coordinates: { file: string; position: number } };
      stop_at: { file: string; position: number };
    };
    // The target holds T1's state: replaying again from the backup's coordinates hits rows that exist already.
    const from = `${plan.backup.coordinates.file}:${plan.backup.coordinates.position}`;
    const bad = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        target.dsnWithoutPassword,
        '--latest',
        '--backup',
        plan.backup.id,
        '--resume-from',
        from,
      ],
      env,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Cannot finish the restore at step replay: .*; last replayed transaction: /);
    expect(bad.stderr).toMatch(
      /to resume, run the same command with --backup \S+ --resume-from binlog\.\d+:\d+/,
    );
    // Resuming at the DROP (the first transaction after T1) brings the target to the source's current state.
    const ok = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        target.dsnWithoutPassword,
        '--latest',
        '--backup',
        plan.backup.id,
        '--resume-from',
        `${plan.stop_at.file}:${plan.stop_at.position}`,
      ],
      env,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(await content(target, 'app')).toEqual(await content(source, 'app'));
  }, 120_000);

  it('restores from the index after the source purged its binlogs', async () => {
    await source.flushBinaryLogs();
    await waitCaughtUp(env['DBTRAIL_HOME'] as string, 'src', source, 60_000);
    const logs = await source.binaryLogs();
    await source.purgeBinaryLogsTo(logs[logs.length - 1]!.name);
    expect((await source.binaryLogs()).length).toBe(1);
    const r = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        target.dsnWithoutPassword,
        '--latest',
        '--rename-schema',
        'app:app_now',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await content(target, 'app_now')).toEqual(await content(source, 'app'));
  }, 120_000);

  it('replays from the raw binlog archive when the change index no longer covers the range', async () => {
    // Capture stops (closing and uploading its last archive segment), then the index history is pruned away.
    capture.child.kill('SIGTERM');
    await capture.exited;
    const pruned = await cli(['prune', '--server-name', 'src', '--older-than', '1s'], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    const fresh = await startMariaDb();
    const plan = await cli(
      ['restore', '--server-name', 'src', '--before-gtid', dropGtid, '--dry-run', '--json'],
      env,
    );
    expect(plan.code, plan.stderr).toBe(0);
    const archive = (JSON.parse(plan.stdout) as { archive: { segments: number; because: string } | null })
      .archive;
    expect(archive?.segments).toBeGreaterThan(0);
    expect(archive?.because).toMatch(/pruned/);
    const r = await cli(
      [
        'restore',
        '--server-name',
        'src',
        '--target-dsn',
        fresh.dsnWithoutPassword,
        '--before-gtid',
        dropGtid,
      ],
      { ...env, DBTRAIL_TARGET_PASSWORD: fresh.appPassword },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await content(fresh, 'app')).toEqual(atT1);
  }, 120_000);

  it('refuses a restore across a gap, naming it', async () => {
    // Capture stops; changes are made and their binlogs purged; capture resumes accepting the gap.
    capture.child.kill('SIGTERM');
    await capture.exited;
    await source.query("INSERT INTO app.acct (id, balance, note) VALUES (100001, 2, 'lost')");
    await source.flushBinaryLogs();
    const logs = await source.binaryLogs();
    await source.purgeBinaryLogsTo(logs[logs.length - 1]!.name);
    await source.query("INSERT INTO app.acct (id, balance, note) VALUES (100002, 3, 'after the gap')");
    const resumed = await cli(
      ['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src', '--stop-at-end', '--accept-gap'],
      env,
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    const r = await cli(['restore', '--server-name', 'src', '--latest', '--dry-run'], env);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(
      /changes are missing between them: gap \S+ from binlog\.\d+:\d+ to binlog\.\d+:\d+/,
    );
    expect(r.stderr).toMatch(/binlog purged|pruned/);
    // Before the gap, the same backup still restores.
    const before = await cli(
      ['restore', '--server-name', 'src', '--before-gtid', dropGtid, '--dry-run'],
      env,
    );
    expect(before.code, before.stderr).toBe(0);
  }, 120_000);
});
