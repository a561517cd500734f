import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFakeBackup } from '../../test/backup/fixture.js';
import { LocalObjectStore } from '../objects/local.js';
import { uploadBackup } from './upload.js';
import { describeVerifyProblems, verifyBackup } from './verify.js';

let work: string;
let store: LocalObjectStore;
const PREFIX = 'acme/db-main/2026-03-13/141500';

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'dbtrail-verify-unit-'));
  store = new LocalObjectStore(join(work, 'objects'));
  const local = await writeFakeBackup(join(work, 'bk'), {
    'a.sql': randomBytes(1000),
    'b.sql': randomBytes(2000),
    'c.sql': randomBytes(3000),
  });
  await uploadBackup(local.dir, store);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('verifyBackup (local store)', () => {
  it('passes an intact backup and reads every byte', async () => {
    const result = await verifyBackup(store, PREFIX);
    expect(result).toMatchObject({
      ok: true,
      manifest: 'ok',
      signature: 'unsigned',
      missing: [],
      corrupt: [],
      extra: [],
    });
    expect(result.bytesRead).toBe(6000);
    expect(describeVerifyProblems(result)).toEqual([]);
  });

  it('reports missing, corrupt (size and checksum) and extra files by name in one pass', async () => {
    await store.delete(`${PREFIX}/a.sql`);
    const b = join(store.root, PREFIX, 'b.sql');
    const bytes = await readFile(b);
    bytes[0] = (bytes[0] as number) ^ 0xff;
    await writeFile(b, bytes);
    await writeFile(join(store.root, PREFIX, 'c.sql'), randomBytes(10));
    await store.put(`${PREFIX}/zz-extra.sql`, Buffer.from('?'));
    // A sibling backup whose name starts alike is not "extra".
    await store.put('acme/db-main/2026-03-13/141500-other/x', Buffer.from('?'));

    const result = await verifyBackup(store, PREFIX);
    expect(result.ok).toBe(false);
    expect(result.missing).toEqual(['a.sql']);
    expect(result.corrupt).toEqual(['b.sql', 'c.sql']);
    expect(result.extra).toEqual(['zz-extra.sql']);
    const lines = describeVerifyProblems(result);
    expect(lines[0]).toBe('missing: a.sql');
    expect(lines[1]).toMatch(/^corrupt: b\.sql \(SHA-256 is [0-9a-f]{64}, expected [0-9a-f]{64}\)$/);
    expect(lines[2]).toBe('corrupt: c.sql (size is 10 bytes, expected 3000)');
    expect(lines[3]).toBe('extra: zz-extra.sql');
  });

  it('reports a missing or unreadable manifest without throwing', async () => {
    await writeFile(join(store.root, PREFIX, 'manifest.json'), '{"format":"nope"}');
    const invalid = await verifyBackup(store, PREFIX);
    expect(invalid).toMatchObject({ ok: false, manifest: 'invalid' });
    expect(invalid.manifestProblem).toMatch(/format is "nope"/);

    await store.delete(`${PREFIX}/manifest.json`);
    const missing = await verifyBackup(store, PREFIX);
    expect(missing).toMatchObject({ ok: false, manifest: 'missing' });
    expect(missing.extra).toEqual(['a.sql', 'b.sql', 'c.sql']);
    expect(describeVerifyProblems(missing)[0]).toMatch(
      /^manifest missing: no manifest\.json at .*the upload never finished$/,
    );
  });
});
