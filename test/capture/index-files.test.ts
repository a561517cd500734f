import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.js';
import type { MariaDbSandbox } from '../harness/mariadb.js';
import {
  binlogChanges,
  captureHome,
  changeKey,
  indexedChanges,
  openIndex,
  serverIds,
  textConnection,
  startSource,
} from './helpers.js';
import { Workload, WORKLOAD_DDL } from './workload.js';

/**
 * `dbtrail index FILE...`: offline indexing with the same exactly-once rules. A file still being written is
 * indexed up to its last complete transaction and never marked done; rerunning continues where it stopped.
 */
describe('index: binlog files from disk', () => {
  let db: MariaDbSandbox;
  let env: NodeJS.ProcessEnv;
  let home: string;

  beforeAll(async () => {
    db = await startSource();
    for (const sql of WORKLOAD_DDL) await db.query(sql);
    const conn = await textConnection(db);
    const w = new Workload(3);
    for (let i = 0; i < 60; i++) await w.transaction(conn);
    await db.flushBinaryLogs();
    for (let i = 0; i < 60; i++) await w.transaction(conn);
    await conn.end();
    ({ home, env } = await captureHome(db));
  });

  const files = async (): Promise<string[]> => (await db.binlogFilesOnDisk()).map((f) => db.binlogPath(f));
  const expectedAll = async (): Promise<string[]> =>
    (await binlogChanges(db, 'app', { file: 'binlog.000001', position: 4 })).map((c) => changeKey(c, c.op));

  it('indexes every row change of the files, leaving the active one open, and continues on a rerun', async () => {
    const first = await cli(
      ['index', '--dsn', db.dsnWithoutPassword, '--server-name', 'off', '--json', ...(await files())],
      env,
    );
    expect(first.code, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout) as { filesDone: number; unfinished: string | null; changes: number };
    expect(r1.filesDone).toBe(1);
    expect(r1.unfinished).toBe(db.binlogPath('binlog.000002'));

    const conn = await textConnection(db);
    const w = new Workload(4);
    for (let i = 0; i < 30; i++) await w.transaction(conn);
    await conn.end();
    const second = await cli(['index', '--server-name', 'off', '--json', ...(await files())], env);
    expect(second.code, second.stderr).toBe(0);
    const r2 = JSON.parse(second.stdout) as { skipped: string[]; changes: number };
    expect(r2.skipped).toEqual([db.binlogPath('binlog.000001')]);

    const store = await openIndex(home);
    try {
      const indexed = await indexedChanges(store, 'off', 'app');
      const expected = await expectedAll();
      expect(r1.changes + r2.changes).toBe(expected.length);
      expect(indexed.map((c) => changeKey(c, c.type))).toEqual(expected);
    } finally {
      await store.close();
    }
  });

  it('indexes a file cut inside an event up to its last complete transaction, then finishes it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dbtrail-cut-'));
    const whole = await readFile(db.binlogPath('binlog.000001'));
    const cut = join(dir, 'binlog.000001');
    // Cut in the middle of the file: inside some event, after some complete transactions.
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const own = await captureHome(db);
    const partial = await cli(
      ['index', '--dsn', db.dsnWithoutPassword, '--server-name', 'cut', '--json', cut],
      own.env,
    );
    expect(partial.code, partial.stderr).toBe(0);
    const p = JSON.parse(partial.stdout) as {
      filesDone: number;
      unfinished: string;
      changes: number;
      checkpoint: { file: string; position: number };
    };
    const partialCount = p.changes;
    expect(p.filesDone).toBe(0);
    expect(p.unfinished).toBe(cut);
    expect(p.checkpoint.file).toBe('binlog.000001');
    expect(p.checkpoint.position).toBeLessThan(Math.floor(whole.length * 0.6));

    // The file grows (the server wrote the rest): the rerun continues from the checkpoint and marks it done.
    await copyFile(db.binlogPath('binlog.000001'), cut);
    const rest = await cli(['index', '--server-name', 'cut', '--json', cut], own.env);
    expect(rest.code, rest.stderr).toBe(0);
    expect((JSON.parse(rest.stdout) as { filesDone: number }).filesDone).toBe(1);

    const store = await openIndex(own.home);
    try {
      const indexed = (await indexedChanges(store, 'cut', 'app')).map((c) => changeKey(c, c.type));
      const inFirst = (await binlogChanges(db, 'app', { file: 'binlog.000001', position: 4 }))
        .filter((c) => c.file === 'binlog.000001')
        .map((c) => changeKey(c, c.op));
      expect(partialCount).toBeGreaterThan(0);
      expect(partialCount).toBeLessThan(inFirst.length);
      expect(indexed).toEqual(inFirst);
      const { serverId } = await serverIds(store, 'cut');
      const cp = await store.changes.checkpoint(serverId);
      expect(cp?.coordinates).toMatchObject({ file: 'binlog.000002', position: 4 });
    } finally {
      await store.close();
    }
  });

  it('refuses files out of order or not continuing the checkpoint, recording nothing', async () => {
    const fs = await files();
    const reversed = await cli(['index', '--server-name', 'off', fs[1]!, fs[0]!], env);
    expect(reversed.code).toBe(3);
    expect(reversed.stderr).toMatch(
      /Cannot index binlog files: ".*binlog\.000001" must come after ".*binlog\.000002"/,
    );
  });
});
