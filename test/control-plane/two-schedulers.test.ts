import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/lib/clock.js';
import { openStateStore } from '../../src/app.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { postgresTestDatabase } from '../store/backends.js';
import { PROJECT_ROOT } from '../harness/cli.js';
import { waitFor } from './helpers.js';

/**
 * Two scheduler processes (real child processes) on one SQLite file, then on one PostgreSQL database, racing for the
 * same slots: every due slot runs exactly once. Both read "now" from one file the test moves, so slots come due for
 * both at the same instant.
 * Then both stop, the clock jumps two hours (twelve missed slots), both start again: each overdue schedule runs once.
 */
const dir = mkdtempSync(join(tmpdir(), 'dbtrail-two-schedulers-'));
const statePath = join(dir, 'state.db');
const clockPath = join(dir, 'clock');
const T0 = Date.parse('2024-05-01T10:00:00Z');
const MIN = 60_000;
const children: (ChildProcess & { lines: () => Record<string, unknown>[] })[] = [];

/** Written to a temporary file and renamed over the clock file, so a reader never sees it half written. */
const setClock = (ms: number): void => {
  writeFileSync(`${clockPath}.tmp`, new Date(ms).toISOString());
  renameSync(`${clockPath}.tmp`, clockPath);
};
const fileClock: Clock = { now: () => new Date(readFileSync(clockPath, 'utf8').trim()) };

function startScheduler(
  stateEnv: Record<string, string>,
): ChildProcess & { lines: () => Record<string, unknown>[] } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'test', 'control-plane', 'scheduler-process.ts')],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        ...stateEnv,
        DBTRAIL_TEST_CLOCK: clockPath,
        DBTRAIL_TEST_TICK_MS: '10',
      },
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const withLines = Object.assign(child, {
    lines: () => {
      if (err !== '') throw new Error(`scheduler process failed: ${err}`);
      return out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  });
  children.push(withLines);
  return withLines;
}

/** Resolves once every process has ticked `n` more times at the current clock file time. */
async function ticksAt(
  procs: readonly (ChildProcess & { lines: () => Record<string, unknown>[] })[],
  atMs: number,
  n = 5,
) {
  const iso = new Date(atMs).toISOString();
  await waitFor(
    `both schedulers to tick at ${iso}`,
    () =>
      Promise.resolve(
        procs.every((p) => p.lines().filter((l) => l['at'] === iso).length >= n) ? true : undefined,
      ),
    60_000,
  );
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const postgresDatabase = postgresTestDatabase();
const backends: {
  readonly name: string;
  readonly open: () => Promise<{ store: StateStore; env: Record<string, string> }>;
}[] = [
  {
    name: 'one SQLite file',
    open: async () => ({
      store: await openSqliteStateStore({ path: statePath, clock: fileClock }),
      env: { DBTRAIL_TEST_STATE: statePath },
    }),
  },
  {
    name: 'one PostgreSQL database',
    open: async () => {
      const url = await postgresDatabase();
      return { store: await openStateStore(url, fileClock), env: { DBTRAIL_TEST_STATE_URL: url } };
    },
  },
];

describe.each(backends)('two scheduler processes on $name', (backend) => {
  it('run each due slot once, and an overdue schedule once after downtime', async () => {
    setClock(T0 - MIN);
    const { store, env } = await backend.open();
    const firstChild = children.length;
    const tenant = await store.tenants.create('acme');
    const scheduleIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const server = await store.servers.create({
        tenantId: tenant.id,
        name: `db-${i}`,
        host: 'h',
        port: 3306,
        username: 'u',
      });
      const s = await store.schedules.create({
        tenantId: tenant.id,
        serverId: server.id,
        cron: '*/10 * * * *',
        tool: 'mydumper',
        objectPrefix: `acme/db-${i}/`,
        nextRunAt: new Date(T0),
      });
      scheduleIds.push(s.id);
    }
    const finishAll = async (): Promise<void> => {
      for (;;) {
        const job = await store.jobs.claim({ agentId: 'test', kinds: ['backup'], leaseMs: 3_600_000 });
        if (job === undefined) return;
        await store.jobs.finish(job.id, 'test', { status: 'succeeded' });
      }
    };

    let procs = [startScheduler(env), startScheduler(env)];
    await ticksAt(procs, T0 - MIN, 1);
    for (let round = 0; round < 3; round++) {
      const at = T0 + round * 10 * MIN + 1_000;
      setClock(at);
      await ticksAt(procs, at);
      await finishAll();
    }

    // Downtime: both stop, two hours pass, both start again.
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(
      procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))),
    );
    const later = T0 + 2 * 60 * MIN + 5 * MIN;
    setClock(later);
    procs = [startScheduler(env), startScheduler(env)];
    await ticksAt(procs, later);

    const jobs = await store.jobs.list({ tenantId: tenant.id, limit: 1000 });
    const slots = jobs.map((j) => `${j.scheduleId} ${j.scheduledFor?.toISOString()}`);
    expect(new Set(slots).size).toBe(slots.length);
    expect(jobs).toHaveLength(6 * 4);
    for (const id of scheduleIds) {
      const mine = jobs
        .filter((j) => j.scheduleId === id)
        .map((j) => j.scheduledFor!.toISOString())
        .sort();
      // 10:00, 10:10, 10:20, then after downtime only the oldest missed slot (10:30), once.
      expect(mine).toEqual([
        '2024-05-01T10:00:00.000Z',
        '2024-05-01T10:10:00.000Z',
        '2024-05-01T10:20:00.000Z',
        '2024-05-01T10:30:00.000Z',
      ]);
      expect((await store.schedules.get(id)).nextRunAt?.toISOString()).toBe('2024-05-01T12:10:00.000Z');
    }
    expect(await store.catalog.list({ tenantId: tenant.id, limit: 1000 })).toHaveLength(6 * 4);
    const mine = children.slice(firstChild);
    const enqueuedBy = mine.map((c) => c.lines().reduce((n, l) => n + (l['enqueued'] as number), 0));
    expect(enqueuedBy.reduce((a, b) => a + b, 0)).toBe(6 * 4);
    expect(mine.flatMap((c) => c.lines().flatMap((l) => l['errors'] as unknown[]))).toEqual([]);
    await store.close();
  });
});
