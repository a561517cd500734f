import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { ObjectIntegrityError, ObjectNotFoundError, ObjectStoreError } from '../../src/objects/errors.js';
import { openObjectStore } from '../../src/objects/open.js';
import { DEFAULT_SINGLE_PUT_MAX_BYTES, MIN_PART_SIZE, S3ObjectStore } from '../../src/objects/s3.js';
import { startLocalS3, type LocalS3 } from '../harness/s3.js';
import { describeObjectStoreContract, readAll, sha256 } from './contract.js';

let s3: LocalS3;
const stores: S3ObjectStore[] = [];

beforeAll(async () => {
  // The contract runs through lib-storage (buffered parts, completion only after the digest check): s3rver, unlike
  // S3, keeps the bytes of a single PUT whose connection was cut, so "stores nothing" cannot be checked against it
  // on the streamed path. That path has its own tests below.
  s3 = await startLocalS3({ config: { partSize: MIN_PART_SIZE, queueSize: 3, singlePutMaxBytes: 0 } });
  return () => {
    for (const store of stores) store.close();
  };
});

function freshStore(config: Partial<LocalS3['config']> = {}): S3ObjectStore {
  // A fresh prefix per test gives each one an empty store in the shared bucket.
  const store = new S3ObjectStore(s3.bucket, `run-${randomBytes(6).toString('hex')}/root`, {
    ...s3.config,
    ...config,
  });
  stores.push(store);
  return store;
}

describeObjectStoreContract('s3 (s3rver)', () => Promise.resolve(freshStore()), {
  recordsChecksum: true,
  // Two full 5 MiB parts and a partial third one.
  largeSize: 2 * MIN_PART_SIZE + 12_345,
});

describe('S3ObjectStore streamed single PUT', () => {
  const streamed = (): S3ObjectStore => freshStore({ singlePutMaxBytes: DEFAULT_SINGLE_PUT_MAX_BYTES });

  it('streams a body of known size in one PUT and records its SHA-256', async () => {
    const store = streamed();
    const data = randomBytes(2 * MIN_PART_SIZE + 777);
    const chunks: Buffer[] = [];
    for (let at = 0; at < data.length; at += 64 * 1024) chunks.push(data.subarray(at, at + 64 * 1024));
    let seen = 0;
    const result = await store.put('one/put.bin', Readable.from(chunks), {
      size: data.length,
      sha256: sha256(data),
      onBytes: (n) => (seen += n),
    });
    expect(result).toEqual({ size: data.length, sha256: sha256(data) });
    expect(seen).toBe(data.length);
    expect(await store.head('one/put.bin')).toEqual({ size: data.length, sha256: sha256(data) });
    expect(sha256(await readAll(store, 'one/put.bin'))).toBe(sha256(data));
  });

  it('fails a body whose bytes differ from the declared SHA-256 or size, before the server has all of it', async () => {
    const store = streamed();
    const data = randomBytes(300_000);
    const chunks = [data.subarray(0, 100_000), data.subarray(100_000)];
    await expect(
      store.put('bad/sha.bin', Readable.from(chunks), {
        size: data.length,
        sha256: sha256(Buffer.from('x')),
      }),
    ).rejects.toBeInstanceOf(ObjectIntegrityError);
    await expect(
      store.put('bad/short.bin', Readable.from(chunks), { size: data.length + 1, sha256: sha256(data) }),
    ).rejects.toBeInstanceOf(ObjectIntegrityError);
    await expect(
      store.put('bad/long.bin', Readable.from(chunks), { size: data.length - 1 }),
    ).rejects.toBeInstanceOf(ObjectIntegrityError);
    // Nothing complete was published: at most the partial bytes s3rver keeps, never an object with our checksum.
    for (const key of ['bad/sha.bin', 'bad/short.bin', 'bad/long.bin']) {
      const head = await store.head(key);
      expect(head === undefined || head.size < data.length).toBe(true);
      expect(head?.sha256).toBeUndefined();
    }
  });
});

describe('S3ObjectStore', () => {
  it('opens from an s3:// URL with the prefix as the store root', async () => {
    const prefix = `url-${randomBytes(4).toString('hex')}`;
    const store = openObjectStore(`s3://${s3.bucket}/${prefix}/backups/`, s3.config);
    expect(store.url).toBe(`s3://${s3.bucket}/${prefix}/backups`);
    await store.put('t/s/file', Buffer.from('payload'));
    // The same object is visible one level up, under the full key.
    const parent = openObjectStore(`s3://${s3.bucket}/${prefix}`, s3.config);
    expect((await readAll(parent, 'backups/t/s/file')).toString()).toBe('payload');
    (store as S3ObjectStore).close();
    (parent as S3ObjectStore).close();
  });

  it('records the SHA-256 as x-amz-meta-sha256 for buffers even when the caller gives none', async () => {
    const store = freshStore();
    const data = randomBytes(64);
    await store.put('meta', data);
    expect(await store.head('meta')).toEqual({ size: 64, sha256: sha256(data) });
  });

  it('accepts server-side encryption settings', async () => {
    const store = freshStore({ sse: 'aws:kms', sseKmsKeyId: 'alias/dbtrail' });
    await store.put('sse', Buffer.from('secret'));
    expect((await readAll(store, 'sse')).toString()).toBe('secret');
  });

  it('reports a missing bucket by name', async () => {
    const store = new S3ObjectStore('no-such-bucket-here', '', s3.config);
    stores.push(store);
    // HEAD responses carry no error body, so only reads, writes and listings can tell the bucket is missing.
    await expect(store.get('x')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.get('x')).rejects.toThrow(/bucket "no-such-bucket-here" does not exist/);
    await expect(store.put('x', Buffer.from('x'))).rejects.toThrow(
      /bucket "no-such-bucket-here" does not exist/,
    );
  });

  it('reports an unreachable endpoint as a connection failure', async () => {
    const store = new S3ObjectStore(s3.bucket, '', {
      ...s3.config,
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
    });
    stores.push(store);
    const err = await store.head('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect((err as ObjectStoreError).kind).toBe('connection');
    expect((err as ObjectStoreError).message).toMatch(/^Cannot inspect object "x" in s3:\/\/dbtrail-test: /);
  });
});
