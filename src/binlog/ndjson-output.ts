/**
 * A byte buffer that NDJSON is written into, for output in large writes (one `write` per tens of KiB instead of
 * one per event). Output goes into slabs of a few MiB; `take` hands out the bytes written since the last `take`
 * as a view of the slab, so a slab is allocated per few MiB of output, not per write. The fields are public so
 * the row writer's loops can keep them in locals; `ensure` must be called before writing past `len`, and may
 * move the untaken bytes to a new slab (offsets relative to `start` stay valid).
 *
 * With `reuse`, a full slab is written again from its start instead of being replaced: whoever takes bytes must
 * be done with them before anything more is written. That saves a fresh slab (page faults, and garbage
 * collections that external memory triggers) per few MiB of output.
 */
export class NdjsonOutput {
  buf: Buffer;
  /** A DataView of `buf`, for copying four bytes at a time. */
  view: DataView;
  /** Where the bytes not yet taken begin. */
  start = 0;
  /** Where the next byte goes. */
  len = 0;
  readonly #slabSize: number;
  readonly #reuse: boolean;

  constructor(slabSize = 4 * 1024 * 1024, reuse = false) {
    this.#slabSize = slabSize;
    this.#reuse = reuse;
    this.buf = Buffer.allocUnsafe(slabSize);
    this.view = viewOf(this.buf);
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    return this.len - this.start;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const pending = this.len - this.start;
    if (this.#reuse && pending + n <= this.buf.length) {
      // Everything before `start` was taken and, by the reuse contract, is free again.
      this.buf.copyWithin(0, this.start, this.len);
      this.start = 0;
      this.len = pending;
      return;
    }
    // Views handed out by `take` keep the old slab alive as long as they need it; it is never written again.
    const next = Buffer.allocUnsafe(Math.max(this.#slabSize, pending + n));
    this.buf.copy(next, 0, this.start, this.len);
    this.buf = next;
    this.view = viewOf(next);
    this.start = 0;
    this.len = pending;
  }

  /** Drops what was written after `mark` (a value of `pending`): a failed event leaves nothing half-written. */
  truncate(mark: number): void {
    this.len = this.start + mark;
  }

  /** Hands out the bytes written since the last `take`; they are never overwritten. */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.len);
    this.start = this.len;
    return out;
  }

  /** Appends a string as UTF-8. */
  string(s: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    this.ensure(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  /** Appends a string known to hold only ASCII characters. */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let len = this.len;
    for (let i = 0; i < n; i++) buf[len++] = s.charCodeAt(i);
    this.len = len;
  }

  /**
   * Appends `n` bytes of `src` from `from`, four at a time: `src` must be readable 3 bytes beyond them (the
   * packed key and literal tables are padded for it). Up to 3 bytes past the copy are scratch, overwritten later.
   */
  words(src: DataView, from: number, n: number): void {
    this.ensure(n + 3);
    const view = this.view;
    let to = this.len;
    const end = to + n;
    let at = from;
    while (to < end) {
      view.setUint32(to, src.getUint32(at, true), true);
      to += 4;
      at += 4;
    }
    this.len = end;
  }

  /** Appends bytes [start, end) of `src`. */
  bytes(src: Buffer, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    if (n > 32) src.copy(this.buf, this.len, start, end);
    else {
      const buf = this.buf;
      let len = this.len;
      for (let i = start; i < end; i++) buf[len++] = src[i] as number;
    }
    this.len += n;
  }
}

export function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.length);
}
