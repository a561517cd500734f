import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFakeBackup, type FakeBackup } from '../backup/fixture.js';
import { cli } from '../harness/cli.js';
import { startLocalS3, S3RVER_CREDENTIALS, type LocalS3 } from '../harness/s3.js';

let work: string;
let home: string;
let local: FakeBackup;
let s3: LocalS3;
const PREFIX = 'acme/db-main/2026-03-13/141500';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dbtrail-cli-transfer-'));
  home = join(work, 'home');
  local = await writeFakeBackup(join(work, 'backup'), {
    'app.users.00000.sql.zst': randomBytes(50_000),
    'app.users-schema.sql.zst': randomBytes(300),
  });
  s3 = await startLocalS3();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { DBTRAIL_HOME: home, ...extra };
}

describe('dbtrail upload / backup verify / backup fetch', () => {
  it('upload defaults to the objects directory under DBTRAIL_HOME, and a rerun skips everything', async () => {
    const first = await cli(['upload', local.dir], env());
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const objects = join(home, 'objects');
    expect(first.stdout).toBe(
      `Uploaded backup bk_0001 to file://${objects}/${PREFIX}\n  2 files: 2 uploaded (49.1 KiB), 0 already in place (0 B); manifest written\n`,
    );
    const again = await cli(['upload', local.dir, '--json'], env());
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as { manifest: string; files: { status: string }[] };
    expect(result.manifest).toBe('skipped');
    expect(result.files.map((f) => f.status)).toEqual(['skipped', 'skipped']);
  });

  it('verify exits 0 on an intact backup and 1 naming each damaged file', async () => {
    const location = join(home, 'objects', PREFIX);
    const ok = await cli(['backup', 'verify', `file://${location}`], env());
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^Backup bk_0001 at file:\/\/.*: OK \(2 files, 49\.1 KiB read; manifest UNSIGNED \(version 1, written before signing\): checked against its checksums only\)\n$/,
    );

    const damaged = join(location, 'app.users.00000.sql.zst');
    const original = await readFile(damaged);
    const flipped = Buffer.from(original);
    flipped[100] = (flipped[100] as number) ^ 1;
    await writeFile(damaged, flipped);
    await rm(join(location, 'app.users-schema.sql.zst'));
    const bad = await cli(['backup', 'verify', location], env());
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /: 2 problems\n {2}corrupt: app\.users\.00000\.sql\.zst \(SHA-256 is [0-9a-f]{64}, expected [0-9a-f]{64}\)\n {2}missing: app\.users-schema\.sql\.zst\n$/,
    );

    // Repair by uploading again: only the two damaged files move.
    const repair = await cli(['upload', local.dir, '--json'], env());
    const repaired = JSON.parse(repair.stdout) as { files: { status: string }[] };
    expect(repaired.files.map((f) => f.status)).toEqual(['uploaded', 'uploaded']);
    expect((await cli(['backup', 'verify', location], env())).code).toBe(0);
  });

  it('fetch writes a verified copy into a new directory and refuses a non-empty one', async () => {
    const to = join(work, 'restore');
    const res = await cli(['backup', 'fetch', join(home, 'objects', PREFIX), '--to', to], env());
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('2 files, 49.1 KiB, every SHA-256 verified');
    expect((await readdir(to)).sort()).toEqual([
      'app.users-schema.sql.zst',
      'app.users.00000.sql.zst',
      'manifest.json',
    ]);
    for (const [path, data] of local.files) expect((await readFile(join(to, path))).equals(data)).toBe(true);

    const again = await cli(['backup', 'fetch', join(home, 'objects', PREFIX), '--to', to], env());
    expect(again.code).toBe(8);
    expect(again.stderr).toMatch(/^dbtrail: Cannot fetch backup from .* the directory is not empty/);
  });

  it('uploads to S3 with credentials from the standard AWS environment variables', async () => {
    const s3env = env({
      DBTRAIL_S3_ENDPOINT: s3.endpoint,
      DBTRAIL_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    // The SDK's credential chain reads process.env, not the env given to the CLI.
    const saved = { ...process.env };
    Object.assign(process.env, s3env);
    try {
      const up = await cli(['upload', local.dir, '--to', `s3://${s3.bucket}/cli`], s3env);
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      expect(up.stdout).toContain(`to s3://${s3.bucket}/cli/${PREFIX}`);
      const verify = await cli(['backup', 'verify', `s3://${s3.bucket}/cli/${PREFIX}`], s3env);
      expect(verify.code).toBe(0);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it('names a bad --to URL and a bad backup location', async () => {
    const res = await cli(['upload', local.dir, '--to', 'ftp://host/x'], env());
    expect(res.code).toBe(4);
    expect(res.stderr).toContain('"ftp://host/x"');
    const verify = await cli(['backup', 'verify', 's3://NO/x'], env());
    expect(verify.code).toBe(4);
    expect(verify.stderr).toBe(
      'dbtrail: Cannot use object store URL "s3://NO/x": "NO" is not a valid bucket name (3-63 lower-case letters, digits, dots and hyphens)\n',
    );
  });
});
