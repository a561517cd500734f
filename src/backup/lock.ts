import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { messageOf } from '../lib/errors.js';
import { BackupIoError, LockHeldError } from './errors.js';

/**
 * One dump per server at a time: a lock file `<dir>/dump-<server>.lock` created atomically, holding who owns it.
 * An owner on this host whose pid no longer exists left it behind (SIGKILL, power loss): the lock is stale and
 * is taken over. An owner on another host (a shared directory) cannot be checked, so it is never taken over.
 */
export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt: string;
  readonly token: string;
  readonly purpose: string;
}

export interface HeldLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still ours; safe to call more than once. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** What the lock guards, for the conflict message (default "dump"). */
  readonly purpose?: string;
  /** For tests: whether a pid is alive on this host. */
  readonly isAlive?: (pid: number) => boolean;
  readonly hostname?: string;
  readonly pid?: number;
}

export function lockPath(dir: string, serverName: string): string {
  return join(dir, `dump-${serverName.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const HELD = new Map<string, string>();
let exitHookInstalled = false;

/** Releases locks still held when the process exits without running its finally blocks (process.exit). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [path, token] of HELD) {
      try {
        if ((JSON.parse(readFileSync(path, 'utf8')) as LockOwner).token === token) unlinkSync(path);
      } catch {
        // Already gone or unreadable: nothing of ours to remove.
      }
    }
  });
}

export async function acquireLock(
  dir: string,
  serverName: string,
  options: LockOptions = {},
): Promise<HeldLock> {
  const path = lockPath(dir, serverName);
  const isAlive = options.isAlive ?? processAlive;
  const host = options.hostname ?? osHostname();
  const owner: LockOwner = {
    pid: options.pid ?? process.pid,
    hostname: host,
    startedAt: new Date().toISOString(),
    token: randomBytes(12).toString('hex'),
    purpose: options.purpose ?? 'dump',
  };
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new BackupIoError(`Cannot create lock directory ${dir}: ${messageOf(err)}`, { cause: err });
  }
  // Write the full record under a private name, then link it into place: link() fails if the lock exists, so
  // nobody ever sees a half-written lock file.
  const staging = `${path}.${owner.token}.new`;
  await writeFile(staging, `${JSON.stringify(owner)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(staging, path);
        HELD.set(path, owner.token);
        installExitHook();
        return { path, owner, release: () => releaseLock(path, owner.token) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new BackupIoError(`Cannot create lock ${path}: ${messageOf(err)}`, { cause: err });
        }
      }
      const current = await readOwner(path);
      if (current === undefined) continue; // released meanwhile, or unreadable debris we moved aside
      // pid <= 0 marks debris that is no lock record at all; never probe it (kill(-1, 0) means every process).
      const stale = current.pid <= 0 || (current.hostname === host && !isAlive(current.pid));
      if (!stale) {
        throw new LockHeldError(
          `Cannot start a ${owner.purpose} of server "${serverName}": another ${current.purpose} holds ${path} (pid ${current.pid} on ${current.hostname}, since ${current.startedAt})`,
          {
            fields: {
              lock: path,
              pid: current.pid,
              hostname: current.hostname,
              startedAt: current.startedAt,
            },
          },
        );
      }
      await takeOverStale(path, current.token);
    }
    throw new LockHeldError(`Cannot take lock ${path}: it keeps changing hands`, { fields: { lock: path } });
  } finally {
    await unlink(staging).catch(() => undefined);
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.token === 'string') {
      return {
        pid: v.pid,
        hostname: v.hostname,
        token: v.token,
        startedAt: typeof v.startedAt === 'string' ? v.startedAt : 'an unknown time',
        purpose: typeof v.purpose === 'string' ? v.purpose : 'dump',
      };
    }
  } catch {
    // fall through: garbage
  }
  // Not a lock record we wrote (every write goes through link() of a complete file): treat as stale debris.
  return { pid: -1, hostname: osHostname(), token: '', startedAt: 'an unknown time', purpose: 'dump' };
}

/**
 * Moves a stale lock aside and removes it, but only if the moved file is still the stale one: if another
 * process took it over meanwhile, its fresh lock is put back.
 */
async function takeOverStale(path: string, staleToken: string): Promise<void> {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readOwner(aside);
  if (moved !== undefined && moved.token !== staleToken && moved.pid !== -1) {
    // Someone else's fresh lock: restore it unless yet another appeared (then theirs wins and ours is dropped).
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

async function releaseLock(path: string, token: string): Promise<void> {
  if (HELD.get(path) !== token) return;
  HELD.delete(path);
  const current = await readOwner(path);
  if (current?.token === token) await unlink(path).catch(() => undefined);
}
