import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliBinary as cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { startLocalS3, S3RVER_CREDENTIALS, type LocalS3 } from '../harness/s3.js';

interface BackupJson {
  id: string;
  status: string;
  tool: string;
  duration_ms: number;
  size_bytes: number;
  coordinates: { file: string; position: number; gtid: string | null };
  location: string;
  local_dir: string;
  error: { code: string | null; message: string } | null;
}

// The built binary runs as a real process, so the AWS SDK sees the credentials in its own environment.
describe('dbtrail backup run', () => {
  let db: MariaDbSandbox;
  let s3: LocalS3;
  const home = mkdtempSync(join(tmpdir(), 'dbtrail-backup-run-'));
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    [db, s3] = await Promise.all([startMariaDb(), startLocalS3()]);
    await db.query(`CREATE DATABASE shop;
      CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(65,30), note TEXT);
      INSERT INTO shop.orders SELECT seq, seq / 7, REPEAT('x', seq % 50) FROM shop.seq_1_to_2000;`);
    env = {
      DBTRAIL_HOME: home,
      DBTRAIL_LOG_LEVEL: 'warn',
      DBTRAIL_SOURCE_PASSWORD: db.appPassword,
      DBTRAIL_S3_ENDPOINT: s3.endpoint,
      DBTRAIL_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  });

  it('dumps, uploads to S3 and records a succeeded backup with size, duration, coordinates and location', async () => {
    const { coordinates: before } = { coordinates: await db.coordinates() };
    const r = await cli(
      [
        'backup',
        'run',
        '--dsn',
        db.dsnWithoutPassword,
        '--server-name',
        'shop-db',
        '--to',
        `s3://${s3.bucket}/backups`,
        '--json',
      ],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const b = JSON.parse(r.stdout) as BackupJson;
    expect(b.status).toBe('succeeded');
    expect(b.tool).toBe('mydumper');
    expect(b.size_bytes).toBeGreaterThan(10_000);
    expect(b.duration_ms).toBeGreaterThan(0);
    expect(b.coordinates).toEqual({ file: before.file, position: before.position, gtid: before.gtid });
    expect(b.location).toMatch(
      new RegExp(`^s3://${s3.bucket}/backups/default/shop-db/\\d{4}-\\d{2}-\\d{2}/\\d{6}$`),
    );

    // The catalog lists it, and verify and fetch take its id.
    const list = await cli(['backup', 'list', '--json'], env);
    expect((JSON.parse(list.stdout) as BackupJson[]).map((x) => x.id)).toContain(b.id);
    const verify = await cli(['backup', 'verify', b.id.slice(0, 8)], env);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/OK/);
    const to = join(mkdtempSync(join(tmpdir(), 'dbtrail-fetch-')), 'out');
    const fetched = await cli(['backup', 'fetch', b.id, '--to', to], env);
    expect(fetched.code).toBe(0);
    expect(readdirSync(to)).toContain('metadata');
  });

  it('records a failed upload with its error, keeps the dump, and retries only the upload by id', async () => {
    const failing = await cli(
      [
        'backup',
        'run',
        '--dsn',
        db.dsnWithoutPassword,
        '--server-name',
        'shop-db',
        '--to',
        's3://no-such-bucket/x',
        '--json',
      ],
      env,
    );
    expect(failing.code).not.toBe(0);
    expect(failing.stderr).toMatch(/no-such-bucket/);
    const list = JSON.parse(
      (await cli(['backup', 'list', '--json', '--status', 'failed'], env)).stdout,
    ) as BackupJson[];
    const failed = list[0]!;
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/no-such-bucket/);
    expect(failed.coordinates).not.toBeNull();
    expect(existsSync(failed.local_dir)).toBe(true);

    const retry = await cli(['upload', failed.id, '--to', `s3://${s3.bucket}/backups`, '--json'], env);
    expect(retry.stderr).toBe('');
    expect(retry.code).toBe(0);
    const done = JSON.parse(retry.stdout) as BackupJson;
    expect(done.id).toBe(failed.id);
    expect(done.status).toBe('succeeded');
    expect(done.coordinates).toEqual(failed.coordinates);
    expect((await cli(['backup', 'verify', failed.id], env)).code).toBe(0);
  });

  it('refuses bad input without recording anything', async () => {
    const before = JSON.parse((await cli(['backup', 'list', '--json'], env)).stdout) as BackupJson[];
    const badName = await cli(
      ['backup', 'run', '--dsn', db.dsnWithoutPassword, '--server-name', 'bad name'],
      env,
    );
    expect(badName.code).toBe(3);
    expect(badName.stderr).toMatch(/server name "bad name"/);
    const badThreads = await cli(
      ['backup', 'run', '--dsn', db.dsnWithoutPassword, '--server-name', 'x', '--threads', '0'],
      env,
    );
    expect(badThreads.code).toBe(2);
    const unknownId = await cli(['backup', 'verify', 'deadbeef'], env);
    expect(unknownId.code).toBe(7);
    const after = JSON.parse((await cli(['backup', 'list', '--json'], env)).stdout) as BackupJson[];
    expect(after.length).toBe(before.length);
  });
});
