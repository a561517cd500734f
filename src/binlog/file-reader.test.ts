import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnType } from './column-types.js';
import { CorruptBinlogError, IncompleteEventError, MalformedEventError, NotABinlogError } from './errors.js';
import { EventType } from './event-types.js';
import { peekEventSize } from './header.js';
import type { DecodedEvent } from './events.js';
import { decodeBinlogChunks, decodeBinlogChunksNdjson, readBinlogFile } from './file-reader.js';
import { renderNdjson } from './render.js';
import {
  binlogFile,
  bitmap,
  cat,
  event,
  fde,
  lenenc,
  lenstr,
  queryBody,
  rowsBody,
  oltpSpecBinlog,
  tableMapBody,
  tlv,
  u32,
  u64,
} from './spec-bytes.js';

const C = (pos: number) => ({ checksum: true, pos });

/** A small binlog: FDE, GTID-less transaction with a table map and two inserts, and a ROTATE. */
function sampleFile(): Buffer {
  const cols = [
    { type: ColumnType.LONG, meta: [], nullable: false },
    { type: ColumnType.VARCHAR, meta: [40, 0], nullable: true },
  ];
  const names = tlv(4, cat(lenstr('id'), lenstr('name')));
  return binlogFile([
    (p) => fde('8.0.36', 1, { pos: p }),
    (p) => event(EventType.QUERY, queryBody('', 'BEGIN'), C(p)),
    (p) =>
      event(
        EventType.TABLE_MAP,
        tableMapBody(3, 'app', 'people', cols, cat(tlv(2, lenenc(255)), names)),
        C(p),
      ),
    (p) =>
      event(
        EventType.WRITE_ROWS,
        rowsBody(
          3,
          2,
          [bitmap([true, true])],
          cat(bitmap([false, false]), u32(1), lenstr('ann'), bitmap([false, true]), u32(2)),
          Buffer.alloc(0),
        ),
        C(p),
      ),
    (p) => event(EventType.XID, u64(17), C(p)),
    (p) => event(EventType.ROTATE, cat(u64(4), Buffer.from('binlog.000002')), C(p)),
  ]);
}

async function collect(it: AsyncIterable<DecodedEvent>): Promise<DecodedEvent[]> {
  const out: DecodedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function failure(it: AsyncIterable<DecodedEvent>): Promise<{ events: DecodedEvent[]; error: unknown }> {
  const events: DecodedEvent[] = [];
  try {
    for await (const e of it) events.push(e);
  } catch (error) {
    return { events, error };
  }
  return { events, error: undefined };
}

const file = sampleFile();
const body = file.subarray(4);

describe('decodeBinlogChunks', () => {
  it('gives the same events whatever the chunk boundaries (every split offset, and byte by byte)', async () => {
    const reference = (await collect(decodeBinlogChunks([body], { name: 'binlog.000001' }))).map(
      renderNdjson,
    );
    expect(reference).toHaveLength(6);
    expect(reference[3]).toContain(
      '"rows":[{"before":null,"after":{"id":"1","name":"ann"}},{"before":null,"after":{"id":"2","name":null}}]',
    );
    for (let cut = 0; cut <= body.length; cut++) {
      const events = await collect(
        decodeBinlogChunks([body.subarray(0, cut), body.subarray(cut)], { name: 'binlog.000001' }),
      );
      expect(events.map(renderNdjson)).toEqual(reference);
    }
    const bytes = [...body].map((b) => Buffer.from([b]));
    expect((await collect(decodeBinlogChunks(bytes, { name: 'binlog.000001' }))).map(renderNdjson)).toEqual(
      reference,
    );
  });

  it('reports a truncated tail as an incomplete event at its offset, after yielding the complete ones', async () => {
    const cut = body.length - 10;
    const { events, error } = await failure(decodeBinlogChunks([body.subarray(0, cut)], { name: 'b' }));
    expect(events.map((e) => e.type)).toEqual([
      'FORMAT_DESCRIPTION',
      'QUERY',
      'TABLE_MAP',
      'WRITE_ROWS',
      'XID',
    ]);
    expect(error).toBeInstanceOf(IncompleteEventError);
    const rotatePos = events[4]!.nextPos;
    expect((error as IncompleteEventError).fields).toMatchObject({ offset: rotatePos });
    expect((error as Error).message).toBe(
      `Cannot decode "b": stopped at offset ${rotatePos}, incomplete event (the event needs ${file.length - rotatePos} bytes, ${file.length - rotatePos - 10} are there)`,
    );
  });

  it('reports corruption with the file and offset after the events before it', async () => {
    const bad = Buffer.from(body);
    const events = await collect(decodeBinlogChunks([body], { name: 'b' }));
    const xid = events.find((e) => e.type === 'XID')!;
    bad[xid.pos - 4 + 19] = (bad[xid.pos - 4 + 19] as number) ^ 1;
    const { events: got, error } = await failure(decodeBinlogChunks([bad], { name: 'b' }));
    expect(got.map((e) => e.type)).toEqual(['FORMAT_DESCRIPTION', 'QUERY', 'TABLE_MAP', 'WRITE_ROWS']);
    expect(error).toBeInstanceOf(CorruptBinlogError);
    expect((error as CorruptBinlogError).fields).toMatchObject({
      file: 'b',
      offset: xid.pos,
      reason: 'BINLOG_CHECKSUM_MISMATCH',
    });
    expect((error as Error).message).toMatch(
      new RegExp(`^Cannot decode "b" at offset ${xid.pos} \\(XID\\): Cannot verify XID event`),
    );
  });

  it('refuses a lying length without buffering for it', async () => {
    const lie = Buffer.from(body);
    lie.writeUInt32LE(0xfffffff0, 9); // FDE event size
    const { error } = await failure(decodeBinlogChunks([lie], { name: 'b' }));
    expect(error).toBeInstanceOf(CorruptBinlogError);
    expect((error as CorruptBinlogError).cause as Error).toBeInstanceOf(MalformedEventError);
    // Below the maximum event size, a length past the end of the file is an incomplete event.
    lie.writeUInt32LE(0x10000000, 9);
    const { error: sized } = await failure(decodeBinlogChunks([lie], { name: 'b', fileSize: file.length }));
    expect(sized).toBeInstanceOf(IncompleteEventError);
    expect((sized as IncompleteEventError).fields).toMatchObject({ offset: 4, need: 0x10000000 });
  });
});

describe('decodeBinlogChunksNdjson', () => {
  it('with reuseBuffers, prints the same bytes while its output slab is written over many times', async () => {
    // The synthetic OLTP file's transaction repeated until the output is several times the 4 MiB slab.
    const file = oltpSpecBinlog();
    const fdeEnd = 4 + peekEventSize(file, 4);
    const transaction = file.subarray(fdeEnd);
    const source = [file.subarray(4, fdeEnd), ...Array.from({ length: 4000 }, () => transaction)];
    const fresh: Buffer[] = [];
    for await (const b of decodeBinlogChunksNdjson(source, { name: 'x' })) fresh.push(b);
    const reused: Buffer[] = [];
    let slabs = new Set<ArrayBufferLike>();
    for await (const b of decodeBinlogChunksNdjson(source, { name: 'x', reuseBuffers: true })) {
      slabs.add(b.buffer);
      // Each buffer is valid until the next one is asked for: copy it now.
      reused.push(Buffer.from(b));
    }
    const expected = Buffer.concat(fresh);
    expect(expected.length).toBeGreaterThan(12 * 1024 * 1024);
    expect(Buffer.concat(reused).equals(expected)).toBe(true);
    expect(slabs.size).toBe(1);
    slabs = new Set(fresh.map((b) => b.buffer));
    expect(slabs.size).toBeGreaterThan(2);
  });
});

describe('readBinlogFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbtrail-binlog-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file by small chunks with from/stop positions', async () => {
    const path = join(dir, 'binlog.000001');
    await writeFile(path, file);
    const all = await collect(readBinlogFile(path, { chunkSize: 7 }));
    expect(all.map((e) => e.type)).toEqual([
      'FORMAT_DESCRIPTION',
      'QUERY',
      'TABLE_MAP',
      'WRITE_ROWS',
      'XID',
      'ROTATE',
    ]);
    expect(all.every((e) => e.file === 'binlog.000001')).toBe(true);
    const tm = all[2]!;
    const xid = all[4]!;
    const middle = await collect(readBinlogFile(path, { fromPos: tm.pos, stopPos: xid.pos, chunkSize: 5 }));
    expect(middle.map((e) => [e.type, e.pos])).toEqual([
      ['TABLE_MAP', tm.pos],
      ['WRITE_ROWS', all[3]!.pos],
    ]);
  });

  it('rejects a file that is not a binlog by name', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'hello world');
    const { error } = await failure(readBinlogFile(path));
    expect(error).toBeInstanceOf(NotABinlogError);
    expect((error as Error).message).toBe(
      `Cannot read "${path}": not a binlog file (expected the magic bytes fe 62 69 6e, found 68 65 6c 6c)`,
    );
  });

  it('reports a file still being written as an incomplete event', async () => {
    const path = join(dir, 'growing.000001');
    await writeFile(path, file.subarray(0, file.length - 3));
    const { events, error } = await failure(readBinlogFile(path, { chunkSize: 16 }));
    expect(events).toHaveLength(5);
    expect(error).toBeInstanceOf(IncompleteEventError);
    expect((error as Error).message).toContain(`stopped at offset ${events[4]!.nextPos}, incomplete event`);
  });
});
