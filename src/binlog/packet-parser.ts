import { PacketTooLargeError } from './errors.js';

/**
 * Framing of the MySQL client/server protocol as a replication stream uses it.
 *
 * API
 * ```ts
 * const parser = new PacketParser({ maxPacketSize: 1 << 30 });
 * socket.on('data', (chunk) => parser.parse(chunk, (payload) => {
 *   const p = classifyReplicationPacket(payload);
 *   if (p.kind === 'event') decoder.decode(p.event);       // binlog event bytes, without the 0x00 marker
 *   else if (p.kind === 'eof') ...                            // end of the binlog (non-blocking dump)
 *   else throw ...                                            // p.code, p.sqlState, p.message
 * }));
 * ```
 * - `parse` accepts chunks cut anywhere and calls `onPacket` once per logical packet, in order.
 * - A payload is a view into memory the parser never writes again: the caller's chunk when the packet lies inside
 *   it, otherwise a buffer the parser allocated for that packet alone. It may be kept.
 * - A partial packet is copied out of its chunk, so a large chunk is not kept alive by a few trailing bytes.
 * - Packets of 0xffffff payload bytes continue in the next packet (protocol "16 MiB" splitting); the parts are
 *   joined into one payload.
 * - `maxPacketSize` bounds a logical payload: a header announcing more throws `PacketTooLargeError` before any of
 *   it is buffered.
 *
 * Packet layout (https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html):
 *   offset 0  payload_length  3 bytes little-endian
 *   offset 3  sequence_id     1 byte
 *   offset 4  payload
 */
export interface PacketParserOptions {
  readonly maxPacketSize: number;
}

const HEADER_LEN = 4;
const MAX_PART = 0xffffff;

export type PacketCallback = (payload: Buffer, sequenceId: number) => void;

export class PacketParser {
  readonly #max: number;
  readonly #header = Buffer.alloc(HEADER_LEN);
  #headerFill = 0;
  /** The packet being assembled across chunks, allocated at its announced size. */
  #frame: Buffer | undefined;
  #frameFill = 0;
  #frameSeq = 0;
  /** Parts of a packet split at 0xffffff bytes, joined when the last part arrives. */
  #parts: Buffer[] = [];
  #partsLength = 0;

  constructor(options: PacketParserOptions) {
    this.#max = options.maxPacketSize;
  }

  /** Bytes held for an incomplete packet (for tests and diagnostics). */
  get buffered(): number {
    return this.#headerFill + this.#frameFill + this.#partsLength;
  }

  parse(chunk: Buffer, onPacket: PacketCallback): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.#frame !== undefined) {
        const take = Math.min(this.#frame.length - this.#frameFill, n - off);
        chunk.copy(this.#frame, this.#frameFill, off, off + take);
        this.#frameFill += take;
        off += take;
        if (this.#frameFill === this.#frame.length) {
          const frame = this.#frame;
          this.#frame = undefined;
          this.#frameFill = 0;
          this.#complete(frame, this.#frameSeq, onPacket);
        }
        continue;
      }
      let length: number;
      let seq: number;
      if (this.#headerFill > 0 || n - off < HEADER_LEN) {
        const take = Math.min(HEADER_LEN - this.#headerFill, n - off);
        chunk.copy(this.#header, this.#headerFill, off, off + take);
        this.#headerFill += take;
        off += take;
        if (this.#headerFill < HEADER_LEN) return;
        this.#headerFill = 0;
        length = this.#header.readUIntLE(0, 3);
        seq = this.#header[3] as number;
      } else {
        length = chunk.readUIntLE(off, 3);
        seq = chunk[off + 3] as number;
        off += HEADER_LEN;
      }
      if (this.#partsLength + length > this.#max) {
        const total = this.#partsLength + length;
        this.#parts = [];
        this.#partsLength = 0;
        throw new PacketTooLargeError(
          `Cannot read replication packet: it announces ${total} bytes, above the limit of ${this.#max} (raise max_allowed_packet / maxPacketSize if the server really sends this)`,
          { fields: { length: total, max: this.#max } },
        );
      }
      if (n - off >= length) {
        // The whole payload is in this chunk: hand out a view, no copy.
        const payload = chunk.subarray(off, off + length);
        off += length;
        this.#complete(payload, seq, onPacket);
      } else {
        this.#frame = Buffer.allocUnsafe(length);
        this.#frameSeq = seq;
        const take = n - off;
        chunk.copy(this.#frame, 0, off, n);
        this.#frameFill = take;
        off = n;
      }
    }
  }

  #complete(payload: Buffer, seq: number, onPacket: PacketCallback): void {
    if (payload.length === MAX_PART) {
      this.#parts.push(payload);
      this.#partsLength += payload.length;
      return;
    }
    if (this.#parts.length > 0) {
      const joined = Buffer.concat([...this.#parts, payload], this.#partsLength + payload.length);
      this.#parts = [];
      this.#partsLength = 0;
      onPacket(joined, seq);
      return;
    }
    onPacket(payload, seq);
  }
}

/** What a payload of a binlog dump stream is. */
export type ReplicationPacket =
  | { readonly kind: 'event'; readonly event: Buffer }
  | { readonly kind: 'eof'; readonly warnings: number | undefined; readonly statusFlags: number | undefined }
  | {
      readonly kind: 'error';
      readonly code: number;
      readonly sqlState: string | undefined;
      readonly message: string;
    };

const OK_MARKER = 0x00;
const EOF_MARKER = 0xfe;
const ERR_MARKER = 0xff;

/**
 * Classifies one payload of a COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID response:
 * - 0x00 then a binlog event;
 * - 0xfe: EOF, the server has no more events (non-blocking mode); warnings (2) and status flags (2) when present;
 * - 0xff: ERR: error code (2), `#` and a 5-character SQL state (protocol 4.1), then the message.
 * Anything else is reported as an error packet with code 0 so a caller never mistakes it for an event.
 */
export function classifyReplicationPacket(payload: Buffer): ReplicationPacket {
  const marker = payload[0];
  if (marker === OK_MARKER) return { kind: 'event', event: payload.subarray(1) };
  if (marker === EOF_MARKER) {
    return {
      kind: 'eof',
      warnings: payload.length >= 3 ? payload.readUInt16LE(1) : undefined,
      statusFlags: payload.length >= 5 ? payload.readUInt16LE(3) : undefined,
    };
  }
  if (marker === ERR_MARKER) {
    const code = payload.length >= 3 ? payload.readUInt16LE(1) : 0;
    let p = 3;
    let sqlState: string | undefined;
    if (payload[p] === 0x23 /* '#' */ && payload.length >= p + 6) {
      sqlState = payload.toString('latin1', p + 1, p + 6);
      p += 6;
    }
    return { kind: 'error', code, sqlState, message: payload.toString('utf8', Math.min(p, payload.length)) };
  }
  return {
    kind: 'error',
    code: 0,
    sqlState: undefined,
    message:
      marker === undefined
        ? 'empty packet'
        : `unexpected packet marker 0x${marker.toString(16).padStart(2, '0')}`,
  };
}
