/**
 * bench:backup — `dbtrail backup run` on a database of at least 1 GB, next to plain mydumper and
 * `mariadb-dump --single-transaction`, all in the same run with the same threads.
 *
 * Reports: plain mydumper; dbtrail dump (the dump step alone); dbtrail backup run (dump + upload to a local S3);
 * dbtrail backup run --encrypt (dump + encrypt + upload); mariadb-dump; and the upload rate to the local S3.
 * The data directory is kept under $TMPDIR/dbtrail-bench-backup so reruns skip loading the data.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MariaDbSandbox } from '../src/sandbox/mariadb.js';
import { BUILT_CLI } from '../test/harness/cli.js';
import { startLocalS3Standalone } from './s3.js';
import { mib, printTable, timeCommand, timed, type Measurement } from './lib.js';

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

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
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
    const rows: Measurement[] = [];

    const plainOut = join(work, 'plain-mydumper');
    const plain = await timed(() =>
      run(
        'mydumper',
        ['-S', db.socket, '-u', 'root', '-t', String(THREADS), '-B', 'bench', '-o', plainOut],
        {},
      ),
    );
    const plainBytes = await dirSize(plainOut);
    rows.push({ name: 'mydumper (plain)', seconds: plain.seconds, bytes: plainBytes, note: 'peer' });

    const dumpOnly = await timed(() =>
      run(
        process.execPath,
        [
          BUILT_CLI,
          'dump',
          '--dsn',
          dsn,
          '--server-name',
          'bench',
          '--schemas',
          'bench',
          '--threads',
          String(THREADS),
          '--out',
          join(work, 'dumps'),
        ],
        env,
      ),
    );
    rows.push({ name: 'dbtrail dump (dump step)', seconds: dumpOnly.seconds, bytes: plainBytes });

    const runPlain = await timed(() =>
      run(
        process.execPath,
        [
          BUILT_CLI,
          'backup',
          'run',
          '--dsn',
          dsn,
          '--server-name',
          'bench',
          '--schemas',
          'bench',
          '--threads',
          String(THREADS),
          '--out',
          join(work, 'runs'),
          '--to',
          `s3://${s3.bucket}/plain`,
        ],
        env,
      ),
    );
    rows.push({ name: 'dbtrail backup run (dump + upload)', seconds: runPlain.seconds, bytes: plainBytes });

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
    const runEnc = await timed(() =>
      run(
        process.execPath,
        [
          BUILT_CLI,
          'backup',
          'run',
          '--dsn',
          dsn,
          '--server-name',
          'bench',
          '--schemas',
          'bench',
          '--threads',
          String(THREADS),
          '--out',
          join(work, 'runs-enc'),
          '--to',
          `s3://${s3.bucket}/enc`,
          '--encrypt',
          '--recipient',
          recipient,
        ],
        env,
      ),
    );
    rows.push({ name: 'dbtrail backup run --encrypt', seconds: runEnc.seconds, bytes: plainBytes });

    const dumpDir = join(work, 'dumps', (await readdir(join(work, 'dumps')))[0] as string);
    const uploadSeconds = await timeCommand(
      process.execPath,
      [BUILT_CLI, 'upload', dumpDir, '--to', `s3://${s3.bucket}/upload-only`],
      '/dev/null',
      env,
    );
    rows.push({ name: 'dbtrail upload to local S3 (s3rver)', seconds: uploadSeconds, bytes: plainBytes });

    const dumpFile = join(work, 'mariadb-dump.sql');
    const md = await timeCommand(
      'mariadb-dump',
      ['-S', db.socket, '-u', 'root', '--single-transaction', '--databases', 'bench'],
      dumpFile,
    );
    rows.push({
      name: 'mariadb-dump --single-transaction',
      seconds: md,
      bytes: (await stat(dumpFile)).size,
      note: 'peer, 1 thread',
    });

    printTable('bench:backup', rows);
    const ratio = (s: number): string => `${(s / plain.seconds).toFixed(2)}x plain mydumper`;
    console.log(`\ndump step: ${ratio(dumpOnly.seconds)} (target <= 1.10x)`);
    console.log(
      `dump + upload: ${ratio(runPlain.seconds)}; dump + encrypt + upload: ${ratio(runEnc.seconds)} (target <= 1.30x)`,
    );
  } finally {
    await s3.close();
    await db.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
