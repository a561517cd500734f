import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { runTogether } from '../harness/together.js';
import { PROJECT_ROOT } from '../harness/cli.js';
import { controlPlaneContract } from './control-plane.contract.js';
import { sqliteBackend } from './backends.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-control-plane-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  return join(root, `db${++counter}`, 'dbtrail.db');
}

function raw<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const sqlite = sqliteBackend('control-plane-contract');

controlPlaneContract(sqlite);

describe('sqlite job claims across processes', () => {
  it('gives each job to exactly one of two processes claiming at once', { timeout: 120_000 }, async () => {
    const path = freshPath();
    const store = await openSqliteStateStore({ path });
    const tenant = await store.tenants.create('acme');
    const ids: string[] = [];
    for (let i = 0; i < 300; i++)
      ids.push((await store.jobs.enqueue({ tenantId: tenant.id, kind: 'backup' })).id);
    await store.close();

    const script = join(PROJECT_ROOT, 'test', 'store', 'fixtures', 'job-claimer.ts');
    const tsx = join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    // Both start on one signal once loaded, so that they race on every claim rather than run one after the other.
    type Result = { agentId: string; began: number; ended: number; ids: string[] };
    const [a, b] = (await runTogether<Result>(
      ['agent-a', 'agent-b'].map((agentId) => ({
        cmd: process.execPath,
        args: [tsx, script, path, agentId],
        cwd: PROJECT_ROOT,
      })),
    )) as [Result, Result];
    expect(Math.max(a.began, b.began)).toBeLessThan(Math.min(a.ended, b.ended));
    const all = [...a.ids, ...b.ids];
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort()).toEqual([...ids].sort());
    expect(a.ids.length).toBeGreaterThan(0);
    expect(b.ids.length).toBeGreaterThan(0);
    const rows = raw(path, (db) =>
      db
        .prepare('SELECT lease_owner, status, attempts, COUNT(*) AS n FROM jobs GROUP BY 1, 2, 3 ORDER BY 1')
        .all(),
    );
    expect(rows).toEqual([
      { lease_owner: 'agent-a', status: 'succeeded', attempts: 1, n: a.ids.length },
      { lease_owner: 'agent-b', status: 'succeeded', attempts: 1, n: b.ids.length },
    ]);
  });
});
