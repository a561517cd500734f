import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { beforeEach, describe, expect, it } from 'vitest';
import { ObjectIntegrityError, ObjectKeyError, ObjectNotFoundError } from '../../src/objects/errors.js';
import type { ObjectEntry, ObjectStore } from '../../src/objects/store.js';

/**
 * The one behavioural contract of `ObjectStore`, run against every implementation (local directory, S3 via
 * s3rver). Each test gets a fresh, empty store from `open`.
 */
export interface ContractOptions {
  /** Whether `head` reports the SHA-256 recorded at `put` time. */
  readonly recordsChecksum: boolean;
  /** A size above the store's multipart threshold, so large puts take the multipart path. */
  readonly largeSize: number;
}

export function describeObjectStoreContract(
  name: string,
  open: () => Promise<ObjectStore>,
  options: ContractOptions,
): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    beforeEach(async () => {
      store = await open();
    });

    it('stores a buffer and reads back the same bytes, size and SHA-256', async () => {
      const data = randomBytes(1000);
      const result = await store.put('a/b/one.bin', data);
      expect(result).toEqual({ size: 1000, sha256: sha256(data) });
      expect(await readAll(store, 'a/b/one.bin')).toEqual(data);
      const head = await store.head('a/b/one.bin');
      expect(head?.size).toBe(1000);
      if (options.recordsChecksum) expect(head?.sha256).toBe(sha256(data));
    });

    it('stores a stream of many chunks and an empty object', async () => {
      const chunks = [randomBytes(10), randomBytes(70_000), randomBytes(3)];
      const whole = Buffer.concat(chunks);
      const result = await store.put('s/chunks', Readable.from(chunks), {
        size: whole.length,
        sha256: sha256(whole),
      });
      expect(result).toEqual({ size: whole.length, sha256: sha256(whole) });
      expect(await readAll(store, 's/chunks')).toEqual(whole);
      if (options.recordsChecksum) expect((await store.head('s/chunks'))?.sha256).toBe(sha256(whole));

      const empty = await store.put('s/empty', Buffer.alloc(0));
      expect(empty).toEqual({ size: 0, sha256: sha256(Buffer.alloc(0)) });
      // An empty file read from disk: a stream that ends at once, with its size and checksum declared.
      const emptyStream = await store.put('s/empty-stream', Readable.from([]), {
        size: 0,
        sha256: sha256(Buffer.alloc(0)),
      });
      expect(emptyStream.size).toBe(0);
      expect(await store.head('s/empty-stream')).toMatchObject({ size: 0 });
      expect(await store.head('s/empty')).toMatchObject({ size: 0 });
      expect((await readAll(store, 's/empty')).length).toBe(0);
    });

    it('replaces an existing object', async () => {
      await store.put('k', Buffer.from('first version'));
      await store.put('k', Buffer.from('second'));
      expect((await readAll(store, 'k')).toString()).toBe('second');
      expect((await store.head('k'))?.size).toBe(6);
    });

    it('stores nothing when the bytes differ from the declared SHA-256 or size', async () => {
      const data = Buffer.from('the real bytes');
      await expect(
        store.put('bad/sha', data, { sha256: sha256(Buffer.from('other')) }),
      ).rejects.toBeInstanceOf(ObjectIntegrityError);
      expect(await store.head('bad/sha')).toBeUndefined();
      await expect(
        store.put('bad/size', Readable.from([data]), { size: data.length + 1 }),
      ).rejects.toBeInstanceOf(ObjectIntegrityError);
      expect(await store.head('bad/size')).toBeUndefined();
      await expect(
        store.put('bad/size', Readable.from([data]), { size: data.length - 1 }),
      ).rejects.toBeInstanceOf(ObjectIntegrityError);
      expect(await store.head('bad/size')).toBeUndefined();

      // A failed replacement keeps the previous object intact.
      await store.put('bad/keep', Buffer.from('old'));
      await expect(
        store.put('bad/keep', Readable.from([Buffer.from('new')]), { sha256: sha256(Buffer.from('nope')) }),
      ).rejects.toBeInstanceOf(ObjectIntegrityError);
      expect((await readAll(store, 'bad/keep')).toString()).toBe('old');
      expect(await keys(store, 'bad/')).toEqual(['bad/keep']);
    });

    it('stores nothing when the source stream fails midway', async () => {
      async function* failing(): AsyncGenerator<Buffer> {
        yield randomBytes(100);
        await Promise.resolve();
        throw new Error('disk read failed');
      }
      await expect(store.put('broken/obj', Readable.from(failing()))).rejects.toThrow();
      expect(await store.head('broken/obj')).toBeUndefined();
      expect(await keys(store, '')).toEqual([]);
    });

    it('stops and stores nothing when the signal aborts', async () => {
      const ac = new AbortController();
      ac.abort(new Error('stop'));
      await expect(store.put('aborted/obj', Buffer.from('x'), { signal: ac.signal })).rejects.toThrow();
      expect(await store.head('aborted/obj')).toBeUndefined();
    });

    it('reports a missing object: get throws not found, head is undefined, delete is a no-op', async () => {
      await expect(store.get('no/such/key')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.get('no/such/key')).rejects.toMatchObject({
        code: 'OBJECT_NOT_FOUND',
        kind: 'not_found',
      });
      expect(await store.head('no/such/key')).toBeUndefined();
      await expect(store.delete('no/such/key')).resolves.toBeUndefined();
    });

    it('lists by plain string prefix in ascending key order with sizes', async () => {
      await store.put('t/s/2026-03-13/141500/b.sql', Buffer.alloc(2));
      await store.put('t/s/2026-03-13/141500/a.sql', Buffer.alloc(1));
      await store.put('t/s/2026-03-13/141500/sub/c.sql', Buffer.alloc(3));
      await store.put('t/s/2026-03-13/141501/x', Buffer.alloc(4));
      await store.put('t/s-other/y', Buffer.alloc(5));
      await store.put('t/s/2026-03-13/141500-a', Buffer.alloc(6));

      expect(await entries(store, 't/s/2026-03-13/141500/')).toEqual([
        { key: 't/s/2026-03-13/141500/a.sql', size: 1 },
        { key: 't/s/2026-03-13/141500/b.sql', size: 2 },
        { key: 't/s/2026-03-13/141500/sub/c.sql', size: 3 },
      ]);
      // Not a directory prefix: matches names that merely start with it. (s3rver does not list '-' before '/' as
      // S3 does, so this listing is compared as a set.)
      expect((await keys(store, 't/s/2026-03-13/1415')).sort()).toEqual([
        't/s/2026-03-13/141500-a',
        't/s/2026-03-13/141500/a.sql',
        't/s/2026-03-13/141500/b.sql',
        't/s/2026-03-13/141500/sub/c.sql',
        't/s/2026-03-13/141501/x',
      ]);
      expect(await keys(store, 't/s')).toHaveLength(6);
      expect(await keys(store, 't/s/')).toHaveLength(5);
      expect(await keys(store, '')).toHaveLength(6);
      expect(await keys(store, 'nothing/here/')).toEqual([]);
    });

    it('deletes objects', async () => {
      await store.put('d/one', Buffer.from('1'));
      await store.put('d/two', Buffer.from('2'));
      await store.delete('d/one');
      expect(await store.head('d/one')).toBeUndefined();
      expect(await keys(store, 'd/')).toEqual(['d/two']);
    });

    it('keeps keys with spaces and non-ASCII characters exact', async () => {
      const key = 'tenant é/server name/fïle 1.sql';
      await store.put(key, Buffer.from('x'));
      expect(await keys(store, 'tenant é/')).toEqual([key]);
      expect((await readAll(store, key)).toString()).toBe('x');
    });

    it('rejects keys that could escape the store or are reserved', async () => {
      const bad = [
        '',
        '/abs',
        '../up',
        'a/../b',
        'a/./b',
        'a//b',
        'a/',
        'a\\b',
        'nul\u0000',
        '.dbtrail-tmp-x',
        'x'.repeat(1025),
      ];
      for (const key of bad) {
        await expect(store.put(key, Buffer.from('x')), key).rejects.toBeInstanceOf(ObjectKeyError);
        await expect(store.get(key), key).rejects.toBeInstanceOf(ObjectKeyError);
        await expect(store.head(key), key).rejects.toBeInstanceOf(ObjectKeyError);
        await expect(store.delete(key), key).rejects.toBeInstanceOf(ObjectKeyError);
      }
      await expect(keys(store, '../')).rejects.toBeInstanceOf(ObjectKeyError);
      await expect(keys(store, '/x')).rejects.toBeInstanceOf(ObjectKeyError);
      expect(await keys(store, '')).toEqual([]);
    });

    it(`stores an object larger than the multipart threshold (${options.largeSize} bytes)`, async () => {
      const data = randomBytes(options.largeSize);
      // Many small chunks, as a file read stream delivers them.
      const chunks: Buffer[] = [];
      for (let at = 0; at < data.length; at += 64 * 1024) chunks.push(data.subarray(at, at + 64 * 1024));
      const result = await store.put('big/object.bin', Readable.from(chunks), {
        size: data.length,
        sha256: sha256(data),
      });
      expect(result).toEqual({ size: data.length, sha256: sha256(data) });
      expect((await store.head('big/object.bin'))?.size).toBe(data.length);
      const back = await readAll(store, 'big/object.bin');
      expect(back.length).toBe(data.length);
      expect(sha256(back)).toBe(sha256(data));

      // A large body with a wrong checksum is not published either (multipart completion never happens).
      await expect(
        store.put('big/bad.bin', Readable.from(chunks), {
          size: data.length,
          sha256: sha256(Buffer.from('x')),
        }),
      ).rejects.toBeInstanceOf(ObjectIntegrityError);
      expect(await store.head('big/bad.bin')).toBeUndefined();
    });
  });
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function readAll(store: ObjectStore, key: string): Promise<Buffer> {
  return buffer(await store.get(key));
}

export async function entries(store: ObjectStore, prefix: string): Promise<ObjectEntry[]> {
  const out: ObjectEntry[] = [];
  for await (const e of store.list(prefix)) out.push(e);
  return out;
}

export async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await entries(store, prefix)).map((e) => e.key);
}
