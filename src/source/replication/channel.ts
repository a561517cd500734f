import type { Duplex } from 'node:stream';
import { PacketParser } from '../../binlog/packet-parser.js';
import { isDbtrailError, messageOf } from '../../lib/errors.js';
import { framePacket } from './commands.js';
import { HeartbeatTimeoutError, ReplicationConnectionLostError } from './errors.js';
import { SilenceWatchdog } from './watchdog.js';

export interface PacketChannelOptions {
  /** Largest logical packet accepted (the server's max_allowed_packet bounds real events). */
  readonly maxPacketSize: number;
  /** Packets queued before the socket is paused; reading resumes when the queue is half empty. */
  readonly highWaterMark: number;
  /** `user@host:port`, for messages. */
  readonly server: string;
}

/**
 * Packets over a socket taken from mysql2: framed writes out, whole payloads in (through the binlog module's
 * PacketParser), with flow control and failure detection.
 *
 * - Backpressure: received payloads wait in a queue; at `highWaterMark` the socket is paused, so the kernel's
 *   receive window fills and the server's dump thread blocks in its send. Memory stays at about the high-water
 *   mark plus one read chunk, however slow the consumer.
 * - Failures are terminal and come after what was already received: a closed or reset socket gives
 *   `ReplicationConnectionLostError`, silence past the heartbeat allowance `HeartbeatTimeoutError`.
 * - `close()` ends the channel on purpose: pending and later `next()` calls return undefined.
 */
export class PacketChannel {
  readonly #socket: Duplex;
  readonly #parser: PacketParser;
  readonly #options: PacketChannelOptions;
  #queue: Buffer[] = [];
  #head = 0;
  #paused = false;
  #failure: Error | undefined;
  #closedByUs = false;
  #waiter: { resolve: () => void } | undefined;
  #watchdog: SilenceWatchdog | undefined;
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);
  readonly #onError = (err: Error): void => {
    this.#fail(
      new ReplicationConnectionLostError(
        `Cannot read the binlog from ${this.#options.server}: ${messageOf(err)}`,
        {
          cause: err,
          fields: { server: this.#options.server, reason: (err as { code?: unknown }).code },
        },
      ),
    );
  };
  readonly #onClose = (): void => {
    this.#fail(
      new ReplicationConnectionLostError(
        `Cannot read the binlog from ${this.#options.server}: the server closed the connection`,
        { fields: { server: this.#options.server } },
      ),
    );
  };

  constructor(socket: Duplex, options: PacketChannelOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#parser = new PacketParser({ maxPacketSize: options.maxPacketSize });
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('end', this.#onClose);
    socket.on('close', this.#onClose);
    if (socket.isPaused()) socket.resume();
  }

  /** Whether the channel has ended (closed by us or failed). */
  get ended(): boolean {
    return this.#closedByUs || this.#failure !== undefined;
  }

  /** Payloads waiting for the consumer. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Whether reading is paused because the consumer is behind. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Writes one command (sequence id 0: every command starts a new exchange). */
  send(payload: Buffer): void {
    if (this.ended) return;
    this.#socket.write(framePacket(payload, 0));
  }

  /** Starts watching for silence: after `limitMs` without a byte, the channel fails with `HeartbeatTimeoutError`. */
  watchSilence(limitMs: number, heartbeatMs: number): void {
    this.#watchdog?.stop();
    this.#watchdog = new SilenceWatchdog(limitMs, (silentMs) => {
      this.#fail(
        new HeartbeatTimeoutError(
          `Cannot read the binlog from ${this.#options.server}: nothing received for ${silentMs} ms (heartbeat period ${heartbeatMs} ms), the connection is presumed dead`,
          { fields: { server: this.#options.server, silentMs, heartbeatMs } },
        ),
      );
      this.#socket.destroy();
    });
    if (!this.#paused) this.#watchdog.start();
  }

  /**
   * The next payload in arrival order. Undefined once the channel was closed by us; the failure, once everything
   * received before it has been taken.
   */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.#closedByUs) return undefined;
      if (this.#head < this.#queue.length) return this.#take();
      if (this.#failure !== undefined) throw this.#failure;
      await new Promise<void>((resolve) => {
        this.#waiter = { resolve };
      });
    }
  }

  /** Ends the channel and destroys the socket. Safe to call more than once. */
  close(): void {
    if (this.#closedByUs) return;
    this.#closedByUs = true;
    this.#watchdog?.stop();
    this.#queue = [];
    this.#head = 0;
    this.#socket.off('data', this.#onData);
    this.#socket.destroy();
    this.#wake();
  }

  #take(): Buffer {
    const payload = this.#queue[this.#head] as Buffer;
    this.#queue[this.#head] = EMPTY;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (this.#paused && this.queued <= this.#options.highWaterMark >> 1 && this.#failure === undefined) {
      this.#paused = false;
      this.#socket.resume();
      this.#watchdog?.resume();
    }
    return payload;
  }

  #receive(chunk: Buffer): void {
    if (this.ended) return;
    this.#watchdog?.touch();
    try {
      this.#parser.parse(chunk, (payload) => {
        this.#queue.push(payload);
      });
    } catch (err) {
      this.#fail(
        isDbtrailError(err)
          ? err
          : new ReplicationConnectionLostError(
              `Cannot read the binlog from ${this.#options.server}: ${messageOf(err)}`,
              {
                cause: err,
              },
            ),
      );
      this.#socket.destroy();
      return;
    }
    if (!this.#paused && this.queued >= this.#options.highWaterMark) {
      this.#paused = true;
      this.#socket.pause();
      this.#watchdog?.suspend();
    }
    this.#wake();
  }

  #fail(err: Error): void {
    if (this.ended) return;
    this.#failure = err;
    this.#watchdog?.stop();
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve();
  }
}

const EMPTY = Buffer.alloc(0);
