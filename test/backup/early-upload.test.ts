import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestFile } from '../../src/backup/manifest.js';
import { runBackup, uploadCatalogBackup } from '../../src/backup/run.js';
import { loadTrustedKeys, signingPaths } from '../../src/backup/signing.js';
import { readLocalManifest } from '../../src/backup/transfer.js';
import { describeVerifyProblems, verifyBackup } from '../../src/backup/verify.js';
import { S3ObjectStore } from '../../src/objects/s3.js';
import type { ObjectStore, PutOptions, PutResult } from '../../src/objects/store.js';
import { parseDsn, resolvePassword } from '../../src/source/dsn.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUILT_CLI, cliBinary } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { S3RVER_CREDENTIALS, startLocalS3, type LocalS3 } from '../harness/s3.js';

/**
 * `backup run` uploads files while mydumper still dumps (sealer.ts + early-upload.ts): every file goes up once,
 * the manifest last; a network cut mid-upload leaves no manifest in the store and a complete local dump, from
 * which the upload is retried without dumping again; and what was uploaded early is verified like the rest.
 */

/** Records every put and, once `cutAfter` puts have started, fails every further one like a dropped network. */
class CuttableStore implements ObjectStore {
  readonly puts: { key: string; at: number }[] = [];
  cutAfter = Infinity;
  constructor(readonly inner: ObjectStore) {}
  get url(): string {
    return this.inner.url;
  }
  async put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult> {
    if (this.puts.length >= this.cutAfter) {
      if (!(body instanceof Uint8Array)) body.destroy();
      throw new Error('connection reset by peer');
    }
    this.puts.push({ key, at: Date.now() });
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
  close(): void {}
}

let db: MariaDbSandbox;
let s3: LocalS3;
let work: string;
let state: Awaited<ReturnType<typeof openSqliteStateStore>>;
let tenantId: string;
const stores: S3ObjectStore[] = [];

beforeAll(async () => {
  [db, s3] = await Promise.all([startMariaDb(), startLocalS3()]);
  work = await mkdtemp(join(tmpdir(), 'dbtrail-early-upload-'));
  state = await openSqliteStateStore({ path: join(work, 'state.db') });
  tenantId = (await state.tenants.ensure('default')).id;
  // About 40 MB in one table: more than one mydumper chunk file (32 MB), so a file closes while it dumps.
  await db.query(`CREATE DATABASE shop;
    CREATE TABLE shop.big (id INT PRIMARY KEY, body VARCHAR(1000) NOT NULL);
    INSERT INTO shop.big SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM shop.seq_1_to_40000;
    CREATE TABLE shop.small (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(65,30));
    INSERT INTO shop.small SELECT seq, seq / 7 FROM shop.seq_1_to_500;`);
}, 120_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await state?.close();
  await rm(work, { recursive: true, force: true });
});

function freshStore(name: string): S3ObjectStore {
  const store = new S3ObjectStore(s3.bucket, name, s3.config);
  stores.push(store);
  return store;
}

function request(out: string, sealed?: ManifestFile[]): Parameters<typeof runBackup>[1] {
  return {
    dsn: resolvePassword(parseDsn(db.dsnWithoutPassword), { password: db.appPassword }),
    serverName: 'shop-db',
    tenant: 'default',
    tenantId,
    schemas: ['shop'],
    threads: 2,
    outDir: join(work, out),
    lockDir: join(work, 'locks'),
    ...(sealed !== undefined ? { onFileSealed: (f: ManifestFile) => sealed.push(f) } : {}),
  };
}

describe('backup run with uploads during the dump', () => {
  it('stores every file once and the manifest last, and the backup verifies', async () => {
    const s3store = freshStore('once');
    const store = new CuttableStore(s3store);
    const sealed: ManifestFile[] = [];
    const result = await runBackup({ catalog: state.catalog, objects: store }, request('once', sealed));
    expect(result.record.status).toBe('succeeded');
    const { manifest } = await readLocalManifest(result.dump.dir);
    expect(manifest.files.filter((f) => /^shop\.big\.\d+\.sql$/.test(f.path)).length).toBeGreaterThan(1);
    // Every file was reported sealed, with the digests the manifest ended up with.
    expect(new Map(sealed.map((f) => [f.path, f.sha256]))).toEqual(
      new Map(manifest.files.map((f) => [f.path, f.sha256])),
    );
    const prefix = result.upload.prefix;
    const keys = store.puts.map((p) => p.key);
    expect(keys.slice(0, -1).sort()).toEqual(manifest.files.map((f) => `${prefix}/${f.path}`).sort());
    expect(keys.at(-1)).toBe(`${prefix}/manifest.json`);
    const verified = await verifyBackup(s3store, prefix);
    expect(describeVerifyProblems(verified)).toEqual([]);
    expect(verified.ok).toBe(true);
  });

  it('leaves no manifest in the store when the network drops mid-upload; the retry uploads only the rest', async () => {
    const s3store = freshStore('cut');
    const store = new CuttableStore(s3store);
    store.cutAfter = 2;
    const err = await runBackup({ catalog: state.catalog, objects: store }, request('cut')).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/connection reset by peer/);
    const [failed] = await state.catalog.list({ tenantId, status: 'failed' });
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.message).toMatch(/connection reset by peer/);
    // The local dump is complete, so the upload can be retried; the store holds no manifest, so no backup.
    const localDir = failed?.localDir as string;
    expect(existsSync(join(localDir, 'manifest.json'))).toBe(true);
    const { manifest } = await readLocalManifest(localDir);
    const stored = [];
    for await (const o of s3store.list('')) stored.push(o.key);
    expect(stored.length).toBe(2);
    expect(stored.some((k) => k.endsWith('/manifest.json'))).toBe(false);

    const retry = new CuttableStore(s3store);
    const done = await uploadCatalogBackup({ catalog: state.catalog, objects: retry }, failed!);
    expect(done.record.status).toBe('succeeded');
    // Only what was missing moved, in the same folder, manifest last.
    expect(retry.puts).toHaveLength(manifest.files.length - 2 + 1);
    expect(retry.puts.at(-1)?.key).toBe(`${done.upload.prefix}/manifest.json`);
    expect(stored.every((k) => k.startsWith(`${done.upload.prefix}/`))).toBe(true);
    expect((await verifyBackup(s3store, done.upload.prefix)).ok).toBe(true);

    // A byte flipped in one of the objects stored during the first attempt is found, by file name.
    const victim = stored[0] as string;
    const file = s3.objectFile(`cut/${victim}`);
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x20;
    await writeFile(file, bytes);
    const tampered = await verifyBackup(s3store, done.upload.prefix);
    expect(tampered.ok).toBe(false);
    expect(tampered.corrupt).toEqual([victim.slice(done.upload.prefix.length + 1)]);
  });

  it('survives kill -9 mid-upload: no manifest is left in the store, and the retry completes a backup', async () => {
    const home = join(work, 'kill-home');
    const env: NodeJS.ProcessEnv = {
      DBTRAIL_HOME: home,
      DBTRAIL_LOG_LEVEL: 'warn',
      DBTRAIL_SOURCE_PASSWORD: db.appPassword,
      DBTRAIL_S3_ENDPOINT: s3.endpoint,
      DBTRAIL_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const to = `s3://${s3.bucket}/kill`;
    const args = ['backup', 'run', '--dsn', db.dsnWithoutPassword, '--server-name', 'shop-kill'];
    const child = spawn(process.execPath, [BUILT_CLI, ...args, '--schemas', 'shop', '--to', to], {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const bucketDir = join(s3.directory, s3.bucket, 'kill');
    const objects = async (): Promise<string[]> =>
      existsSync(bucketDir)
        ? (await readdir(bucketDir, { recursive: true })).filter((n) => n.endsWith('._S3rver_object'))
        : [];
    // Kill the moment the first object is being written: the dump or the upload is then surely unfinished.
    const deadline = Date.now() + 120_000;
    while ((await objects()).length === 0 && child.exitCode === null && Date.now() < deadline) await sleep(5);
    const tool = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '');
    child.kill('SIGKILL');
    // mydumper is not dbtrail: it outlives a kill -9 of its parent, so stop it too.
    for (const pid of tool.split(' ').filter((p) => p !== '')) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
    expect((await objects()).some((n) => n.endsWith('manifest.json._S3rver_object'))).toBe(false);

    // The retry: the upload step alone when the dump had finished, a new backup run otherwise.
    const dumps = existsSync(join(home, 'backups')) ? await readdir(join(home, 'backups')) : [];
    const finished = dumps.find((d) => existsSync(join(home, 'backups', d, 'manifest.json')));
    const retry =
      finished !== undefined
        ? await cliBinary(['upload', join(home, 'backups', finished), '--to', to], env)
        : await cliBinary([...args, '--schemas', 'shop', '--to', to], env);
    expect(retry.stderr).toBe('');
    expect(retry.code).toBe(0);
    const manifests = (await objects()).filter((n) => n.endsWith('manifest.json._S3rver_object'));
    expect(manifests).toHaveLength(1);
    const prefix = (manifests[0] as string).replace(/\/manifest\.json\._S3rver_object$/, '');
    // The CLI signs manifests with the home's key, which that home trusts.
    const trustedKeys = await loadTrustedKeys(signingPaths({ home }));
    const verified = await verifyBackup(freshStore('kill'), prefix, { trustedKeys });
    expect(describeVerifyProblems(verified)).toEqual([]);
    expect(verified.ok).toBe(true);
  });
});
