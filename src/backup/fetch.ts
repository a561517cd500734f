import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { messageOf, type DbtrailError } from '../lib/errors.js';
import { DigestStream } from '../objects/digest.js';
import { ObjectIntegrityError } from '../objects/errors.js';
import { RESERVED_SEGMENT_PREFIX, type ObjectStore } from '../objects/store.js';
import { AGE_FILE_SUFFIX } from './encryption.js';
import { backupKey } from './layout.js';
import { MANIFEST_FILE, type ManifestFile } from './manifest.js';
import {
  BackupDecryptionRequiredError,
  BackupFetchError,
  BackupLocationConflictError,
} from './transfer-errors.js';
import { DEFAULT_CONCURRENCY, readRemoteManifest, runPool, type TransferProgress } from './transfer.js';

/**
 * Turns the stored bytes of one encrypted file into its plaintext (`ageDecryptor` in encryption.ts). It must fail,
 * not end, on a wrong key, tampering or truncation (age's STREAM construction authenticates every chunk and the
 * final one).
 */
export type Decryptor = (ciphertext: Readable, path: string) => Readable | Promise<Readable>;

export interface FetchOptions {
  /** Required when the manifest says the files are encrypted. */
  readonly decrypt?: Decryptor;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TransferProgress) => void;
}

export interface FetchedFile {
  /** The file's path in the manifest (the stored name). */
  readonly path: string;
  /** Where it was written, relative to the target directory (the stored name without `.age` when decrypted). */
  readonly output: string;
  /** Stored bytes read and verified. */
  readonly bytes: number;
  readonly decrypted: boolean;
}

export interface FetchResult {
  readonly backupId: string;
  readonly location: string;
  readonly toDir: string;
  readonly files: readonly FetchedFile[];
  readonly bytes: number;
}

const PARTIAL_SUFFIX = `${RESERVED_SEGMENT_PREFIX}partial`;

/**
 * Downloads a backup into `toDir` as a directory myloader or mariadb-backup can restore from: every file listed
 * by the manifest (decrypted when the backup is encrypted), then `manifest.json` itself. Each file's size and
 * SHA-256 are checked while it streams, and a file is put under its final name only after its bytes checked out.
 *
 * Refuses a `toDir` that is not empty (it never mixes a backup with other files, nor overwrites them); creates it
 * when missing. On failure every file it wrote is removed again.
 */
export async function fetchBackup(
  store: ObjectStore,
  prefix: string,
  toDir: string,
  options: FetchOptions = {},
): Promise<FetchResult> {
  const location = prefix === '' ? store.url : `${store.url}/${prefix}`;
  const signal = options.signal;
  await prepareTarget(toDir, location);

  const remote = await readRemoteManifest(store, prefix, signal);
  if (remote === undefined) {
    throw new BackupFetchError(
      `Cannot fetch backup from ${location}: no ${MANIFEST_FILE} there (not a backup, or its upload never finished)`,
      {
        kind: 'not_found',
        fields: { location },
      },
    );
  }
  const { manifest, bytes: manifestBytes } = remote;
  const encrypted = manifest.encryption !== null && manifest.encryption !== undefined;
  if (encrypted && options.decrypt === undefined) {
    throw new BackupDecryptionRequiredError(
      `Cannot fetch backup ${manifest.backup_id} from ${location}: its files are encrypted with age, give the identity (secret key) file that decrypts them`,
      { backupId: manifest.backup_id, location },
    );
  }
  const decrypt = encrypted ? options.decrypt : undefined;
  const outputs = plannedOutputs(manifest.files, decrypt !== undefined, manifest.backup_id);

  const bytesTotal = manifest.files.reduce((s, f) => s + f.size, 0);
  let bytesDone = 0;
  options.onProgress?.({ bytesDone, bytesTotal });
  const written: string[] = [];
  const fetched = new Map<string, FetchedFile>();
  try {
    await runPool(
      manifest.files,
      options.concurrency ?? DEFAULT_CONCURRENCY,
      async (file) => {
        const output = outputs.get(file.path) as string;
        const target = join(toDir, ...output.split('/'));
        const partial = `${target}${PARTIAL_SUFFIX}`;
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        written.push(partial);
        await fetchFile(store, backupKey(prefix, file.path), file, partial, decrypt, signal, (n) => {
          bytesDone += n;
          options.onProgress?.({ bytesDone, bytesTotal, path: file.path });
        });
        written.push(target);
        await rename(partial, target);
        fetched.set(file.path, {
          path: file.path,
          output,
          bytes: file.size,
          decrypted: decrypt !== undefined,
        });
      },
      signal,
    );
    await writeFile(join(toDir, MANIFEST_FILE), manifestBytes, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    await Promise.all(written.map((p) => rm(p, { force: true }).catch(() => undefined)));
    throw failure(err, manifest.backup_id, location, signal);
  }
  return {
    backupId: manifest.backup_id,
    location,
    toDir,
    files: manifest.files.map((f) => fetched.get(f.path) as FetchedFile),
    bytes: bytesTotal,
  };
}

async function fetchFile(
  store: ObjectStore,
  key: string,
  file: ManifestFile,
  partial: string,
  decrypt: Decryptor | undefined,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<void> {
  const opts = signal !== undefined ? { signal } : {};
  const stored = await store.get(key, opts);
  const digest = new DigestStream({
    subject: `file "${file.path}"`,
    size: file.size,
    sha256: file.sha256,
    onBytes,
  });
  const sink = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  if (decrypt === undefined) {
    await pipeline(stored, digest, sink, opts);
  } else {
    let digestError: unknown;
    digest.on('error', (err) => (digestError ??= err));
    stored.on('error', (err) => digest.destroy(err));
    stored.pipe(digest);
    try {
      await pipeline(await decrypt(digest, file.path), sink, opts);
    } catch (err) {
      // A checksum mismatch explains a decryption failure better than the decryptor's own message.
      throw asError(digestError ?? err);
    }
    if (digestError !== undefined) throw asError(digestError);
  }
  // The plaintext may end before the stored bytes were all read (a decryptor that stops at its final chunk):
  // accept the file only once every stored byte has been checked.
  if (!digest.verified) {
    throw new ObjectIntegrityError(
      `Cannot accept file "${file.path}": decryption ended before the end of its stored bytes`,
      {
        subject: file.path,
      },
    );
  }
}

/** Maps stored names to output names, refusing two files that would land on the same output. */
function plannedOutputs(
  files: readonly ManifestFile[],
  decrypting: boolean,
  backupId: string,
): Map<string, string> {
  const outputs = new Map<string, string>();
  const taken = new Set<string>([MANIFEST_FILE]);
  for (const file of files) {
    const output =
      decrypting && file.path.endsWith(AGE_FILE_SUFFIX)
        ? file.path.slice(0, -AGE_FILE_SUFFIX.length)
        : file.path;
    if (output === '' || output.endsWith('/') || taken.has(output)) {
      throw new BackupFetchError(
        `Cannot fetch backup ${backupId}: file "${file.path}" would be written as "${output}", which is taken or empty`,
        {
          kind: 'input',
          fields: { backupId, file: file.path },
        },
      );
    }
    taken.add(output);
    outputs.set(file.path, output);
  }
  return outputs;
}

async function prepareTarget(toDir: string, location: string): Promise<void> {
  let entries: string[];
  try {
    const info = await stat(toDir);
    if (!info.isDirectory()) {
      throw new BackupLocationConflictError(
        `Cannot fetch backup from ${location} into "${toDir}": it is not a directory`,
        {
          toDir,
        },
      );
    }
    entries = await readdir(toDir);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    await mkdir(toDir, { recursive: true, mode: 0o700 });
    return;
  }
  if (entries.length > 0) {
    throw new BackupLocationConflictError(
      `Cannot fetch backup from ${location} into "${toDir}": the directory is not empty (${entries.length} entries); give a new or empty directory`,
      { toDir, entries: entries.length },
    );
  }
}

function failure(
  err: unknown,
  backupId: string,
  location: string,
  signal: AbortSignal | undefined,
): DbtrailError {
  if (err instanceof BackupFetchError || err instanceof BackupDecryptionRequiredError) return err;
  const interrupted = signal?.aborted === true;
  const integrity = err instanceof ObjectIntegrityError;
  const detail = interrupted
    ? 'interrupted'
    : integrity
      ? `${err.message.replace(/^Cannot accept /, '')}`
      : messageOf(err);
  return new BackupFetchError(
    `Cannot fetch backup ${backupId} from ${location}: ${detail}; the files written so far were removed`,
    {
      cause: err,
      ...(integrity ? { kind: 'integrity' as const } : interrupted ? { kind: 'conflict' as const } : {}),
      fields: { backupId, location, interrupted },
    },
  );
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
