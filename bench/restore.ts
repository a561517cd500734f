/**
 * bench:restore — `dbtrail restore` of a database of at least 1 GB plus replay of at least 200k transactions,
 * next to the peer tools on the same data in the same run:
 *   - load: dbtrail's load step (myloader behind fetch + verify) next to plain myloader on the fetched directory;
 *   - replay: dbtrail's replay from the change index next to `mariadb-binlog --start-position=<backup> FILE... |
 *     mariadb` over the same range, into a server holding the same load.
 * Both restored servers are checked against the source (CHECKSUM TABLE) so the speed is of an exact replay.
 * Target: replay at least 2x the single-session mariadb-binlog | mariadb rate.
 *
 * Sizes are flags so it can run smaller on a busy machine: BENCH_RESTORE_BYTES (default 1.1e9) and
 * BENCH_RESTORE_TX (default 200000). The workload is single-row transactions (updates, inserts, deletes) on
 * the big tables and updates on a 200k-row table without a primary key that has a secondary index.
 */
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { runCli } from '../src/cli/run.js';
import { PassThrough } from 'node:stream';
import type { MariaDbSandbox } from '../src/sandbox/mariadb.js';
import { printTable, startBenchServer, timeCommand, timed, mib, type Measurement } from './lib.js';

const BYTES = Number(process.env['BENCH_RESTORE_BYTES'] ?? 1.1e9);
const TX = Number(process.env['BENCH_RESTORE_TX'] ?? 200_000);
const TABLES = 4;
const PKLESS_ROWS = 200_000;

async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await runCli(argv, {
    env: { ...process.env, DBTRAIL_LOG_LEVEL: 'warn', ...env },
    stdout: out,
    stderr: err,
  });
  if (code !== 0) throw new Error(`dbtrail ${argv.join(' ')} exited ${code}: ${stderr}`);
  return stdout;
}

async function load(db: MariaDbSandbox): Promise<void> {
  const rowBytes = 260;
  const rows = Math.ceil(BYTES / rowBytes / TABLES);
  console.log(
    `Loading ${TABLES} tables x ${rows.toLocaleString('en-US')} rows (~${mib(BYTES)}) and a PK-less table...`,
  );
  await db.query('CREATE DATABASE bench');
  for (let t = 1; t <= TABLES; t++) {
    await db.query(`CREATE TABLE bench.t${t} (id BIGINT UNSIGNED PRIMARY KEY, account INT UNSIGNED NOT NULL,
      amount DECIMAL(14,2) NOT NULL, created_at DATETIME(6) NOT NULL, payload VARCHAR(200) NOT NULL)`);
    for (let from = 1; from <= rows; from += 200_000) {
      const to = Math.min(rows, from + 199_999);
      await db.query(`INSERT INTO bench.t${t} SELECT seq, seq % 100000, seq / 3, TIMESTAMP('2026-01-01') + INTERVAL seq SECOND,
        SUBSTRING(SHA2(seq, 512), 1 + seq % 20, 150 + seq % 40) FROM bench.seq_${from}_to_${to}`);
    }
  }
  await db.query(
    `CREATE TABLE bench.log (k INT NOT NULL, v VARCHAR(40) NOT NULL, n INT NOT NULL, KEY by_k_v (k, v))`,
  );
  await db.query(`INSERT INTO bench.log SELECT seq, CONCAT('v', seq), 0 FROM bench.seq_1_to_${PKLESS_ROWS}`);
}

async function workload(db: MariaDbSandbox, rowsPerTable: number): Promise<void> {
  console.log(`Running ${TX.toLocaleString('en-US')} transactions...`);
  const workers = 4;
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      const conn = await db.connection();
      try {
        for (;;) {
          const batch: string[] = [];
          for (let i = 0; i < 50 && next < TX; i++, next++) {
            const n = next;
            const t = 1 + (n % TABLES);
            const id = 1 + ((n * 7919) % rowsPerTable);
            switch (n % 10) {
              case 0:
                batch.push(`UPDATE bench.log SET n = n + 1 WHERE k = ${1 + ((n * 31) % PKLESS_ROWS)}`);
                break;
              case 1:
                batch.push(`INSERT INTO bench.t${t} VALUES (${rowsPerTable + n}, 1, 1.5, NOW(6), 'new')`);
                break;
              case 2:
                batch.push(`DELETE FROM bench.t${t} WHERE id = ${rowsPerTable + n - 1}`);
                break;
              default:
                batch.push(
                  `UPDATE bench.t${t} SET amount = amount + 0.01, account = account + 1 WHERE id = ${id}`,
                );
            }
          }
          if (batch.length === 0) return;
          // One autocommit transaction per statement: each is its own binlog transaction.
          await conn.query(batch.join(';'));
        }
      } finally {
        await conn.end();
      }
    }),
  );
}

async function checksums(db: MariaDbSandbox): Promise<string> {
  const names = [...Array.from({ length: TABLES }, (_, i) => `bench.t${i + 1}`), 'bench.log'];
  const rows = await db.query<{ Table: string; Checksum: string }>(`CHECKSUM TABLE ${names.join(', ')}`);
  return JSON.stringify(rows.map((r) => [r.Table.replace(/^[^.]+\./, ''), String(r.Checksum)]));
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

async function main(): Promise<void> {
  const [source, restoreTarget, peerTarget] = await Promise.all([
    startBenchServer(),
    startBenchServer(),
    startBenchServer(),
  ]);
  try {
    const home = await mkdtemp(join(tmpdir(), 'dbtrail-bench-restore-'));
    const env = {
      DBTRAIL_HOME: home,
      DBTRAIL_SOURCE_PASSWORD: source.appPassword,
      DBTRAIL_TARGET_PASSWORD: restoreTarget.appPassword,
    };
    await load(source);
    const rowsPerTable = Math.ceil(BYTES / 260 / TABLES);
    // Capture starts before the backup (its checkpoint is where coverage begins), then the backup is taken.
    await cli(['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src', '--stop-at-end'], env);
    console.log('Backup (mydumper)...');
    const backup = JSON.parse(
      await cli(['backup', 'run', '--dsn', source.dsnWithoutPassword, '--server-name', 'src', '--json'], env),
    ) as { id: string; coordinates: { file: string; position: number }; size_bytes: number };
    const { seconds: workSeconds } = await timed(() => workload(source, rowsPerTable));
    console.log(`  workload took ${workSeconds.toFixed(1)} s; capturing it...`);
    const { seconds: captureSeconds } = await timed(() =>
      cli(['stream', '--dsn', source.dsnWithoutPassword, '--server-name', 'src', '--stop-at-end'], env),
    );
    const expected = await checksums(source);

    // dbtrail restore: fetch + verify, load, replay.
    console.log('dbtrail restore --latest...');
    const report = JSON.parse(
      await cli(
        [
          'restore',
          '--server-name',
          'src',
          '--target-dsn',
          restoreTarget.dsnWithoutPassword,
          '--latest',
          '--json',
        ],
        env,
      ),
    ) as {
      steps: { step: string; ms: number; bytes: number | null; transactions: number | null }[];
      transactions_replayed: number;
    };
    const step = (name: string) => report.steps.find((s) => s.step === name)!;
    const restoredOk = (await checksums(restoreTarget)) === expected;

    // Peers: plain myloader on the fetched backup, then mariadb-binlog | mariadb over the same range.
    const fetched = join(await mkdtemp(join(tmpdir(), 'dbtrail-bench-fetch-')), 'b');
    await cli(['backup', 'fetch', backup.id, '--to', fetched], env);
    const loadBytes = await dirBytes(fetched);
    const cnf = join(home, 'peer.cnf');
    writeFileSync(cnf, `[client]\nsocket=${peerTarget.socket}\nuser=root\n`, { mode: 0o600 });
    console.log('plain myloader...');
    const myloaderSeconds = await timeCommand('myloader', [
      `--defaults-file=${cnf}`,
      `--directory=${fetched}`,
      '--threads=4',
    ]);
    const binlogs = (await source.binlogFilesOnDisk()).filter((f) => f >= backup.coordinates.file);
    console.log('mariadb-binlog | mariadb...');
    const pipeline = `mariadb-binlog --start-position=${backup.coordinates.position} ${binlogs
      .map((f) => source.binlogPath(f))
      .join(' ')} | mariadb --defaults-file=${cnf}`;
    const peerReplaySeconds = await timeCommand('bash', ['-o', 'pipefail', '-c', pipeline]);
    const peerOk = (await checksums(peerTarget)) === expected;

    const replaySeconds = step('replay').ms / 1000;
    const loadSeconds = step('load').ms / 1000;
    const rows: Measurement[] = [
      { name: 'workload on the source (4 sessions)', seconds: workSeconds, rows: TX },
      { name: 'capture of the workload (stream)', seconds: captureSeconds, rows: TX },
      {
        name: 'dbtrail restore: fetch + verify',
        seconds: step('fetch').ms / 1000,
        bytes: step('fetch').bytes ?? 0,
      },
      { name: 'dbtrail restore: load (myloader)', seconds: loadSeconds, bytes: loadBytes },
      { name: 'plain myloader, same files', seconds: myloaderSeconds, bytes: loadBytes },
      {
        name: 'dbtrail restore: replay (tx/s)',
        seconds: replaySeconds,
        rows: report.transactions_replayed,
        note: restoredOk ? 'checksums equal the source' : 'CHECKSUMS DIFFER',
      },
      {
        name: 'mariadb-binlog | mariadb (tx/s)',
        seconds: peerReplaySeconds,
        rows: report.transactions_replayed,
        note: peerOk ? 'checksums equal the source' : 'CHECKSUMS DIFFER',
      },
    ];
    printTable(
      `bench:restore (${mib(BYTES)} of rows, ${TX.toLocaleString('en-US')} transactions; shared machine, figures pessimistic)`,
      rows,
    );
    const ratio = peerReplaySeconds / replaySeconds;
    console.log(
      `\nreplay: ${(report.transactions_replayed / replaySeconds).toFixed(0)} tx/s vs ${(report.transactions_replayed / peerReplaySeconds).toFixed(0)} tx/s, ${ratio.toFixed(2)}x; target >= 2x: ${ratio >= 2 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `load: ${(loadBytes / 1e6 / loadSeconds).toFixed(1)} MB/s vs plain myloader ${(loadBytes / 1e6 / myloaderSeconds).toFixed(1)} MB/s`,
    );
    if (!restoredOk) process.exitCode = 1;
  } finally {
    await Promise.all([source.destroy(), restoreTarget.destroy(), peerTarget.destroy()]);
  }
}

await main();
