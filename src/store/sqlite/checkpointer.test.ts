import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStateStore, type SqliteStateStore } from './state-store.js';

describe('background WAL checkpoints', () => {
  const dirs: string[] = [];
  const stores: SqliteStateStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function open(backgroundCheckpoints: boolean): Promise<{ store: SqliteStateStore; path: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'dbtrail-ckpt-'));
    dirs.push(dir);
    const path = join(dir, 'state.db');
    const store = await openSqliteStateStore({ path, backgroundCheckpoints });
    stores.push(store);
    return { store, path };
  }

  it('leaves commits in the WAL until the worker copies them into the database file', async () => {
    const { store, path } = await open(true);
    const before = statSync(path).size;
    for (let i = 0; i < 2000; i++) await store.tenants.create(`tenant-${i}`);
    // Automatic checkpoints are off on the writing connection: the rows are only in the WAL so far.
    expect(statSync(path).size).toBe(before);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    expect(await store.checkpointNow()).toBe(true);
    expect(statSync(path).size).toBeGreaterThan(before);
    expect((await store.tenants.list()).length).toBe(2000);
  });

  it('is off for one-shot processes, and close stops the worker', async () => {
    const { store } = await open(false);
    expect(await store.checkpointNow()).toBe(false);
    const withWorker = await open(true);
    await withWorker.store.close();
    await withWorker.store.close();
  });
});
