import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/** s3rver on a free 127.0.0.1 port for benchmarks (the test harness version registers vitest hooks). */
export async function startLocalS3Standalone(bucket = 'dbtrail-bench'): Promise<{
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}> {
  const directory = await mkdtemp(join(tmpdir(), 'dbtrail-bench-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
