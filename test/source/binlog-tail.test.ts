import { beforeAll, describe, expect, it } from 'vitest';
import { openBinlogStream } from '../../src/source/replication/binlog-stream.js';
import { isStreamArtifact } from '../../src/source/replication/coordinates.js';
import { parseDsn, resolvePassword } from '../../src/source/dsn.js';
import type { DecodedEvent } from '../../src/binlog/events.js';
import { renderNdjson } from '../../src/binlog/render.js';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';

/** The password goes through the environment, as it should in real use (argv is visible to every user). */
const pw = (db: MariaDbSandbox): NodeJS.ProcessEnv => ({ DBTRAIL_SOURCE_PASSWORD: db.appPassword });
import {
  compareOracle,
  oracleRowChanges,
  runOracleWorkload,
  type ExpectedChange,
} from '../binlog/oracle-helpers.js';

/**
 * `binlog tail` against a private MariaDB: the events it streams over replication must be exactly the events
 * `binlog decode` reads from the datadir's files for the same range, and the row images must pass the live oracle.
 */

type Line = Record<string, unknown>;

function lines(ndjson: string): Line[] {
  return ndjson
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

describe('binlog tail over replication equals binlog decode of the same files', () => {
  let db: MariaDbSandbox;
  let expected: ExpectedChange[];
  let files: string[];
  let decoded: Line[];

  beforeAll(async () => {
    db = await startMariaDb();
    expected = await runOracleWorkload(db);
    // A second file, so the stream crosses a real ROTATE and a FORMAT_DESCRIPTION at position 4.
    await db.flushBinaryLogs();
    await db.query('CREATE TABLE oracle.after_rotate (id INT PRIMARY KEY, v VARCHAR(10))');
    await db.query("INSERT INTO oracle.after_rotate VALUES (1, 'one'), (2, 'two')");
    await db.query("UPDATE oracle.after_rotate SET v = 'deux' WHERE id = 2");
    files = await db.binlogFilesOnDisk();
    const r = await cli(['binlog', 'decode', ...files.map((f) => db.binlogPath(f))]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    decoded = lines(r.stdout);
  });

  it('streams every event from the start of the first file to the end of the binlog', async () => {
    expect(files.length).toBe(2);
    const r = await cli(
      [
        'binlog',
        'tail',
        '--dsn',
        db.dsnWithoutPassword,
        '--from-file',
        files[0]!,
        '--from-pos',
        '4',
        '--stop-at-end',
      ],
      pw(db),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const tailed = lines(r.stdout);
    expect(tailed.length).toBeGreaterThan(50);
    expect(tailed).toEqual(decoded);
    expect(tailed.some((l) => l.type === 'ROTATE' && l.file === files[0])).toBe(true);
  });

  it('starts at a position inside the file', async () => {
    const gtids = decoded.filter((l) => l.type === 'MARIADB_GTID' && l.file === files[0]);
    const from = gtids[5]!;
    const r = await cli(
      [
        'binlog',
        'tail',
        '--dsn',
        db.dsnWithoutPassword,
        '--from-file',
        String(from.file),
        '--from-pos',
        String(from.pos),
        '--stop-at-end',
      ],
      pw(db),
    );
    expect(r.code).toBe(0);
    const expectedLines = decoded.filter(
      (l) => l.file !== from.file || (l.pos as number) >= (from.pos as number),
    );
    expect(lines(r.stdout)).toEqual(expectedLines);
  });

  it('starts after a MariaDB GTID', async () => {
    const gtids = decoded.filter((l) => l.type === 'MARIADB_GTID');
    const after = gtids[3]!;
    const next = gtids[4]!;
    const r = await cli(
      ['binlog', 'tail', '--dsn', db.dsnWithoutPassword, '--from-gtid', String(after.gtid), '--stop-at-end'],
      pw(db),
    );
    expect(r.code).toBe(0);
    const tailed = lines(r.stdout);
    // The server reads the file holding the GTID from its start: it sends the file's header events (real events
    // at their positions), skips the transactions up to the GTID and continues with the next one.
    const header = decoded.filter(
      (l) => l.file === next.file && (l.pos as number) < (gtids[0]!.pos as number),
    );
    expect(header.map((l) => l.type)).toEqual(['FORMAT_DESCRIPTION', 'GTID_LIST', 'BINLOG_CHECKPOINT']);
    // The one field that legitimately differs: for a GTID start MariaDB re-sends the FORMAT_DESCRIPTION with
    // created = 0 (sql_repl.cc: a non-zero value would tell the replica the source just restarted).
    expect(tailed[0]).toMatchObject({ type: 'FORMAT_DESCRIPTION', create_timestamp: 0 });
    const sameFde = (l: Line): Line => (l.type === 'FORMAT_DESCRIPTION' ? { ...l, create_timestamp: 0 } : l);
    expect(tailed.map(sameFde)).toEqual([...header, ...decoded.slice(decoded.indexOf(next))].map(sameFde));
    expect(tailed.find((l) => l.type === 'MARIADB_GTID')?.gtid).toBe(next.gtid);
  });

  it('yields row images equal to SELECT text for every column type (live oracle via tail)', async () => {
    const stream = await openBinlogStream(resolvePassword(parseDsn(db.dsn), {}), {
      from: { file: files[0]!, position: 4 },
      stopAtEnd: true,
    });
    const events: DecodedEvent[] = [];
    for await (const e of stream) events.push(e);
    const problems = compareOracle(expected, oracleRowChanges(events));
    expect(problems).toEqual([]);
    expect(oracleRowChanges(events).length).toBe(expected.length);
    // The stream's artifacts are there but recognised: the artificial ROTATE first, with log_pos 0.
    expect(events[0]?.type).toBe('ROTATE');
    expect(isStreamArtifact(events[0]!)).toBe(true);
    // Coordinates end at the server's own end of binlog, with the last GTID.
    const end = await db.coordinates();
    expect(stream.coordinates).toEqual({ file: end.file, position: end.position, gtid: end.gtid });
  });

  it('delivers every event to a slow consumer while reading pauses and resumes (tiny high-water mark)', async () => {
    const stream = await openBinlogStream(resolvePassword(parseDsn(db.dsn), {}), {
      from: { file: files[0]!, position: 4 },
      stopAtEnd: true,
      highWaterMark: 2,
    });
    const out: Line[] = [];
    for await (const e of stream) {
      if (!isStreamArtifact(e)) out.push(JSON.parse(renderNdjson(e)) as Line);
      if (out.length % 8 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(out).toEqual(decoded);
  });

  it('stops cleanly on SIGINT (the command signal) while waiting for new events', async () => {
    const controller = new AbortController();
    const { PassThrough } = await import('node:stream');
    const { runCli } = await import('../../src/cli/run.js');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"XID"')) controller.abort();
    });
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const running = runCli(['binlog', 'tail', '--dsn', db.dsnWithoutPassword, '--heartbeat', '200'], {
      env: { DBTRAIL_LOG_LEVEL: 'error', ...pw(db) },
      stdout,
      stderr,
      signal: controller.signal,
    });
    // Without --from-*, tail starts at the current end: only this new transaction arrives.
    await new Promise((r) => setTimeout(r, 300));
    await db.query("INSERT INTO oracle.after_rotate VALUES (3, 'trois')");
    const code = await running;
    expect(err).toBe('');
    expect(code).toBe(0);
    const tailed = lines(out);
    expect(tailed.map((l) => l.type)).toEqual([
      'MARIADB_GTID',
      'ANNOTATE_ROWS',
      'TABLE_MAP',
      'WRITE_ROWS_V1',
      'XID',
    ]);
    expect((tailed[3]?.rows as unknown[])[0]).toEqual({ before: null, after: { id: '3', v: 'trois' } });
  });

  it('rejects a position that is not an event boundary with the server error', async () => {
    const r = await cli(
      [
        'binlog',
        'tail',
        '--dsn',
        db.dsnWithoutPassword,
        '--from-file',
        files[0]!,
        '--from-pos',
        '5',
        '--stop-at-end',
      ],
      pw(db),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot read the binlog from dbtrail@127\.0\.0\.1:\d+: server error 1236/);
  });

  it('checks its flags before connecting', async () => {
    const a = await cli(['binlog', 'tail', '--dsn', db.dsnWithoutPassword, '--from-pos', '4'], pw(db));
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/--from-pos without --from-file/);
    const b = await cli(
      [
        'binlog',
        'tail',
        '--dsn',
        db.dsnWithoutPassword,
        '--from-gtid',
        '0-1-1',
        '--from-file',
        'binlog.000001',
      ],
      pw(db),
    );
    expect(b.stderr).toMatch(/Cannot combine --from-gtid/);
    const c = await cli(
      [
        'binlog',
        'tail',
        '--dsn',
        db.dsnWithoutPassword,
        '--from-gtid',
        '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5',
      ],
      pw(db),
    );
    expect(c.stderr).toMatch(/the server is MariaDB, expected a domain-server-sequence list/);
  });
});
