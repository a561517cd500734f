import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf, type DbtrailError } from '../lib/errors.js';
import { sha256Hex } from '../objects/digest.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectIntegrityError, ObjectStoreError } from '../objects/errors.js';
import type { ObjectStore } from '../objects/store.js';
import { backupKey, backupPrefix, distinctBackupPrefix, listPrefix, manifestKey } from './layout.js';
import { MANIFEST_FILE, type Manifest, type ManifestFile } from './manifest.js';
import { BackupFileError, BackupLocationConflictError, BackupUploadError } from './transfer-errors.js';
import {
  DEFAULT_CONCURRENCY,
  hashObject,
  readLocalManifest,
  readRemoteManifest,
  runPool,
  type TransferProgress,
} from './transfer.js';

export interface UploadOptions {
  /** Files uploaded at the same time (each large one also uploads its parts in parallel on S3). */
  readonly concurrency?: number;
  /** Stops starting files and aborts the ones in flight; the manifest is then not written. */
  readonly signal?: AbortSignal;
  /** Called as bytes move; the total counts only the files that need uploading. */
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Called once per file when its upload or skip is settled. */
  readonly onFile?: (result: FileUploadResult) => void;
  /** The folder dated backup folders go under: `<tenant>/<server-name>` by default (see layout.ts). */
  readonly base?: string;
  /**
   * The backup's prefix, already chosen by `chooseBackupPrefix` when files went up during the dump. A manifest of
   * another backup there is still refused.
   */
  readonly prefix?: string;
  /**
   * Objects this process stored under `prefix` during the dump (path -> size and SHA-256 the store verified
   * while writing): a file whose manifest entry has the same size and SHA-256 is in place without a check.
   */
  readonly stored?: ReadonlyMap<string, { readonly size: number; readonly sha256: string }>;
}

/** Attempts per file when the store connection fails (a streamed PUT is not retried by the S3 SDK itself). */
const FILE_ATTEMPTS = 3;

export interface FileUploadResult {
  readonly path: string;
  readonly key: string;
  /** `skipped`: an identical object (same size and SHA-256) was already in place. */
  readonly status: 'uploaded' | 'skipped';
  readonly bytes: number;
}

export interface UploadResult {
  readonly backupId: string;
  /** The object store URL of the backup: the store's root plus the backup's prefix. */
  readonly location: string;
  /** The backup's key prefix within the store. */
  readonly prefix: string;
  readonly files: readonly FileUploadResult[];
  readonly manifest: 'uploaded' | 'skipped';
  readonly bytesUploaded: number;
  readonly bytesSkipped: number;
}

/**
 * Uploads a local backup directory (as the dump step left it: `manifest.json` plus the files it lists) to
 * `<tenant>/<server-name>/<YYYY-MM-DD>/<HHMMSS>/` in the store (or under `options.base`), manifest last. When
 * that folder already belongs to another backup started in the same second, the backup goes to
 * `<HHMMSS>-<id prefix>/` instead (layout.ts).
 *
 * Resumable: every file whose object is already present with the same size and SHA-256 is skipped, so a retry
 * after an interruption moves only what is missing or different and never needs a new dump. A location holding
 * another backup's manifest is refused. Each file is checked against the manifest while it streams; a local file
 * that changed since the dump fails the upload without storing it.
 */
export async function uploadBackup(
  localDir: string,
  store: ObjectStore,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const { manifest, bytes: manifestBytes } = await readLocalManifest(localDir);
  const placement = options.base !== undefined ? { base: options.base } : {};
  const signal = options.signal;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;

  await checkLocalFiles(localDir, manifest);
  let prefix: string;
  let existing: Awaited<ReturnType<typeof readRemoteManifest>>;
  if (options.prefix !== undefined) {
    prefix = options.prefix;
    existing = await readRemoteManifest(store, prefix, signal);
  } else {
    ({ prefix, existing } = await chooseBackupPrefix(store, manifest, placement, signal));
  }
  const location = prefix === '' ? store.url : `${store.url}/${prefix}`;
  if (existing !== undefined && existing.manifest.backup_id !== manifest.backup_id) {
    throw new BackupLocationConflictError(
      `Cannot upload backup ${manifest.backup_id} to ${location}: it already holds backup ${existing.manifest.backup_id}`,
      { backupId: manifest.backup_id, location, existingBackupId: existing.manifest.backup_id },
    );
  }

  // Plan first, so that progress counts only the bytes that will move.
  const results = new Map<string, FileUploadResult>();
  const pending: ManifestFile[] = [];
  try {
    await runPool(
      manifest.files,
      concurrency,
      async (file) => {
        const key = backupKey(prefix, file.path);
        const stored = options.stored?.get(file.path);
        if (stored !== undefined && stored.size === file.size && stored.sha256 === file.sha256) {
          const result: FileUploadResult = { path: file.path, key, status: 'uploaded', bytes: file.size };
          results.set(file.path, result);
          options.onFile?.(result);
        } else if (await isInPlace(store, key, file, signal)) {
          const result: FileUploadResult = { path: file.path, key, status: 'skipped', bytes: file.size };
          results.set(file.path, result);
          options.onFile?.(result);
        } else {
          pending.push(file);
        }
      },
      signal,
    );
  } catch (err) {
    throw incomplete(manifest, location, 'checking what is already uploaded', results, err, signal);
  }

  const bytesTotal = pending.reduce((sum, f) => sum + f.size, 0);
  let bytesDone = 0;
  const report = (path: string) => (n: number) => {
    bytesDone += n;
    options.onProgress?.({ bytesDone, bytesTotal, path });
  };
  options.onProgress?.({ bytesDone, bytesTotal });
  // Larger files first: they bound the total time, and small ones fill the gaps at the end.
  pending.sort((a, b) => b.size - a.size);
  try {
    await runPool(
      pending,
      concurrency,
      async (file) => {
        const key = backupKey(prefix, file.path);
        const path = join(localDir, ...file.path.split('/'));
        try {
          await putFile(store, key, path, file, report(file.path), signal);
        } catch (err) {
          if (err instanceof ObjectIntegrityError) {
            throw new BackupFileError(
              `Cannot upload file "${file.path}" of backup ${manifest.backup_id}: the local file no longer matches the manifest (${err.message.replace(/^[^:]*: /, '')})`,
              { backupId: manifest.backup_id, file: file.path },
              err,
            );
          }
          throw err;
        }
        const result: FileUploadResult = { path: file.path, key, status: 'uploaded', bytes: file.size };
        results.set(file.path, result);
        options.onFile?.(result);
      },
      signal,
    );
  } catch (err) {
    throw incomplete(manifest, location, 'uploading files', results, err, signal);
  }

  // Last: only now is the backup complete in the store.
  let manifestStatus: UploadResult['manifest'] = 'skipped';
  if (existing === undefined || sha256Hex(existing.bytes) !== sha256Hex(manifestBytes)) {
    try {
      await store.put(manifestKey(prefix), manifestBytes, {
        contentType: 'application/json',
        ...(signal !== undefined ? { signal } : {}),
      });
    } catch (err) {
      throw incomplete(manifest, location, `writing ${MANIFEST_FILE}`, results, err, signal);
    }
    manifestStatus = 'uploaded';
  }

  const files = manifest.files.map((f) => results.get(f.path) as FileUploadResult);
  return {
    backupId: manifest.backup_id,
    location,
    prefix,
    files,
    manifest: manifestStatus,
    bytesUploaded: files.filter((f) => f.status === 'uploaded').reduce((s, f) => s + f.bytes, 0),
    bytesSkipped: files.filter((f) => f.status === 'skipped').reduce((s, f) => s + f.bytes, 0),
  };
}

/**
 * Where a backup goes: `<base>/<date>/<time>`, or `<time>-<id prefix>` when that folder holds another backup's
 * manifest or objects that are not this backup's (a backup started in the same second). `manifest` may be a
 * draft with no files yet (a dump still running): then any object in the folder is another backup's.
 */
export async function chooseBackupPrefix(
  store: ObjectStore,
  manifest: Pick<Manifest, 'backup_id' | 'tenant' | 'server_name' | 'started_at' | 'files'>,
  placement: { readonly base?: string },
  signal?: AbortSignal,
): Promise<{ prefix: string; existing: Awaited<ReturnType<typeof readRemoteManifest>> }> {
  let prefix = backupPrefix(manifest, placement);
  let existing = await readRemoteManifest(store, prefix, signal);
  if (
    existing !== undefined
      ? existing.manifest.backup_id !== manifest.backup_id
      : await holdsForeignObjects(store, prefix, manifest, signal)
  ) {
    prefix = distinctBackupPrefix(manifest, placement);
    existing = await readRemoteManifest(store, prefix, signal);
  }
  return { prefix, existing };
}

/**
 * Stores one local file, checked against its manifest entry as it streams (1 MiB reads). A failed connection is
 * retried with a fresh read of the file after a short backoff; a mismatch or an abort is not.
 */
export async function putFile(
  store: ObjectStore,
  key: string,
  path: string,
  file: ManifestFile,
  onBytes: ((n: number) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let sent = 0;
    try {
      await store.put(key, createReadStream(path, { highWaterMark: 1024 * 1024 }), {
        size: file.size,
        sha256: file.sha256,
        onBytes: (n) => {
          sent += n;
          onBytes?.(n);
        },
        ...(signal !== undefined ? { signal } : {}),
      });
      return;
    } catch (err) {
      const retryable =
        err instanceof ObjectStoreError && err.kind === 'connection' && signal?.aborted !== true;
      if (!retryable || attempt >= FILE_ATTEMPTS) throw err;
      // Progress counts bytes once: take back what the failed attempt reported.
      onBytes?.(-sent);
      await sleep(250 * 4 ** (attempt - 1) * (0.5 + Math.random()), undefined, signal ? { signal } : {});
    }
  }
}

/**
 * Whether a folder without a manifest holds objects that are not this backup's own files (same path and size):
 * another backup of the same second is being uploaded there. Objects of this backup itself, left by an
 * interrupted upload, do not count, so that a retry resumes in place.
 */
async function holdsForeignObjects(
  store: ObjectStore,
  prefix: string,
  manifest: Pick<Manifest, 'files'>,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const base = listPrefix(prefix);
  const sizes = new Map(manifest.files.map((f) => [f.path, f.size]));
  for await (const entry of store.list(base, signal !== undefined ? { signal } : {})) {
    if (sizes.get(entry.key.slice(base.length)) !== entry.size) return true;
  }
  return false;
}

/** Fails before any byte moves when a listed file is missing or has another size than the manifest says. */
async function checkLocalFiles(dir: string, manifest: Manifest): Promise<void> {
  const problems: string[] = [];
  for (const file of manifest.files) {
    const path = join(dir, ...file.path.split('/'));
    try {
      const info = await stat(path);
      if (!info.isFile()) problems.push(`"${file.path}" is not a regular file`);
      else if (info.size !== file.size)
        problems.push(`"${file.path}" is ${info.size} bytes, the manifest says ${file.size}`);
    } catch (err) {
      problems.push(
        (err as { code?: unknown }).code === 'ENOENT'
          ? `"${file.path}" is missing`
          : `"${file.path}": ${messageOf(err)}`,
      );
    }
  }
  if (problems.length > 0) {
    const shown =
      problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
    throw new BackupFileError(`Cannot upload backup ${manifest.backup_id} from "${dir}": ${shown}`, {
      backupId: manifest.backup_id,
      dir,
      problems,
    });
  }
}

/**
 * Whether the object already holds exactly this file. A recorded checksum (S3 metadata) settles it cheaply;
 * without one, an object of the right size is read and hashed (cheap on the local store, and still cheaper than
 * an upload elsewhere).
 */
async function isInPlace(
  store: ObjectStore,
  key: string,
  file: ManifestFile,
  signal?: AbortSignal,
): Promise<boolean> {
  const opts = signal !== undefined ? { signal } : {};
  const head = await store.head(key, opts);
  if (head === undefined || head.size !== file.size) return false;
  if (head.sha256 !== undefined) return head.sha256 === file.sha256;
  return (await hashObject(store, key, opts)).sha256 === file.sha256;
}

function incomplete(
  manifest: Manifest,
  location: string,
  step: string,
  results: ReadonlyMap<string, FileUploadResult>,
  cause: unknown,
  signal: AbortSignal | undefined,
): DbtrailError {
  // A local file that does not match its manifest is not fixed by a retry: report it as it is.
  if (cause instanceof BackupFileError) return cause;
  const done = [...results.values()];
  const interrupted = signal?.aborted === true;
  const detail = interrupted ? 'interrupted' : messageOf(cause);
  return new BackupUploadError(
    `Cannot finish upload of backup ${manifest.backup_id} to ${location} while ${step}: ${detail} (${done.length} of ${manifest.files.length} files in place; run it again to upload the rest)`,
    {
      cause,
      ...(interrupted ? { kind: 'conflict' as const } : {}),
      fields: {
        backupId: manifest.backup_id,
        location,
        interrupted,
        filesInPlace: done.map((r) => r.path),
      },
    },
  );
}
