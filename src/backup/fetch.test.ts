import { Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFakeBackup } from '../../test/backup/fixture.js';
import { LocalObjectStore } from '../objects/local.js';
import { ageDecryptor } from './encryption.js';
import { fetchBackup } from './fetch.js';
import {
  BackupDecryptionRequiredError,
  BackupFetchError,
  BackupLocationConflictError,
} from './transfer-errors.js';
import { uploadBackup } from './upload.js';

let work: string;
let store: LocalObjectStore;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'dbtrail-fetch-unit-'));
  store = new LocalObjectStore(join(work, 'objects'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function encrypted(recipient: string, plain: Buffer): Promise<Buffer> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return Buffer.from(await e.encrypt(plain));
}

describe('fetchBackup (local store)', () => {
  it('creates the target and writes byte-identical files plus the manifest', async () => {
    const files = { 'a.sql': randomBytes(100_000), 'deep/er/b.sql': randomBytes(7) };
    const local = await writeFakeBackup(join(work, 'bk'), files);
    const { prefix } = await uploadBackup(local.dir, store);
    const to = join(work, 'restore', 'here');
    let last = 0;
    const result = await fetchBackup(store, prefix, to, { onProgress: (p) => (last = p.bytesDone) });
    expect(result.files.map((f) => [f.path, f.output, f.decrypted])).toEqual([
      ['a.sql', 'a.sql', false],
      ['deep/er/b.sql', 'deep/er/b.sql', false],
    ]);
    expect(last).toBe(100_007);
    expect((await readFile(join(to, 'a.sql'))).equals(files['a.sql'])).toBe(true);
    expect((await readFile(join(to, 'deep/er/b.sql'))).equals(files['deep/er/b.sql'])).toBe(true);
    expect(await readFile(join(to, 'manifest.json'), 'utf8')).toBe(
      await readFile(join(local.dir, 'manifest.json'), 'utf8'),
    );
  });

  it('refuses a non-empty target or a file in its place, and a location without a backup', async () => {
    const local = await writeFakeBackup(join(work, 'bk'), { 'a.sql': Buffer.from('x') });
    const { prefix } = await uploadBackup(local.dir, store);
    const to = join(work, 'busy');
    await mkdir(to);
    await writeFile(join(to, 'keep-me'), 'user data');
    await expect(fetchBackup(store, prefix, to)).rejects.toBeInstanceOf(BackupLocationConflictError);
    expect(await readFile(join(to, 'keep-me'), 'utf8')).toBe('user data');
    await expect(fetchBackup(store, prefix, join(to, 'keep-me'))).rejects.toThrow(/it is not a directory/);
    await expect(
      fetchBackup(store, 'acme/nothing/2026-01-01/000000', join(work, 'empty')),
    ).rejects.toMatchObject({
      code: 'BACKUP_FETCH_FAILED',
      kind: 'not_found',
    });
  });

  it('decrypts an age-encrypted backup, writing each file without its .age suffix', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const plainA = randomBytes(200_000);
    const plainB = Buffer.from('CREATE TABLE t (id INT);\n');
    const local = await writeFakeBackup(
      join(work, 'bk'),
      {
        'app.t.00000.sql.zst.age': await encrypted(recipient, plainA),
        'app.t-schema.sql.age': await encrypted(recipient, plainB),
      },
      { encryption: { scheme: 'age', recipients: [recipient] } },
    );
    const { prefix } = await uploadBackup(local.dir, store);

    await expect(fetchBackup(store, prefix, join(work, 'nokey'))).rejects.toBeInstanceOf(
      BackupDecryptionRequiredError,
    );

    const to = join(work, 'plain');
    const result = await fetchBackup(store, prefix, to, { decrypt: ageDecryptor([identity]) });
    expect(result.files.map((f) => f.output)).toEqual(['app.t.00000.sql.zst', 'app.t-schema.sql']);
    expect((await readFile(join(to, 'app.t.00000.sql.zst'))).equals(plainA)).toBe(true);
    expect(await readFile(join(to, 'app.t-schema.sql'), 'utf8')).toBe(plainB.toString());
    expect((await readdir(to)).sort()).toEqual(['app.t-schema.sql', 'app.t.00000.sql.zst', 'manifest.json']);
  });

  it('fails with a wrong key and leaves no file behind', async () => {
    const recipient = await identityToRecipient(await generateIdentity());
    const local = await writeFakeBackup(
      join(work, 'bk'),
      { 'a.sql.age': await encrypted(recipient, randomBytes(1000)) },
      { encryption: { scheme: 'age', recipients: [recipient] } },
    );
    const { prefix } = await uploadBackup(local.dir, store);
    const to = join(work, 'wrong');
    const err = await fetchBackup(store, prefix, to, {
      decrypt: ageDecryptor([await generateIdentity()]),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFetchError);
    expect((err as Error).message).toMatch(
      /^Cannot fetch backup bk_0001 from .*; the files written so far were removed$/,
    );
    expect(await readdir(to)).toEqual([]);
  });

  it('reports stored bytes that differ from the manifest as an integrity failure naming the file', async () => {
    const local = await writeFakeBackup(join(work, 'bk'), {
      'good.sql': Buffer.from('fine'),
      'bad.sql': randomBytes(5000),
    });
    const { prefix } = await uploadBackup(local.dir, store);
    const stored = join(store.root, prefix, 'bad.sql');
    const bytes = await readFile(stored);
    bytes[4999] = (bytes[4999] as number) ^ 0x80;
    await writeFile(stored, bytes);
    const to = join(work, 'out');
    const err = await fetchBackup(store, prefix, to, { concurrency: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BACKUP_FETCH_FAILED', kind: 'integrity' });
    expect((err as Error).message).toContain('file "bad.sql": SHA-256 is');
    // good.sql was fetched first and is removed again: a half-fetched backup must not look restorable.
    expect(await readdir(to)).toEqual([]);
  });
});
