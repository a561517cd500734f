import type { Readable } from 'node:stream';
import type { S3ObjectStore, S3StoreConfig } from './s3.js';
import {
  joinKey,
  validatePrefix,
  type GetOptions,
  type ObjectEntry,
  type ObjectHead,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './store.js';

/**
 * An S3 object store that loads the AWS SDK on first use. Every CLI command shares one command table, and loading
 * the SDK costs about 200 ms of start-up, which commands that never touch S3 (decode, doctor, query) should not pay.
 */
export class LazyS3ObjectStore implements ObjectStore {
  readonly url: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #config: S3StoreConfig;
  #inner: Promise<S3ObjectStore> | undefined;
  #closed = false;

  constructor(bucket: string, prefix: string, config: S3StoreConfig) {
    this.#bucket = bucket;
    this.#prefix = joinKey(validatePrefix(prefix));
    this.#config = config;
    this.url = this.#prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${this.#prefix}`;
  }

  #store(): Promise<S3ObjectStore> {
    this.#inner ??= import('./s3.js').then(
      (m) => new m.S3ObjectStore(this.#bucket, this.#prefix, this.#config),
    );
    return this.#inner;
  }

  async put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
    return (await this.#store()).put(key, body, options);
  }

  async get(key: string, options?: GetOptions): Promise<Readable> {
    return (await this.#store()).get(key, options);
  }

  async head(key: string, options?: GetOptions): Promise<ObjectHead | undefined> {
    return (await this.#store()).head(key, options);
  }

  async *list(prefix: string, options?: GetOptions): AsyncIterable<ObjectEntry> {
    yield* (await this.#store()).list(prefix, options);
  }

  async delete(key: string, options?: GetOptions): Promise<void> {
    return (await this.#store()).delete(key, options);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#inner?.then((s) => s.close());
  }
}
