/**
 * bench:decode — decoder throughput on a real binlog of at least 1M row events, next to mariadb-binlog.
 *
 * Writes an OLTP-style workload (10 columns incl. DECIMAL, DATETIME(6), VARCHAR) on a private MariaDB, then measures
 * on the same binlog file, in the same run:
 *   1. decode only (in-process: every event and every row value decoded to the canonical encoding);
 *   2. decode to NDJSON, in-process (what `binlog decode` runs) and as the real `dbtrail binlog decode` process
 *      (output to /dev/null);
 *   3. `mariadb-binlog --base64-output=decode-rows -v` (output to /dev/null);
 * plus the generic per-event renderer, wall and CPU time of each, and peak RSS.
 * The generated binlog is kept under $TMPDIR/dbtrail-bench-decode so reruns skip the workload.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBinlogFile, readBinlogFileNdjson } from '../src/binlog/file-reader.js';
import { renderNdjson } from '../src/binlog/render.js';
import { BUILT_CLI } from '../test/harness/cli.js';
import { measure, measureCommand, mib, peakRss, printTable, startBenchServer } from './lib.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const UPDATES = Math.floor(ROWS / 4);
const BATCH = 1000;
const cacheDir = join(tmpdir(), 'dbtrail-bench-decode');
const file = join(cacheDir, `oltp-${ROWS}.binlog`);

async function generate(): Promise<void> {
  console.log(
    `Generating ${ROWS.toLocaleString('en-US')} inserts and ${UPDATES.toLocaleString('en-US')} updates on a private MariaDB...`,
  );
  const db = await startBenchServer();
  try {
    await db.query(`CREATE DATABASE oltp;
      CREATE TABLE oltp.orders (
        id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
        customer_id INT UNSIGNED NOT NULL,
        status VARCHAR(16) NOT NULL,
        amount DECIMAL(12,2) NOT NULL,
        tax DECIMAL(10,4) NOT NULL,
        quantity SMALLINT NOT NULL,
        sku VARCHAR(32) NOT NULL,
        note VARCHAR(100) NULL,
        created_at DATETIME(6) NOT NULL,
        updated_at DATETIME(6) NOT NULL
      ) ENGINE=InnoDB`);
    await db.flushBinaryLogs();
    const started = Date.now();
    for (let from = 1; from <= ROWS; from += BATCH) {
      const to = Math.min(ROWS, from + BATCH - 1);
      await db.query(
        `INSERT INTO oltp.orders SELECT seq, seq % 50000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'closed'),
           (seq % 100000) / 100 + 0.99, (seq % 9973) / 10000, 1 + seq % 20, CONCAT('SKU-', LPAD(seq % 99991, 8, '0')),
           IF(seq % 7 = 0, NULL, CONCAT('order note for customer ', seq % 50000, ' with some text')),
           TIMESTAMP('2026-01-01 00:00:00') + INTERVAL seq SECOND + INTERVAL (seq % 1000000) MICROSECOND,
           TIMESTAMP('2026-01-01 00:00:00') + INTERVAL seq SECOND
         FROM oltp.seq_${from}_to_${to}`,
      );
    }
    for (let from = 1; from <= UPDATES; from += BATCH) {
      await db.query(
        `UPDATE oltp.orders SET status = 'refunded', amount = amount - 0.50, updated_at = updated_at + INTERVAL 1 DAY
         WHERE id BETWEEN ${from} AND ${Math.min(UPDATES, from + BATCH - 1)}`,
      );
    }
    const { file: current } = await db.coordinates();
    await db.flushBinaryLogs();
    await mkdir(cacheDir, { recursive: true });
    await copyFile(db.binlogPath(current), file);
    console.log(`Workload written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await db.destroy();
  }
}

async function main(): Promise<void> {
  if (!existsSync(BUILT_CLI))
    throw new Error('Run `npm run build` first: the NDJSON measurement runs the built CLI');
  if (!existsSync(file)) await generate();
  const bytes = (await stat(file)).size;
  console.log(`Binlog: ${file} (${mib(bytes)})`);

  const decodeOnly = await measure(async () => {
    let rows = 0;
    let events = 0;
    for await (const e of readBinlogFile(file)) {
      events++;
      const body = e.body as { rows?: unknown[] };
      if (body.rows !== undefined) rows += body.rows.length;
    }
    return { rows, events };
  });
  const rows = decodeOnly.result.rows;
  // ru_maxrss: the peak of this process so far, which the decode above dominates.
  const decodeRss = peakRss();

  // What `binlog decode` does, in-process: NDJSON written straight from the row bytes, in large buffers.
  const ndjsonInProcess = await measure(async () => {
    let out = 0;
    for await (const chunk of readBinlogFileNdjson(file)) out += chunk.length;
    return out;
  });
  // The generic per-event renderer (`binlog tail`, library users): row objects, then renderNdjson.
  const renderPerEvent = await measure(async () => {
    let chars = 0;
    for await (const e of readBinlogFile(file)) chars += renderNdjson(e).length;
    return chars;
  });

  const ndjson = await measureCommand(process.execPath, [BUILT_CLI, 'binlog', 'decode', file]);
  const peer = await measureCommand('mariadb-binlog', ['--base64-output=decode-rows', '-v', file]);

  printTable(
    `bench:decode — ${rows.toLocaleString('en-US')} row events, ${decodeOnly.result.events.toLocaleString('en-US')} events, ${mib(bytes)}`,
    [
      { name: 'dbtrail decode only (in-process)', ...decodeOnly, rows, bytes },
      { name: 'dbtrail decode + NDJSON render (in-process)', ...ndjsonInProcess, rows, bytes },
      { name: 'dbtrail binlog decode > /dev/null (process)', ...ndjson, rows, bytes },
      { name: 'mariadb-binlog -v decode-rows > /dev/null', ...peer, rows, bytes, note: 'peer' },
      {
        name: 'renderNdjson per event (in-process)',
        ...renderPerEvent,
        rows,
        bytes,
        note: 'generic API, as binlog tail',
      },
    ],
  );
  const rss = (r: number | undefined): string => (r === undefined ? 'not measured' : mib(r));
  console.log(
    `\nPeak RSS: decode only ${rss(decodeRss)}, binlog decode process ${rss(ndjson.maxRssBytes)}, ` +
      `mariadb-binlog ${rss(peer.maxRssBytes)}; the binlog is ${mib(bytes)} (read in 4 MiB chunks, never whole)`,
  );
  console.log(
    `NDJSON output: ${mib(ndjsonInProcess.result)}. CPU time is user + system; wall time depends on what else the machine runs.`,
  );
  // Both targets are judged on CPU time (user + system), which the machine's other load disturbs far less than
  // wall time: rows per CPU second is the rate on one core.
  const decodeRate = rows / decodeOnly.cpuSeconds;
  const ratio = ndjson.cpuSeconds / peer.cpuSeconds;
  console.log(
    `Targets: decode-only >= 500,000 rows/s on one core: ${decodeRate >= 500_000 ? 'met' : 'NOT met'} ` +
      `(${Math.round(decodeRate).toLocaleString('en-US')} rows per CPU second); ` +
      `NDJSON process at least as fast as mariadb-binlog: ${ratio <= 1 ? 'met' : 'NOT met'} ` +
      `(CPU ${ndjson.cpuSeconds.toFixed(2)} s vs ${peer.cpuSeconds.toFixed(2)} s, ${Math.round(Math.abs(1 - ratio) * 100)}% ${ratio <= 1 ? 'less' : 'more'})`,
  );
}

await main();
