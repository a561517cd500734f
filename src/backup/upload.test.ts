import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFakeBackup } from '../../test/backup/fixture.js';
import { keys } from '../../test/objects/contract.js';
import { LocalObjectStore } from '../objects/local.js';
import { ManifestError } from './errors.js';
import { BackupFileError } from './transfer-errors.js';
import { uploadBackup } from './upload.js';

let work: string;
let store: LocalObjectStore;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'dbtrail-upload-unit-'));
  store = new LocalObjectStore(join(work, 'objects'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const PREFIX = 'acme/db-main/2026-03-13/141500';

describe('uploadBackup (local store)', () => {
  it('uploads files and manifest, reports progress, and skips identical objects on a rerun by reading them', async () => {
    const local = await writeFakeBackup(join(work, 'bk'), {
      'a.sql': randomBytes(70_000),
      'b/c.sql': randomBytes(5),
    });
    const seen: { done: number; total: number }[] = [];
    const result = await uploadBackup(local.dir, store, {
      onProgress: (p) => seen.push({ done: p.bytesDone, total: p.bytesTotal }),
    });
    expect(result.location).toBe(`${store.url}/${PREFIX}`);
    expect(result.files.map((f) => [f.path, f.status, f.bytes])).toEqual([
      ['a.sql', 'uploaded', 70_000],
      ['b/c.sql', 'uploaded', 5],
    ]);
    expect(seen[0]).toEqual({ done: 0, total: 70_005 });
    expect(seen.at(-1)).toEqual({ done: 70_005, total: 70_005 });
    expect(await keys(store, '')).toEqual([
      `${PREFIX}/a.sql`,
      `${PREFIX}/b/c.sql`,
      `${PREFIX}/manifest.json`,
    ]);

    const again = await uploadBackup(local.dir, store);
    expect(again.files.map((f) => f.status)).toEqual(['skipped', 'skipped']);
    expect(again.manifest).toBe('skipped');
    expect(again.bytesSkipped).toBe(70_005);
  });

  it('re-uploads an object that differs from the local file with the same size', async () => {
    const local = await writeFakeBackup(join(work, 'bk'), {
      'a.sql': Buffer.from('abcdef'),
      'b.sql': Buffer.from('x'),
    });
    await uploadBackup(local.dir, store);
    await store.put(`${PREFIX}/a.sql`, Buffer.from('abcdeX'));
    const result = await uploadBackup(local.dir, store);
    expect(result.files.map((f) => f.status)).toEqual(['uploaded', 'skipped']);
    expect(await readFile(join(store.root, PREFIX, 'a.sql'), 'utf8')).toBe('abcdef');
  });

  it('fails before uploading anything when a listed file is missing or has another size', async () => {
    const local = await writeFakeBackup(join(work, 'bk'), {
      'a.sql': Buffer.from('abc'),
      'b.sql': Buffer.from('de'),
    });
    await rm(join(local.dir, 'b.sql'));
    await writeFile(join(local.dir, 'a.sql'), 'abcd');
    const err = await uploadBackup(local.dir, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFileError);
    expect((err as Error).message).toBe(
      `Cannot upload backup bk_0001 from "${local.dir}": "a.sql" is 4 bytes, the manifest says 3; "b.sql" is missing`,
    );
    expect(await keys(store, '')).toEqual([]);
  });

  it('stores nothing for a local file changed since the dump (same size, other bytes) and writes no manifest', async () => {
    const local = await writeFakeBackup(join(work, 'bk'), { 'a.sql': Buffer.from('abc') });
    await writeFile(join(local.dir, 'a.sql'), 'abd');
    const err = await uploadBackup(local.dir, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFileError);
    expect((err as BackupFileError).kind).toBe('integrity');
    expect((err as Error).message).toMatch(
      /^Cannot upload file "a\.sql" of backup bk_0001: the local file no longer matches the manifest \(SHA-256 is/,
    );
    expect(await keys(store, '')).toEqual([]);
  });

  it('names a directory without a manifest', async () => {
    const err = await uploadBackup(work, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as Error).message).toContain(
      `no manifest.json in "${work}" (is it a dbtrail backup directory?)`,
    );
  });
});
