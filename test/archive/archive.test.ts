import { execFile } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type mysql from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArchiveCoverageError, ArchiveIntegrityError } from '../../src/archive/errors.js';
import { fetchSegments, segmentsCovering } from '../../src/archive/fetch.js';
import { compareCoordinates } from '../../src/capture/coordinates.js';
import { LocalObjectStore } from '../../src/objects/local.js';
import type { BinlogSegment } from '../../src/store/binlog-archive.js';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import {
  captureHome,
  openIndex,
  serverIds,
  spawnCli,
  startSource,
  textConnection,
  waitCaughtUp,
  type RunningCli,
} from '../capture/helpers.js';
import { currentContent, rng, Workload, WORKLOAD_DDL } from '../capture/workload.js';
import { S3RVER_CREDENTIALS, startLocalS3 } from '../harness/s3.js';
import { archivedSegments, objectPath, replayInto, rowLines } from './helpers.js';

const exec = promisify(execFile);

/** Every segment chains onto the previous one: same file and start = previous end, or the next file at 4. */
export function expectContiguous(segments: readonly BinlogSegment[]): void {
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    const s = segments[i]!;
    const where = `segment ${i}: ${prev.file}:${prev.startPosition}-${prev.endPosition}${prev.endsFile ? ' (ends file)' : ''} then ${s.file}:${s.startPosition}`;
    if (s.file === prev.file) expect(s.startPosition, where).toBe(prev.endPosition);
    else {
      expect(prev.endsFile, where).toBe(true);
      expect(s.startPosition, where).toBe(4);
      expect(compareCoordinates({ file: s.file, position: 0 }, { file: prev.file, position: 0 }), where).toBe(
        1,
      );
    }
  }
}

/** Sequence numbers (one domain) of the segments run 1 by 1 and end at the server's current GTID. */
export function expectGtidsRun(segments: readonly BinlogSegment[], serverGtid: string): void {
  const seq = (g: string | null): bigint => BigInt(g!.split('-')[2]!);
  const withTx = segments.filter((s) => s.transactions > 0);
  for (let i = 1; i < withTx.length; i++) {
    expect(seq(withTx[i]!.firstGtid), withTx[i]!.objectKey).toBe(seq(withTx[i - 1]!.lastGtid) + 1n);
  }
  for (const s of withTx) {
    expect(seq(s.lastGtid) - seq(s.firstGtid) + 1n, s.objectKey).toBe(BigInt(s.transactions));
  }
  expect(withTx[withTx.length - 1]!.lastGtid).toBe(serverGtid);
}

describe('raw binlog archive: segments from live capture', () => {
  let db: MariaDbSandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let work: mysql.Connection;
  const args = (): string[] => ['stream', '--dsn', db.dsnWithoutPassword, '--server-name', 'src'];

  beforeAll(async () => {
    db = await startSource();
    for (const sql of WORKLOAD_DDL) await db.query(sql);
    const h = await captureHome(db);
    home = h.home;
    env = { ...h.env, DBTRAIL_ARCHIVE_INTERVAL_SECONDS: '1' };
    const first = await cli([...args(), '--stop-at-end'], env);
    expect(first.code, first.stderr).toBe(0);
    work = await textConnection(db);
  });

  it('closes segments within the interval under load, across a rotation, each readable by mariadb-binlog with the source rows', async () => {
    const run: RunningCli = spawnCli(args(), env);
    const workload = new Workload(3);
    const started = Date.now();
    let firstSeenMs: number | undefined;
    const deadline = started + 6_000;
    let rotated = false;
    while (Date.now() < deadline) {
      await workload.transaction(work);
      if (!rotated && Date.now() - started > 2_500) {
        await db.flushBinaryLogs();
        rotated = true;
      }
      if (firstSeenMs === undefined && (await archivedSegments(home, 'src')).length > 0) {
        firstSeenMs = Date.now() - started;
      }
      await sleep(5);
    }
    expect(run.child.exitCode, run.stderr()).toBeNull();
    // Interval 1 s: the first segment is stored well within interval + upload time, while writes go on.
    expect(firstSeenMs, run.stderr()).toBeDefined();
    expect(firstSeenMs!).toBeLessThan(4_000);
    await waitCaughtUp(home, 'src', db);
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit.code, run.stderr()).toBe(0);

    const segments = await archivedSegments(home, 'src');
    expect(segments.length).toBeGreaterThanOrEqual(4);
    expect(new Set(segments.map((s) => s.file)).size).toBe(2);
    expect(segments.some((s) => s.endsFile)).toBe(true);
    expectContiguous(segments);
    // Every transaction once: the GTID sequence numbers run without a hole or repeat up to the server's.
    expectGtidsRun(segments, (await db.coordinates()).gtid);

    let rows = 0;
    for (const s of segments) {
      const path = objectPath(home, s.objectKey);
      // Reads cleanly: exit 0, nothing on stderr.
      const { stderr } = await exec('mariadb-binlog', ['--no-defaults', path], {
        maxBuffer: 256 * 1024 * 1024,
      });
      expect(stderr, s.objectKey).toBe('');
      const archived = await rowLines(path);
      const source = await rowLines(db.binlogPath(s.file), { start: s.startPosition, stop: s.endPosition });
      expect(archived, s.objectKey).toEqual(source);
      rows += archived.length;
    }
    expect(rows).toBeGreaterThan(100);
  });
});

describe('raw binlog archive: S3, the CLI, --no-archive', () => {
  it('archives to S3, lists and fetches with the CLI, and records a gap for a run with --no-archive', async () => {
    const db = await startSource();
    for (const sql of WORKLOAD_DDL) await db.query(sql);
    const s3 = await startLocalS3();
    const h = await captureHome(db);
    const env = {
      ...h.env,
      DBTRAIL_OBJECTS_URL: `s3://${s3.bucket}/pfx`,
      DBTRAIL_S3_ENDPOINT: s3.endpoint,
      DBTRAIL_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const work = await textConnection(db);
    try {
      const stream = ['stream', '--dsn', db.dsnWithoutPassword, '--server-name', 'src', '--stop-at-end'];
      const from = await db.coordinates();
      expect((await cli(stream, env)).code).toBe(0);
      const workload = new Workload(21);
      for (let i = 0; i < 30; i++) await workload.transaction(work);
      const run = await cli(stream, env);
      expect(run.code, run.stderr).toBe(0);

      const listed = await cli(['binlog', 'archive', 'list', '--server-name', 'src', '--json'], env);
      expect(listed.code, listed.stderr).toBe(0);
      const json = JSON.parse(listed.stdout) as {
        segments: { object_key: string; start_position: number }[];
        gaps: [];
      };
      expect(json.segments).toHaveLength(1);
      expect(json.segments[0]!.object_key).toMatch(
        /^default\/src\/binlogs\/binlog\.000001\/\d{12}-\d{12}\.binlog$/,
      );
      expect(json.segments[0]!.start_position).toBe(from.position);
      expect(json.gaps).toEqual([]);

      const dir = await mkdtemp(join(tmpdir(), 'dbtrail-archive-cli-'));
      const fetched = await cli(['binlog', 'archive', 'fetch', '--server-name', 'src', '--to', dir], env);
      expect(fetched.code, fetched.stderr).toBe(0);
      const files = fetched.stdout.trim().split('\n');
      expect(files).toHaveLength(1);
      expect(await rowLines(files[0]!)).toEqual(
        await rowLines(db.binlogPath(from.file), {
          start: from.position,
          stop: (await db.coordinates()).position,
        }),
      );

      // Capture without the archive, then with it again: the archive says what it missed.
      for (let i = 0; i < 5; i++) await workload.transaction(work);
      expect((await cli([...stream, '--no-archive'], env)).code).toBe(0);
      expect((await archivedSegments(h.home, 'src')).length).toBe(1);
      for (let i = 0; i < 5; i++) await workload.transaction(work);
      expect((await cli(stream, env)).code).toBe(0);
      const after = JSON.parse(
        (await cli(['binlog', 'archive', 'list', '--server-name', 'src', '--json'], env)).stdout,
      ) as {
        segments: unknown[];
        gaps: { reason: string }[];
      };
      expect(after.gaps.map((g) => g.reason)).toEqual(['archive_behind']);
      expect(after.segments).toHaveLength(2);
    } finally {
      process.env = saved;
      await work.end();
    }
  });
});

describe('raw binlog archive: kill -9, purged binlogs, replay from the archive', () => {
  let db: MariaDbSandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let work: mysql.Connection;
  let firstStart: { file: string; position: number };
  const args = (): string[] => ['stream', '--dsn', db.dsnWithoutPassword, '--server-name', 'src'];

  beforeAll(async () => {
    db = await startSource();
    for (const sql of WORKLOAD_DDL) await db.query(sql);
    const h = await captureHome(db);
    home = h.home;
    env = { ...h.env, DBTRAIL_ARCHIVE_INTERVAL_SECONDS: '1' };
    firstStart = await db.coordinates();
    const first = await cli([...args(), '--stop-at-end'], env);
    expect(first.code, first.stderr).toBe(0);
    work = await textConnection(db);
  });

  it('stays contiguous without duplicates when capture is SIGKILLed mid-segment', async () => {
    const random = rng(8);
    const workload = new Workload(5);
    let stop = false;
    const writing = (async () => {
      while (!stop) {
        await workload.transaction(work);
        await sleep(2);
      }
    })();
    writing.catch(() => undefined);
    let killedWithSpool = 0;
    for (let i = 0; i < 5; i++) {
      const run = spawnCli(args(), env);
      const deadline = Date.now() + 30_000;
      while (!run.stderr().includes('resumes at')) {
        if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(run.stderr());
        await sleep(20);
      }
      await sleep(400 + Math.floor(random() * 1500));
      if ((await spoolFiles(home)).some((f) => f.endsWith('.binlog'))) killedWithSpool++;
      run.child.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');
    }
    stop = true;
    await writing;
    // The kills hit segments still being filled.
    expect(killedWithSpool).toBeGreaterThanOrEqual(3);
    const last = await cli([...args(), '--stop-at-end'], env);
    expect(last.code, last.stderr).toBe(0);
    expect(await spoolFiles(home)).toEqual([]);

    const segments = await archivedSegments(home, 'src');
    expect(segments[0]!.file).toBe(firstStart.file);
    expect(segments[0]!.startPosition).toBe(firstStart.position);
    expectContiguous(segments);
    expectGtidsRun(segments, (await db.coordinates()).gtid);
    for (const s of segments) {
      const archived = await rowLines(objectPath(home, s.objectKey));
      const source = await rowLines(db.binlogPath(s.file), { start: s.startPosition, stop: s.endPosition });
      expect(archived, s.objectKey).toEqual(source);
    }
    const store = await openIndex(home);
    try {
      const { serverId } = await serverIds(store, 'src');
      expect(await store.binlogArchive.gaps(serverId)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('serves the range after the source purged it: replayed with mariadb-binlog | mariadb into a second server', async () => {
    await db.flushBinaryLogs();
    const current = (await db.coordinates()).file;
    await db.purgeBinaryLogsTo(current);
    expect((await db.binaryLogs())[0]!.name).toBe(current);
    expect((await db.binaryLogs()).some((l) => l.name === firstStart.file)).toBe(false);

    const store = await openIndex(home);
    const target = await startMariaDb();
    try {
      const { serverId } = await serverIds(store, 'src');
      const plan = await segmentsCovering(store.binlogArchive, serverId, firstStart);
      const dir = await mkdtemp(join(tmpdir(), 'dbtrail-archive-fetch-'));
      const files = await fetchSegments(new LocalObjectStore(join(home, 'objects')), plan.segments, dir);
      expect(files).toHaveLength(plan.segments.length);
      for (const sql of WORKLOAD_DDL) await target.query(sql);
      await replayInto(files, target.socket);
      const targetConn = await textConnection(target);
      try {
        expect(await currentContent(targetConn)).toEqual(await currentContent(work));
      } finally {
        await targetConn.end();
      }

      // A tampered object is refused on fetch.
      const victim = plan.segments[0]!;
      await writeFile(objectPath(home, victim.objectKey), Buffer.from('tampered'), { flag: 'a' });
      await expect(fetchSegments(new LocalObjectStore(join(home, 'objects')), [victim], dir)).rejects.toThrow(
        ArchiveIntegrityError,
      );
    } finally {
      await store.close();
      await target.destroy();
    }
  });

  it('records an archive gap when the source purged binlogs while capture was down', async () => {
    const workload = new Workload(9);
    for (let i = 0; i < 20; i++) await workload.transaction(work);
    await db.flushBinaryLogs();
    await db.purgeBinaryLogsTo((await db.coordinates()).file);
    for (let i = 0; i < 20; i++) await workload.transaction(work);
    const run = await cli([...args(), '--stop-at-end', '--accept-gap'], env);
    expect(run.code, run.stderr).toBe(0);
    const store = await openIndex(home);
    try {
      const { serverId } = await serverIds(store, 'src');
      const gaps = await store.binlogArchive.gaps(serverId);
      expect(gaps).toHaveLength(1);
      expect(gaps[0]!.reason).toBe('capture_gap');
      expect(gaps[0]!.to).toMatchObject({ file: (await db.coordinates()).file, position: 4 });
      const err = await segmentsCovering(store.binlogArchive, serverId, firstStart).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArchiveCoverageError);
      expect((err as Error).message).toContain('archive gap from');
      // After the gap the archive continues: what capture read since is archived.
      const after = await segmentsCovering(store.binlogArchive, serverId, gaps[0]!.to);
      expect(after.segments.length).toBeGreaterThan(0);
      expect(after.segments[after.segments.length - 1]!.lastGtid).toBe((await db.coordinates()).gtid);
    } finally {
      await store.close();
    }
  });
});

async function spoolFiles(home: string): Promise<string[]> {
  const root = join(home, 'archive-spool');
  const out: string[] = [];
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    for (const f of await readdir(join(root, dir))) out.push(f);
  }
  return out;
}
