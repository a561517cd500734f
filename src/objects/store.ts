import type { Readable } from 'node:stream';
import { ObjectKeyError } from './errors.js';

/**
 * The object store interface: flat keys with `/` as a conventional separator, as in S3. A store is rooted at the
 * location its URL names (a directory, or a bucket plus prefix); keys are relative to that root and never start
 * with `/`. Implementations: `LocalObjectStore` (a directory, the default) and `S3ObjectStore` (loaded lazily through `LazyS3ObjectStore`).
 */
export interface ObjectStore {
  /** The URL of the store's root, for messages and records (`file:///...` or `s3://bucket/prefix`). */
  readonly url: string;

  /**
   * Stores `body` under `key`, replacing any object there. Atomic: readers see the old object or the complete new
   * one, never a partial one. When `size` or `sha256` is given and the bytes differ, nothing is stored and
   * `ObjectIntegrityError` is thrown. Returns the size and SHA-256 of the bytes written.
   */
  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult>;

  /** Streams the object's bytes; throws `ObjectNotFoundError` when there is none. */
  get(key: string, options?: GetOptions): Promise<Readable>;

  /**
   * Size and recorded SHA-256 of the object, or undefined when there is none. `sha256` is what was recorded at
   * `put` time (S3 metadata), not a fresh computation: it is absent when the store keeps no checksum (the local
   * store) or the object was written by another tool. Verification must read the bytes.
   */
  head(key: string, options?: GetOptions): Promise<ObjectHead | undefined>;

  /**
   * Every object whose key starts with `prefix` (a plain string prefix, as in S3). AWS S3 and the local store
   * list in ascending UTF-8 byte order; some S3-compatible stores do not, so callers must not depend on it.
   */
  list(prefix: string, options?: GetOptions): AsyncIterable<ObjectEntry>;

  /** Removes the object; removing a missing object is not an error. */
  delete(key: string, options?: GetOptions): Promise<void>;

  /** Releases connections; the store must not be used afterwards. */
  close(): void;
}

export interface PutOptions {
  /** Expected byte count; a mismatch fails the put without storing anything. */
  readonly size?: number;
  /** Expected lower-case hex SHA-256; a mismatch fails the put without storing anything. */
  readonly sha256?: string;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Called with the length of each chunk as the store takes it from the body, for progress. */
  readonly onBytes?: (n: number) => void;
}

export interface GetOptions {
  readonly signal?: AbortSignal;
}

export interface PutResult {
  readonly size: number;
  readonly sha256: string;
}

export interface ObjectHead {
  readonly size: number;
  readonly sha256?: string;
}

export interface ObjectEntry {
  readonly key: string;
  readonly size: number;
}

/** S3's limit on key length, in UTF-8 bytes; applied to every store so that keys move between them. */
export const MAX_KEY_BYTES = 1024;

/**
 * Segments starting with this are reserved for the local store's temporary files, so that a crash never leaves
 * a file that `list` would report as an object.
 */
export const RESERVED_SEGMENT_PREFIX = '.dbtrail-';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Throws `ObjectKeyError` unless `key` names an object: relative, no empty, `.` or `..` segments. */
export function validateKey(key: string): string {
  const problem = keyProblem(key, false);
  if (problem !== undefined)
    throw new ObjectKeyError(`Cannot use object key "${printable(key)}": ${problem}`, key);
  return key;
}

/** Like `validateKey` for a list prefix: it may be empty and may end with `/`. */
export function validatePrefix(prefix: string): string {
  const problem = keyProblem(prefix, true);
  if (problem !== undefined)
    throw new ObjectKeyError(`Cannot use key prefix "${printable(prefix)}": ${problem}`, prefix);
  return prefix;
}

/** Joins key parts with single slashes: `joinKey('a/b/', 'c')` is `a/b/c`. Empty parts are skipped. */
export function joinKey(...parts: readonly string[]): string {
  return parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/');
}

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/** Why `key` is not a valid object key (or, with `isPrefix`, list prefix); undefined when it is. */
export function keyProblem(key: string, isPrefix: boolean): string | undefined {
  if (key === '') return isPrefix ? undefined : 'it is empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`;
  if (key.startsWith('/')) return 'it starts with "/", expected a path relative to the store root';
  if (!isPrefix && key.endsWith('/')) return 'it ends with "/", expected an object name after the last "/"';
  if (key.includes('\\')) return 'it contains "\\", expected "/" as the separator';
  // Control characters (including NUL) break file systems and S3 XML listings alike.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'it contains a control character';
  const segments = key.split('/');
  if (isPrefix && segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  for (const segment of segments) {
    if (segment === '') return 'it contains an empty segment ("//")';
    if (segment === '.' || segment === '..') return `it contains a "${segment}" segment`;
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX))
      return `segments starting with "${RESERVED_SEGMENT_PREFIX}" are reserved`;
  }
  return undefined;
}

function printable(key: string): string {
  const shown = key.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return shown.length > 200 ? `${shown.slice(0, 200)}...` : shown;
}
