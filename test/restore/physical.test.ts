import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { captureHome, spawnCli, startSource, waitCaughtUp, type RunningCli } from '../capture/helpers.js';
import { currentContent, Workload, WORKLOAD_DDL } from '../capture/workload.js';

/**
 * A physical (mariadb-backup) backup restored plus replay: prepared, copied back into a new datadir, a server
 * started on it, the captured changes after the backup replayed, and the server stopped. A server started on
 * that datadir afterwards holds exactly the source's tables.
 */
describe('dbtrail restore --datadir (physical backup)', () => {
  let source: MariaDbSandbox;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let capture: RunningCli;

  beforeAll(async () => {
    source = await startSource();
    ({ env, home } = await captureHome(source));
    env = { ...env, DBTRAIL_LOG_LEVEL: 'warn' };
    await source.query(WORKLOAD_DDL.join(';\n'));
    capture = spawnCli(['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'], env);
    await waitCaughtUp(home, 'src', source, 60_000);
    const conn = await source.connection();
    const work = new Workload(5);
    for (let i = 0; i < 40; i++) await work.transaction(conn);
    const backup = await cli(
      [
        'backup',
        'run',
        '--dsn',
        source.dsnWithoutPassword,
        '--server-name',
        'src',
        '--tool',
        'mariadb-backup',
      ],
      env,
    );
    expect(backup.code, backup.stderr).toBe(0);
    for (let i = 0; i < 60; i++) await work.transaction(conn);
    await source.query('ALTER TABLE app.comp ADD INDEX by_v (v)');
    for (let i = 0; i < 20; i++) await work.transaction(conn);
    await conn.end();
    await waitCaughtUp(home, 'src', source, 60_000);
  }, 180_000);

  afterAll(async () => {
    capture?.child.kill('SIGTERM');
    await capture?.exited;
  });

  it('prepares, copies back, replays up to the latest change, and leaves a datadir with the source state', async () => {
    const datadir = join(await mkdtemp(join(tmpdir(), 'dbtrail-phys-')), 'data');
    const r = await cli(['restore', '--server-name', 'src', '--latest', '--datadir', datadir, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { steps: { step: string }[]; transactions_replayed: number };
    expect(report.steps.map((s) => s.step)).toEqual(['check', 'fetch', 'load', 'replay']);
    expect(report.transactions_replayed).toBeGreaterThan(50);

    const restored = await startMariaDb({ datadir });
    const [a, b] = await Promise.all([source.connection(), restored.connection()]);
    try {
      expect(await currentContent(b)).toEqual(await currentContent(a));
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  }, 180_000);

  it('refuses a datadir that is not empty, and a physical backup without --datadir', async () => {
    const used = await mkdtemp(join(tmpdir(), 'dbtrail-phys-used-'));
    await writeFile(join(used, 'keep-me'), 'x');
    const busy = await cli(['restore', '--server-name', 'src', '--latest', '--datadir', used], env);
    expect(busy.code).toBe(8);
    expect(busy.stderr).toMatch(/it is not empty \(1 entries\)/);
    const logical = await cli(
      ['restore', '--server-name', 'src', '--latest', '--target-dsn', source.dsnWithoutPassword],
      { ...env, DBTRAIL_TARGET_PASSWORD: source.appPassword },
    );
    expect(logical.code).toBe(11);
    expect(logical.stderr).toMatch(
      /physical \(mariadb-backup\) backup; restore it into a new datadir with --datadir/,
    );
  });
});
