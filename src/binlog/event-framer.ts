import { MalformedEventError } from './errors.js';
import { LOG_EVENT_HEADER_LEN } from './event-types.js';
import { peekEventSize } from './header.js';

const EMPTY = Buffer.alloc(0);

/** A complete event inside a buffer: valid until the next `push`. */
export interface EventFrame {
  readonly buf: Buffer;
  readonly offset: number;
  readonly length: number;
  /** Byte offset of the event in the file (or stream). */
  readonly pos: number;
}

/**
 * Cuts a byte stream of binlog events (a file after its 4-byte magic) into whole events, whatever the chunk
 * boundaries. Chunks are framed in place; an event that spans chunks is joined into a buffer of its own once it is
 * complete, from the pending tail and just the bytes it needs of the queued chunks (the rest of a chunk is framed
 * in place again), so a large event costs one copy, not one per chunk, and a chunk boundary never copies a whole
 * chunk. Events are views valid until the next `push`.
 */
export class EventFramer {
  #buf: Buffer = EMPTY;
  #start = 0;
  #queued: Buffer[] = [];
  #queuedLength = 0;
  #pos: number;
  readonly #maxEventSize: number;

  constructor(startPos: number, maxEventSize: number) {
    this.#pos = startPos;
    this.#maxEventSize = maxEventSize;
  }

  /** File offset of the next event to be framed. */
  get pos(): number {
    return this.#pos;
  }

  /** Bytes received but not yet framed. */
  get pending(): number {
    return this.#buf.length - this.#start + this.#queuedLength;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#buf.length - this.#start === 0 && this.#queuedLength === 0) {
      this.#buf = chunk;
      this.#start = 0;
    } else {
      this.#queued.push(chunk);
      this.#queuedLength += chunk.length;
    }
  }

  /**
   * The declared size of the next event once its header is available, else undefined. Throws when the size is
   * impossible (below the header size or above the configured maximum) so no caller waits for bytes that lie.
   */
  peekSize(): number | undefined {
    if (!this.#ensure(LOG_EVENT_HEADER_LEN)) return undefined;
    const size = peekEventSize(this.#buf, this.#start);
    if (size < LOG_EVENT_HEADER_LEN) {
      throw new MalformedEventError(
        `Cannot frame event at offset ${this.#pos}: event size is ${size}, below the ${LOG_EVENT_HEADER_LEN}-byte header`,
        {
          fields: { offset: this.#pos, size },
        },
      );
    }
    if (size > this.#maxEventSize) {
      throw new MalformedEventError(
        `Cannot frame event at offset ${this.#pos}: event size is ${size}, above the limit of ${this.#maxEventSize} bytes`,
        { fields: { offset: this.#pos, size } },
      );
    }
    return size;
  }

  /** The next complete event, or undefined until more bytes arrive. */
  next(): EventFrame | undefined {
    const size = this.peekSize();
    if (size === undefined || !this.#ensure(size)) return undefined;
    const frame = { buf: this.#buf, offset: this.#start, length: size, pos: this.#pos };
    this.#start += size;
    this.#pos += size;
    if (this.#start === this.#buf.length) {
      const queued = this.#queued.shift();
      if (queued === undefined) this.#buf = EMPTY;
      else {
        this.#buf = queued;
        this.#queuedLength -= queued.length;
      }
      this.#start = 0;
    }
    return frame;
  }

  /** Makes `n` contiguous bytes available at #start when enough were received; false otherwise. */
  #ensure(n: number): boolean {
    const have = this.#buf.length - this.#start;
    if (have >= n) return true;
    if (have + this.#queuedLength < n) return false;
    // One copy of the n bytes; the old (possibly large) chunk is released, queued bytes past n stay in place.
    const joined = Buffer.allocUnsafe(n);
    this.#buf.copy(joined, 0, this.#start);
    let at = have;
    while (at < n) {
      const chunk = this.#queued[0] as Buffer;
      const take = Math.min(chunk.length, n - at);
      chunk.copy(joined, at, 0, take);
      at += take;
      if (take === chunk.length) this.#queued.shift();
      else this.#queued[0] = chunk.subarray(take);
      this.#queuedLength -= take;
    }
    this.#buf = joined;
    this.#start = 0;
    return true;
  }
}
