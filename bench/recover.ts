/**
 * Recovery benchmark.
 *
 *   npm run bench:recover [-- CHANGES=1000000 APPLY_CHANGES=30000]
 *
 * 1. Generation: CHANGES synthetic row changes (5 tables, 5 changes per transaction, 60% updates, 30% inserts,
 *    10% deletes, ~350-byte images) committed in bulk to a SQLite change index; then reversal SQL for all of them
 *    (streamed with bounded memory, `spoolUndoScript`, as `dbtrail recover --since T` does, into /dev/null),
 *    reported as statements/s (target >= 50k/s) and peak RSS, and forward SQL (`planRecovery` + the renderer).
 * 2. Apply: APPLY_CHANGES real row changes on a private MariaDB, captured by `dbtrail stream`; then, on the same
 *    server and range: `recover --apply` (undo, one transaction), `recover --direction forward --apply`, and the
 *    peers `mariadb-binlog --flashback FILE | mariadb` and `mariadb-binlog FILE | mariadb`. After each step the
 *    tables are checked (CHECKSUM TABLE) against the state they must be in.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { runCli } from '../src/cli/run.js';
import { planRecovery } from '../src/recover/index.js';
import { sqlChunks } from '../src/recover/render.js';
import { spoolUndoScript } from '../src/recover/stream.js';
import {
  pkText,
  type CapturedRowChange,
  type CapturedTransaction,
  type TableColumn,
} from '../src/store/change-index.js';
import { openSqliteStateStore } from '../src/store/sqlite/state-store.js';
import { measure, mib, peakRss, printTable, startBenchServer, timed, type Measurement } from './lib.js';

const arg = (name: string, fallback: number): number => {
  const found = process.argv.find((a) => a.startsWith(`${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 1));
};
const CHANGES = arg('CHANGES', 1_000_000);
const APPLY_CHANGES = arg('APPLY_CHANGES', 30_000);
/** Seqs per streamed window (0: the default, UNDO_WINDOW). */
const WINDOW = arg('WINDOW', 0);
const TARGET_STATEMENTS_PER_SECOND = 50_000;
const TABLES = ['users', 'orders', 'items', 'payments', 'events'];
const T0 = 1_714_557_600_000_000n;
const run = promisify(execFile);

const COLUMNS: TableColumn[] = [
  ['id', 'bigint(20) unsigned'],
  ['account_id', 'bigint(20)'],
  ['email', 'varchar(100)'],
  ['status', "enum('active','suspended')"],
  ['balance', 'decimal(20,2)'],
  ['note', 'text'],
  ['created_at', 'datetime(6)'],
  ['updated_at', 'datetime(6)'],
].map(([name, type]) => ({
  name: name!,
  type: type!,
  unsigned: type!.includes('unsigned'),
  charset: type!.includes('char') || type === 'text' ? 'utf8mb4' : null,
  collation: null,
  nullable: name !== 'id',
}));

function image(id: number, version: number): Record<string, string> {
  return {
    id: String(id),
    account_id: String(100_000 + (id % 977)),
    email: `user${id}@example.com`,
    status: version % 2 === 0 ? 'active' : 'suspended',
    balance: `${id}${version}.${String(version % 100).padStart(2, '0')}`,
    note: `row ${id} version ${version} ${'x'.repeat(120)}`,
    created_at: '2024-05-01 10:00:00.000000',
    updated_at: `2024-05-01 10:${String(version % 60).padStart(2, '0')}:00.000000`,
  };
}

let nextId = 1;
function transaction(n: number): CapturedTransaction {
  const changes: CapturedRowChange[] = [];
  for (let i = 0; i < 5; i++) {
    const table = TABLES[(n + i) % TABLES.length]!;
    const r = (n * 7 + i * 13) % 10;
    const base = { schema: 'app', table, pkColumns: ['id'], pkIsFullImage: false };
    if (r < 3 || nextId < 100) {
      const after = image(nextId++, 0);
      changes.push({
        ...base,
        type: 'insert',
        pk: pkText([after['id']!]),
        before: null,
        after,
        changedColumns: null,
      });
    } else if (r < 9) {
      const id = 1 + ((n * 31 + i) % (nextId - 1));
      const before = image(id, n);
      const next = image(id, n + 1);
      const after = { ...before, status: next['status']!, updated_at: next['updated_at']! };
      changes.push({
        ...base,
        type: 'update',
        pk: pkText([String(id)]),
        before,
        after,
        changedColumns: ['status', 'updated_at'],
      });
    } else {
      const id = 1 + ((n * 17 + i) % (nextId - 1));
      changes.push({
        ...base,
        type: 'delete',
        pk: pkText([String(id)]),
        before: image(id, n),
        after: null,
        changedColumns: null,
      });
    }
  }
  return {
    gtid: `0-1-${n + 1}`,
    file: 'binlog.000001',
    position: 4 + n * 2000,
    endPosition: 4 + (n + 1) * 2000,
    commitTimeUs: T0 + BigInt(n) * 2_000n,
    threadId: 42,
    changes,
    ddl: [],
  };
}

async function generation(results: Measurement[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dbtrail-bench-recover-'));
  try {
    const store = await openSqliteStateStore({ path: join(dir, 'dbtrail.db') });
    const tenant = await store.tenants.ensure('bench');
    const server = await store.servers.create({
      tenantId: tenant.id,
      name: 'db1',
      host: 'h',
      port: 3306,
      username: 'u',
    });
    const identity = { serverUuid: null, serverId: '1', hostname: 'h', flavor: 'mariadb' } as const;
    for (const table of TABLES) {
      await store.changes.recordTableSchema(server.id, {
        schema: 'app',
        table,
        validFrom: { file: 'binlog.000001', position: 4, gtidSet: null },
        validFromSeq: 1n,
        columns: COLUMNS,
        primaryKey: ['id'],
      });
    }
    console.error(`Indexing ${CHANGES.toLocaleString('en-US')} synthetic changes...`);
    const { seconds: indexSeconds } = await timed(async () => {
      let previous = null as null | { file: string; position: number; gtidSet: string | null };
      for (let n = 0; n * 5 < CHANGES;) {
        const txs: CapturedTransaction[] = [];
        for (let i = 0; i < 1000 && n * 5 < CHANGES; i++) txs.push(transaction(n++));
        const last = txs[txs.length - 1]!;
        const checkpoint = { file: last.file, position: last.endPosition, gtidSet: last.gtid };
        await store.changes.commit(server.id, {
          transactions: txs,
          checkpoint: { coordinates: checkpoint, identity },
          expectPrevious: previous,
        });
        previous = checkpoint;
      }
    });
    const stats = await store.changes.stats(server.id);
    results.push({
      name: 'index synthetic changes (setup)',
      seconds: indexSeconds,
      rows: Number(stats.rowChanges),
    });

    for (const direction of ['undo', 'forward'] as const) {
      const sink = openSync('/dev/null', 'w');
      try {
        const m = await measure(async () => {
          if (direction === 'undo') {
            // What `dbtrail recover --since T` does for a script: streamed, spooled, then head + body + tail.
            const spooled = await spoolUndoScript(
              { index: store.changes, flavor: 'mariadb' },
              { selection: { tenantId: tenant.id, serverId: server.id, sinceUs: T0 }, direction },
              'sql',
              ...(WINDOW === 0 ? [] : [BigInt(WINDOW)]),
            );
            try {
              let bytes = 0;
              for await (const chunk of spooled.chunks({ serverName: 'db1' })) {
                bytes += typeof chunk === 'string' ? writeSync(sink, chunk) : writeSync(sink, chunk);
              }
              return { statements: spooled.plan.summary.statements, bytes };
            } finally {
              spooled.close();
            }
          }
          const plan = await planRecovery(
            { index: store.changes, flavor: 'mariadb' },
            { selection: { tenantId: tenant.id, serverId: server.id, sinceUs: T0 }, direction },
          );
          let bytes = 0;
          let buffered = '';
          for (const chunk of sqlChunks(plan, { serverName: 'db1' })) {
            buffered += chunk;
            if (buffered.length > 1 << 20) {
              bytes += writeSync(sink, buffered);
              buffered = '';
            }
          }
          bytes += writeSync(sink, buffered);
          return { statements: plan.summary.statements, bytes };
        });
        const rate = m.result.statements / m.seconds;
        results.push({
          name: `${direction === 'undo' ? 'reversal' : 'forward'} SQL: plan + render`,
          seconds: m.seconds,
          cpuSeconds: m.cpuSeconds,
          rows: m.result.statements,
          bytes: m.result.bytes,
          note:
            direction === 'undo'
              ? `target >= ${TARGET_STATEMENTS_PER_SECOND.toLocaleString('en-US')} statements/s: ${rate >= TARGET_STATEMENTS_PER_SECOND ? 'met' : 'NOT met'}; peak RSS ${mib(peakRss())}`
              : `statements/s (in memory, not streamed); peak RSS so far ${mib(peakRss())}`,
        });
      } finally {
        closeSync(sink);
      }
    }
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, { env: { DBTRAIL_LOG_LEVEL: 'warn', ...env }, stdout, stderr });
  if (code !== 0) throw new Error(`dbtrail ${argv.join(' ')} exited ${code}: ${err}${out}`);
  return out;
}

/** `mariadb-binlog ARGS | mariadb`, timed as one pipeline. */
async function pipeline(binlogArgs: string[], socket: string): Promise<number> {
  const { seconds } = await timed(
    () =>
      new Promise<void>((resolve, reject) => {
        const producer = spawn('mariadb-binlog', binlogArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
        const consumer = spawn('mariadb', ['-S', socket, '-uroot'], { stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        producer.stderr.on('data', (d: Buffer) => (err += d.toString()));
        consumer.stderr.on('data', (d: Buffer) => (err += d.toString()));
        producer.stdout.pipe(consumer.stdin);
        consumer.on('close', (code) =>
          code === 0 ? resolve() : reject(new Error(`mariadb exited ${code}: ${err}`)),
        );
      }),
  );
  return seconds;
}

async function apply(results: Measurement[]): Promise<void> {
  const db = await startBenchServer();
  const home = mkdtempSync(join(tmpdir(), 'dbtrail-bench-recover-home-'));
  try {
    await db.query(
      `CREATE DATABASE app; CREATE TABLE app.acct (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, owner VARCHAR(40), balance DECIMAL(20,2),
         updated DATETIME(6), note TEXT); CREATE TABLE app.ledger (acct BIGINT UNSIGNED, amount DECIMAL(20,2), at DATETIME(6))`,
    );
    const rows = Array.from(
      { length: 2000 },
      (_, i) => `(${i + 1}, 'owner ${i + 1}', ${i}.00, '2024-01-01 00:00:00.000001', 'n')`,
    );
    await db.query(`INSERT INTO app.acct VALUES ${rows.join(', ')}`);
    const env = { DBTRAIL_HOME: home, DBTRAIL_SOURCE_PASSWORD: db.appPassword };
    await cli(
      ['stream', '--dsn', db.dsnWithoutPassword, '--server-name', 'b', '--stop-at-end', '--no-archive'],
      env,
    );
    const checksum = async () =>
      JSON.stringify(await db.query('CHECKSUM TABLE app.acct, app.ledger EXTENDED'));
    const atT = await checksum();
    const start = await db.coordinates();
    const sinceMs = Math.floor(Date.now() / 1000) * 1000 + 1000;
    await new Promise((r) => setTimeout(r, sinceMs - Date.now() + 20));
    const since = new Date(sinceMs).toISOString();

    console.error(`Running ${APPLY_CHANGES.toLocaleString('en-US')} row changes on MariaDB...`);
    const conn = await db.connection();
    let made = 0;
    let k = 0;
    while (made < APPLY_CHANGES) {
      const id = 1 + ((k * 7919) % 2000);
      const other = 1 + ((k * 104729) % 2000);
      await conn.query(
        `BEGIN; UPDATE app.acct SET balance = balance - 1.25, updated = NOW(6) WHERE id = ${id};
         UPDATE app.acct SET balance = balance + 1.25, note = CONCAT(note, 'x') WHERE id = ${other};
         INSERT INTO app.ledger VALUES (${id}, -1.25, NOW(6)), (${other}, 1.25, NOW(6)); COMMIT`,
      );
      made += 4;
      k++;
    }
    await conn.end();
    const end = await db.coordinates();
    const atW = await checksum();
    await cli(
      ['stream', '--dsn', db.dsnWithoutPassword, '--server-name', 'b', '--stop-at-end', '--no-archive'],
      env,
    );

    const check = async (want: string, what: string) => {
      if ((await checksum()) !== want) throw new Error(`${what} left the tables in the wrong state`);
    };
    const undo = await measure(() =>
      cli(
        ['recover', '--server-name', 'b', '--since', since, '--apply', '--dsn', db.dsnWithoutPassword],
        env,
      ),
    );
    await check(atT, 'recover --apply (undo)');
    results.push({
      name: 'dbtrail recover --apply (undo, 1 transaction)',
      seconds: undo.seconds,
      cpuSeconds: undo.cpuSeconds,
      rows: made,
      note: 'statements/s incl. planning; checked',
    });
    const fwd = await measure(() =>
      cli(
        [
          'recover',
          '--server-name',
          'b',
          '--since',
          since,
          '--direction',
          'forward',
          '--apply',
          '--dsn',
          db.dsnWithoutPassword,
        ],
        env,
      ),
    );
    await check(atW, 'recover --direction forward --apply');
    results.push({
      name: 'dbtrail recover --direction forward --apply',
      seconds: fwd.seconds,
      cpuSeconds: fwd.cpuSeconds,
      rows: made,
      note: 'checked',
    });

    if (start.file !== end.file) throw new Error('the workload rotated the binlog; raise --max-binlog-size');
    const range = [
      `--start-position=${start.position}`,
      `--stop-position=${end.position}`,
      db.binlogPath(end.file),
    ];
    const genFlash = await timed(() =>
      run('mariadb-binlog', ['--flashback', ...range], { maxBuffer: 1 << 30 }),
    );
    results.push({
      name: 'mariadb-binlog --flashback (generate only)',
      seconds: genFlash.seconds,
      rows: made,
      note: 'base64 row events, not SQL',
    });
    const flash = await pipeline(['--flashback', ...range], db.socket);
    await check(atT, 'mariadb-binlog --flashback | mariadb');
    results.push({
      name: 'mariadb-binlog --flashback | mariadb',
      seconds: flash,
      rows: made,
      note: 'no conflict check',
    });
    const replay = await pipeline(range, db.socket);
    await check(atW, 'mariadb-binlog | mariadb');
    results.push({
      name: 'mariadb-binlog FILE | mariadb (replay)',
      seconds: replay,
      rows: made,
      note: 'no conflict check',
    });
  } finally {
    await db.destroy();
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: Measurement[] = [];
  await generation(results);
  printTable(
    `recover: SQL generation for ${CHANGES.toLocaleString('en-US')} indexed changes`,
    results.splice(0),
  );
  await apply(results);
  printTable(
    `recover: applying ${APPLY_CHANGES.toLocaleString('en-US')} row changes on MariaDB (same server, same range)`,
    results,
  );
  console.log('\nThe machine is shared: figures are pessimistic.');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
