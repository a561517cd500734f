import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, ObjectStoreError } from '../../src/objects/errors.js';
import { openObjectStore } from '../../src/objects/open.js';
import { MIN_PART_SIZE, S3ObjectStore } from '../../src/objects/s3.js';
import { startLocalS3, type LocalS3 } from '../harness/s3.js';
import { describeObjectStoreContract, readAll, sha256 } from './contract.js';

let s3: LocalS3;
const stores: S3ObjectStore[] = [];

beforeAll(async () => {
  s3 = await startLocalS3({ config: { partSize: MIN_PART_SIZE, queueSize: 3 } });
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
