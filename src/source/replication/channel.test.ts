import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PacketTooLargeError } from '../../binlog/errors.js';
import { PacketChannel } from './channel.js';
import { framePacket } from './commands.js';
import { HeartbeatTimeoutError, ReplicationConnectionLostError } from './errors.js';

/** A socket stand-in: what the channel writes is recorded, what the test pushes is what the channel reads. */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = [];
  pauses = 0;
  resumes = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written.push(chunk);
    cb();
  }
  override pause(): this {
    this.pauses++;
    return super.pause();
  }
  override resume(): this {
    this.resumes++;
    return super.resume();
  }
}

function channel(socket: FakeSocket, highWaterMark = 100, maxPacketSize = 1 << 20): PacketChannel {
  return new PacketChannel(socket, { maxPacketSize, highWaterMark, server: 'u@h:1' });
}

/** Lets stream events (data, end, close) be delivered. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

afterEach(() => {
  vi.useRealTimers();
});

describe('PacketChannel', () => {
  it('frames commands with sequence id 0', () => {
    const socket = new FakeSocket();
    const ch = channel(socket);
    ch.send(Buffer.from([0x12, 0xaa]));
    expect(Buffer.concat(socket.written)).toEqual(Buffer.from([2, 0, 0, 0, 0x12, 0xaa]));
    ch.close();
  });

  it('delivers whole payloads in order, whatever the chunk boundaries', async () => {
    const socket = new FakeSocket();
    const ch = channel(socket);
    const payloads = [
      Buffer.from('\x00first'),
      Buffer.from('\x00second event'),
      Buffer.from([0xfe, 0, 0, 2, 0]),
    ];
    const bytes = Buffer.concat(payloads.map((p, i) => framePacket(p, i + 1)));
    for (let i = 0; i < bytes.length; i += 3) socket.push(bytes.subarray(i, i + 3));
    await tick();
    for (const p of payloads) expect(await ch.next()).toEqual(p);
    ch.close();
    expect(await ch.next()).toBeUndefined();
  });

  it('pauses the socket at the high-water mark and resumes when the queue is half drained', async () => {
    const socket = new FakeSocket();
    const ch = channel(socket, 4);
    const bytes = Buffer.concat(Array.from({ length: 6 }, (_, i) => framePacket(Buffer.from([0, i]), i)));
    socket.push(bytes);
    await tick();
    expect(ch.paused).toBe(true);
    expect(ch.queued).toBe(6);
    for (let i = 0; i < 3; i++) await ch.next();
    expect(ch.paused).toBe(true);
    await ch.next();
    expect(ch.paused).toBe(false);
    expect(socket.resumes).toBeGreaterThan(0);
    ch.close();
  });

  it('hands out what arrived before a closed connection, then a typed error', async () => {
    const socket = new FakeSocket();
    const ch = channel(socket);
    socket.push(framePacket(Buffer.from([0, 1])));
    socket.push(null);
    await tick();
    expect(await ch.next()).toEqual(Buffer.from([0, 1]));
    await expect(ch.next()).rejects.toBeInstanceOf(ReplicationConnectionLostError);
  });

  it('turns a socket error into a typed connection error naming the server', async () => {
    const socket = new FakeSocket();
    const ch = channel(socket);
    const pending = ch.next();
    socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await expect(pending).rejects.toThrow(/Cannot read the binlog from u@h:1: read ECONNRESET/);
  });

  it('refuses a packet above the size limit before buffering it', async () => {
    const socket = new FakeSocket();
    const ch = channel(socket, 100, 10);
    socket.push(Buffer.from([0xff, 0xff, 0x00, 0x01]));
    await tick();
    await expect(ch.next()).rejects.toBeInstanceOf(PacketTooLargeError);
    expect(socket.destroyed).toBe(true);
  });

  it('ends a waiting next() with undefined on close', async () => {
    const socket = new FakeSocket();
    const ch = channel(socket);
    const pending = ch.next();
    ch.close();
    expect(await pending).toBeUndefined();
    expect(socket.destroyed).toBe(true);
  });

  it('fails with HeartbeatTimeoutError after silence, but not while data keeps arriving', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const socket = new FakeSocket();
    const ch = channel(socket);
    ch.watchSilence(1000, 400);
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(500);
      socket.push(framePacket(Buffer.from([0, i])));
      await vi.waitFor(() => expect(ch.queued).toBe(i + 1));
    }
    expect(ch.ended).toBe(false);
    vi.advanceTimersByTime(1000);
    for (let i = 0; i < 5; i++) await ch.next();
    await expect(ch.next()).rejects.toBeInstanceOf(HeartbeatTimeoutError);
    expect(socket.destroyed).toBe(true);
  });
});
