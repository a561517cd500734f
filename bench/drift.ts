/**
 * Drift checksum benchmark: chunked, order-independent checksums (src/drift/checksum.ts) over a database of about
 * 1 GB on a private MariaDB, next to `CHECKSUM TABLE` on the same tables in the same run.
 *
 *   npm run bench:drift [-- MB=1024 CHUNK_MS=250]
 *
 * Both sides of the comparison are the same server here (two connections), so the figure that matters is the
 * live side's throughput: bytes of row data checksummed per second of chunk time on it, which is the load a drift
 * check puts on a production server. The run also reports the wall time of the whole comparison (both sides,
 * one after the other per chunk) and the chunk time p95/max against the target, which is the load bound.
 * CHECKSUM TABLE reads the same rows in one statement per table, without chunking, pauses or row drill-down; it
 * is the floor for "read every byte once on the server".
 */
import { compareTable, type ComparedTable } from '../src/drift/checksum.js';
import { connectSource } from '../src/source/connect.js';
import { parseDsn, resolvePassword } from '../src/source/dsn.js';
import { printTable, startBenchServer, timed, type Measurement } from './lib.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.split('=');
    return [k ?? '', v ?? ''];
  }),
);
const MB = Number(args.get('MB') ?? 1024);
const CHUNK_MS = Number(args.get('CHUNK_MS') ?? 250);
// An OLTP-like row of ~200 bytes: 5.2M rows per GB, split over two tables.
const ROW_BYTES = 200;

const db = await startBenchServer({ extraArgs: ['--skip-log-bin'] });
try {
  const rows = Math.round((MB * 1024 * 1024) / ROW_BYTES);
  const half = Math.ceil(rows / 2);
  const loadStart = performance.now();
  await db.query(`CREATE DATABASE bench;
    CREATE TABLE bench.orders (id BIGINT UNSIGNED PRIMARY KEY, customer INT NOT NULL, amount DECIMAL(14,2),
      placed DATETIME(6), status VARCHAR(16), note VARCHAR(120), sku CHAR(20), flags INT UNSIGNED, ref BINARY(16));
    CREATE TABLE bench.events (shard INT NOT NULL, seq BIGINT NOT NULL, kind VARCHAR(20), payload VARCHAR(140),
      at TIMESTAMP(3) NULL, score DOUBLE, PRIMARY KEY (shard, seq));`);
  const batch = 500_000;
  for (let from = 1; from <= half; from += batch) {
    const to = Math.min(half, from + batch - 1);
    await db.query(`INSERT INTO bench.orders SELECT seq, seq % 9973, seq / 100, '2024-01-01' + INTERVAL seq SECOND,
        ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'void'), REPEAT(MD5(seq), 3), LPAD(seq, 20, '0'), seq % 65536,
        UNHEX(MD5(seq)) FROM bench.seq_${from}_to_${to}`);
    await db.query(`INSERT INTO bench.events SELECT seq % 64, seq, ELT(1 + seq % 3, 'click', 'view', 'buy'),
        CONCAT(REPEAT(SHA1(seq), 3), 'x'), '2024-01-01' + INTERVAL seq SECOND, seq / 7 FROM bench.seq_${from}_to_${to}`);
  }
  await db.query('ANALYZE TABLE bench.orders, bench.events');
  const [size] = await db.query<{ b: string }>(
    "SELECT SUM(DATA_LENGTH) AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench'",
  );
  console.log(
    `Loaded ${(rows / 1e6).toFixed(1)}M rows (${(Number(size?.b ?? 0) / 1048576).toFixed(0)} MiB of InnoDB data) in ${((performance.now() - loadStart) / 1000).toFixed(0)} s`,
  );
  const tables: ComparedTable[] = [
    {
      schema: 'bench',
      table: 'orders',
      columns: ['id', 'customer', 'amount', 'placed', 'status', 'note', 'sku', 'flags', 'ref'],
      primaryKey: ['id'],
    },
    {
      schema: 'bench',
      table: 'events',
      columns: ['shard', 'seq', 'kind', 'payload', 'at', 'score'],
      primaryKey: ['shard', 'seq'],
    },
  ];
  // Warm the buffer pool the same way for both: CHECKSUM TABLE first reads everything once.
  const checksum = await timed(() => db.query('CHECKSUM TABLE bench.orders, bench.events EXTENDED'));
  const again = await timed(() => db.query('CHECKSUM TABLE bench.orders, bench.events EXTENDED'));
  const dsn = resolvePassword(parseDsn(db.dsn), {});
  const actual = await connectSource(dsn);
  const expected = await connectSource(dsn);
  let bytes = 0n;
  let chunkSeconds = 0;
  let chunks = 0;
  let p95 = 0;
  let max = 0;
  const run = await timed(async () => {
    for (const t of tables) {
      const r = await compareTable(actual, expected, t, { targetChunkMs: CHUNK_MS });
      if (!r.equal) throw new Error(`${t.table} compared unequal to itself`);
      bytes += r.bytes;
      chunkSeconds += r.chunkMs.total / 1000;
      chunks += r.chunks;
      p95 = Math.max(p95, r.chunkMs.p95);
      max = Math.max(max, r.chunkMs.max);
    }
  });
  await actual.close();
  await expected.close();
  const mb = Number(bytes) / 1048576;
  const results: Measurement[] = [
    {
      name: 'CHECKSUM TABLE ... EXTENDED (cold)',
      seconds: checksum.seconds,
      rows,
      bytes: Number(bytes),
      note: 'one statement per table, no chunks',
    },
    {
      name: 'CHECKSUM TABLE ... EXTENDED (warm)',
      seconds: again.seconds,
      rows,
      bytes: Number(bytes),
      note: 'peer',
    },
    {
      name: 'dbtrail drift checksums, live side',
      seconds: chunkSeconds,
      rows,
      bytes: Number(bytes),
      note: `${chunks} chunks, p95 ${p95.toFixed(0)} ms, max ${max.toFixed(0)} ms (target ${CHUNK_MS} ms)`,
    },
    {
      name: 'dbtrail drift, whole comparison',
      seconds: run.seconds,
      rows,
      bytes: Number(bytes),
      note: 'both sides, one after the other',
    },
  ];
  printTable(`Drift checksums of ${mb.toFixed(0)} MiB of row data`, results);
  console.log(
    `Live-side throughput ${(mb / chunkSeconds).toFixed(1)} MB/s vs CHECKSUM TABLE ${(mb / again.seconds).toFixed(1)} MB/s (warm). ` +
      'CHECKSUM TABLE is a lower bound on time, not a peer with the same guarantees (it blocks writes on the table, has no chunking or load bound, and names no rows).',
  );
} finally {
  await db.destroy();
}
