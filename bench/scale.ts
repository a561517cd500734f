/**
 * Scale benchmark (issue 10): the change index and the job queue on SQLite next to PostgreSQL, in one run.
 *
 *   npm run bench:scale -- [--ingest-rows 500000] [--index-rows 1000000] [--bulk-rows 50000000] [--agents 50]
 *                          [--jobs 3000] [--backends sqlite,postgres]
 *                          [--pg postgres://postgres@127.0.0.1:5432/postgres] [--no-analyze]
 *
 * 1. Ingest: `ChangeIndex.commit()` of 1000-transaction batches (5 row changes each, ~350-byte images) into an
 *    empty index, rows/s. Next to it, the peer figure on the same engine in the same run: the same rows inserted
 *    into a plain table with only a primary key (SQLite: one prepared INSERT per row in one transaction;
 *    PostgreSQL: multi-row INSERT from unnest arrays). The gap between the two is what dbtrail's indexes, per-table
 *    keys, transactions table and checkpoint cost.
 * 2. Growth: the index is filled on to `--index-rows` (1M by default; 50M through commit() takes hours) through
 *    the same commit path in 5000-transaction batches, and at each tenfold step the PK lookup
 *    latency (p50/p99 of 1000 random one-row histories; on PostgreSQL after an ANALYZE, as autovacuum would run),
 *    the commit rate of the last stretch and the size on disk are printed, so that how cost grows with the index
 *    size can be read off. Also timed: the JSON encode + decode a remote agent's commit adds.
 * 2b. Scale (PostgreSQL): `--bulk-rows` (50M by default, as the issue asks) row changes of a new server are
 *    generated server-side with INSERT ... SELECT FROM generate_series in the row format commit() writes, over
 *    several monthly partitions; a sample is checked through query(), and the p50/p99 of 2000 real query({pk})
 *    lookups (random hits and misses) are printed with no statistics on the partitions and after ANALYZE, next to
 *    the table's size on disk. SQLite's figure is the growth step's at the size it reached in the same run.
 * 3. Job claims: `--agents` simulated agents claim and finish `--jobs` queued jobs at once (each agent a loop of
 *    claim -> finish on the shared store), claims/s; on PostgreSQL with a pool as large as the agent count.
 *
 * PostgreSQL gets a fresh database per run (`dbtrail_bench_<random>`), dropped at the end.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import { commitBatchFromJson, commitBatchToJson } from '../src/agent/capture-wire.js';
import { pkText, type CapturedRowChange, type CapturedTransaction } from '../src/store/change-index.js';
import type { StateStore } from '../src/store/state-store.js';
import { openSqliteStateStore } from '../src/store/sqlite/state-store.js';
import { openPostgresStateStore } from '../src/store/postgres/state-store.js';
import { pkHash } from '../src/store/postgres/change-index.js';
import { monthOf, partitionName } from '../src/store/postgres/partitions.js';
import { printTable, type Measurement } from './lib.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const INGEST_ROWS = Number(arg('ingest-rows', '500000'));
const INDEX_ROWS = Number(arg('index-rows', '1000000'));
/** Row changes the PostgreSQL lookup step generates server-side in bulk (0 skips the step). */
const BULK_ROWS = Number(arg('bulk-rows', '50000000'));
const AGENTS = Number(arg('agents', '50'));
const JOBS = Number(arg('jobs', '3000'));
const BACKENDS = arg('backends', 'sqlite,postgres').split(',');
const PG_ADMIN = arg('pg', 'postgres://postgres@127.0.0.1:5432/postgres');
/** `--no-analyze`: measure PostgreSQL lookups on whatever statistics autovacuum left (none when it is off). */
const ANALYZE = !process.argv.includes('--no-analyze');
const CHANGES_PER_TX = 5;
const TABLES = ['users', 'orders', 'items', 'payments', 'events'];
const T0 = 1_714_557_600_000_000n;
const identity = { serverUuid: null, serverId: '1', hostname: 'h', flavor: 'mariadb' } as const;

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

/** A synthetic OLTP history: 30% inserts, 60% updates of two columns, 10% deletes, over five tables. */
class History {
  nextId = 1;
  txNo = 0;
  position = 4;

  transaction(): CapturedTransaction {
    const n = this.txNo++;
    const changes: CapturedRowChange[] = [];
    for (let i = 0; i < CHANGES_PER_TX; i++) {
      const table = TABLES[(n + i) % TABLES.length]!;
      const r = (n * 7 + i * 13) % 10;
      if (r < 3 || this.nextId < 100) {
        const after = image(this.nextId++, 0);
        changes.push(change(table, 'insert', after['id']!, null, after));
      } else if (r < 9) {
        const id = 1 + ((n * 31 + i) % (this.nextId - 1));
        const before = image(id, n);
        const next = image(id, n + 1);
        changes.push(
          change(table, 'update', String(id), before, {
            ...before,
            status: next['status']!,
            updated_at: next['updated_at']!,
          }),
        );
      } else {
        const id = 1 + ((n * 17 + i) % (this.nextId - 1));
        changes.push(change(table, 'delete', String(id), image(id, n), null));
      }
    }
    const start = this.position;
    this.position += 2000;
    return {
      gtid: `0-1-${n + 1}`,
      file: 'binlog.000001',
      position: start,
      endPosition: this.position,
      commitTimeUs: T0 + BigInt(n) * 2_000n,
      threadId: 42,
      changes,
      ddl: [],
    };
  }
}

function change(
  table: string,
  type: CapturedRowChange['type'],
  id: string,
  before: Record<string, string> | null,
  after: Record<string, string> | null,
): CapturedRowChange {
  return {
    schema: 'app',
    table,
    type,
    pk: pkText([id]),
    pkColumns: ['id'],
    pkIsFullImage: false,
    before,
    after,
    changedColumns: type === 'update' ? ['status', 'updated_at'] : null,
  };
}

interface Backend {
  readonly name: string;
  readonly store: StateStore;
  /** The peer figure: the same rows into a plain table of the same engine. */
  peerInsert(
    rows: readonly { seq: number; pk: string; before: string | null; after: string | null }[],
  ): Promise<void>;
  /** Bytes the state database takes on disk (the peer's table excluded). */
  size(): Promise<number>;
  /** Brings planner statistics up to date, as autovacuum does in production (no-op where there are none). */
  analyze(): Promise<void>;
  close(): Promise<void>;
  /** PostgreSQL only: a plain connection to the state database, for the bulk generator. */
  readonly sql?: pg.Client;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'dbtrail-bench-scale-'));
  const store = await openSqliteStateStore({ path: join(dir, 'dbtrail.db'), backgroundCheckpoints: true });
  const peer = new Database(join(dir, 'peer.db'));
  peer.pragma('journal_mode = WAL');
  peer.pragma('synchronous = NORMAL');
  peer.exec(
    'CREATE TABLE peer (seq INTEGER PRIMARY KEY, pk TEXT NOT NULL, before_image TEXT, after_image TEXT)',
  );
  const insert = peer.prepare('INSERT INTO peer VALUES (?, ?, ?, ?)');
  return {
    name: 'SQLite',
    store,
    peerInsert(rows) {
      peer.transaction(() => {
        for (const r of rows) insert.run(r.seq, r.pk, r.before, r.after);
      })();
      return Promise.resolve();
    },
    analyze() {
      return Promise.resolve();
    },
    size() {
      const base = join(dir, 'dbtrail.db');
      let bytes = 0;
      for (const f of [base, `${base}-wal`]) {
        try {
          bytes += statSync(f).size;
        } catch {
          // no WAL right now
        }
      }
      return Promise.resolve(bytes);
    },
    async close() {
      peer.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const name = `dbtrail_bench_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  const store = await openPostgresStateStore({ url: url.href, maxConnections: Math.max(10, AGENTS) });
  const peer = new pg.Client({ connectionString: url.href });
  await peer.connect();
  await peer.query(
    'CREATE TABLE peer (seq bigint PRIMARY KEY, pk text NOT NULL, before_image text, after_image text)',
  );
  return {
    name: 'PostgreSQL',
    store,
    sql: peer,
    async peerInsert(rows) {
      await peer.query(
        'INSERT INTO peer SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])',
        [rows.map((r) => r.seq), rows.map((r) => r.pk), rows.map((r) => r.before), rows.map((r) => r.after)],
      );
    },
    async analyze() {
      // Autovacuum analyzes a table once a tenth of it changed; a test server may run with autovacuum off, and a
      // fresh partition has no statistics until then. Without them the planner can combine the PK index with a
      // scan of the whole server's time index (hundreds of ms); see docs/deploy.md.
      if (ANALYZE) await peer.query('ANALYZE changes');
    },
    async size() {
      const r = await peer.query<{ bytes: string }>(
        "SELECT (pg_database_size(current_database()) - pg_total_relation_size('peer'))::text AS bytes",
      );
      return Number(r.rows[0]!.bytes);
    },
    async close() {
      await peer.end();
      await store.close();
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Filling {
  readonly tenantId: string;
  readonly serverId: string;
  readonly history: History;
  previous: { file: string; position: number; gtidSet: string | null } | null;
  written: number;
}

/** Commits `rows` more row changes in batches of `txPerBatch`; returns the wall and CPU seconds of commit(). */
async function fill(
  store: StateStore,
  f: Filling,
  rows: number,
  txPerBatch: number,
  onBatch?: () => void,
): Promise<{ seconds: number; cpuSeconds: number; rows: number }> {
  let seconds = 0;
  let cpuSeconds = 0;
  let done = 0;
  while (done < rows) {
    const txs: CapturedTransaction[] = [];
    for (let i = 0; i < txPerBatch; i++) txs.push(f.history.transaction());
    const last = txs[txs.length - 1]!;
    const checkpoint = { file: last.file, position: last.endPosition, gtidSet: last.gtid };
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await store.changes.commit(f.serverId, {
      transactions: txs,
      checkpoint: { coordinates: checkpoint, identity },
      expectPrevious: f.previous,
    });
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    cpuSeconds += (cpu.user + cpu.system) / 1e6;
    f.previous = checkpoint;
    done += txPerBatch * CHANGES_PER_TX;
    f.written += txPerBatch * CHANGES_PER_TX;
    onBatch?.();
  }
  return { seconds, cpuSeconds, rows: done };
}

async function pkLatency(store: StateStore, f: Filling): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const id = 1 + Math.floor(Math.random() * (f.history.nextId - 1));
    const t0 = process.hrtime.bigint();
    await store.changes.query({
      tenantId: f.tenantId,
      serverId: f.serverId,
      schema: 'app',
      table: TABLES[i % TABLES.length]!,
      pk: pkText([String(id)]),
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function ingest(b: Backend): Promise<{ measurements: Measurement[]; filling: Filling }> {
  const tenant = await b.store.tenants.ensure('bench');
  const server = await b.store.servers.create({
    tenantId: tenant.id,
    name: 'db1',
    host: 'h',
    port: 3306,
    username: 'u',
  });
  const filling: Filling = {
    tenantId: tenant.id,
    serverId: server.id,
    history: new History(),
    previous: null,
    written: 0,
  };
  const commit = await fill(b.store, filling, INGEST_ROWS, 1000);

  // The peer: the same row images into a plain table, in batches of the same size.
  const peerHistory = new History();
  let seq = 0;
  let peerSeconds = 0;
  for (let done = 0; done < INGEST_ROWS;) {
    const rows: { seq: number; pk: string; before: string | null; after: string | null }[] = [];
    for (let i = 0; i < 1000; i++) {
      for (const c of peerHistory.transaction().changes) {
        rows.push({
          seq: ++seq,
          pk: c.pk,
          before: c.before === null ? null : JSON.stringify(c.before),
          after: c.after === null ? null : JSON.stringify(c.after),
        });
      }
    }
    const t0 = process.hrtime.bigint();
    await b.peerInsert(rows);
    peerSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
    done += rows.length;
  }
  return {
    filling,
    measurements: [
      {
        name: `${b.name}: dbtrail commit()`,
        seconds: commit.seconds,
        cpuSeconds: commit.cpuSeconds,
        rows: commit.rows,
        note: '1000-tx batches, checkpoint + all indexes, fenced',
      },
      {
        name: `${b.name}: peer, plain INSERT of the same rows`,
        seconds: peerSeconds,
        rows: INGEST_ROWS,
        note: 'one table, primary key only',
      },
    ],
  };
}

async function growth(b: Backend, f: Filling): Promise<string[]> {
  const lines: string[] = [];
  const steps: number[] = [];
  for (let s = 1_000_000; s < INDEX_ROWS; s *= 10) if (s > f.written) steps.push(s);
  steps.push(INDEX_ROWS);
  let lastReport = Date.now();
  for (const target of steps) {
    const stretch = await fill(b.store, f, Math.max(0, target - f.written), 5000, () => {
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        console.error(`  ${b.name}: ${f.written.toLocaleString('en-US')} row changes`);
      }
    });
    await b.analyze();
    const { p50, p99 } = await pkLatency(b.store, f);
    const size = await b.size();
    lines.push(
      `  ${b.name.padEnd(11)} ${f.written.toLocaleString('en-US').padStart(12)} changes   PK lookup p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms   commit ${stretch.rows > 0 ? Math.round(stretch.rows / stretch.seconds).toLocaleString('en-US') : '-'} rows/s over the last stretch   ${(size / 1e6).toFixed(0)} MB on disk (${Math.round(size / f.written)} B/change)`,
    );
    console.error(lines[lines.length - 1]);
  }
  return lines;
}

const DAY_US = 86_400_000_000n;
/** The bulk history spans this many days from T0, so that it fills several monthly partitions. */
const BULK_DAYS = 120n;
/** Each (table, id) of the bulk history changes this many times (an insert, then updates), spread over time. */
const BULK_VERSIONS = 4n;

interface BulkLayout {
  readonly tenantId: string;
  readonly serverId: string;
  readonly serverKey: bigint;
  /** seq of the first bulk row change minus one. */
  readonly seqBase: bigint;
  readonly txCount: bigint;
  /** Distinct ids per table: tx t changes id (t % ids) + 1 of each of the five tables. */
  readonly ids: bigint;
}

/** The pk text of a bulk row, as pkText(['<id>']) writes it; the same expression in SQL below. */
function bulkPk(id: bigint): string {
  return pkText([id.toString()]);
}

/** The seqs of one key's changes in the bulk history, oldest first (see the generator's SQL). */
function bulkSeqs(l: BulkLayout, tableNo: number, id: bigint): bigint[] {
  const seqs: bigint[] = [];
  for (let tx = id - 1n; tx < l.txCount; tx += l.ids) seqs.push(l.seqBase + tx * 5n + BigInt(tableNo) + 1n);
  return seqs;
}

/**
 * Fills the change index of a new server with `rows` row changes server-side (INSERT ... SELECT FROM
 * generate_series), in the row format ChangeIndex.commit() writes: five changes per transaction, one per table,
 * pk text as pkText, pk_hash as pkHash (SHA-256's first 8 bytes, signed, computed in SQL), JSON images, one
 * change_transactions row per transaction. Each month's partition is filled as a plain table and then attached,
 * which builds its indexes in one sort instead of row by row (what ensurePartition does, data first). The
 * change_columns rows of updates are not generated (changed_columns stays NULL, "unknown"): a PK lookup never
 * reads them. A real commit() first creates the server's tables and one earlier partition.
 */
async function bulkFill(b: Backend, rows: number): Promise<{ layout: BulkLayout; seconds: number }> {
  const sql = b.sql!;
  const tenant = await b.store.tenants.ensure('bulk');
  const server = await b.store.servers.create({
    tenantId: tenant.id,
    name: 'bulk',
    host: 'h',
    port: 3306,
    username: 'u',
  });
  // One real transaction a month before the bulk history: creates change_servers/change_tables rows.
  const seed = new History();
  const seedTx = { ...seed.transaction(), commitTimeUs: T0 - 40n * DAY_US };
  await b.store.changes.commit(server.id, {
    transactions: [seedTx],
    checkpoint: {
      coordinates: { file: seedTx.file, position: seedTx.endPosition, gtidSet: seedTx.gtid },
      identity,
    },
    expectPrevious: null,
  });
  const keys = await sql.query<{ server_key: string; last_seq: string }>(
    'SELECT server_key::text, last_seq::text FROM change_servers WHERE server_id = $1',
    [server.id],
  );
  const serverKey = BigInt(keys.rows[0]!.server_key);
  const seqBase = BigInt(keys.rows[0]!.last_seq);
  const tables = await sql.query<{ table_key: string; table_name: string }>(
    'SELECT table_key::text, table_name FROM change_tables WHERE server_key = $1',
    [serverKey],
  );
  const tableKeys = TABLES.map((t) => tables.rows.find((r) => r.table_name === t)!.table_key);
  const txCount = BigInt(Math.ceil(rows / CHANGES_PER_TX));
  const ids = txCount / BULK_VERSIONS > 0n ? txCount / BULK_VERSIONS : 1n;
  const stepUs = (BULK_DAYS * DAY_US) / txCount;
  const layout: BulkLayout = { tenantId: tenant.id, serverId: server.id, serverKey, seqBase, txCount, ids };

  const t0 = process.hrtime.bigint();
  await sql.query("SET maintenance_work_mem = '512MB'");
  for (let firstTx = 0n; firstTx < txCount;) {
    const month = monthOf(serverKey, T0 + firstTx * stepUs);
    // The last transaction whose commit time falls before the month's end.
    let lastTx = (month.toUs - T0 + stepUs - 1n) / stepUs - 1n;
    if (lastTx >= txCount) lastTx = txCount - 1n;
    const changes = partitionName('changes', month.suffix);
    const txs = partitionName('change_transactions', month.suffix);
    const cols = partitionName('change_columns', month.suffix);
    const m0 = process.hrtime.bigint();
    await sql.query('BEGIN');
    await sql.query(`CREATE TABLE ${changes} (LIKE changes INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    await sql.query(
      `CREATE TABLE ${txs} (LIKE change_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
    );
    await sql.query(`CREATE TABLE ${cols} (LIKE change_columns INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    // Row i of the history: transaction i / 5, table i % 5, id (tx % ids) + 1, version tx / ids.
    await sql.query(
      `INSERT INTO ${changes} (server_key, seq, table_key, tx_seq, change_type, commit_time_us, pk_hash, pk,
         pk_columns, pk_is_full_image, before_image, after_image, changed_columns)
       SELECT $1::bigint, $2::bigint + i + 1, ($3::bigint[])[(i % 5) + 1], $2::bigint + (i / 5) * 5 + 1,
         CASE WHEN v = 0 THEN 'insert' ELSE 'update' END, $4::bigint + (i / 5) * $5::bigint,
         ('x' || left(encode(sha256(convert_to(pk, 'UTF8')), 'hex'), 16))::bit(64)::bigint, pk, '["id"]', false,
         CASE WHEN v = 0 THEN NULL ELSE
           '{"id":"' || id || '","account_id":"' || (100000 + id % 977) || '","status":"active","version":"' ||
           (v - 1) || '","note":"row ' || id || ' ${'x'.repeat(60)}"}' END,
         '{"id":"' || id || '","account_id":"' || (100000 + id % 977) || '","status":"' ||
           CASE WHEN v % 2 = 0 THEN 'active' ELSE 'suspended' END || '","version":"' || v || '","note":"row ' ||
           id || ' ${'x'.repeat(60)}"}',
         NULL
       FROM generate_series($6::bigint * 5, $7::bigint * 5 + 4) AS i,
         LATERAL (SELECT (i / 5) % $8::bigint + 1 AS id, (i / 5) / $8::bigint AS v) k,
         LATERAL (SELECT '["' || k.id || '"]' AS pk) p`,
      [serverKey, seqBase, tableKeys, T0, stepUs, firstTx, lastTx, ids],
    );
    await sql.query(
      `INSERT INTO ${txs} (server_key, first_seq, last_seq, gtid, binlog_file, binlog_position, end_position,
         commit_time_us, thread_id)
       SELECT $1::bigint, $2::bigint + t * 5 + 1, $2::bigint + t * 5 + 5, '0-1-' || (t + 2), 'binlog.000001',
         6000 + t * 2000, 8000 + t * 2000, $3::bigint + t * $4::bigint, 42
       FROM generate_series($5::bigint, $6::bigint) AS t`,
      [serverKey, seqBase, T0, stepUs, firstTx, lastTx],
    );
    const upper = month.toUs.toString();
    for (const [parent, name] of [
      ['changes', changes],
      ['change_columns', cols],
      ['change_transactions', txs],
    ] as const) {
      await sql.query(
        `ALTER TABLE ${parent} ATTACH PARTITION ${name} FOR VALUES FROM (${serverKey}, ${month.fromUs}) TO (${serverKey}, ${upper})`,
      );
    }
    await sql.query(
      'INSERT INTO change_partitions (server_key, from_us, to_us, suffix) VALUES ($1, $2, $3, $4)',
      [serverKey, month.fromUs, month.toUs, month.suffix],
    );
    await sql.query('COMMIT');
    const n = (lastTx - firstTx + 1n) * 5n;
    console.error(
      `  bulk: partition ${month.suffix}: ${n.toLocaleString('en-US')} row changes in ${(Number(process.hrtime.bigint() - m0) / 1e9).toFixed(0)} s`,
    );
    firstTx = lastTx + 1n;
  }
  await sql.query(
    `UPDATE change_servers SET last_seq = last_seq + $2, row_changes = row_changes + $2,
       transactions = transactions + $3 WHERE server_key = $1`,
    [serverKey, txCount * 5n, txCount],
  );
  return { layout, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Checks a sample of keys through the real query() API against the generator's layout, pk_hash included. */
async function bulkVerify(b: Backend, l: BulkLayout): Promise<void> {
  for (const [tableNo, id] of [
    [0, 1n],
    [3, l.ids],
    [2, (l.ids * 7n) / 13n + 1n],
  ] as const) {
    const pk = bulkPk(id);
    const got = await b.store.changes.query({
      tenantId: l.tenantId,
      serverId: l.serverId,
      schema: 'app',
      table: TABLES[tableNo]!,
      pk,
    });
    const want = bulkSeqs(l, tableNo, id);
    // Past the seed transaction's change of the same key, if any.
    const bulkOnly = got.filter((c) => c.seq > l.seqBase);
    const seqs = bulkOnly.map((c) => c.seq);
    if (
      seqs.join() !== want.join() ||
      bulkOnly.some((c) => c.pk !== pk || c.after?.['id'] !== id.toString())
    ) {
      throw new Error(`bulk: ${TABLES[tableNo]} ${pk}: got seqs ${seqs.join()}, expected ${want.join()}`);
    }
    const hash = await b.sql!.query<{ pk_hash: string }>(
      'SELECT pk_hash::text FROM changes WHERE server_key = $1 AND seq = $2 AND commit_time_us > 0',
      [l.serverKey, want[0]],
    );
    if (BigInt(hash.rows[0]!.pk_hash) !== pkHash(pk)) {
      throw new Error(`bulk: pk_hash of ${pk} is ${hash.rows[0]!.pk_hash}, pkHash() gives ${pkHash(pk)}`);
    }
  }
}

/** p50/p99 of `n` query({pk}) lookups of random keys: hits (known ids) and misses (ids past the last). */
async function bulkLookups(
  b: Backend,
  l: BulkLayout,
  n: number,
): Promise<{ hit: { p50: number; p99: number }; miss: { p50: number; p99: number } }> {
  const hits: number[] = [];
  const misses: number[] = [];
  for (let i = 0; i < n; i++) {
    const hit = i % 2 === 0;
    const r = BigInt(Math.floor(Math.random() * Number(l.ids)));
    const id = hit ? r + 1n : l.ids + 1n + r;
    const t0 = process.hrtime.bigint();
    const got = await b.store.changes.query({
      tenantId: l.tenantId,
      serverId: l.serverId,
      schema: 'app',
      table: TABLES[i % TABLES.length]!,
      pk: bulkPk(id),
    });
    (hit ? hits : misses).push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (got.length > 0 !== hit) throw new Error(`bulk: lookup of id ${id} found ${got.length} changes`);
  }
  const stats = (t: number[]): { p50: number; p99: number } => {
    t.sort((a, c) => a - c);
    return { p50: percentile(t, 50), p99: percentile(t, 99) };
  };
  return { hit: stats(hits), miss: stats(misses) };
}

/** The bulk step on PostgreSQL: generate, verify, look up before and after ANALYZE; printed lines. */
async function bulk(b: Backend): Promise<string[]> {
  console.error(`  bulk: generating ${BULK_ROWS.toLocaleString('en-US')} row changes server-side`);
  const { layout, seconds } = await bulkFill(b, BULK_ROWS);
  const size = await b.sql!.query<{ changes: string; txs: string; parts: string }>(
    `SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
               WHERE inhparent = 'changes'::regclass)::text AS changes,
            (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
               WHERE inhparent = 'change_transactions'::regclass)::text AS txs,
            (SELECT count(*) FROM change_partitions WHERE server_key = $1)::text AS parts`,
    [layout.serverKey],
  );
  await bulkVerify(b, layout);
  const total = Number(layout.txCount) * CHANGES_PER_TX;
  const lines = [
    `  PostgreSQL bulk: ${total.toLocaleString('en-US')} changes generated in ${seconds.toFixed(0)} s (${Math.round(total / seconds).toLocaleString('en-US')} rows/s) over ${size.rows[0]!.parts} monthly partitions; changes ${(Number(size.rows[0]!.changes) / 1e9).toFixed(2)} GB with indexes, change_transactions ${(Number(size.rows[0]!.txs) / 1e9).toFixed(2)} GB; sample verified through query()`,
  ];
  console.error(lines[0]);
  const fmt = (r: { p50: number; p99: number }): string =>
    `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms`;
  // First with no statistics on the new partitions (autovacuum off, as on this test server), then after ANALYZE.
  for (const analyzed of [false, true]) {
    const t0 = process.hrtime.bigint();
    if (analyzed) await b.sql!.query('ANALYZE changes, change_transactions');
    const analyzeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const r = await bulkLookups(b, layout, 2000);
    lines.push(
      `  PostgreSQL ${total.toLocaleString('en-US')} changes, ${analyzed ? `after ANALYZE (${analyzeSeconds.toFixed(0)} s)` : 'no statistics'}: PK lookup hits ${fmt(r.hit)}; misses ${fmt(r.miss)}`,
    );
    console.error(lines[lines.length - 1]);
  }
  return lines;
}

async function claims(b: Backend): Promise<Measurement> {
  const tenant = await b.store.tenants.ensure('claims');
  const servers: string[] = [];
  for (let i = 0; i < AGENTS; i++) {
    servers.push(
      (
        await b.store.servers.create({
          tenantId: tenant.id,
          name: `c${i}`,
          host: 'h',
          port: 3306,
          username: 'u',
        })
      ).id,
    );
  }
  for (let i = 0; i < JOBS; i++) {
    await b.store.jobs.enqueue({
      tenantId: tenant.id,
      kind: 'backup',
      serverId: servers[i % servers.length]!,
    });
  }
  let claimed = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: AGENTS }, async (_, a) => {
      for (;;) {
        const job = await b.store.jobs.claim({
          agentId: `agent-${a}`,
          kinds: ['backup'],
          leaseMs: 60_000,
          tenantIds: [tenant.id],
        });
        if (job === undefined) return;
        claimed++;
        await b.store.jobs.finish(job.id, `agent-${a}`, { status: 'succeeded' });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (claimed !== JOBS) throw new Error(`${b.name}: ${claimed} jobs claimed of ${JOBS}: some twice or lost`);
  return {
    name: `${b.name}: claim + finish, ${AGENTS} agents`,
    seconds,
    rows: claimed,
    note: `${JOBS} jobs, each claimed exactly once (rows/s = claims/s)`,
  };
}

/**
 * What the remote agents' HTTP path adds per batch on top of commit(): the batch to JSON text on the agent and
 * back to a checked batch on the server (src/agent/capture-wire.ts), for 40 batches of 1000 transactions.
 */
function wireCost(): Measurement {
  const history = new History();
  let seconds = 0;
  let rows = 0;
  let bytes = 0;
  for (let b = 0; b < 40; b++) {
    const txs: CapturedTransaction[] = [];
    for (let i = 0; i < 1000; i++) txs.push(history.transaction());
    const last = txs[txs.length - 1]!;
    const batch = {
      transactions: txs,
      checkpoint: {
        coordinates: { file: last.file, position: last.endPosition, gtidSet: last.gtid },
        identity,
      },
      expectPrevious: null,
    };
    const t0 = process.hrtime.bigint();
    const text = JSON.stringify({ agent_id: 'a', batch: commitBatchToJson(batch) });
    commitBatchFromJson((JSON.parse(text) as { batch: unknown }).batch);
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    rows += 1000 * CHANGES_PER_TX;
    bytes += text.length;
  }
  return {
    name: 'remote agent: wire encode + decode only',
    seconds,
    rows,
    bytes,
    note: `JSON of the agent protocol, ${Math.round(bytes / 40 / 1e6)} MB per 1000-tx batch`,
  };
}

async function main(): Promise<void> {
  console.error(
    `bench:scale: ingest ${INGEST_ROWS.toLocaleString('en-US')} rows, index grown to ${INDEX_ROWS.toLocaleString('en-US')}, ${AGENTS} agents x ${JOBS} jobs, on ${BACKENDS.join(' and ')}`,
  );
  const ingestRows: Measurement[] = [];
  const growthLines: string[] = [];
  const claimRows: Measurement[] = [];
  const bulkLines: string[] = [];
  for (const name of BACKENDS) {
    const b = name === 'postgres' ? await postgresBackend() : await sqliteBackend();
    try {
      const { measurements, filling } = await ingest(b);
      ingestRows.push(...measurements);
      claimRows.push(await claims(b));
      growthLines.push(...(await growth(b, filling)));
      if (name === 'postgres' && BULK_ROWS > 0) bulkLines.push(...(await bulk(b)));
    } finally {
      await b.close();
    }
  }
  ingestRows.push(wireCost());
  printTable('Change index ingest (same rows, same run)', ingestRows);
  console.log(`\nPK lookup latency as the index grows (1000 random one-row histories per step):`);
  for (const l of growthLines) console.log(l);
  printTable('Job claims', claimRows);
  // The last step of each backend: the largest index measured.
  const p99At = BACKENDS.map((n) =>
    growthLines.filter((l) => l.trim().startsWith(n === 'postgres' ? 'PostgreSQL' : 'SQLite')).at(-1),
  ).filter((l): l is string => l !== undefined);
  if (bulkLines.length > 0) {
    console.log(
      `\nPK lookup at scale (bulk-generated index, ${BULK_ROWS.toLocaleString('en-US')} changes, 1000 hits + 1000 misses):`,
    );
    for (const l of bulkLines) console.log(l);
  }
  const largest = Math.max(INDEX_ROWS, BACKENDS.includes('postgres') ? BULK_ROWS : 0);
  console.log(
    `\nTargets: PK lookup p99 measured at >= 50,000,000 changes: ${largest >= 50_000_000 ? 'yes' : `no, this run stopped at ${largest.toLocaleString('en-US')} (--bulk-rows)`}`,
  );
  for (const l of p99At) console.log(`  ${l.trim()}`);
  console.log('The machine may be shared: figures are pessimistic when other work runs.');
}

await main();
