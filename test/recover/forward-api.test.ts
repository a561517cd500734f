import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex, serverIds, startSource } from '../capture/helpers.js';
import type { MariaDbSandbox } from '../harness/mariadb.js';
import {
  forwardTransactions,
  openRecoveryTarget,
  RecoverApplyError,
  replayForward,
  seqBeforePosition,
  seqOfGtid,
  type RecoveryTarget,
} from '../../src/recover/index.js';
import { parseDsn, resolvePassword } from '../../src/source/dsn.js';
import type { StateStore } from '../../src/store/state-store.js';
import { nextSecond, recover, snapshot, startCaptured, type Captured } from './helpers.js';

const run = promisify(execFile);

/** Loads a dump of schema `src` into `schema` on `db`. */
async function load(db: MariaDbSandbox, dump: string, schema: string): Promise<void> {
  await db.query(`CREATE DATABASE ${schema}`);
  await new Promise<void>((resolve, reject) => {
    const child = execFile('mariadb', ['-S', db.socket, '-uroot', schema], (err, _o, stderr) =>
      err === null ? resolve() : reject(new Error(stderr)),
    );
    child.stdin!.end(dump);
  });
}

function target(db: MariaDbSandbox): Promise<RecoveryTarget> {
  return openRecoveryTarget(resolvePassword(parseDsn(db.dsn), {}));
}

/**
 * The forward-replay API that point-in-time restore builds on: a seq range replayed on a copy taken at its start,
 * DDL in place, one committed transaction at a time, into the same or a renamed schema, resumable after a failure.
 */
describe('replayForward: a seq range on a copy, with DDL', () => {
  let c: Captured;
  let store: StateStore;
  let ids: { tenantId: string; serverId: string };
  let dump: string;
  let startSeq: bigint;
  let endSeq: bigint;
  let beforeDdl: string;
  let dumpedAt: { file: string; position: number };

  beforeAll(async () => {
    c = await startCaptured('fw', [
      'CREATE DATABASE src',
      'CREATE TABLE src.t (id INT NOT NULL PRIMARY KEY, a VARCHAR(10) CHARACTER SET latin1)',
      "INSERT INTO src.t VALUES (1, 'one'), (2, 'two'), (3, 'thrée')",
    ]);
    await c.db.query("INSERT INTO src.t VALUES (5, 'five'); CREATE TABLE src.early (x INT)");
    await c.caughtUp();
    dumpedAt = await c.db.coordinates();
    store = await openIndex(c.home);
    ids = await serverIds(store, 'fw');
    startSeq = (await store.changes.stats(ids.serverId)).lastSeq;
    ({ stdout: dump } = await run('mariadb-dump', ['-S', c.db.socket, '-uroot', '--hex-blob', 'src']));
    beforeDdl = await nextSecond();
    const conn = await c.db.connection();
    await conn.query('USE src');
    await conn.query("INSERT INTO t VALUES (4, 'four'); UPDATE t SET a = 'TWO' WHERE id = 2");
    await conn.query('ALTER TABLE t ADD COLUMN b BIGINT UNSIGNED');
    await conn.query(
      'BEGIN; UPDATE t SET b = 18446744073709551615 WHERE id <= 2; DELETE FROM t WHERE id = 3; COMMIT',
    );
    await conn.query('CREATE TABLE u (k VARCHAR(5) PRIMARY KEY, v JSON)');
    await conn.query(
      `INSERT INTO u VALUES ('x', '{"a": [1, 2]}'), ('y', NULL); UPDATE t SET id = 10 WHERE id = 4`,
    );
    await conn.end();
    await c.caughtUp();
    endSeq = (await store.changes.stats(ids.serverId)).lastSeq;
  }, 120_000);

  afterAll(async () => {
    await store?.close();
    await c?.stop();
  });

  it('maps a backup position to the seq after which to replay, DDL included', async () => {
    // The last event before the dump is a DDL: it is in the dump, so the bound must cover it.
    expect(await seqBeforePosition(store.changes, ids.tenantId, ids.serverId, dumpedAt)).toBe(startSeq);
    const [ddl] = await store.changes.ddl(ids.serverId, { afterSeq: startSeq - 1n });
    expect(ddl?.statement).toBe('CREATE TABLE src.early (x INT)');
    expect(await seqOfGtid(store.changes, ids.tenantId, ids.serverId, ddl!.gtid!)).toBe(startSeq);
  });

  it('reproduces the source on a copy taken at the range start', async () => {
    const copy = await startSource();
    await load(copy, dump, 'src');
    const plan = [];
    for await (const t of forwardTransactions({
      index: store.changes,
      ...ids,
      flavor: 'mariadb',
      afterSeq: startSeq,
      untilSeq: endSeq,
    })) {
      plan.push(t);
    }
    expect(plan.filter((t) => t.ddl !== undefined).map((t) => t.ddl!.statement)).toEqual([
      'ALTER TABLE t ADD COLUMN b BIGINT UNSIGNED',
      'CREATE TABLE u (k VARCHAR(5) PRIMARY KEY, v JSON)',
    ]);
    const t = await target(copy);
    try {
      const progress: bigint[] = [];
      const result = await replayForward(
        t,
        { index: store.changes, ...ids, flavor: 'mariadb', afterSeq: startSeq, untilSeq: endSeq },
        { onProgress: (p) => progress.push(p.last!.seq) },
      );
      expect(result.last?.seq).toBe(endSeq);
      expect(result.transactions).toBe(plan.length);
      expect(progress).toEqual([...progress].sort((a, b) => (a < b ? -1 : 1)));
    } finally {
      await t.close();
    }
    const tables = [
      ['src', 't'],
      ['src', 'u'],
    ] as const;
    expect(await snapshot(copy, tables)).toEqual(await snapshot(c.db, tables));
  });

  it('stops at a mismatch naming the last committed seq, and resumes from it into a renamed schema', async () => {
    const copy = await startSource();
    await load(copy, dump, 'dst');
    // The copy differs from what the changes expect: the update of row 2 matches nothing.
    await copy.query("UPDATE dst.t SET a = 'tampered' WHERE id = 2");
    const request = {
      index: store.changes,
      ...ids,
      flavor: 'mariadb' as const,
      afterSeq: startSeq,
      untilSeq: endSeq,
      targetSchema: () => 'dst',
    };
    const t = await target(copy);
    try {
      const err = await replayForward(t, request).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RecoverApplyError);
      const failed = err as RecoverApplyError;
      expect(failed.message).toMatch(/it changed 0 rows, expected 1: conflict/);
      expect(failed.message).toMatch(/committed up to seq \d+/);
      const last = BigInt(failed.fields['lastAppliedSeq'] as string);
      expect(last).toBeGreaterThan(startSeq);
      await copy.query("UPDATE dst.t SET a = 'two' WHERE id = 2");
      const resumed = await replayForward(t, { ...request, afterSeq: last });
      expect(resumed.last?.seq).toBe(endSeq);
    } finally {
      await t.close();
    }
    const [src, dst] = await Promise.all([
      snapshot(c.db, [
        ['src', 't'],
        ['src', 'u'],
      ]),
      snapshot(copy, [
        ['dst', 't'],
        ['dst', 'u'],
      ]),
    ]);
    expect(Object.values(dst)).toEqual(Object.values(src));
  });

  it('refuses to undo changes made before a DDL that changed the table', async () => {
    const r = await recover(c, ['--since', beforeDdl, '--schema', 'src', '--dry-run']);
    expect(r.code).toBe(11);
    expect(r.stderr).toMatch(
      /Cannot undo change \d+ \(insert of src\.t\): the table's definition changed since \(DDL at seq \d+: ALTER TABLE t ADD COLUMN b/,
    );
  });
});
