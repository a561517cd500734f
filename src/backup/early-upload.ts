import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { ObjectStore } from '../objects/store.js';
import type { DumpStarted } from './dump.js';
import { backupKey } from './layout.js';
import type { ManifestFile } from './manifest.js';
import { chooseBackupPrefix, putFile } from './upload.js';

/**
 * Uploads the files of a dump while it runs: each file goes up as soon as the dump has sealed it (its final size
 * and SHA-256 are known), with at most `concurrency` files in flight and each streamed from disk, so memory stays
 * bounded. It never writes the manifest: `uploadBackup` does that last, after checking every file against the
 * finished manifest, so a crash or a failed dump leaves no backup that looks complete.
 *
 * The local dump stays complete (manifest and files), so `dbtrail upload` can always finish or redo the upload
 * without dumping again. A file that fails to upload here is simply left to that final pass; a dump that fails
 * has the objects stored so far removed (best effort: a manifest-less folder is visibly incomplete anyway).
 */
export interface EarlyUploadOptions {
  readonly concurrency: number;
  /** The folder dated backup folders go under (a schedule's prefix); `<tenant>/<server-name>` by default. */
  readonly base?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Called with the bytes of each chunk stored, for progress. */
  readonly onBytes?: (n: number) => void;
}

interface Pending {
  readonly file: ManifestFile;
  readonly localPath: string;
}

export class EarlyUpload {
  readonly #store: ObjectStore;
  readonly #options: EarlyUploadOptions;
  readonly #queue: Pending[] = [];
  readonly #running = new Set<Promise<void>>();
  /** Stored objects by path, with the size and SHA-256 the store verified. */
  readonly #stored = new Map<string, { size: number; sha256: string }>();
  #prefix: Promise<string> | undefined;
  #stopped = false;
  #failures = 0;
  /** Counts dump attempts, so that an upload of an earlier attempt never counts as stored for a later one. */
  #generation = 0;
  #cleanup: Promise<void> = Promise.resolve();

  constructor(store: ObjectStore, options: EarlyUploadOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * Chooses the backup's prefix, as `uploadBackup` would for a manifest with these fields and no files yet. Called
   * again when the dump starts over (a stalled tool): what the earlier attempt stored is removed.
   */
  start(started: DumpStarted): void {
    if (this.#prefix !== undefined) {
      const previous = this.#prefix;
      const stale = [...this.#stored.keys()];
      this.#stored.clear();
      this.#queue.length = 0;
      this.#generation++;
      const running = [...this.#running];
      this.#cleanup = (async () => {
        await Promise.allSettled(running);
        const prefix = await previous.catch(() => undefined);
        if (prefix !== undefined) await this.#remove(prefix, stale);
      })();
    }
    const placement = this.#options.base !== undefined ? { base: this.#options.base } : {};
    this.#prefix = chooseBackupPrefix(
      this.#store,
      {
        backup_id: started.backupId,
        tenant: started.tenant,
        server_name: started.serverName,
        started_at: started.startedAt,
        files: [],
      },
      placement,
      this.#options.signal,
    ).then((chosen) => chosen.prefix);
    // A failure here is reported by settle(); until then no file starts.
    this.#prefix.catch(() => undefined);
  }

  /** Queues a sealed file; a file sealed again replaces its earlier version. */
  add(file: ManifestFile, localPath: string): void {
    if (this.#stopped || this.#prefix === undefined) return;
    this.#queue.push({ file, localPath });
    this.#pump();
  }

  /**
   * Waits for the files in flight and returns the prefix and what is stored, for `uploadBackup`'s final pass.
   * Files still queued are left to that pass. Throws when no prefix could be chosen.
   */
  async settle(): Promise<{ prefix: string; stored: ReadonlyMap<string, { size: number; sha256: string }> }> {
    this.#stopped = true;
    this.#queue.length = 0;
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    await this.#cleanup;
    if (this.#prefix === undefined) throw new Error('EarlyUpload.settle() called before start()');
    const prefix = await this.#prefix;
    this.#options.logger?.debug(
      { prefix, stored: this.#stored.size, failed: this.#failures },
      'Files uploaded during the dump',
    );
    return { prefix, stored: this.#stored };
  }

  /** For a dump that failed: stops, and removes what was stored (a dump that failed is no backup). */
  async abandon(): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    await this.#cleanup;
    const prefix = await this.#prefix?.catch(() => undefined);
    if (prefix === undefined) return;
    await this.#remove(prefix, [...this.#stored.keys()]);
    this.#stored.clear();
  }

  async #remove(prefix: string, paths: readonly string[]): Promise<void> {
    for (const path of paths) {
      await this.#store.delete(backupKey(prefix, path)).catch((err: unknown) => {
        this.#options.logger?.warn(
          { key: backupKey(prefix, path), error: messageOf(err) },
          'Cannot remove an object of a failed dump',
        );
      });
    }
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#options.concurrency && this.#queue.length > 0) {
      const next = this.#queue.shift() as Pending;
      const job: Promise<void> = this.#upload(next).finally(() => {
        this.#running.delete(job);
        this.#pump();
      });
      this.#running.add(job);
    }
  }

  async #upload({ file, localPath }: Pending): Promise<void> {
    const generation = this.#generation;
    let prefix: string;
    try {
      prefix = await (this.#prefix as Promise<string>);
    } catch {
      return;
    }
    if (this.#stopped && this.#options.signal?.aborted === true) return;
    const key = backupKey(prefix, file.path);
    this.#stored.delete(file.path);
    try {
      await putFile(this.#store, key, localPath, file, this.#options.onBytes, this.#options.signal);
      if (generation === this.#generation)
        this.#stored.set(file.path, { size: file.size, sha256: file.sha256 });
    } catch (err) {
      this.#failures++;
      this.#options.logger?.debug(
        { key, error: messageOf(err) },
        'Cannot upload a file during the dump; the final pass retries it',
      );
    }
  }
}
