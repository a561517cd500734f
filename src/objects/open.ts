import { fileURLToPath } from 'node:url';
import { messageOf } from '../lib/errors.js';
import { ObjectStoreUrlError } from './errors.js';
import { LocalObjectStore } from './local.js';
import { LazyS3ObjectStore } from './lazy-s3.js';
import type { S3StoreConfig } from './s3.js';
import { joinKey, keyProblem, type ObjectStore } from './store.js';

export type ObjectStoreLocation =
  | { readonly scheme: 'file'; readonly path: string }
  | { readonly scheme: 's3'; readonly bucket: string; readonly prefix: string };

const EXPECTED = 'expected file:///absolute/path or s3://bucket/prefix';

/** S3 bucket naming rules: 3-63 characters of lower-case letters, digits, dots and hyphens. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses an object store URL: `file:///absolute/path` (also `file://localhost/...`) or `s3://bucket[/prefix]`.
 * Anything else, and anything these could misread (a query, a fragment, credentials, `..` in an S3 prefix), is
 * rejected with a message naming the URL.
 */
export function parseObjectStoreUrl(url: string): ObjectStoreLocation {
  const fail = (reason: string, cause?: unknown): never => {
    throw new ObjectStoreUrlError(`Cannot use object store URL "${url}": ${reason}`, url, cause);
  };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    return fail(`not a URL, ${EXPECTED}`, err);
  }
  if (parsed.search !== '' || parsed.hash !== '') fail('a query or fragment is not allowed');
  if (parsed.username !== '' || parsed.password !== '') {
    fail('credentials do not belong in the URL; S3 credentials come from the AWS environment or profile');
  }
  if (parsed.protocol === 'file:') {
    if (parsed.hostname !== '' && parsed.hostname !== 'localhost') {
      fail(`host "${parsed.hostname}" is not supported, ${EXPECTED} (note the three slashes)`);
    }
    let path: string;
    try {
      path = fileURLToPath(parsed);
    } catch (err) {
      return fail(messageOf(err), err);
    }
    return { scheme: 'file', path };
  }
  if (parsed.protocol === 's3:') {
    const bucket = parsed.hostname;
    if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
      fail(`"${bucket}" is not a valid bucket name (3-63 lower-case letters, digits, dots and hyphens)`);
    }
    if (parsed.port !== '') fail('a port is not allowed; set the S3 endpoint instead');
    // The raw path, not `parsed.pathname`: URL parsing resolves `..` segments, which must be refused instead.
    const rawPath = /^s3:\/\/[^/]*(\/.*)?$/i.exec(url)?.[1] ?? '';
    let prefix: string;
    try {
      prefix = decodeURIComponent(rawPath.slice(1));
    } catch (err) {
      return fail('the prefix is not valid percent-encoding', err);
    }
    const problem = keyProblem(prefix, true);
    if (problem !== undefined) fail(`the prefix "${prefix}" is invalid: ${problem}`);
    return { scheme: 's3', bucket, prefix: joinKey(prefix) };
  }
  return fail(`scheme "${parsed.protocol.replace(/:$/, '')}" is not supported, ${EXPECTED}`);
}

/** Opens the object store a URL names. `s3` settings apply to `s3://` URLs only. */
export function openObjectStore(url: string, s3: S3StoreConfig): ObjectStore {
  const location = parseObjectStoreUrl(url);
  if (location.scheme === 'file') return new LocalObjectStore(location.path);
  return new LazyS3ObjectStore(location.bucket, location.prefix, s3);
}
