import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockHeldError } from './errors.js';
import { acquireLock, lockPath, processAlive } from './lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dbtrail-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dump lock', () => {
  it('allows one holder per server and releases on demand', async () => {
    const a = await acquireLock(dir, 'db1');
    await expect(acquireLock(dir, 'db1')).rejects.toThrow(LockHeldError);
    await expect(acquireLock(dir, 'db1')).rejects.toThrow(/another dump holds .* \(pid \d+ on /);
    const other = await acquireLock(dir, 'db2');
    await a.release();
    await a.release();
    const b = await acquireLock(dir, 'db1');
    expect(b.owner.token).not.toBe(a.owner.token);
    await b.release();
    await other.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over a lock whose owner process is dead on this host', async () => {
    const stale = await acquireLock(dir, 'db1', { pid: 999_999_999, isAlive: () => false });
    // The stale owner never releases (it was SIGKILLed); its record stays on disk.
    const fresh = await acquireLock(dir, 'db1', { isAlive: (pid) => pid !== 999_999_999 });
    const onDisk = JSON.parse(await readFile(lockPath(dir, 'db1'), 'utf8')) as { token: string; pid: number };
    expect(onDisk.token).toBe(fresh.owner.token);
    expect(onDisk.pid).toBe(process.pid);
    await stale.release(); // must not remove the new owner's lock
    expect(existsSync(lockPath(dir, 'db1'))).toBe(true);
    await fresh.release();
    expect(existsSync(lockPath(dir, 'db1'))).toBe(false);
  });

  it('detects a real dead owner with the default liveness check', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid as number;
    await new Promise((r) => child.once('exit', r));
    await acquireLock(dir, 'db1', { pid });
    const live = await acquireLock(dir, 'db1');
    expect(live.owner.pid).toBe(process.pid);
    await live.release();
  });

  it('never takes over a lock held on another host', async () => {
    await acquireLock(dir, 'db1', { hostname: 'other-host', pid: 999_999_999 });
    await expect(acquireLock(dir, 'db1', { isAlive: () => false })).rejects.toThrow(/on other-host/);
  });

  it('treats an unreadable lock file as stale debris', async () => {
    await writeFile(lockPath(dir, 'db1'), 'garbage');
    const held = await acquireLock(dir, 'db1');
    expect(held.owner.pid).toBe(process.pid);
    await held.release();
  });

  it('knows this process is alive and a free pid is not', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(2 ** 22 + 12345)).toBe(false);
  });
});
