import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
 * `dbtrail drift` end to end: a private source under capture with a backup and a workload, and a scratch server the
 * expected state is built on (backup + captured changes up to the live snapshot's coordinates).
 */
interface DriftJson {
  status: string;
  mode: string;
  backup_id: string;
  drifted_rows: number;
  coordinates: { file: string; position: number; gtid: string | null };
  tables: {
    table: string;
    equal: boolean;
    drifted_row_count: number;
    drifted_rows: {
      kind: string;
      key: Record<string, unknown>;
      expected: Record<string, unknown> | null;
      actual: Record<string, unknown> | null;
      explained_by_capture: boolean;
    }[];
  }[];
}

describe('dbtrail drift', () => {
  let source: MariaDbSandbox;
  let scratch: MariaDbSandbox;
  let env: NodeJS.ProcessEnv;
  let home: string;
  let capture: RunningCli;
  const backups: string[] = [];
  /** The last seq in the index when each backup was taken. */
  const seqAt: bigint[] = [];

  const backup = async (): Promise<string> => {
    await waitCaughtUp(home, 'src', source, 60_000);
    const store = await openIndex(home);
    try {
      const { serverId } = await serverIds(store, 'src');
      seqAt.push((await store.changes.stats(serverId)).lastSeq);
    } finally {
      await store.close();
    }
    const r = await cli(
      ['backup', 'run', '--dsn', source.dsnWithoutPassword, '--server-name', 'src', '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { id: string }).id;
  };
  const drift = (extra: readonly string[]) =>
    cli(
      ['drift', '--server-name', 'src', '--scratch-dsn', scratch.dsnWithoutPassword, '--json', ...extra],
      env,
    );

  beforeAll(async () => {
    [source, scratch] = await Promise.all([startSource(), startMariaDb()]);
    ({ env, home } = await captureHome(source));
    env = { ...env, DBTRAIL_SCRATCH_PASSWORD: scratch.appPassword, DBTRAIL_LOG_LEVEL: 'warn' };
    await source.query(WORKLOAD_DDL.join(';\n'));
    capture = spawnCli(['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src'], env);
    await waitCaughtUp(home, 'src', source, 60_000);
    const conn = await source.connection();
    const work = new Workload(23);
    for (let i = 0; i < 40; i++) await work.transaction(conn);
    backups.push(await backup());
    for (let i = 0; i < 60; i++) await work.transaction(conn);
    backups.push(await backup());
    for (let i = 0; i < 30; i++) await work.transaction(conn);
    await conn.end();
    await waitCaughtUp(home, 'src', source, 60_000);
  }, 240_000);

  afterAll(async () => {
    capture?.child.kill('SIGTERM');
    await capture?.exited;
  });

  it('finds no drift after a normal workload', async () => {
    const r = await drift(['--dsn', source.dsnWithoutPassword]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as DriftJson;
    expect(d.status).toBe('clean');
    expect(d.mode).toBe('live');
    expect(d.backup_id).toBe(backups[1]);
    expect(d.tables.map((t) => t.table).sort()).toEqual(['app.comp', 'app.nopk', 'app.zoo']);
    expect(d.tables.every((t) => t.equal)).toBe(true);
  });

  it('finds an untracked change (sql_log_bin=0) as exactly that row, with expected and actual values', async () => {
    const conn = await source.connection();
    const [rows] = (await conn.query('SELECT id, d FROM app.zoo ORDER BY id LIMIT 1')) as unknown as [
      { id: string; d: string | null }[],
    ];
    const victim = rows[0]!;
    await conn.query('SET SESSION sql_log_bin = 0');
    await conn.query(`UPDATE app.zoo SET d = 12345.6789012345 WHERE id = ${victim.id}`);
    await conn.end();
    // The failure webhook hears of it.
    const events: Record<string, unknown>[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        events.push(JSON.parse(body) as Record<string, unknown>);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const port = (hook.address() as AddressInfo).port;
    try {
      const r = await cli(
        [
          'drift',
          '--server-name',
          'src',
          '--scratch-dsn',
          scratch.dsnWithoutPassword,
          '--json',
          '--dsn',
          source.dsnWithoutPassword,
        ],
        { ...env, DBTRAIL_WEBHOOK_URL: `http://127.0.0.1:${port}/hook` },
      );
      expect(r.code, r.stderr).toBe(1);
      expect(events).toEqual([
        expect.objectContaining({
          event: 'drift.detected',
          server_name: 'src',
          drifted_tables: ['app.zoo'],
          drifted_rows: 1,
        }),
      ]);
      const d = JSON.parse(r.stdout) as DriftJson;
      expect(d.status).toBe('drift');
      expect(d.drifted_rows).toBe(1);
      const zoo = d.tables.find((t) => t.table === 'app.zoo')!;
      expect(zoo.equal).toBe(false);
      expect(zoo.drifted_rows).toHaveLength(1);
      const row = zoo.drifted_rows[0]!;
      expect(row.kind).toBe('changed');
      expect(row.key).toEqual({ id: victim.id });
      expect(row.expected?.['d']).toBe(victim.d);
      expect(row.actual?.['d']).toBe('12345.6789012345');
      expect(row.explained_by_capture).toBe(false);
      expect(d.tables.filter((t) => t.table !== 'app.zoo').every((t) => t.equal)).toBe(true);
      // The run is in the audit log, where the auditor's report finds it.
      const list = await cli(['audit', 'list', '--json'], env);
      expect(list.stdout).toContain('drift.run');
    } finally {
      hook.close();
      const fix = await source.connection();
      await fix.query('SET SESSION sql_log_bin = 0');
      await fix.query(
        `UPDATE app.zoo SET d = ${victim.d === null ? 'NULL' : victim.d} WHERE id = ${victim.id}`,
      );
      await fix.end();
    }
  });

  it('--between two backups passes, and fails once a captured change between them is tampered with', async () => {
    const ok = await drift(['--between', backups[0]!, backups[1]!]);
    expect(ok.code, ok.stderr).toBe(0);
    const d = JSON.parse(ok.stdout) as DriftJson;
    expect(d.mode).toBe('between');
    expect(d.status).toBe('clean');

    // Tamper with one captured update between the two backups, as an attacker editing the index would.
    const db = new Database(join(home, 'dbtrail.db'));
    try {
      const row = db
        .prepare(
          `SELECT c.seq, c.after_image FROM changes c JOIN change_tables t ON t.table_key = c.table_key
            WHERE t.table_name = 'comp' AND c.change_type = 'update' AND c.seq > ? AND c.seq <= ?
            ORDER BY c.seq DESC LIMIT 1`,
        )
        .get(seqAt[0]!, seqAt[1]!) as { seq: number; after_image: string } | undefined;
      expect(row, 'an update between the backups').toBeDefined();
      const image = JSON.parse(row!.after_image) as Record<string, string>;
      image['v'] = String(Number(image['v']) + 1000);
      db.prepare('UPDATE changes SET after_image = ? WHERE seq = ?').run(JSON.stringify(image), row!.seq);
    } finally {
      db.close();
    }
    const bad = await drift(['--between', backups[0]!, backups[1]!]);
    expect(bad.code, bad.stderr).not.toBe(0);
  });

  it('refuses bad input with a clear message and exit code', async () => {
    const one = await drift(['--between', backups[0]!]);
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('--between BACKUP_A BACKUP_B');
    const tables = await drift(['--tables', 'nodot', '--dsn', source.dsnWithoutPassword]);
    expect(tables.code).toBe(2);
    expect(tables.stderr).toContain('expected schema.table');
  });
});
