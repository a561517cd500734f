import { existsSync } from 'node:fs';
import type { S3StoreConfig } from '../objects/s3.js';
import type { BackupCatalog, BackupRecord } from '../store/catalog.js';
import { isDbtrailError } from '../lib/errors.js';
import { BackupLocationError } from './errors.js';
import { openBackupLocation, type BackupLocation } from './location.js';

/**
 * What `backup verify`/`fetch` accept: a catalog backup id (or a unique prefix of it, as `backup list` shows), an
 * object-store URL of a backup, or a local path.
 */
export async function resolveBackupLocation(
  arg: string,
  deps: {
    readonly catalog: Pick<BackupCatalog, 'resolveId' | 'get'>;
    /** The caller's tenant; a function so that a location argument never needs the state store. */
    readonly tenantId: () => Promise<string>;
    readonly s3: S3StoreConfig;
  },
): Promise<BackupLocation & { readonly record?: BackupRecord }> {
  const looksLikeLocation = /^[a-z][a-z0-9+.-]*:\/\//i.test(arg) || arg.includes('/') || existsSync(arg);
  if (looksLikeLocation) return openBackupLocation(arg, deps.s3);
  let record: BackupRecord;
  try {
    const tenantId = await deps.tenantId();
    const id = await deps.catalog.resolveId(arg, { tenantId });
    record = await deps.catalog.get(id, { tenantId });
  } catch (err) {
    if (isDbtrailError(err) && err.kind === 'not_found') {
      throw new BackupLocationError(
        `Cannot find backup "${arg}": no backup with that id in the catalog, and not a location (s3://..., file://... or a path)`,
        { fields: { backup: arg }, cause: err },
      );
    }
    throw err;
  }
  if (record.location === null) {
    throw new BackupLocationError(
      `Cannot open backup ${record.id}: it was never uploaded (status ${record.status}${record.localDir !== null ? `; its files are in ${record.localDir}` : ''})`,
      { fields: { backupId: record.id, status: record.status } },
    );
  }
  return { ...openBackupLocation(record.location, deps.s3), record };
}
