import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { messageOf, type ErrorKind } from '../lib/errors.js';
import { DigestStream } from './digest.js';
import { ObjectIntegrityError, ObjectNotFoundError, ObjectStoreError } from './errors.js';
import {
  RESERVED_SEGMENT_PREFIX,
  validateKey,
  validatePrefix,
  type GetOptions,
  type ObjectEntry,
  type ObjectHead,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './store.js';

/** Objects may hold a whole database: readable by the owner only. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const TEMP_PREFIX = `${RESERVED_SEGMENT_PREFIX}tmp-`;

/**
 * An object store in a local directory: key `a/b/c` is the file `<root>/a/b/c`. Writes go to a temporary file in
 * the target directory (its name uses a reserved segment prefix, so `list` never reports it), are fsynced and then
 * renamed over the final name, so a crash leaves either the old object or the complete new one.
 *
 * No checksum is kept beside the files: `head` reports the size only and callers that need the SHA-256 read the
 * bytes, which on a local disk costs about what a sidecar would save and can never go stale.
 */
export class LocalObjectStore implements ObjectStore {
  readonly url: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.url = pathToFileURL(this.#root).href;
  }

  get root(): string {
    return this.#root;
  }

  async put(key: string, body: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const path = this.#path(validateKey(key));
    const dir = dirname(path);
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const digest = new DigestStream({
      subject: `object "${key}"`,
      ...(options.onBytes !== undefined ? { onBytes: options.onBytes } : {}),
      ...(options.size !== undefined ? { size: options.size } : {}),
      ...(options.sha256 !== undefined ? { sha256: options.sha256 } : {}),
    });
    const source =
      body instanceof Readable
        ? body
        : Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
    let created = false;
    try {
      const handle = await this.#createTemp(dir, temp);
      created = true;
      // flush: the data is fsynced before the rename publishes it, so a crash cannot publish an empty file.
      await pipeline(
        source,
        digest,
        handle.createWriteStream({ flush: true }),
        ...(options.signal !== undefined ? [{ signal: options.signal }] : []),
      );
      await rename(temp, path);
      await fsyncDir(dir);
    } catch (err) {
      if (created) await unlink(temp).catch(() => undefined);
      if (err instanceof ObjectIntegrityError) throw err;
      if (options.signal?.aborted === true) throw options.signal.reason ?? err;
      throw this.#failure('write', key, err);
    }
    return { size: digest.size, sha256: digest.sha256 };
  }

  async get(key: string, _options: GetOptions = {}): Promise<Readable> {
    const path = this.#path(validateKey(key));
    try {
      const handle = await open(path, 'r');
      const info = await handle.stat();
      if (!info.isFile()) {
        await handle.close();
        throw Object.assign(new Error('not a regular file'), { code: 'ENOENT' });
      }
      return handle.createReadStream();
    } catch (err) {
      if (isMissing(err))
        throw new ObjectNotFoundError(`Cannot read object "${key}" from ${this.url}: no such object`, key);
      throw this.#failure('read', key, err);
    }
  }

  async head(key: string, _options: GetOptions = {}): Promise<ObjectHead | undefined> {
    const path = this.#path(validateKey(key));
    try {
      const info = await stat(path);
      return info.isFile() ? { size: info.size } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.#failure('inspect', key, err);
    }
  }

  async *list(prefix: string, _options: GetOptions = {}): AsyncIterable<ObjectEntry> {
    validatePrefix(prefix);
    // Start the walk at the deepest directory the prefix names in full; the rest of it filters names.
    const slash = prefix.lastIndexOf('/');
    const base = slash === -1 ? '' : prefix.slice(0, slash);
    const entries: ObjectEntry[] = [];
    try {
      await this.#walk(base, entries);
    } catch (err) {
      throw this.#failure('list', prefix, err);
    }
    const matching = entries.filter((e) => e.key.startsWith(prefix));
    // S3 lists in UTF-8 byte order; sorting the same way keeps both stores' listings identical.
    matching.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    yield* matching;
  }

  async delete(key: string, _options: GetOptions = {}): Promise<void> {
    const path = this.#path(validateKey(key));
    try {
      await unlink(path);
    } catch (err) {
      if (isMissing(err)) return;
      throw this.#failure('delete', key, err);
    }
    // Tidy empty directories up to the root so that retention leaves no empty date folders behind.
    let dir = dirname(path);
    while (dir !== this.#root && dir.startsWith(this.#root)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
  }

  /** Nothing to release: every operation opens and closes its own files. */
  close(): void {}

  #path(key: string): string {
    return join(this.#root, ...key.split('/'));
  }

  async #walk(relDir: string, out: ObjectEntry[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(relDir === '' ? this.#root : this.#path(relDir), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
      const key = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      // Symbolic links are not followed: they could lead out of the store or round in a loop.
      if (entry.isDirectory()) {
        await this.#walk(key, out);
      } else if (entry.isFile()) {
        try {
          out.push({ key, size: (await stat(this.#path(key))).size });
        } catch (err) {
          // Deleted while we walked: it is simply not listed.
          if (!isMissing(err)) throw err;
        }
      }
    }
  }

  /**
   * Creates the parent directories and the temporary file. Retried because a concurrent `delete` may prune a
   * directory between our `mkdir` and `open`.
   */
  async #createTemp(dir: string, temp: string): Promise<FileHandle> {
    for (let attempt = 1; ; attempt++) {
      await mkdir(dir, { recursive: true, mode: DIR_MODE });
      try {
        return await open(temp, 'wx', FILE_MODE);
      } catch (err) {
        if (!isMissing(err) || attempt >= 3) throw err;
      }
    }
  }

  #failure(action: string, key: string, err: unknown): ObjectStoreError {
    const code = (err as { code?: unknown } | null)?.code;
    const kind: ErrorKind = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'config' : 'internal';
    return new ObjectStoreError(`Cannot ${action} object "${key}" in ${this.url}: ${messageOf(err)}`, kind, {
      cause: err,
      fields: { key, url: this.url },
    });
  }
}

/** Makes a rename durable: on Linux the directory entry reaches the disk only when the directory is fsynced. */
async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
