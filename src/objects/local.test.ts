import { mkdtemp, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { describeObjectStoreContract, keys } from '../../test/objects/contract.js';
import { LocalObjectStore } from './local.js';

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function freshStore(): Promise<LocalObjectStore> {
  const root = await mkdtemp(join(tmpdir(), 'dbtrail-objects-'));
  roots.push(root);
  // A root that does not exist yet: the store creates directories on demand.
  return new LocalObjectStore(join(root, 'objects'));
}

describeObjectStoreContract('local directory', freshStore, {
  recordsChecksum: false,
  largeSize: 3 * 1024 * 1024 + 7,
});

describe('LocalObjectStore', () => {
  it('maps keys to files under the root and names itself with a file URL', async () => {
    const store = await freshStore();
    await store.put('t/s/2026-03-13/141500/a.sql', Buffer.from('abc'));
    expect(store.url).toBe(`file://${store.root}`);
    expect((await stat(join(store.root, 't/s/2026-03-13/141500/a.sql'))).size).toBe(3);
  });

  it('writes files readable by the owner only', async () => {
    const store = await freshStore();
    await store.put('p/secret.sql', Buffer.from('data'));
    expect((await stat(join(store.root, 'p/secret.sql'))).mode & 0o777).toBe(0o600);
  });

  it('leaves no file, final or temporary, after a failed write', async () => {
    const store = await freshStore();
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(1000);
      await Promise.resolve();
      throw new Error('source died');
    }
    await expect(store.put('crash/obj', Readable.from(failing()))).rejects.toThrow(/source died/);
    expect(await readdir(join(store.root, 'crash'))).toEqual([]);
  });

  it('does not list the temporary files a crashed writer left behind', async () => {
    const store = await freshStore();
    await store.put('dir/real', Buffer.from('1'));
    await writeFile(join(store.root, 'dir', '.dbtrail-tmp-0123456789abcdef'), 'half an object');
    expect(await keys(store, '')).toEqual(['dir/real']);
  });

  it('ignores directories when asked for an object and prunes empty ones on delete', async () => {
    const store = await freshStore();
    await mkdir(join(store.root, 'a', 'dir'), { recursive: true });
    expect(await store.head('a/dir')).toBeUndefined();
    await expect(store.get('a/dir')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });

    await store.put('t/s/d/h/file', Buffer.from('x'));
    await store.put('t/keep', Buffer.from('y'));
    await store.delete('t/s/d/h/file');
    expect(await readdir(join(store.root, 't'))).toEqual(['keep']);
    // The root itself stays.
    await store.delete('t/keep');
    expect((await stat(store.root)).isDirectory()).toBe(true);
  });
});
