import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openApp, openStateStore } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { StateUrlError, StoreClosedError, StoreOpenError } from '../../src/store/errors.js';
import { postgresTestDatabase } from './backends.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-app-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const database = postgresTestDatabase();

describe('openApp', () => {
  it('opens the SQLite state at DBTRAIL_HOME/dbtrail.db by default and closes cleanly', async () => {
    const home = join(root, 'home1');
    const config = loadConfig({ env: { DBTRAIL_HOME: home } });
    const clock = new ManualClock('2024-01-01T00:00:00Z');
    const app = await openApp(config, { clock });
    expect(app.store.location).toBe(`sqlite:${join(home, 'dbtrail.db')}`);
    expect(existsSync(join(home, 'dbtrail.db'))).toBe(true);
    expect(app.clock).toBe(clock);
    const t = await app.store.tenants.ensure('default');
    expect(t.createdAt.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    await app.close();
    await app.close();
    await expect(app.store.tenants.list()).rejects.toBeInstanceOf(StoreClosedError);

    const again = await openApp(config);
    expect((await again.store.tenants.list()).map((x) => x.name)).toEqual(['default']);
    await again.close();
  });

  it('follows stateUrl', async () => {
    const path = join(root, 'elsewhere', 'state.db');
    const config = loadConfig({
      env: { DBTRAIL_HOME: join(root, 'home2'), DBTRAIL_STATE_URL: `sqlite:${path}` },
    });
    const app = await openApp(config);
    expect(app.store.location).toBe(`sqlite:${path}`);
    await app.close();
    expect(existsSync(path)).toBe(true);
  });

  it('refuses a state URL it cannot use, naming it without its password', async () => {
    const pg = loadConfig({
      env: { DBTRAIL_HOME: root, DBTRAIL_STATE_URL: 'postgres://u:s3cr3t-pw@127.0.0.1:1/state' },
    });
    const err = await openApp(pg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreOpenError);
    expect((err as Error).message).toMatch(
      /^Cannot read the state schema version: cannot connect to postgres:\/\/u:\[redacted\]@127\.0\.0\.1:1\/state: /,
    );
    expect(JSON.stringify(err)).not.toContain('s3cr3t-pw');
    await expect(openStateStore('redis://x')).rejects.toBeInstanceOf(StateUrlError);
  });

  it('opens PostgreSQL state from DBTRAIL_STATE_URL', async () => {
    const url = await database();
    const config = loadConfig({ env: { DBTRAIL_HOME: join(root, 'home3'), DBTRAIL_STATE_URL: url } });
    const app = await openApp(config);
    try {
      expect(app.store.location).toBe(url);
      expect(app.store.capabilities).toEqual({ sharedAcrossHosts: true, concurrentWriters: true });
      expect((await app.store.tenants.ensure('default')).name).toBe('default');
    } finally {
      await app.close();
    }
    await expect(app.store.tenants.list()).rejects.toBeInstanceOf(StoreClosedError);
  });
});
