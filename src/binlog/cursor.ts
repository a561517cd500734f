import { TruncatedError } from './errors.js';

/**
 * The one reused read cursor over a Buffer, with bounds-checked little-endian reads (the binlog and the client
 * protocol are little-endian except where a decoder says otherwise). Decoders share one cursor per event and
 * advance `pos`; nothing here copies bytes except `bytesCopy`.
 *
 * `end` bounds every read so that a length field that lies cannot read into the next event or the CRC trailer.
 */
export class Cursor {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Re-point the cursor at another buffer without allocating. */
  reset(buf: Buffer, pos = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number, what = 'field'): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new TruncatedError(
        `Cannot read ${what}: need ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`,
        {
          fields: { offset: this.pos, need: n },
        },
      );
    }
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  i8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const b = this.buf;
    const p = this.pos;
    this.pos += 3;
    return (b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16);
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** 6-byte unsigned little-endian; fits a JS number exactly (< 2^48). */
  u48(): number {
    this.need(6);
    const v = this.buf.readUIntLE(this.pos, 6);
    this.pos += 6;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * A 64-bit unsigned value that must fit a JS number exactly (positions, lengths, counts): throws when it does
   * not, rather than silently rounding.
   */
  u64Number(what = 'value'): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new TruncatedError(`Cannot read ${what}: ${v} exceeds the largest exact number`, {
        fields: { value: v.toString() },
      });
    }
    return Number(v);
  }

  /**
   * Length-encoded integer (protocol "int<lenenc>"): 0xfb means NULL in a row context and is returned as -1.
   * Spec: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_dt_integers.html
   */
  lenenc(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return -1;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) return this.u64Number('length-encoded integer');
    throw new TruncatedError(
      `Cannot read length-encoded integer: invalid first byte 0xff at offset ${this.pos - 1}`,
    );
  }

  /** A view (no copy) of the next n bytes. Do not keep it past the life of the underlying chunk without copying. */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A copy of the next n bytes, safe to keep. */
  bytesCopy(n: number, what = 'bytes'): Buffer {
    return Buffer.from(this.bytes(n, what));
  }

  /** A view of everything up to `end`. */
  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  /** Bytes up to a 0x00 terminator (not included); throws when no terminator exists before `end`. */
  nulTerminated(what = 'string'): Buffer {
    const idx = this.buf.indexOf(0, this.pos);
    if (idx === -1 || idx >= this.end) {
      throw new TruncatedError(`Cannot read ${what}: no terminating zero byte before offset ${this.end}`);
    }
    const v = this.buf.subarray(this.pos, idx);
    this.pos = idx + 1;
    return v;
  }

  /** Length-encoded string. */
  lenencBytes(what = 'string'): Buffer {
    const n = this.lenenc();
    if (n < 0) throw new TruncatedError(`Cannot read ${what}: NULL marker where a length was expected`);
    return this.bytes(n, what);
  }
}
