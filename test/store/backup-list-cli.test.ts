import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import type { BackupJson } from '../../src/store/catalog.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { cli } from '../harness/cli.js';

const home = mkdtempSync(join(tmpdir(), 'dbtrail-backup-list-'));
const env = { DBTRAIL_HOME: home };
afterAll(() => rmSync(home, { recursive: true, force: true }));

const ids: Record<string, string> = {};

beforeAll(async () => {
  const clock = new ManualClock('2024-05-01T10:00:00Z');
  const store = await openSqliteStateStore({ path: join(home, 'dbtrail.db'), clock });
  const tenant = await store.tenants.ensure('default');
  const other = await store.tenants.ensure('other');
  const take = async (server: string, outcome: 'succeeded' | 'failed' | 'running', tenantId = tenant.id) => {
    clock.advance(60_000);
    const b = await store.catalog.create({
      tenantId,
      serverName: server,
      tool: 'mydumper',
      status: 'running',
    });
    if (outcome === 'running') return b.id;
    clock.advance(75_000);
    await store.catalog.transition(b.id, 'uploading', {
      coordinates: { file: 'binlog.000007', position: 4711, gtid: '0-1-42' },
      sizeBytes: 5 * 1024 * 1024,
    });
    clock.advance(5_000);
    if (outcome === 'failed') {
      await store.catalog.transition(b.id, 'failed', {
        error: {
          code: 'OBJECTS_UPLOAD_FAILED',
          message: 'Cannot upload dump/app.users.sql: connection reset',
        },
      });
    } else {
      await store.catalog.transition(b.id, 'succeeded', {
        location: `file://${home}/objects/default/${server}/`,
      });
    }
    return b.id;
  };
  ids['a1'] = await take('alpha', 'succeeded');
  ids['b1'] = await take('beta', 'failed');
  ids['a2'] = await take('alpha', 'running');
  ids['o1'] = await take('alpha', 'succeeded', other.id);
  await store.close();
});

describe('dbtrail backup list', () => {
  it('prints the tenant’s backups newest first as a table', async () => {
    const r = await cli(['backup', 'list'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^ID\s+SERVER\s+TOOL\s+STATUS\s+STARTED \(UTC\)\s+DURATION\s+SIZE\s+COORDINATES$/,
    );
    expect([lines[1], lines[2], lines[4]].map((l) => l!.slice(0, 8))).toEqual(
      [ids['a2']!, ids['b1']!, ids['a1']!].map((id) => id.slice(0, 8)),
    );
    expect(lines[1]).toMatch(/alpha\s+mydumper\s+running\s+2024-05-01 10:05\s+-\s+-\s+-$/);
    expect(lines[2]).toMatch(
      /beta\s+mydumper\s+failed\s+2024-05-01 10:03\s+1:20\s+5\.00 MiB\s+binlog\.000007:4711 0-1-42$/,
    );
    expect(lines[3]).toBe('          error: Cannot upload dump/app.users.sql: connection reset');
    expect(lines[4]).toMatch(/alpha\s+mydumper\s+succeeded\s+2024-05-01 10:01\s+1:20\s+5\.00 MiB/);
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(120);
    expect(r.stdout).not.toContain(ids['o1']!.slice(0, 8));
  });

  it('filters by server and status and limits, as JSON', async () => {
    const r = await cli(['backup', 'list', '--server-name', 'alpha', '--json'], env);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as BackupJson[];
    expect(list.map((b) => b.id)).toEqual([ids['a2'], ids['a1']]);
    expect(list[1]).toMatchObject({
      tenant: 'default',
      server_name: 'alpha',
      status: 'succeeded',
      duration_ms: 80_000,
      size_bytes: 5 * 1024 * 1024,
      coordinates: { file: 'binlog.000007', position: 4711, gtid: '0-1-42' },
      started_at: '2024-05-01T10:01:00.000Z',
      finished_at: '2024-05-01T10:02:20.000Z',
    });
    const failed = JSON.parse(
      (await cli(['backup', 'list', '--status', 'failed', '--json'], env)).stdout,
    ) as BackupJson[];
    expect(failed.map((b) => b.id)).toEqual([ids['b1']]);
    const one = JSON.parse(
      (await cli(['backup', 'list', '--limit', '1', '--json'], env)).stdout,
    ) as BackupJson[];
    expect(one.map((b) => b.id)).toEqual([ids['a2']]);
  });

  it('lists another tenant only when configured for it', async () => {
    const r = await cli(['backup', 'list', '--json'], { ...env, DBTRAIL_TENANT: 'other' });
    expect((JSON.parse(r.stdout) as BackupJson[]).map((b) => b.id)).toEqual([ids['o1']]);
    const none = await cli(['backup', 'list'], { ...env, DBTRAIL_TENANT: 'nobody' });
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('No backups for tenant "nobody" match\n');
  });

  it('rejects bad flags with a usage error', async () => {
    const r = await cli(['backup', 'list', '--status', 'done'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--status must be one of queued, running, uploading, succeeded, failed, got "done"/,
    );
    const l = await cli(['backup', 'list', '--limit', '0'], env);
    expect(l.code).toBe(2);
  });
});
