import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MariaDbSandbox } from '../harness/mariadb.js';
import {
  binlogChanges,
  captureHome,
  changeKey,
  indexedChanges,
  openIndex,
  serverIds,
  spawnCli,
  textConnection,
  waitCaughtUp,
  type RunningCli,
  startSource,
} from './helpers.js';
import { currentContent, replay, rng, Workload, WORKLOAD_DDL } from './workload.js';
import { cli } from '../harness/cli.js';

/**
 * Exactly-once capture under faults, for real: the capture process is SIGKILLed at random moments while a random
 * workload commits multi-statement transactions, the source is restarted and its replication thread KILLed. The
 * server is the oracle: the index must hold exactly the row changes of the binlog (same changes, same order, none
 * twice), and replaying the after-images must give each table's current SELECT content.
 */
describe('stream: exactly once through kill -9, server restarts and KILL', () => {
  let db: MariaDbSandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let work: mysql.Connection;
  let start: { file: string; position: number };
  const args = (): string[] => [
    'stream',
    '--dsn',
    db.dsnWithoutPassword,
    '--server-name',
    'src',
    '--schemas',
    'app',
  ];

  beforeAll(async () => {
    db = await startSource();
    for (const sql of WORKLOAD_DDL) await db.query(sql);
    ({ home, env } = await captureHome(db));
    // The first start records the checkpoint at the current end of the binlog.
    const first = await cli([...args(), '--stop-at-end'], env);
    expect(first.code, first.stderr).toBe(0);
    start = await db.coordinates();
    work = await textConnection(db);
  });

  /** Polls `check` until it holds; fails early when the capture process exits. */
  async function until(
    check: () => boolean | Promise<boolean>,
    run: RunningCli,
    timeoutMs = 30_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (run.child.exitCode !== null || run.child.signalCode !== null) {
        throw new Error(`capture exited early: ${run.stderr()}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for capture: ${run.stderr()}`);
      await sleep(20);
    }
  }

  /** Runs the workload until `until` resolves. */
  function background(workload: Workload, stopWhen: Promise<unknown>): Promise<void> {
    let stop = false;
    void stopWhen.finally(() => (stop = true));
    const loop = (async () => {
      while (!stop) {
        await workload.transaction(work);
        await sleep(1);
      }
    })();
    // Awaited by the test; marked handled so a test failing earlier does not leave an unhandled rejection.
    loop.catch(() => undefined);
    return loop;
  }

  it('loses and duplicates nothing when capture is SIGKILLed at random moments', async () => {
    const random = rng(20241125);
    const workload = new Workload(7);
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const writing = background(workload, finished);
    const checkpoints = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const run = spawnCli(args(), env);
      // Let it start streaming and commit some batches, then kill it wherever it is.
      await until(() => run.stderr().includes('resumes at'), run);
      await sleep(150 + Math.floor(random() * 900));
      run.child.kill('SIGKILL');
      const exit = await run.exited;
      expect(exit.signal, `capture ended on its own: ${run.stderr()}`).toBe('SIGKILL');
      checkpoints.add(await checkpointText());
    }
    // Capture was making progress between kills, so the kills hit it while it worked.
    expect(checkpoints.size).toBeGreaterThanOrEqual(4);
    done();
    await writing;
    expect(workload.transactions).toBeGreaterThan(50);

    const last = await cli([...args(), '--stop-at-end'], env);
    expect(last.code, last.stderr).toBe(0);
    await verify();
  });

  it('resumes after a KILL of the replication thread and a server crash and restart', async () => {
    const workload = new Workload(11);
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const writing = background(workload, finished);
    const run: RunningCli = spawnCli(args(), env);
    const dumpThreads = (): Promise<{ Id: string }[]> =>
      db.query<{ Id: string }>(
        "SELECT ID AS Id FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'",
      );
    // Stale dump threads of the killed runs go away once the server notices their sockets are closed.
    let dumps: { Id: string }[] = [];
    await until(
      async () => (dumps = await dumpThreads()).length === 1 && run.stderr().includes('resumes at'),
      run,
    );
    await sleep(500);
    expect(dumps).toHaveLength(1);
    await db.query(`KILL ${dumps[0]!.Id}`);
    await sleep(1500);

    // A crash of the source: the writer loses its connection too.
    done();
    await writing.catch(() => undefined);
    await db.kill();
    await sleep(300);
    await db.startAgain();
    work = await textConnection(db);
    const after = new Workload(12);
    for (let i = 0; i < 40; i++) await after.transaction(work);
    // And a clean restart.
    await db.restart();
    work = await textConnection(db);
    for (let i = 0; i < 40; i++) await after.transaction(work);

    await waitCaughtUp(home, 'src', db, 60_000);
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.code, run.stderr()).toBe(0);
    expect(run.stderr()).toMatch(/reconnecting in \d+ ms/);
    await verify();
  });

  async function checkpointText(): Promise<string> {
    const store = await openIndex(home);
    try {
      const cp = await store.changes.checkpoint((await serverIds(store, 'src')).serverId);
      return `${cp?.coordinates.file}:${cp?.coordinates.position}`;
    } finally {
      await store.close();
    }
  }

  async function verify(): Promise<void> {
    const store = await openIndex(home);
    try {
      const indexed = await indexedChanges(store, 'src', 'app');
      const expected = await binlogChanges(db, 'app', start);
      expect(expected.length).toBeGreaterThan(200);
      expect(indexed.length).toBe(expected.length);
      // Same changes in the same order: nothing lost, nothing twice.
      expect(indexed.map((c) => changeKey(c, c.type))).toEqual(expected.map((c) => changeKey(c, c.op)));
      const seqs = new Set(indexed.map((c) => c.seq));
      expect(seqs.size).toBe(indexed.length);
      // Replaying the after-images gives what SELECT returns now.
      const replayed = replay(indexed);
      const current = await currentContent(work);
      for (const [table, rows] of current) expect(replayed.get(table) ?? [], table).toEqual(rows);
      const { serverId } = await serverIds(store, 'src');
      expect(await store.changes.gaps(serverId)).toEqual([]);
    } finally {
      await store.close();
    }
  }
});
