import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.js';
import type { MariaDbSandbox } from '../harness/mariadb.js';
import { captureHome, indexedChanges, openIndex, serverIds, startSource } from './helpers.js';

/**
 * Binlogs purged while capture is stopped: the restart must refuse with the gap named (exit code 10, nothing
 * recorded), and `--accept-gap` must record the gap and continue from the oldest binlog. Also the bad inputs of
 * `stream`/`index`: each gets a clear message and leaves the index as it was.
 */
describe('stream: gaps and bad input', () => {
  let db: MariaDbSandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const args = (): string[] => [
    'stream',
    '--dsn',
    db.dsnWithoutPassword,
    '--server-name',
    'src',
    '--stop-at-end',
  ];

  beforeAll(async () => {
    db = await startSource();
    await db.query('CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(10))');
    ({ home, env } = await captureHome(db));
    const first = await cli(args(), env);
    expect(first.code, first.stderr).toBe(0);
    await db.query("INSERT INTO app.t VALUES (1, 'kept')");
    const second = await cli(args(), env);
    expect(second.code, second.stderr).toBe(0);
  });

  async function snapshot(): Promise<string> {
    const store = await openIndex(home);
    try {
      const { serverId } = await serverIds(store, 'src');
      const cp = await store.changes.checkpoint(serverId);
      const stats = await store.changes.stats(serverId);
      const gaps = await store.changes.gaps(serverId);
      return JSON.stringify({
        cp: cp?.coordinates,
        rows: String(stats.rowChanges),
        seq: String(stats.lastSeq),
        gaps: gaps.length,
      });
    } finally {
      await store.close();
    }
  }

  it('refuses to continue over purged binlogs, naming the gap, and records nothing', async () => {
    const before = await snapshot();
    await db.query("INSERT INTO app.t VALUES (2, 'lost')");
    await db.flushBinaryLogs();
    await db.query("INSERT INTO app.t VALUES (3, 'lost')");
    await db.flushBinaryLogs();
    await db.query("INSERT INTO app.t VALUES (4, 'after')");
    const logs = await db.binaryLogs();
    const newest = logs[logs.length - 1]!.name;
    await db.purgeBinaryLogsTo(newest);
    expect((await db.binaryLogs())[0]?.name).toBe(newest);

    const refused = await cli(args(), env);
    expect(refused.code).toBe(10);
    expect(refused.stderr).toMatch(
      new RegExp(
        `dbtrail: Cannot continue capture of server "src": changes are missing from binlog\\.000001:\\d+ \\(GTID 0-\\d+-\\d+\\) at \\S+Z to ${newest.replace('.', '\\.')}:4 \\(GTID 0-\\d+-\\d+\\) at \\S+Z, reason binlog_purged: the transactions domain 0: \\d+-\\d+ were in binlogs purged before ${newest.replace('.', '\\.')}; rerun with --accept-gap`,
      ),
    );
    expect(await snapshot()).toBe(before);
  });

  it('records the gap with --accept-gap and continues from the oldest binlog', async () => {
    const accepted = await cli([...args(), '--accept-gap'], env);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stderr).toMatch(
      /dbtrail: recorded a gap in the captured history from binlog\.000001:\d+/,
    );
    const store = await openIndex(home);
    try {
      const { serverId } = await serverIds(store, 'src');
      const gaps = await store.changes.gaps(serverId);
      expect(gaps).toHaveLength(1);
      expect(gaps[0]).toMatchObject({
        reason: 'binlog_purged',
        from: { file: 'binlog.000001' },
        to: { position: 4 },
      });
      expect(gaps[0]!.toTimeUs).not.toBeNull();
      const changes = await indexedChanges(store, 'src', 'app');
      expect(changes.map((c) => c.after?.['v'])).toEqual(['kept', 'after']);
    } finally {
      await store.close();
    }
    // The gap is recorded once: a later run has nothing more to say.
    const again = await cli(args(), env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/gap/);
  });

  it('gives bad input a clear message and leaves the index untouched', async () => {
    const before = await snapshot();
    const unknownFlag = await cli([...args(), '--tabels', 'app.t'], env);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(
      /Cannot parse dbtrail stream: unknown flag "--tabels" \(did you mean --tables\?\)/,
    );

    const badFilter = await cli([...args(), '--tables', 'justatable'], env);
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toMatch(/--tables entry "justatable": expected schema\.table/);

    const malformed = await cli(
      ['stream', '--dsn', 'postgres://x@y', '--server-name', 'src', '--stop-at-end'],
      env,
    );
    expect(malformed.code).toBe(3);
    expect(malformed.stderr).toMatch(
      /Cannot parse DSN "postgres:\/\/x@y": scheme must be mysql:\/\/ or mariadb:\/\//,
    );

    const unreachable = await cli(
      ['stream', '--dsn', 'mysql://dbtrail@127.0.0.1:1', '--server-name', 'other', '--stop-at-end'],
      env,
    );
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toMatch(/Cannot connect to dbtrail@127\.0\.0\.1:1: connection refused/);

    const unknownServer = await cli(
      ['index', '--server-name', 'nosuch', db.binlogPath('binlog.000001')],
      env,
    );
    expect(unknownServer.code).toBe(7);
    expect(unknownServer.stderr).toMatch(
      /Cannot find server "nosuch" in tenant "default": it was never captured/,
    );

    // Another server behind the DSN than the checkpoint belongs to.
    const other = await startSource();
    const wrong = await cli(
      ['stream', '--dsn', other.dsnWithoutPassword, '--server-name', 'src', '--stop-at-end'],
      { ...env, DBTRAIL_SOURCE_PASSWORD: other.appPassword },
    );
    expect(wrong.code).toBe(8);
    expect(wrong.stderr).toMatch(
      new RegExp(
        `Cannot capture server "src" from .*: it is mariadb server_id ${other.serverId} on host .*, but the checkpoint belongs to mariadb server_id ${db.serverId}`,
      ),
    );

    expect(await snapshot()).toBe(before);
    const store = await openIndex(home);
    try {
      const tenant = await store.tenants.findByName('default');
      expect((await store.servers.list(tenant!.id)).map((s) => s.name)).toEqual(['src']);
    } finally {
      await store.close();
    }
  });
});
