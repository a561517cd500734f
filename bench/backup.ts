/**
 * bench:backup — `dbtrail backup run` on a database of at least 1 GB, next to plain mydumper and
 * `mariadb-dump --single-transaction`, all in the same run with the same threads.
 *
 * Reports: plain mydumper; dbtrail dump (the dump step alone); dbtrail backup run (dump + upload) and with
 * --encrypt, each to the local object store and to s3rver; dbtrail upload alone; curl uploading the same files to
 * s3rver (the most a plain client gets from it); mariadb-dump. Besides wall time, the CPU seconds of the command,
 * of mariadbd and of s3rver (which runs in this process): on a 2-core machine the dump alone keeps the cores
 * busy, so their sum over the cores is the least wall time any pipeline could reach.
 * The data directory is kept under $TMPDIR/dbtrail-bench-backup so reruns skip loading the data.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MariaDbSandbox } from '../src/sandbox/mariadb.js';
import { BUILT_CLI } from '../test/harness/cli.js';
import { startLocalS3Standalone } from './s3.js';
import { mib, printTable, type Measurement } from './lib.js';

const TARGET_BYTES = Number(process.env['BENCH_BYTES'] ?? 2e9);
const TABLES = 8;
const THREADS = Number(process.env['BENCH_THREADS'] ?? 4);
const root = join(tmpdir(), 'dbtrail-bench-backup');

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function load(db: MariaDbSandbox): Promise<void> {
  const rowBytes = 260;
  const rowsPerTable = Math.ceil(TARGET_BYTES / rowBytes / TABLES);
  console.log(
    `Loading ${TABLES} tables x ${rowsPerTable.toLocaleString('en-US')} rows (~${mib(TARGET_BYTES)} of row data)...`,
  );
  await db.query('CREATE DATABASE IF NOT EXISTS bench');
  for (let t = 1; t <= TABLES; t++) {
    await db.query(`CREATE TABLE bench.t${t} (
      id BIGINT UNSIGNED PRIMARY KEY, account INT UNSIGNED NOT NULL, amount DECIMAL(14,2) NOT NULL,
      created_at DATETIME(6) NOT NULL, status VARCHAR(16) NOT NULL, payload VARCHAR(200) NOT NULL) ENGINE=InnoDB`);
    for (let from = 1; from <= rowsPerTable; from += 200_000) {
      const to = Math.min(rowsPerTable, from + 199_999);
      await db.query(`INSERT INTO bench.t${t} SELECT seq, seq % 100000, seq / 3, TIMESTAMP('2026-01-01') + INTERVAL seq SECOND,
        ELT(1 + seq % 3, 'open', 'paid', 'void'), SUBSTRING(SHA2(seq, 512), 1 + seq % 20, 120 + seq % 60) FROM bench.seq_${from}_to_${to}`);
    }
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc; 0 when it cannot be read. */
function processCpu(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

interface Run {
  readonly seconds: number;
  /** CPU of the command and the children it waited for (mydumper under dbtrail), from GNU time. */
  readonly cpu: number;
  /** CPU of mariadbd during the run. */
  readonly dbCpu: number;
  /** CPU of this process during the run: s3rver, which runs in it. */
  readonly s3Cpu: number;
}

/** Runs a command under GNU time and returns its wall time and the CPU it, the server and s3rver used. */
function run(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  dbPid: number | undefined,
  stdoutFile = '/dev/null',
): Promise<Run> {
  const report = join(tmpdir(), `dbtrail-bench-backup-time-${process.pid}.txt`);
  const db0 = processCpu(dbPid);
  const self0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const out = openSync(stdoutFile, 'w');
  return new Promise<Run>((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', report, cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', out, 'pipe'],
    });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(out);
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
        return;
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const [user = '0', system = '0'] =
        readFileSync(report, 'utf8').trim().split('\n').at(-1)?.split(' ') ?? [];
      const self = process.cpuUsage(self0);
      resolve({
        seconds,
        cpu: Number(user) + Number(system),
        dbCpu: processCpu(dbPid) - db0,
        s3Cpu: (self.user + self.system) / 1e6,
      });
    });
  });
}

/** PUTs every file of `dir` with curl (SigV4, unsigned payload), 4 at a time: what s3rver takes from a plain client. */
async function curlUpload(dir: string, endpoint: string, bucket: string, prefix: string): Promise<number> {
  const names = (await readdir(dir)).filter((n) => n !== 'metadata');
  let next = 0;
  const one = (name: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        'curl',
        [
          '-sS',
          '-f',
          '--aws-sigv4',
          'aws:amz:us-east-1:s3',
          '--user',
          'S3RVER:S3RVER',
          '-H',
          'x-amz-content-sha256: UNSIGNED-PAYLOAD',
          '-T',
          join(dir, name),
          `${endpoint}/${bucket}/${prefix}/${encodeURIComponent(name)}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`curl: ${err}`))));
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < names.length) await one(names[next++] as string);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function main(): Promise<void> {
  if (!existsSync(BUILT_CLI)) throw new Error('Run `npm run build` first');
  await mkdir(root, { recursive: true });
  const db = await MariaDbSandbox.start({
    datadir: join(root, 'data'),
    baseDir: root,
    extraArgs: ['--innodb-buffer-pool-size=2G'],
  });
  const s3 = await startLocalS3Standalone();
  const work = await mkdtemp(join(tmpdir(), 'dbtrail-bench-backup-run-'));
  try {
    const [{ n }] = (await db.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'bench'",
    )) as [{ n: string }];
    if (Number(n) < TABLES) await load(db);
    const [{ bytes }] = (await db.query<{ bytes: string }>(
      "SELECT SUM(data_length + index_length) AS bytes FROM information_schema.tables WHERE table_schema = 'bench'",
    )) as [{ bytes: string }];
    console.log(`Database: ${mib(Number(bytes))} in InnoDB (schema bench), ${THREADS} threads everywhere`);
    console.log(`Machine: ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(2)} at the start`);

    const home = join(work, 'home');
    const env: NodeJS.ProcessEnv = {
      DBTRAIL_HOME: home,
      DBTRAIL_LOG_LEVEL: 'warn',
      DBTRAIL_SOURCE_PASSWORD: db.appPassword,
      DBTRAIL_S3_ENDPOINT: s3.endpoint,
      DBTRAIL_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    };
    const dsn = `mysql://${db.appUser}@localhost?socket=${encodeURIComponent(db.socket)}`;
    const dbPid = db.pid;
    const rows: Measurement[] = [];
    const runs = new Map<string, Run>();
    const add = (name: string, r: Run, bytes: number, note?: string): void => {
      runs.set(name, r);
      rows.push({
        name,
        seconds: r.seconds,
        cpuSeconds: r.cpu,
        bytes,
        ...(note !== undefined ? { note } : {}),
      });
    };
    const dumpArgs = (out: string): string[] => [
      '--dsn',
      dsn,
      '--server-name',
      'bench',
      '--schemas',
      'bench',
      '--threads',
      String(THREADS),
      '--out',
      join(work, out),
    ];

    const plainOut = join(work, 'plain-mydumper');
    const plain = await run(
      'mydumper',
      ['-S', db.socket, '-u', 'root', '-t', String(THREADS), '-B', 'bench', '-o', plainOut],
      {},
      dbPid,
    );
    const plainBytes = await dirSize(plainOut);
    add('mydumper (plain)', plain, plainBytes, 'peer');

    const dumpOnly = await run(process.execPath, [BUILT_CLI, 'dump', ...dumpArgs('dumps')], env, dbPid);
    add('dbtrail dump (dump step)', dumpOnly, plainBytes);

    const runLocal = await run(
      process.execPath,
      [
        BUILT_CLI,
        'backup',
        'run',
        ...dumpArgs('runs-local'),
        '--to',
        pathToFileURL(join(work, 'objects')).href,
      ],
      env,
      dbPid,
    );
    add('dbtrail backup run, local object store', runLocal, plainBytes);

    const runS3 = await run(
      process.execPath,
      [BUILT_CLI, 'backup', 'run', ...dumpArgs('runs'), '--to', `s3://${s3.bucket}/plain`],
      env,
      dbPid,
    );
    add('dbtrail backup run, s3rver', runS3, plainBytes);

    const keyFile = join(work, 'key.txt');
    const keyOut = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [BUILT_CLI, 'generate-key', '--out', keyFile, '--json'], {
        env: { ...process.env, ...env },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`generate-key exited ${code}`)),
      );
    });
    const recipient = (JSON.parse(keyOut) as { recipient: string }).recipient;
    const encArgs = ['--encrypt', '--recipient', recipient];
    const runEncLocal = await run(
      process.execPath,
      [
        BUILT_CLI,
        'backup',
        'run',
        ...dumpArgs('runs-enc-local'),
        '--to',
        pathToFileURL(join(work, 'objects-enc')).href,
        ...encArgs,
      ],
      env,
      dbPid,
    );
    add('dbtrail backup run --encrypt, local store', runEncLocal, plainBytes);
    const runEnc = await run(
      process.execPath,
      [BUILT_CLI, 'backup', 'run', ...dumpArgs('runs-enc'), '--to', `s3://${s3.bucket}/enc`, ...encArgs],
      env,
      dbPid,
    );
    add('dbtrail backup run --encrypt, s3rver', runEnc, plainBytes);

    const dumpDir = join(work, 'dumps', (await readdir(join(work, 'dumps')))[0] as string);
    const upload = await run(
      process.execPath,
      [BUILT_CLI, 'upload', dumpDir, '--to', `s3://${s3.bucket}/upload-only`],
      env,
      dbPid,
    );
    add('dbtrail upload alone, s3rver', upload, plainBytes);

    const s3Before = process.cpuUsage();
    const curlSeconds = await curlUpload(plainOut, s3.endpoint, s3.bucket, 'curl');
    const curlS3 = process.cpuUsage(s3Before);
    rows.push({
      name: 'curl PUT x4 alone, s3rver (ceiling)',
      seconds: curlSeconds,
      bytes: plainBytes,
      note: 'plain client',
    });

    const dumpFile = join(work, 'mariadb-dump.sql');
    const md = await run(
      'mariadb-dump',
      ['-S', db.socket, '-u', 'root', '--single-transaction', '--databases', 'bench'],
      {},
      dbPid,
      dumpFile,
    );
    add('mariadb-dump --single-transaction', md, (await stat(dumpFile)).size, 'peer, 1 thread');

    printTable('bench:backup', rows);
    console.log('\nCPU seconds by process (the dump tool counts under dbtrail):');
    for (const [name, r] of runs) {
      console.log(
        `  ${name.padEnd(44)} command ${r.cpu.toFixed(2).padStart(6)}  mariadbd ${r.dbCpu.toFixed(2).padStart(6)}  s3rver+bench ${r.s3Cpu.toFixed(2).padStart(6)}`,
      );
    }
    console.log(
      `  ${'curl PUT x4 alone, s3rver'.padEnd(44)} s3rver ${((curlS3.user + curlS3.system) / 1e6).toFixed(2)}`,
    );

    const cores = cpus().length;
    const ratio = (s: number): string => `${(s / plain.seconds).toFixed(2)}x plain mydumper`;
    const met = (s: number, target: number): string => (s / plain.seconds <= target ? 'met' : 'NOT met');
    // The least wall time a run can take on this machine: all the CPU it needs (the command, mariadbd, s3rver)
    // spread perfectly over every core. Its ratio to plain mydumper's floor barely depends on what else runs.
    const floor = (r: Run): number => (r.cpu + r.dbCpu + r.s3Cpu) / cores;
    const floorRatio = (r: Run): string => `${(floor(r) / floor(plain)).toFixed(2)}x plain mydumper's`;
    console.log(
      `\ndump step: ${ratio(dumpOnly.seconds)} (target <= 1.10x: ${met(dumpOnly.seconds, 1.1)}); CPU floor ${floor(dumpOnly).toFixed(2)} s = ${floorRatio(dumpOnly)} (${floor(plain).toFixed(2)} s)`,
    );
    for (const name of [
      'dbtrail backup run, local object store',
      'dbtrail backup run --encrypt, local store',
      'dbtrail backup run, s3rver',
      'dbtrail backup run --encrypt, s3rver',
    ]) {
      const r = runs.get(name) as Run;
      console.log(
        `${name}: ${ratio(r.seconds)} (target <= 1.30x: ${met(r.seconds, 1.3)}); CPU floor on ${cores} cores ${floor(r).toFixed(2)} s = ${floorRatio(r)}`,
      );
    }
    console.log(
      `s3rver ceiling: ${(plainBytes / 1e6 / curlSeconds).toFixed(0)} MB/s from curl alone (dbtrail upload alone: ${(plainBytes / 1e6 / upload.seconds).toFixed(0)} MB/s)`,
    );
    console.log(
      `Figures are from one run on a shared machine (load average ${loadavg()[0]?.toFixed(2)} now): wall times are pessimistic, CPU seconds less so.`,
    );
  } finally {
    await s3.close();
    await db.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
