import { tmpdir } from 'node:os';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrillFailedError } from '../../src/restore/errors.js';
import { runDrill } from '../../src/restore/drill.js';
import { parseDsn, resolvePassword } from '../../src/source/dsn.js';
import type { DrillRecord } from '../../src/store/drills.js';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import {
  captureHome,
  openIndex,
  serverIds,
  spawnCli,
  startSource,
  waitCaughtUp,
  type RunningCli,
} from '../capture/helpers.js';
import { Workload, WORKLOAD_DDL } from '../capture/workload.js';

/**
 * Restore drills: the latest backup plus captured changes restored into a scratch server and compared table by
 * table with the source at the same coordinates, while capture runs and the source keeps changing. A drill passes
 * and is recorded with its RTO; a drill whose scratch table is tampered with between restore and comparison fails,
 * names the table, and is recorded as failed.
 */
describe('dbtrail drill', () => {
  let source: MariaDbSandbox;
  let scratch: MariaDbSandbox;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let capture: RunningCli;

  beforeAll(async () => {
    [source, scratch] = await Promise.all([startSource(), startMariaDb()]);
    ({ env, home } = await captureHome(source));
    env = { ...env, DBTRAIL_SCRATCH_PASSWORD: scratch.appPassword, DBTRAIL_LOG_LEVEL: 'warn' };
    await source.query(WORKLOAD_DDL.join(';\n'));
    capture = spawnCli(['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'], env);
    await waitCaughtUp(home, 'src', source, 60_000);
    const conn = await source.connection();
    const work = new Workload(11);
    for (let i = 0; i < 40; i++) await work.transaction(conn);
    const backup = await cli(
      ['backup', 'run', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'],
      env,
    );
    expect(backup.code, backup.stderr).toBe(0);
    for (let i = 0; i < 60; i++) await work.transaction(conn);
    await conn.end();
  }, 180_000);

  afterAll(async () => {
    capture?.child.kill('SIGTERM');
    await capture?.exited;
  });

  it('passes: every table matches the source at the same coordinates, and the catalog records it with its RTO', async () => {
    const r = await cli(
      [
        'drill',
        '--server-name',
        'src',
        '--dsn',
        source.dsnWithoutPassword,
        '--scratch-dsn',
        scratch.dsnWithoutPassword,
        '--json',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as {
      id: string;
      status: string;
      rto_ms: number;
      tables: { table: string; match: boolean; source_rows: string }[];
    };
    expect(d.status).toBe('passed');
    expect(d.rto_ms).toBeGreaterThan(0);
    expect(d.tables.map((t) => t.table).sort()).toEqual(['app.comp', 'app.nopk', 'app.zoo']);
    expect(d.tables.every((t) => t.match)).toBe(true);
    expect(d.tables.some((t) => Number(t.source_rows) > 0)).toBe(true);
    const store = await openIndex(home);
    try {
      const { tenantId, serverId } = await serverIds(store, 'src');
      const [last] = await store.drills.list(tenantId, serverId, 1);
      expect(last).toMatchObject({ id: d.id, status: 'passed', rtoMs: d.rto_ms });
    } finally {
      await store.close();
    }
  }, 120_000);

  it('fails when one scratch table differs, naming it, and records the failure', async () => {
    const store = await openIndex(home);
    try {
      const { tenantId, serverId } = await serverIds(store, 'src');
      let failure: unknown;
      try {
        await runDrill(
          { catalog: store.catalog, changes: store.changes, drills: store.drills },
          {
            tenantId,
            serverId,
            serverName: 'src',
            source: resolvePassword(parseDsn(source.dsnWithoutPassword), { password: source.appPassword }),
            scratch: resolvePassword(parseDsn(scratch.dsnWithoutPassword), { password: scratch.appPassword }),
            s3: { region: 'us-east-1', forcePathStyle: false },
            workDir: tmpdir(),
            afterRestore: async () => {
              const conn = await mysql.createConnection({ socketPath: scratch.socket, user: 'root' });
              await conn.query('UPDATE app.comp SET v = v + 1 ORDER BY a, b LIMIT 1');
              await conn.end();
            },
          },
        );
      } catch (err) {
        failure = err;
      }
      expect(failure).toBeInstanceOf(DrillFailedError);
      expect((failure as Error).message).toMatch(
        /1 of 3 tables differ from the source at binlog\.\d+:\d+: app\.comp/,
      );
      const drill = (failure as DrillFailedError).fields['drill'] as DrillRecord;
      expect(drill.tables.filter((t) => !t.match).map((t) => t.table)).toEqual(['app.comp']);
      const [last] = await store.drills.list(tenantId, serverId, 1);
      expect(last).toMatchObject({ id: drill.id, status: 'failed' });
      expect(last!.error).toMatch(/app\.comp/);
    } finally {
      await store.close();
    }
  }, 120_000);
});
