import { describe, expect, it } from 'vitest';
import { PacketTooLargeError } from './errors.js';
import { classifyReplicationPacket, PacketParser } from './packet-parser.js';

/** One protocol packet: 3-byte length, sequence id, payload. */
function packet(payload: Buffer, seq: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

function collect(parser: PacketParser, chunks: Buffer[]): { payload: string; seq: number }[] {
  const out: { payload: string; seq: number }[] = [];
  for (const c of chunks) parser.parse(c, (p, seq) => out.push({ payload: p.toString('hex'), seq }));
  return out;
}

const payloads = [
  Buffer.from([0x00, 1, 2, 3, 4, 5]),
  Buffer.alloc(0),
  Buffer.from([0xfe, 0, 0, 2, 0]),
  Buffer.from('\x00' + 'x'.repeat(300)),
];
const stream = Buffer.concat(payloads.map((p, i) => packet(p, i)));
const expected = payloads.map((p, i) => ({ payload: p.toString('hex'), seq: i }));

describe('PacketParser', () => {
  it('frames a multi-packet buffer split at every offset, and fed byte by byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new PacketParser({ maxPacketSize: 1 << 20 });
      expect(collect(parser, [stream.subarray(0, cut), stream.subarray(cut)])).toEqual(expected);
      expect(parser.buffered).toBe(0);
    }
    for (let cut = 1; cut < stream.length; cut += 7) {
      const parser = new PacketParser({ maxPacketSize: 1 << 20 });
      const a = Math.floor(cut / 2);
      expect(collect(parser, [stream.subarray(0, a), stream.subarray(a, cut), stream.subarray(cut)])).toEqual(
        expected,
      );
    }
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(collect(new PacketParser({ maxPacketSize: 1 << 20 }), bytes)).toEqual(expected);
  });

  it('hands out views of the chunk when a packet is inside it, and its own copy when it spans chunks', () => {
    const chunk = packet(Buffer.from([0, 9, 9]), 1);
    const parser = new PacketParser({ maxPacketSize: 100 });
    let got: Buffer | undefined;
    parser.parse(chunk, (p) => (got = p));
    expect(got?.buffer).toBe(chunk.buffer);
    const first = chunk.subarray(0, 5);
    const second = Buffer.from(chunk.subarray(5));
    parser.parse(first, () => undefined);
    first.fill(0xee); // the caller reuses its chunk: the parser must have copied the partial packet
    parser.parse(second, (p) => (got = p));
    expect(got).toEqual(Buffer.from([0, 9, 9]));
  });

  it('joins 16 MiB continuation packets into one payload', () => {
    const big = Buffer.alloc(0xffffff + 10, 7);
    big[0] = 0;
    const wire = Buffer.concat([
      packet(big.subarray(0, 0xffffff), 3),
      packet(big.subarray(0xffffff), 4),
      packet(Buffer.from([0xfe]), 5),
    ]);
    for (const cut of [1, 4, 0xffff, 0xffffff + 3, 0xffffff + 4, 0xffffff + 6, wire.length - 2]) {
      const parser = new PacketParser({ maxPacketSize: 32 << 20 });
      const got: Buffer[] = [];
      parser.parse(wire.subarray(0, cut), (p) => got.push(p));
      parser.parse(wire.subarray(cut), (p) => got.push(p));
      expect(got).toHaveLength(2);
      expect(got[0]!.length).toBe(big.length);
      expect(got[0]!.equals(big)).toBe(true);
      expect(classifyReplicationPacket(got[1]!).kind).toBe('eof');
    }
    // A payload of exactly 0xffffff bytes is followed by an empty packet.
    const exact = Buffer.concat([packet(big.subarray(0, 0xffffff), 0), packet(Buffer.alloc(0), 1)]);
    const got: Buffer[] = [];
    new PacketParser({ maxPacketSize: 32 << 20 }).parse(exact, (p) => got.push(p));
    expect(got.map((p) => p.length)).toEqual([0xffffff]);
  });

  it('refuses a packet above the maximum from its header alone', () => {
    const parser = new PacketParser({ maxPacketSize: 1000 });
    const header = Buffer.from([0xff, 0xff, 0xfe, 0]);
    expect(() => parser.parse(header, () => undefined)).toThrow(PacketTooLargeError);
    expect(() =>
      new PacketParser({ maxPacketSize: 10 }).parse(packet(Buffer.alloc(11), 0), () => undefined),
    ).toThrow(/announces 11 bytes, above the limit of 10/);
  });
});

describe('classifyReplicationPacket', () => {
  it('recognises event, EOF and ERR packets', () => {
    const ev = classifyReplicationPacket(Buffer.from([0x00, 1, 2, 3]));
    expect(ev).toEqual({ kind: 'event', event: Buffer.from([1, 2, 3]) });
    expect(classifyReplicationPacket(Buffer.from([0xfe, 1, 0, 2, 0]))).toEqual({
      kind: 'eof',
      warnings: 1,
      statusFlags: 2,
    });
    const err = Buffer.concat([
      Buffer.from([0xff, 0x5c, 0x07]),
      Buffer.from('#HY000Could not find first log file name in binary log index file'),
    ]);
    expect(classifyReplicationPacket(err)).toEqual({
      kind: 'error',
      code: 1884,
      sqlState: 'HY000',
      message: 'Could not find first log file name in binary log index file',
    });
    expect(classifyReplicationPacket(Buffer.from([0x42]))).toMatchObject({
      kind: 'error',
      code: 0,
      message: 'unexpected packet marker 0x42',
    });
  });
});
