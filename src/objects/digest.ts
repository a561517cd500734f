import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ObjectIntegrityError } from './errors.js';

export interface DigestExpectation {
  /** What the bytes are, for the error message: `object "a/b"`, `file "x.sql"`. */
  readonly subject: string;
  readonly size?: number;
  readonly sha256?: string;
  /** Called with the length of every chunk as it passes, for progress. */
  readonly onBytes?: (n: number) => void;
}

/**
 * A pass-through stream that counts and hashes (SHA-256) the bytes flowing through it. When an expected size or
 * SHA-256 is given, it fails at the end of the input, before it ends its own output, so a consumer that commits
 * only on a clean end (a rename, a multipart completion) never commits wrong bytes. It also fails as soon as the
 * input grows past the expected size.
 *
 * With an expected SHA-256 it holds back the latest chunk until the next one arrives (or the input ends and the
 * digest matched): a consumer that commits as soon as it has the declared number of bytes, like an HTTP server
 * receiving a PUT with a Content-Length, then never receives all of a wrong body.
 */
export class DigestStream extends Transform {
  readonly #hash = createHash('sha256');
  readonly #expect: DigestExpectation;
  #size = 0;
  #sha256: string | undefined;
  #verified = false;
  #held: Buffer | undefined;

  constructor(expect: DigestExpectation) {
    super();
    this.#expect = expect;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** True once the whole input has passed and matched the expectations. */
  get verified(): boolean {
    return this.#verified;
  }

  /** Lower-case hex SHA-256 of all bytes; available once the input has ended. */
  get sha256(): string {
    if (this.#sha256 === undefined) throw new Error('DigestStream.sha256 read before the input ended');
    return this.#sha256;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    const expected = this.#expect.size;
    if (expected !== undefined && this.#size > expected) {
      callback(this.#mismatch(`size is more than ${expected} bytes`));
      return;
    }
    this.#hash.update(chunk);
    this.#expect.onBytes?.(chunk.length);
    if (this.#expect.sha256 === undefined) {
      callback(null, chunk);
      return;
    }
    const previous = this.#held;
    this.#held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    this.#sha256 = this.#hash.digest('hex');
    const { size, sha256 } = this.#expect;
    if (size !== undefined && this.#size !== size) {
      callback(this.#mismatch(`size is ${this.#size} bytes, expected ${size}`));
    } else if (sha256 !== undefined && this.#sha256 !== sha256) {
      callback(this.#mismatch(`SHA-256 is ${this.#sha256}, expected ${sha256}`));
    } else {
      this.#verified = true;
      const held = this.#held;
      this.#held = undefined;
      callback(null, held);
    }
  }

  #mismatch(detail: string): ObjectIntegrityError {
    return new ObjectIntegrityError(`Cannot accept ${this.#expect.subject}: ${detail}`, {
      subject: this.#expect.subject,
      expectedSize: this.#expect.size,
      expectedSha256: this.#expect.sha256,
      actualSize: this.#size,
      actualSha256: this.#sha256,
    });
  }
}

/** SHA-256 of a buffer, lower-case hex. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
