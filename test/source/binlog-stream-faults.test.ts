import { beforeAll, describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../../src/binlog/events.js';
import { openBinlogStream, type BinlogStream } from '../../src/source/replication/binlog-stream.js';
import {
  BinlogUnavailableError,
  HeartbeatTimeoutError,
  ReplicationConnectionLostError,
} from '../../src/source/replication/errors.js';
import { parseDsn, resolvePassword, type ResolvedDsn } from '../../src/source/dsn.js';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';

/** The password goes through the environment, as it should in real use (argv is visible to every user). */
const pw = (db: MariaDbSandbox): NodeJS.ProcessEnv => ({ DBTRAIL_SOURCE_PASSWORD: db.appPassword });

/**
 * Failure modes of the replication client, for real: purged binlogs, a frozen server (SIGSTOP) and a killed one
 * (SIGKILL). Each must end the stream with a typed error promptly, never hang.
 */

/** Reads a stream in the background, recording events and how it ended. */
function drain(stream: BinlogStream): { events: DecodedEvent[]; done: Promise<unknown> } {
  const events: DecodedEvent[] = [];
  const done = (async (): Promise<unknown> => {
    try {
      for await (const e of stream) events.push(e);
      return undefined;
    } catch (err) {
      return err;
    }
  })();
  return { events, done };
}

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('replication client failure modes', () => {
  let db: MariaDbSandbox;
  let dsn: ResolvedDsn;

  beforeAll(async () => {
    db = await startMariaDb();
    dsn = resolvePassword(parseDsn(db.dsn), {});
    await db.query('CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)');
  });

  it('reports purged binlogs as BinlogUnavailableError carrying the server code 1236', async () => {
    await db.query('INSERT INTO app.t VALUES (1)');
    await db.flushBinaryLogs();
    await db.query('INSERT INTO app.t VALUES (2)');
    await db.flushBinaryLogs();
    const logs = await db.binaryLogs();
    await db.purgeBinaryLogsTo(logs[logs.length - 1]!.name);
    expect((await db.binaryLogs())[0]?.name).not.toBe('binlog.000001');

    const stream = await openBinlogStream(dsn, {
      from: { file: 'binlog.000001', position: 4 },
      stopAtEnd: true,
    });
    const { done } = drain(stream);
    const err = await within(10_000, done);
    expect(err).toBeInstanceOf(BinlogUnavailableError);
    expect(err).toMatchObject({ code: 'SOURCE_BINLOG_UNAVAILABLE', serverCode: 1236 });
    expect((err as Error).message).toMatch(/server error 1236 \(HY000\): Could not find first log file name/);

    // A GTID the server no longer has is the same condition.
    const gtidStream = await openBinlogStream(dsn, { from: { gtid: `0-${db.serverId}-1` }, stopAtEnd: true });
    const gtidErr = await within(10_000, drain(gtidStream).done);
    expect(gtidErr).toBeInstanceOf(BinlogUnavailableError);
    expect(gtidErr).toMatchObject({ serverCode: 1236 });

    const r = await cli(
      ['binlog', 'tail', '--dsn', db.dsnWithoutPassword, '--from-file', 'binlog.000001', '--stop-at-end'],
      pw(db),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /^dbtrail: Cannot read the binlog from .*server error 1236 \(HY000\): Could not find first log/,
    );
  });

  it('keeps an idle stream alive on heartbeats, and declares a frozen server dead', async () => {
    const stream = await openBinlogStream(dsn, { heartbeatMs: 200 });
    const { events, done } = drain(stream);
    try {
      // Idle for 8 periods: only heartbeats arrive, and they keep the watchdog (limit 500 ms) quiet.
      const early = await Promise.race([done, new Promise((r) => setTimeout(() => r('alive'), 1600))]);
      expect(early).toBe('alive');
      expect(events.filter((e) => e.type === 'HEARTBEAT').length).toBeGreaterThanOrEqual(4);

      process.kill(db.pid!, 'SIGSTOP');
      const started = Date.now();
      const err = await within(5_000, done);
      expect(err).toBeInstanceOf(HeartbeatTimeoutError);
      expect((err as Error).message).toMatch(/nothing received for \d+ ms \(heartbeat period 200 ms\)/);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      process.kill(db.pid!, 'SIGCONT');
      await stream.close();
    }
  });

  it('ends with a typed connection error when the server is killed mid-stream', async () => {
    const stream = await openBinlogStream(dsn, { heartbeatMs: 60_000 });
    const { events, done } = drain(stream);
    await db.query('INSERT INTO app.t VALUES (3)');
    await within(
      10_000,
      (async () => {
        while (!events.some((e) => e.body.kind === 'rows')) await new Promise((r) => setTimeout(r, 20));
      })(),
    );
    await db.kill();
    // The heartbeat is a minute: the error must come from the closed socket, not from the watchdog.
    const err = await within(10_000, done);
    expect(err).toBeInstanceOf(ReplicationConnectionLostError);
    expect(err).toMatchObject({ code: 'SOURCE_CONNECTION_LOST', kind: 'connection' });
  });
});
