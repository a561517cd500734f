import { randomUUID } from 'node:crypto';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { ObjectStore } from '../objects/store.js';
import { failureOf, type BackupCatalog, type BackupRecord } from '../store/catalog.js';
import { runDump, type DumpRequest, type DumpResult } from './dump.js';
import { EarlyUpload } from './early-upload.js';
import { BackupNotUploadableError } from './errors.js';
import { DEFAULT_CONCURRENCY } from './transfer.js';
import { uploadBackup, type UploadOptions, type UploadResult } from './upload.js';

/**
 * `backup run`: dump, then upload, with every step recorded in the catalog so the history shows status,
 * duration, size, coordinates, location and error. The two steps stay separate underneath: when the upload fails,
 * the backup is `failed` with its local directory kept, and `uploadCatalogBackup` retries just the upload.
 */
export interface BackupRunDeps {
  readonly catalog: BackupCatalog;
  readonly objects: ObjectStore;
  readonly logger?: Logger;
}

export interface BackupRunRequest extends Omit<DumpRequest, 'backupId'> {
  readonly tenantId: string;
  readonly serverId?: string | null;
  readonly scheduleId?: string | null;
  /** An id chosen by the caller (the API answers with it before the work starts); new otherwise. */
  readonly backupId?: string;
  readonly upload?: Pick<UploadOptions, 'concurrency' | 'onProgress'>;
  /**
   * The object prefix the backup's dated folder goes under (a schedule's `s3_prefix`, starting with the tenant);
   * `<tenant>/<server-name>` by default.
   */
  readonly objectPrefix?: string;
  /** Called after each catalog transition, for live status. */
  readonly onStatus?: (record: BackupRecord) => void;
}

export interface BackupRunResult {
  readonly record: BackupRecord;
  readonly dump: DumpResult;
  readonly upload: UploadResult;
}

export async function runBackup(deps: BackupRunDeps, request: BackupRunRequest): Promise<BackupRunResult> {
  const tool = request.tool ?? 'mydumper';
  const id = request.backupId ?? randomUUID();
  const existing = await deps.catalog.get(id).catch(() => undefined);
  let record =
    existing ??
    (await deps.catalog.create({
      id,
      tenantId: request.tenantId,
      serverName: request.serverName,
      serverId: request.serverId ?? null,
      scheduleId: request.scheduleId ?? null,
      tool,
      status: 'running',
    }));
  // The record may name the tool asked for (`xtrabackup`) while the dump runs another (mariadb-backup on MariaDB):
  // the history records the one that actually ran.
  const actual = record.tool !== tool ? { tool } : {};
  if (record.status === 'queued') record = await deps.catalog.transition(id, 'running', actual);
  else if (record.tool !== tool) record = await deps.catalog.record(id, actual);
  request.onStatus?.(record);

  // Files go up while the dump still runs (early-upload.ts); the final pass below checks them against the
  // finished manifest, uploads what is missing and writes the manifest last.
  const early = new EarlyUpload(deps.objects, {
    concurrency: request.upload?.concurrency ?? DEFAULT_CONCURRENCY,
    ...(request.objectPrefix !== undefined ? { base: request.objectPrefix } : {}),
    ...(request.signal !== undefined ? { signal: request.signal } : {}),
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
  });
  let dump: DumpResult;
  try {
    dump = await runDump({
      ...request,
      backupId: id,
      onDumpStarted: (started) => {
        early.start(started);
        request.onDumpStarted?.(started);
      },
      onFileSealed: (file, path) => {
        early.add(file, path);
        request.onFileSealed?.(file, path);
      },
    });
  } catch (err) {
    await early.abandon();
    await markFailed(deps, id, err);
    throw err;
  }
  let placed: { prefix: string; stored: ReadonlyMap<string, { size: number; sha256: string }> } | undefined;
  try {
    placed = await early.settle();
  } catch (err) {
    // No prefix could be chosen during the dump (the store was unreachable); the final pass tries again.
    deps.logger?.debug({ backupId: id, error: messageOf(err) }, 'Nothing uploaded during the dump');
  }
  record = await deps.catalog.transition(id, 'uploading', {
    coordinates: dump.manifest.coordinates,
    sizeBytes: dump.bytes,
    localDir: dump.dir,
    toolVersion: dump.manifest.tool.version,
  });
  request.onStatus?.(record);
  return finishUpload(deps, record, dump, {
    ...(request.upload !== undefined ? { upload: request.upload } : {}),
    ...(request.objectPrefix !== undefined ? { base: request.objectPrefix } : {}),
    ...(request.onStatus !== undefined ? { onStatus: request.onStatus } : {}),
    ...(request.signal !== undefined ? { signal: request.signal } : {}),
    ...(placed !== undefined ? { prefix: placed.prefix, stored: placed.stored } : {}),
  });
}

/** Retries the upload of a catalog backup whose dump finished (status failed or uploading), without dumping again. */
export async function uploadCatalogBackup(
  deps: BackupRunDeps,
  record: BackupRecord,
  options: Pick<UploadOptions, 'concurrency' | 'onProgress' | 'signal' | 'base'> = {},
): Promise<{ record: BackupRecord; upload: UploadResult }> {
  if (record.localDir === null || record.dumpFinishedAt === null || record.status === 'succeeded') {
    throw new BackupNotUploadableError(
      record.status === 'succeeded'
        ? `Cannot upload backup ${record.id}: it already succeeded and is stored at ${record.location ?? 'an unknown location'}`
        : `Cannot upload backup ${record.id}: its dump never finished (status ${record.status}); run a new backup`,
      { fields: { backupId: record.id, status: record.status } },
    );
  }
  let current = record;
  if (current.status === 'failed') current = await deps.catalog.transition(record.id, 'uploading');
  const result = await finishUpload(deps, current, undefined, options);
  return { record: result.record, upload: result.upload };
}

async function finishUpload(
  deps: BackupRunDeps,
  record: BackupRecord,
  dump: DumpResult | undefined,
  options: Pick<UploadOptions, 'concurrency' | 'onProgress' | 'signal' | 'base' | 'prefix' | 'stored'> & {
    readonly upload?: Pick<UploadOptions, 'concurrency' | 'onProgress'>;
    readonly onStatus?: (record: BackupRecord) => void;
  },
): Promise<BackupRunResult> {
  let upload: UploadResult;
  try {
    upload = await uploadBackup(record.localDir as string, deps.objects, {
      ...(options.upload ?? {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.base !== undefined ? { base: options.base } : {}),
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
      ...(options.stored !== undefined ? { stored: options.stored } : {}),
    });
  } catch (err) {
    await markFailed(deps, record.id, err);
    throw err;
  }
  const done = await deps.catalog.transition(record.id, 'succeeded', { location: upload.location });
  options.onStatus?.(done);
  deps.logger?.info(
    { backupId: done.id, location: upload.location, bytes: done.sizeBytes, durationMs: done.durationMs },
    'Backup succeeded',
  );
  return { record: done, dump: dump as DumpResult, upload };
}

async function markFailed(deps: BackupRunDeps, id: string, err: unknown): Promise<void> {
  try {
    await deps.catalog.transition(id, 'failed', { error: failureOf(err) });
  } catch (recordErr) {
    // The original failure matters more; say that the catalog could not record it.
    deps.logger?.error(
      { backupId: id, error: messageOf(recordErr) },
      'Cannot record the backup failure in the catalog',
    );
  }
}
