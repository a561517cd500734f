import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BINLOG_MAGIC, EventType } from '../binlog/event-types.js';
import { readBinlogFile } from '../binlog/file-reader.js';
import { peekEventSize } from '../binlog/header.js';
import { isContextEvent } from './segment-file.js';
import { recoverSpool, scanSegment, type SegmentStart } from './spool.js';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/binlog/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dbtrail-spool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A segment built from a server's binlog as the archive builds one: magic, FDE, then the transactions' events. */
function segmentOf(path: string): { bytes: Buffer; lastEnd: number } {
  const file = readFileSync(path);
  const parts: Buffer[] = [BINLOG_MAGIC];
  let off = 4;
  let lastEnd = 0;
  while (off + 19 <= file.length) {
    const size = peekEventSize(file, off);
    const type = file[off + 4] as number;
    if (type === EventType.FORMAT_DESCRIPTION || !isContextEvent(type))
      parts.push(file.subarray(off, off + size));
    off += size;
    lastEnd = file.readUInt32LE(off - size + 13);
  }
  return { bytes: Buffer.concat(parts), lastEnd };
}

async function transactionCount(path: string): Promise<number> {
  let n = 0;
  for await (const e of readBinlogFile(path)) {
    if (e.payloadIndex !== undefined) continue;
    if (e.body.kind === 'mariadb_gtid' || e.body.kind === 'mysql_gtid') n++;
  }
  return n;
}

describe('archive spool', () => {
  it.each([
    ['mariadb', 'mariadb/mariadb-10.11-types.000001'],
    ['mysql', 'mysql/transaction_compression.000001'],
  ] as const)(
    'finds every complete transaction of a %s segment with the source coordinates',
    async (flavor, name) => {
      const path = join(FIXTURES, name);
      const { bytes } = segmentOf(path);
      const start: SegmentStart = { file: 'binlog.000001', position: 4, gtidSet: null, flavor };
      const scan = scanSegment(bytes, start);
      expect(scan.transactions.length).toBe(await transactionCount(path));
      expect(scan.completeBytes).toBe(bytes.length);
      // Source positions, not segment offsets: each transaction ends where the next one starts in the source.
      for (let i = 1; i < scan.transactions.length; i++) {
        expect(scan.transactions[i]!.transaction.position).toBeGreaterThanOrEqual(
          scan.transactions[i - 1]!.transaction.endPosition,
        );
      }
    },
  );

  it('cuts a torn tail at the last complete transaction and closes the segment on recovery', () => {
    const { bytes } = segmentOf(join(FIXTURES, 'mariadb/mariadb-10.11-types.000001'));
    const start: SegmentStart = { file: 'binlog.000007', position: 4, gtidSet: null, flavor: 'mariadb' };
    const whole = scanSegment(bytes, start);
    const torn = bytes.subarray(0, bytes.length - 7);
    const base = join(dir, 'binlog.000007@4');
    writeFileSync(`${base}.open.json`, JSON.stringify(start));
    writeFileSync(`${base}.binlog`, torn);
    // A segment that never got a transaction is dropped.
    const empty = join(dir, 'binlog.000008@4');
    writeFileSync(`${empty}.open.json`, JSON.stringify({ ...start, file: 'binlog.000008' }));
    writeFileSync(`${empty}.binlog`, bytes.subarray(0, 200));

    const [recovered, ...rest] = recoverSpool(dir);
    expect(rest).toEqual([]);
    expect(existsSync(`${empty}.binlog`)).toBe(false);
    const meta = recovered!.meta;
    expect(meta.transactions).toBe(whole.transactions.length - 1);
    const kept = readFileSync(`${base}.binlog`);
    expect(kept.length).toBe(meta.bytes);
    expect(statSync(`${base}.binlog`).size).toBeLessThan(torn.length);
    expect(meta.sha256).toBe(createHash('sha256').update(kept).digest('hex'));
    expect(meta.endPosition).toBe(whole.transactions[whole.transactions.length - 2]!.transaction.endPosition);
    expect(meta.lastGtid).toBe(whole.transactions[whole.transactions.length - 2]!.transaction.gtid);
    expect(existsSync(`${base}.closed.json`)).toBe(true);
    // Recovering again reads the closed record, with exact bigints.
    const again = recoverSpool(dir);
    expect(again.map((s) => s.meta)).toEqual([meta]);
    expect(typeof again[0]!.meta.lastCommitUs).toBe('bigint');
  });
});
