import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openObjectStore } from '../objects/open.js';
import type { S3StoreConfig } from '../objects/s3.js';
import type { ObjectStore } from '../objects/store.js';

/** A backup in an object store: the store and the key prefix of the backup's objects within it. */
export interface BackupLocation {
  readonly store: ObjectStore;
  readonly prefix: string;
}

/**
 * Opens the backup a URL names: `s3://bucket/prefix/<tenant>/<server>/<date>/<time>` or the `file://` URL (or
 * local path) of such a folder. The store is rooted at the backup itself, so the prefix is empty; a
 * lookup by backup id from the catalog resolves to the same pair.
 */
export function openBackupLocation(location: string, s3: S3StoreConfig): BackupLocation {
  // Anything without a URL scheme is a local path, relative to the working directory.
  const url = /^[a-z][a-z0-9+.-]*:/i.test(location) ? location : pathToFileURL(resolve(location)).href;
  return { store: openObjectStore(url, s3), prefix: '' };
}
