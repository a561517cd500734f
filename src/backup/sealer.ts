import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, readlink, realpath, rm, stat, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import { AGE_FILE_SUFFIX, encryptFile } from './encryption.js';
import { BackupIoError, DumpAbortedError } from './errors.js';
import { MANIFEST_FILE, type ManifestFile } from './manifest.js';

/**
 * Seals the files of a dump (hashes them, or encrypts them and hashes the ciphertext) while the dump tool still
 * writes the others, so that the manifest costs no serial pass over the whole dump after the tool exits, and a
 * sealed file can be uploaded at once.
 *
 * When is a file complete? mydumper (every version we support) writes each file once, front to back, and closes
 * it; it never reopens a closed data file (checked with strace on 0.10: open O_CREAT|O_TRUNC, write, close, and a
 * rename only for `metadata.partial`). There is no portable "closed" event without inotify, so the watcher polls
 * the directory: a file with the same inode, size and modification time in two scans in a row, which then none
 * of the tool's processes holds open (`/proc/<pid>/fd` of the tool and its children), is complete. The scans are
 * a poll interval apart, so that a file caught the instant `open(O_CREAT)` made its name visible, before its
 * descriptor appeared, is seen open by then. Growing files are never looked up in /proc, which keeps the
 * polling cheap. Without a readable /proc (not Linux), nothing is sealed early and every file is sealed when
 * the tool has exited.
 *
 * The manifest must describe the final bytes, so `finish()` checks every plaintext file sealed early again (inode,
 * size, modification time) and seals it anew if anything changed. A plaintext encrypted early is removed only
 * after its ciphertext is complete, it is still closed and unchanged.
 */
export interface SealerOptions {
  /** age recipients; when there are none, files are only hashed. */
  readonly recipients: readonly string[];
  /** Files sealed at once. */
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  /** How often the directory is looked at while the tool runs (default 250 ms). */
  readonly pollMs?: number;
  /** Called for each sealed file with its manifest entry and local path; again if it is sealed anew. */
  readonly onSealed?: (file: ManifestFile, localPath: string) => void;
}

interface Identity {
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
}

interface SealedEntry {
  readonly file: ManifestFile;
  /** The plaintext as it was sealed; null when it was encrypted and removed. */
  readonly source: Identity | null;
}

/** Files the tool renames or rewrites at its very end: sealed only once it has exited. */
const LAST_WRITTEN = new Set(['metadata', 'metadata.partial']);

export class FileSealer {
  readonly #dir: string;
  readonly #options: SealerOptions;
  readonly #sealed = new Map<string, SealedEntry>();
  /** Our own outputs (encrypted files), which are not the tool's. */
  readonly #outputs = new Set<string>();
  /** Files not sealed yet, with their identity at the previous scan. */
  readonly #closed = new Map<string, Identity>();
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  #pids: number | undefined;
  #realDir: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scanning = false;
  #stopped = false;
  #failure: { error: unknown } | undefined;

  constructor(dir: string, options: SealerOptions) {
    this.#dir = dir;
    this.#options = options;
  }

  /** Starts watching the files the process `pid` (and its children) holds open. */
  watch(pid: number): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.#pids = pid;
    this.#timer = setInterval(() => void this.#scan(), this.#options.pollMs ?? 250);
    this.#timer.unref();
  }

  /**
   * Call once the tool has exited and the directory holds everything: seals what is left, re-checks what was
   * sealed early, and returns the manifest's file list sorted by path.
   */
  async finish(): Promise<ManifestFile[]> {
    await this.#halt();
    if (this.#failure !== undefined) throw this.#failure.error;
    const names = (await listBackupFiles(this.#dir)).filter((n) => !this.#outputs.has(n));
    const present = new Set(names);
    for (const [name, entry] of this.#sealed) {
      if (entry.source === null) {
        // Encrypted and removed; a file of that name again would be new bytes from the tool.
        if (present.has(name)) this.#sealed.delete(name);
        continue;
      }
      const now = await identityOf(join(this.#dir, name));
      if (now === undefined || !sameIdentity(now, entry.source)) this.#sealed.delete(name);
    }
    const rest = names.filter((n) => !this.#sealed.has(n));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < rest.length) {
        this.#throwIfAborted();
        await this.#seal(rest[next++] as string, false);
      }
    };
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(this.#options.concurrency, rest.length)) }, worker),
    );
    const missing = names.filter((n) => !this.#sealed.has(n));
    if (missing.length > 0) {
      throw new BackupIoError(
        `Cannot seal the dump in ${this.#dir}: ${missing.length} file(s) kept changing (first: ${missing[0]})`,
        { fields: { dir: this.#dir, file: missing[0] } },
      );
    }
    return [...this.#sealed.values()]
      .map((e) => e.file)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Stops watching and waits for the files being sealed; for a dump that failed. */
  async stop(): Promise<void> {
    await this.#halt().catch(() => undefined);
  }

  /** How many files were sealed while the tool still ran (for logs and tests). */
  get sealedEarly(): number {
    return this.#sealedEarly;
  }

  #sealedEarly = 0;

  async #halt(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queued.clear();
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  async #scan(): Promise<void> {
    if (this.#scanning || this.#stopped || this.#pids === undefined) return;
    this.#scanning = true;
    try {
      this.#realDir ??= await realpath(this.#dir);
      // Files still being written grow between scans; only a file that stood still since the previous scan
      // (at least one poll interval, so its descriptor exists if the tool holds it) needs the look into /proc.
      const stable: string[] = [];
      for (const name of await listBackupFiles(this.#dir)) {
        if (this.#stopped) return;
        if (this.#outputs.has(name) || this.#sealed.has(name) || this.#queued.has(name)) continue;
        if (LAST_WRITTEN.has(name) || name === MANIFEST_FILE) continue;
        const id = await identityOf(join(this.#dir, name));
        if (id === undefined) continue;
        const before = this.#closed.get(name);
        this.#closed.set(name, id);
        if (before !== undefined && sameIdentity(before, id)) stable.push(name);
      }
      if (stable.length === 0) return;
      const open = await openFiles(this.#pids);
      if (open === null) {
        // No /proc to ask: everything is sealed when the tool has exited.
        if (this.#timer !== undefined) clearInterval(this.#timer);
        this.#timer = undefined;
        return;
      }
      for (const name of stable) {
        if (this.#stopped) return;
        if (open.has(join(this.#realDir, name))) continue;
        this.#closed.delete(name);
        this.#enqueue(name);
      }
    } catch {
      // A failed scan only delays sealing: whatever is not sealed early is sealed by finish().
    } finally {
      this.#scanning = false;
    }
  }

  #enqueue(name: string): void {
    this.#queue.push(name);
    this.#queued.add(name);
    this.#pump();
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#options.concurrency && this.#queue.length > 0) {
      const name = this.#queue.shift() as string;
      const job: Promise<void> = this.#seal(name, true)
        .catch((error: unknown) => {
          this.#failure ??= { error };
        })
        .finally(() => {
          this.#queued.delete(name);
          this.#running.delete(job);
          this.#pump();
        });
      this.#running.add(job);
    }
  }

  /** Seals one file; while the tool runs (`early`), gives up quietly when the file turns out to be changing. */
  async #seal(name: string, early: boolean): Promise<void> {
    const full = join(this.#dir, name);
    const before = await identityOf(full);
    if (before === undefined) {
      if (early) return;
      throw new BackupIoError(`Cannot seal ${full}: it disappeared`, { fields: { file: full } });
    }
    const recipients = this.#options.recipients;
    let entry: SealedEntry;
    if (recipients.length > 0) {
      const out = `${full}${AGE_FILE_SUFFIX}`;
      await rm(out, { force: true });
      this.#outputs.add(`${name}${AGE_FILE_SUFFIX}`);
      const sealed = await encryptFile(full, out, recipients, this.#options.signal);
      const after = await identityOf(full);
      let unchanged = after !== undefined && sameIdentity(before, after);
      if (unchanged && early && this.#pids !== undefined) {
        const open = await openFiles(this.#pids);
        unchanged = open !== null && this.#realDir !== undefined && !open.has(join(this.#realDir, name));
      }
      if (!unchanged) {
        await rm(out, { force: true });
        if (early) return;
        throw new BackupIoError(`Cannot seal ${full}: it changed while it was encrypted`, {
          fields: { file: full },
        });
      }
      await unlink(full);
      entry = { file: { path: `${name}${AGE_FILE_SUFFIX}`, ...sealed }, source: null };
    } else {
      const hashed = await hashFile(full);
      const after = await identityOf(full);
      if (after === undefined || !sameIdentity(before, after) || BigInt(hashed.size) !== after.size) {
        if (early) return;
        throw new BackupIoError(`Cannot seal ${full}: it changed while it was hashed`, {
          fields: { file: full },
        });
      }
      entry = { file: { path: name, ...hashed }, source: before };
    }
    if (early) this.#sealedEarly++;
    this.#sealed.set(name, entry);
    this.#options.onSealed?.(entry.file, join(this.#dir, entry.file.path));
  }

  #throwIfAborted(): void {
    if (this.#options.signal?.aborted === true) throw new DumpAbortedError('Cannot finish the dump: aborted');
  }
}

async function identityOf(path: string): Promise<Identity | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return s.isFile() ? { ino: s.ino, size: s.size, mtimeNs: s.mtimeNs } : undefined;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    if (isDbtrailError(err)) throw err;
    throw new BackupIoError(`Cannot inspect ${path}: ${messageOf(err)}`, { cause: err });
  }
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/**
 * The paths held open by `pid` and its descendants (`/proc/<pid>/fd` links; children from
 * `/proc/<pid>/task/<tid>/children`). Null when /proc cannot tell (not Linux, or not permitted); an empty set
 * once the process has exited.
 */
export async function openFiles(pid: number): Promise<Set<string> | null> {
  const paths = new Set<string>();
  const seen = new Set<number>();
  const visit = async (p: number, root: boolean): Promise<boolean> => {
    if (seen.has(p) || seen.size > 64) return true;
    seen.add(p);
    let fds: string[];
    try {
      fds = await readdir(`/proc/${p}/fd`);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // The process is gone: it holds nothing open. Anything else means /proc cannot answer.
      return code === 'ENOENT' || code === 'ESRCH' ? true : !root;
    }
    for (const fd of fds) {
      try {
        paths.add(await readlink(`/proc/${p}/fd/${fd}`));
      } catch {
        // Closed between the listing and the link: not open.
      }
    }
    let tasks: string[] = [];
    try {
      tasks = await readdir(`/proc/${p}/task`);
    } catch {
      return true;
    }
    for (const tid of tasks) {
      let children = '';
      try {
        children = await readFile(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.split(' ')) {
        const c = Number(child);
        if (Number.isInteger(c) && c > 0) await visit(c, false);
      }
    }
    return true;
  };
  return (await visit(pid, true)) ? paths : null;
}

/** Every regular file under `dir`, as sorted forward-slash paths relative to it, without the manifest. */
export async function listBackupFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const rel = relative(dir, join(e.parentPath, e.name)).split(sep).join('/');
    if (rel === MANIFEST_FILE) continue;
    out.push(rel);
  }
  return out.sort();
}

export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    // 1 MiB reads: a quarter of the per-chunk overhead of the default 64 KiB on multi-GB dumps.
    for await (const chunk of createReadStream(path, {
      highWaterMark: 1024 * 1024,
    }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { size, sha256: hash.digest('hex') };
  } catch (err) {
    if (isDbtrailError(err)) throw err;
    throw new BackupIoError(`Cannot hash ${path}: ${messageOf(err)}`, {
      cause: err,
      code: (err as { code?: string }).code,
    });
  }
}
