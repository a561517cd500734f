import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBackup } from '../../src/backup/fetch.js';
import {
  BackupFetchError,
  BackupLocationConflictError,
  BackupUploadError,
} from '../../src/backup/transfer-errors.js';
import { uploadBackup } from '../../src/backup/upload.js';
import { describeVerifyProblems, verifyBackup } from '../../src/backup/verify.js';
import { MIN_PART_SIZE, S3ObjectStore } from '../../src/objects/s3.js';
import type { ObjectStore, PutOptions, PutResult } from '../../src/objects/store.js';
import { keys } from '../objects/contract.js';
import { startLocalS3, type LocalS3 } from '../harness/s3.js';
import { writeFakeBackup, type FakeBackup } from './fixture.js';

let s3: LocalS3;
let work: string;
const stores: S3ObjectStore[] = [];

beforeAll(async () => {
  s3 = await startLocalS3({ config: { partSize: MIN_PART_SIZE, queueSize: 2 } });
  work = await mkdtemp(join(tmpdir(), 'dbtrail-upload-'));
});
afterAll(async () => {
  for (const store of stores) store.close();
  await rm(work, { recursive: true, force: true });
});

/** A store under a fresh prefix of the shared bucket: `s3://bucket/<run>/backups`. */
function freshStore(): S3ObjectStore {
  const store = new S3ObjectStore(s3.bucket, `${randomBytes(5).toString('hex')}/backups`, s3.config);
  stores.push(store);
  return store;
}

/** Records every `put` and can fail the one for a chosen key, like a network that drops mid-backup. */
class SpyStore implements ObjectStore {
  readonly puts: string[] = [];
  failOn: string | undefined;
  constructor(readonly inner: ObjectStore) {}
  get url(): string {
    return this.inner.url;
  }
  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
    this.puts.push(key);
    if (key === this.failOn) return Promise.reject(new Error('connection reset by peer'));
    return this.inner.put(key, body, options);
  }
  get(key: string): Promise<Readable> {
    return this.inner.get(key);
  }
  head(key: string): ReturnType<ObjectStore['head']> {
    return this.inner.head(key);
  }
  list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  close(): void {
    this.inner.close();
  }
}

let counter = 0;
async function backup(
  files: Record<string, Buffer>,
  startedAt = '2026-03-13T14:15:00Z',
): Promise<FakeBackup> {
  counter++;
  return writeFakeBackup(join(work, `local-${counter}`), files, {
    backup_id: `bk_${counter}`,
    started_at: startedAt,
  });
}

function sixFiles(): Record<string, Buffer> {
  return {
    metadata: Buffer.from('Started dump at: 2026-03-13 14:15:00\n'),
    'app-schema-create.sql.zst': randomBytes(300),
    'app.users-schema.sql.zst': randomBytes(500),
    'app.users.00000.sql.zst': randomBytes(40_000),
    'app.orders.00000.sql.zst': randomBytes(MIN_PART_SIZE + 4321), // multipart
    'app.orders.00001.sql.zst': randomBytes(10),
  };
}

describe('upload to S3', () => {
  it('uploads every file under <tenant>/<server>/<date>/<time>/ with the manifest, then skips them all on a rerun', async () => {
    const store = freshStore();
    const local = await backup(sixFiles());
    const progress: number[] = [];
    const result = await uploadBackup(local.dir, store, { onProgress: (p) => progress.push(p.bytesDone) });

    const prefix = 'acme/db-main/2026-03-13/141500';
    expect(result.prefix).toBe(prefix);
    expect(result.location).toBe(`${store.url}/${prefix}`);
    expect(result.manifest).toBe('uploaded');
    expect(result.files.map((f) => f.status)).toEqual(Array(6).fill('uploaded'));
    const total = [...local.files.values()].reduce((s, b) => s + b.length, 0);
    expect(result.bytesUploaded).toBe(total);
    expect(progress.at(-1)).toBe(total);
    expect((await keys(store, `${prefix}/`)).sort()).toEqual(
      [...local.files.keys(), 'manifest.json'].map((p) => `${prefix}/${p}`).sort(),
    );
    expect(await readFile(join(local.dir, 'manifest.json'))).toEqual(
      Buffer.concat(await collect(await store.get(`${prefix}/manifest.json`))),
    );

    const spy = new SpyStore(store);
    const again = await uploadBackup(local.dir, spy);
    expect(again.files.map((f) => f.status)).toEqual(Array(6).fill('skipped'));
    expect(again.manifest).toBe('skipped');
    expect(again.bytesUploaded).toBe(0);
    expect(spy.puts).toEqual([]);
  });

  it('resumes an interrupted upload: the retry transfers only the files that were not in place, manifest last', async () => {
    const store = freshStore();
    const local = await backup(sixFiles(), '2026-03-14T01:02:03Z');
    const prefix = 'acme/db-main/2026-03-14/010203';
    const ac = new AbortController();
    const first = new SpyStore(store);
    let done = 0;
    const err = await uploadBackup(local.dir, first, {
      concurrency: 1,
      signal: ac.signal,
      onFile: () => {
        if (++done === 2) ac.abort(new Error('SIGINT'));
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupUploadError);
    expect((err as BackupUploadError).fields['interrupted']).toBe(true);
    expect((err as Error).message).toMatch(
      /interrupted \(2 of 6 files in place; run it again to upload the rest\)/,
    );
    const transferredFirst = first.puts.slice(0, 2);
    // No manifest: the backup is visibly incomplete.
    expect(await store.head(`${prefix}/manifest.json`)).toBeUndefined();
    expect((await keys(store, `${prefix}/`)).sort()).toEqual(transferredFirst.sort());

    const retry = new SpyStore(store);
    const result = await uploadBackup(local.dir, retry);
    const uploaded = result.files.filter((f) => f.status === 'uploaded').map((f) => f.key);
    const skipped = result.files.filter((f) => f.status === 'skipped').map((f) => f.key);
    expect(skipped.sort()).toEqual(transferredFirst.sort());
    expect(uploaded).toHaveLength(4);
    expect(retry.puts.slice(0, -1).sort()).toEqual(uploaded.sort());
    expect(retry.puts.at(-1)).toBe(`${prefix}/manifest.json`);
    expect((await verifyBackup(store, prefix)).ok).toBe(true);
  });

  it('stops at a failed file without writing the manifest, and the retry uploads only the rest', async () => {
    const store = freshStore();
    const local = await backup(sixFiles(), '2026-03-15T00:00:00Z');
    const prefix = 'acme/db-main/2026-03-15/000000';
    const failing = new SpyStore(store);
    failing.failOn = `${prefix}/app.users.00000.sql.zst`;
    const err = await uploadBackup(local.dir, failing, { concurrency: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupUploadError);
    expect((err as Error).message).toContain('connection reset by peer');
    expect(await store.head(`${prefix}/manifest.json`)).toBeUndefined();
    const inPlace = (await keys(store, `${prefix}/`)).sort();

    const retry = new SpyStore(store);
    await uploadBackup(local.dir, retry);
    const expectedRetry = [...local.files.keys()]
      .map((p) => `${prefix}/${p}`)
      .filter((k) => !inPlace.includes(k));
    expect(retry.puts.sort()).toEqual([...expectedRetry, `${prefix}/manifest.json`].sort());
    expect(retry.puts).toContain(`${prefix}/app.users.00000.sql.zst`);
  });

  it('puts a second backup of the same second in <HHMMSS>-<id prefix>, and its retry in the same place', async () => {
    const store = freshStore();
    const at = '2026-03-16T10:00:00Z';
    const a = await writeFakeBackup(
      join(work, 'same-second-a'),
      { x: Buffer.from('a') },
      {
        backup_id: 'aaaaaaaa-0000-4000-8000-000000000001',
        started_at: at,
      },
    );
    const b = await writeFakeBackup(
      join(work, 'same-second-b'),
      { x: Buffer.from('b') },
      {
        backup_id: 'bbbbbbbb-0000-4000-8000-000000000002',
        started_at: at,
      },
    );
    expect((await uploadBackup(a.dir, store)).prefix).toBe('acme/db-main/2026-03-16/100000');
    const second = await uploadBackup(b.dir, store);
    expect(second.prefix).toBe('acme/db-main/2026-03-16/100000-bbbbbbbb');
    expect(second.location).toBe(`${store.url}/acme/db-main/2026-03-16/100000-bbbbbbbb`);
    expect((await verifyBackup(store, second.prefix)).ok).toBe(true);
    // The first backup is untouched.
    expect((await verifyBackup(store, 'acme/db-main/2026-03-16/100000')).ok).toBe(true);
    const again = await uploadBackup(b.dir, store);
    expect(again.prefix).toBe(second.prefix);
    expect(again.manifest).toBe('skipped');
  });

  it("does not upload into a folder where another backup's upload is still incomplete", async () => {
    const store = freshStore();
    const at = '2026-03-16T11:00:00Z';
    const plain = 'acme/db-main/2026-03-16/110000';
    const a = await writeFakeBackup(
      join(work, 'partial-a'),
      { x: Buffer.from('aaaa') },
      {
        backup_id: 'cccccccc-0000-4000-8000-000000000003',
        started_at: at,
      },
    );
    const b = await writeFakeBackup(
      join(work, 'partial-b'),
      { x: Buffer.from('b') },
      {
        backup_id: 'dddddddd-0000-4000-8000-000000000004',
        started_at: at,
      },
    );
    const failing = new SpyStore(store);
    failing.failOn = `${plain}/manifest.json`;
    await expect(uploadBackup(a.dir, failing)).rejects.toBeInstanceOf(BackupUploadError);
    expect((await uploadBackup(b.dir, store)).prefix).toBe(`${plain}-dddddddd`);
    // The interrupted backup's retry resumes in its own folder.
    const retry = await uploadBackup(a.dir, store);
    expect(retry.prefix).toBe(plain);
    expect(retry.files.map((f) => f.status)).toEqual(['skipped']);
  });

  it('refuses when both the plain and the distinct folder hold other backups', async () => {
    const store = freshStore();
    const at = '2026-03-16T12:00:00Z';
    const make = (name: string, id: string) =>
      writeFakeBackup(join(work, name), { x: Buffer.from(name) }, { backup_id: id, started_at: at });
    await uploadBackup((await make('c1', 'eeeeeeee-0000-4000-8000-000000000005')).dir, store);
    await uploadBackup((await make('c2', 'ffffffff-0000-4000-8000-000000000006')).dir, store);
    const third = await make('c3', 'ffffffff-1111-4000-8000-000000000007');
    await expect(uploadBackup(third.dir, store)).rejects.toBeInstanceOf(BackupLocationConflictError);
    await expect(uploadBackup(third.dir, store)).rejects.toThrow(
      /120000-ffffffff: it already holds backup ffffffff-0000-4000-8000-000000000006/,
    );
  });

  it("places the backup under a schedule's object prefix, which must start with the tenant", async () => {
    const store = freshStore();
    const local = await backup({ x: Buffer.from('p') }, '2026-03-16T13:00:00Z');
    const result = await uploadBackup(local.dir, store, { base: 'acme/custom/nightly/' });
    expect(result.prefix).toBe('acme/custom/nightly/2026-03-16/130000');
    expect(await keys(store, 'acme/custom/nightly/')).toContain(
      'acme/custom/nightly/2026-03-16/130000/manifest.json',
    );
    await expect(uploadBackup(local.dir, store, { base: 'globex/db-main/' })).rejects.toThrow(
      'object prefix "globex/db-main/" is not usable: it does not start with the tenant "acme/"',
    );
  });
});

describe('verify on S3', () => {
  let store: S3ObjectStore;
  let local: FakeBackup;
  const prefix = 'acme/db-main/2026-03-17/120000';

  beforeAll(async () => {
    store = freshStore();
    local = await backup(sixFiles(), '2026-03-17T12:00:00Z');
    await uploadBackup(local.dir, store);
  });

  it('passes an intact backup', async () => {
    const result = await verifyBackup(store, prefix);
    expect(result.ok).toBe(true);
    expect(result.manifest).toBe('ok');
    expect(result.backupId).toBe(local.manifest.backup_id);
    expect(result.files.every((f) => f.status === 'ok')).toBe(true);
    expect(result.bytesRead).toBe([...local.files.values()].reduce((s, b) => s + b.length, 0));
  });

  it('reports a deleted object as missing, by file name', async () => {
    await store.delete(`${prefix}/app.users-schema.sql.zst`);
    const result = await verifyBackup(store, prefix);
    expect(result.ok).toBe(false);
    expect(result.missing).toEqual(['app.users-schema.sql.zst']);
    expect(result.corrupt).toEqual([]);
    expect(describeVerifyProblems(result)).toEqual(['missing: app.users-schema.sql.zst']);
    // Put it back for the next test.
    await uploadBackup(local.dir, store);
  });

  it('reports one flipped byte as corrupt, by file name, although the object metadata still looks right', async () => {
    const file = s3.objectFile(`${store.prefix}/${prefix}/app.users.00000.sql.zst`);
    const bytes = await readFile(file);
    bytes[12_345] = (bytes[12_345] as number) ^ 0x01;
    await writeFile(file, bytes);
    const result = await verifyBackup(store, prefix);
    expect(result.ok).toBe(false);
    expect(result.missing).toEqual([]);
    expect(result.corrupt).toEqual(['app.users.00000.sql.zst']);
    const problem = describeVerifyProblems(result);
    expect(problem).toHaveLength(1);
    expect(problem[0]).toMatch(
      /^corrupt: app\.users\.00000\.sql\.zst \(SHA-256 is [0-9a-f]{64}, expected [0-9a-f]{64}\)$/,
    );

    // A fetch of the corrupted backup fails on that file and leaves nothing behind.
    const to = join(work, 'fetch-corrupt');
    const err = await fetchBackup(store, prefix, to).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFetchError);
    expect((err as BackupFetchError).kind).toBe('integrity');
    expect((err as Error).message).toContain('file "app.users.00000.sql.zst": SHA-256 is');
    expect(await readdir(to)).toEqual([]);
    bytes[12_345] ^= 0x01;
    await writeFile(file, bytes);
  });

  it('reports an object the manifest does not list as extra, and a missing manifest as incomplete', async () => {
    await store.put(`${prefix}/stray.sql`, Buffer.from('not part of it'));
    const result = await verifyBackup(store, prefix);
    expect(result.ok).toBe(false);
    expect(result.extra).toEqual(['stray.sql']);
    await store.delete(`${prefix}/stray.sql`);
    expect((await verifyBackup(store, prefix)).ok).toBe(true);

    const none = await verifyBackup(store, 'acme/db-main/2026-01-01/000000');
    expect(none.ok).toBe(false);
    expect(none.manifest).toBe('missing');
  });
});

describe('fetch from S3', () => {
  it('downloads a byte-identical copy with the manifest, and refuses a non-empty target', async () => {
    const store = freshStore();
    const files = { ...sixFiles(), 'sub/dir/nested.sql': Buffer.from('nested') };
    const local = await backup(files, '2026-03-18T08:30:00Z');
    const { prefix } = await uploadBackup(local.dir, store);
    const to = join(work, 'fetched');
    const result = await fetchBackup(store, prefix, to);
    expect(result.backupId).toBe(local.manifest.backup_id);
    for (const [path, data] of local.files) {
      // Buffer.equals, not toEqual: a deep comparison of megabytes takes vitest many seconds.
      expect((await readFile(join(to, ...path.split('/')))).equals(data), path).toBe(true);
    }
    expect(await readFile(join(to, 'manifest.json'))).toEqual(
      await readFile(join(local.dir, 'manifest.json')),
    );
    expect((await readdir(to)).sort()).toEqual([...Object.keys(sixFiles()), 'manifest.json', 'sub'].sort());

    await expect(fetchBackup(store, prefix, to)).rejects.toBeInstanceOf(BackupLocationConflictError);
    await expect(fetchBackup(store, prefix, to)).rejects.toThrow(/the directory is not empty/);
  });
});

async function collect(stream: Readable): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of stream) out.push(chunk as Buffer);
  return out;
}
