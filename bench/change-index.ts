/**
 * Change-index benchmark: commit() throughput in batches of 1000 source transactions, then lookup latency
 * (PK, table + time range, GTID, changed column) once the index holds ROWS row changes.
 *
 *   npx tsx bench/change-index.ts [ROWS=1000000] [DB=<temp dir>/dbtrail.db]
 *
 * Rows are shaped like a busy OLTP table: 8 columns, 5 tables, 5 row changes per transaction (60% updates of
 * 2 columns, 30% inserts, 10% deletes), about 350 bytes of JSON per image.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pkText, type CapturedRowChange, type CapturedTransaction } from '../src/store/change-index.js';
import { openSqliteStateStore } from '../src/store/sqlite/state-store.js';
import { printTable, type Measurement } from './lib.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const dir = process.argv[3] === undefined ? mkdtempSync(join(tmpdir(), 'dbtrail-bench-index-')) : undefined;
const path = process.argv[3] ?? join(dir!, 'dbtrail.db');
const TX_PER_BATCH = 1000;
const CHANGES_PER_TX = 5;
const TABLES = ['users', 'orders', 'items', 'payments', 'events'];
const T0 = 1_714_557_600_000_000n;

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
let position = 4;
function transaction(n: number): CapturedTransaction {
  const changes: CapturedRowChange[] = [];
  for (let i = 0; i < CHANGES_PER_TX; i++) {
    const table = TABLES[(n + i) % TABLES.length]!;
    const r = (n * 7 + i * 13) % 10;
    if (r < 3 || nextId < 100) {
      const id = nextId++;
      const after = image(id, 0);
      changes.push({
        schema: 'app',
        table,
        type: 'insert',
        pk: pkText([after['id']!]),
        pkColumns: ['id'],
        pkIsFullImage: false,
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
        schema: 'app',
        table,
        type: 'update',
        pk: pkText([String(id)]),
        pkColumns: ['id'],
        pkIsFullImage: false,
        before,
        after,
        changedColumns: ['status', 'updated_at'],
      });
    } else {
      const id = 1 + ((n * 17 + i) % (nextId - 1));
      const before = image(id, n);
      changes.push({
        schema: 'app',
        table,
        type: 'delete',
        pk: pkText([String(id)]),
        pkColumns: ['id'],
        pkIsFullImage: false,
        before,
        after: null,
        changedColumns: null,
      });
    }
  }
  const start = position;
  position += 2000;
  return {
    gtid: `0-1-${n + 1}`,
    file: 'binlog.000001',
    position: start,
    endPosition: position,
    commitTimeUs: T0 + BigInt(n) * 2_000n,
    threadId: 42,
    changes,
    ddl: [],
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const store = await openSqliteStateStore({ path });
  const tenant = await store.tenants.ensure('bench');
  const server =
    (await store.servers.findByName(tenant.id, 'db1')) ??
    (await store.servers.create({ tenantId: tenant.id, name: 'db1', host: 'h', port: 3306, username: 'u' }));
  const identity = { serverUuid: null, serverId: '1', hostname: 'h', flavor: 'mariadb' } as const;

  const results: Measurement[] = [];
  let written = 0;
  let txNo = 0;
  let buildSeconds = 0;
  let commitSeconds = 0;
  // CPU time of this process in commit(): SQLite runs on this thread, so this is the work done, whatever else
  // the machine is busy with.
  let commitCpuSeconds = 0;
  let previous = (await store.changes.checkpoint(server.id))?.coordinates ?? null;
  const started = process.hrtime.bigint();
  let lastReport = Date.now();
  while (written < ROWS) {
    const b0 = process.hrtime.bigint();
    const txs: CapturedTransaction[] = [];
    for (let i = 0; i < TX_PER_BATCH; i++) txs.push(transaction(txNo++));
    const b1 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const last = txs[txs.length - 1]!;
    const checkpoint = { file: last.file, position: last.endPosition, gtidSet: last.gtid };
    await store.changes.commit(server.id, {
      transactions: txs,
      checkpoint: { coordinates: checkpoint, identity },
      expectPrevious: previous,
    });
    const b2 = process.hrtime.bigint();
    const cpu = process.cpuUsage(cpu0);
    commitCpuSeconds += (cpu.user + cpu.system) / 1e6;
    previous = checkpoint;
    buildSeconds += Number(b1 - b0) / 1e9;
    commitSeconds += Number(b2 - b1) / 1e9;
    written += TX_PER_BATCH * CHANGES_PER_TX;
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      console.error(
        `  ${written.toLocaleString('en-US')} rows, ${Math.round(written / commitSeconds).toLocaleString('en-US')} rows/s in commit()`,
      );
    }
  }
  const total = Number(process.hrtime.bigint() - started) / 1e9;
  results.push({
    name: `commit() of ${TX_PER_BATCH}-transaction batches`,
    seconds: commitSeconds,
    rows: written,
    note: `${CHANGES_PER_TX} changes/tx; building the batches took ${buildSeconds.toFixed(1)} s more`,
  });
  results.push({
    name: 'commit(), CPU time only',
    seconds: commitCpuSeconds,
    rows: written,
    note: 'user + system CPU of this process',
  });
  results.push({ name: 'commit() incl. building batches', seconds: total, rows: written });

  const stats = await store.changes.stats(server.id);
  const q = { tenantId: tenant.id, serverId: server.id };
  const lookups: [string, () => Promise<unknown>][] = [
    [
      'PK lookup (one row history)',
      () =>
        store.changes.query({
          ...q,
          schema: 'app',
          table: 'users',
          pk: pkText([String(1 + Math.floor(Math.random() * (nextId - 1)))]),
        }),
    ],
    [
      'table + 1 s time range, first 100',
      () => {
        const at = T0 + BigInt(Math.floor(Math.random() * txNo)) * 2_000n;
        return store.changes.query({
          ...q,
          schema: 'app',
          table: 'orders',
          sinceUs: at,
          untilUs: at + 1_000_000n,
        });
      },
    ],
    ['GTID', () => store.changes.query({ ...q, gtid: `0-1-${1 + Math.floor(Math.random() * txNo)}` })],
    [
      'changed column, one table, newest 100',
      () =>
        store.changes.query({ ...q, schema: 'app', table: 'items', changedColumn: 'status', order: 'desc' }),
    ],
    ['stats()', () => store.changes.stats(server.id)],
  ];
  const latency: string[] = [];
  for (const [name, run] of lookups) {
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = process.hrtime.bigint();
      await run();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    latency.push(
      `${name.padEnd(40)} p50 ${percentile(times, 50).toFixed(3)} ms  p99 ${percentile(times, 99).toFixed(3)} ms`,
    );
  }
  await store.close();
  printTable(`Change index (SQLite), ${stats.rowChanges.toLocaleString('en-US')} row changes held`, results);
  console.log(`\nLookup latency at ${stats.rowChanges.toLocaleString('en-US')} row changes (300 runs each):`);
  for (const l of latency) console.log(`  ${l}`);
  console.log(`\nDatabase file: ${(statSync(path).size / 1e6).toFixed(0)} MB (+ WAL)`);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

await main();
