import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll } from 'vitest';
import type { S3StoreConfig } from '../../src/objects/s3.js';

/** A private S3-compatible server (s3rver) on 127.0.0.1, with its data in a temporary directory. */
export interface LocalS3 {
  readonly endpoint: string;
  readonly bucket: string;
  /** Settings for `S3ObjectStore` / `openObjectStore` pointing at this server. */
  readonly config: S3StoreConfig;
  /** The directory holding the server's data (for tests that tamper with stored bytes). */
  readonly directory: string;
  /** The file in which s3rver keeps the bytes of `key` (the full key, bucket prefix included). */
  objectFile(key: string): string;
  close(): Promise<void>;
}

/** s3rver accepts only these credentials when it checks signatures. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

const opened = new Set<() => Promise<void>>();

// Registered while vitest collects the importing file (a hook registered from inside beforeAll is not run).
afterAll(async () => {
  for (const close of [...opened]) {
    opened.delete(close);
    await close();
  }
});

/**
 * Starts s3rver on a kernel-chosen free port with one bucket, and stops it (removing its data) after the calling
 * test file. Call it from `beforeAll`.
 */
export async function startLocalS3(
  options: { bucket?: string; config?: Partial<S3StoreConfig> } = {},
): Promise<LocalS3> {
  const bucket = options.bucket ?? 'dbtrail-test';
  const directory = await mkdtemp(join(tmpdir(), 'dbtrail-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await server.close();
    await rm(directory, { recursive: true, force: true });
  };
  opened.add(close);
  return {
    endpoint,
    bucket,
    directory,
    objectFile: (key) => {
      const parts = key.split('/');
      const name = parts.pop() as string;
      return join(directory, bucket, ...parts, `${name}._S3rver_object`);
    },
    config: {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      maxAttempts: 2,
      ...options.config,
    },
    close,
  };
}
