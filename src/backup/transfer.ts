import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { messageOf } from '../lib/errors.js';
import { DigestStream } from '../objects/digest.js';
import type { ObjectStore } from '../objects/store.js';
import { MANIFEST_FILE, parseManifest, type Manifest } from './manifest.js';
import { manifestKey } from './layout.js';
import { ManifestError } from './errors.js';

/**
 * Shared pieces of upload, verify and fetch: reading a manifest (local or stored), a bounded worker pool, hashing
 * an object by reading it.
 */

/** Progress of a transfer step, in bytes of stored (possibly encrypted) data. */
export interface TransferProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** The file whose bytes just moved, when there is one. */
  readonly path?: string;
}

export const DEFAULT_CONCURRENCY = 4;

/** Parses manifest bytes as stored (UTF-8 JSON) with the one manifest parser; `source` names where they came from. */
export function parseManifestBytes(bytes: Uint8Array, source: string): Manifest {
  return parseManifest(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
    source,
  );
}

/** Reads `manifest.json` of a local backup directory. */
export async function readLocalManifest(dir: string): Promise<{ manifest: Manifest; bytes: Buffer }> {
  const path = join(dir, MANIFEST_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const missing = (err as { code?: unknown }).code === 'ENOENT';
    throw new ManifestError(
      `Cannot read backup manifest ${path}: ${missing ? `no ${MANIFEST_FILE} in "${dir}" (is it a dbtrail backup directory?)` : messageOf(err)}`,
      { fields: { source: path }, cause: err },
    );
  }
  return { manifest: parseManifestBytes(bytes, path), bytes };
}

/** Reads the manifest object of a backup in the store; undefined when there is none (an incomplete backup). */
export async function readRemoteManifest(
  store: ObjectStore,
  prefix: string,
  signal?: AbortSignal,
): Promise<{ manifest: Manifest; bytes: Buffer } | undefined> {
  const key = manifestKey(prefix);
  const opts = signal !== undefined ? { signal } : {};
  if ((await store.head(key, opts)) === undefined) return undefined;
  const chunks: Buffer[] = [];
  await pipeline(await store.get(key, opts), collect(chunks), opts);
  const bytes = Buffer.concat(chunks);
  return { manifest: parseManifestBytes(bytes, `${store.url}/${key}`), bytes };
}

/** Reads an object in full and returns its size and SHA-256. */
export async function hashObject(
  store: ObjectStore,
  key: string,
  options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<{ size: number; sha256: string }> {
  const digest = new DigestStream({
    subject: `object "${key}"`,
    ...(options.onBytes !== undefined ? { onBytes: options.onBytes } : {}),
  });
  const opts = options.signal !== undefined ? { signal: options.signal } : {};
  await pipeline(await store.get(key, opts), digest, discard(), opts);
  return { size: digest.size, sha256: digest.sha256 };
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight. After the first failure (or an abort) no new
 * item starts; the ones in flight finish, then the first error is thrown. Returns when every item succeeded.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      if (signal?.aborted === true) {
        failure = { error: signal.reason };
        return;
      }
      const index = next++;
      try {
        await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker);
  await Promise.all(workers);
  if (failure !== undefined) throw failure.error;
  if (signal?.aborted === true) throw signal.reason;
}

/** A sink that drops what it is given. */
export function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

function collect(into: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      into.push(chunk);
      callback();
    },
  });
}
