import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliBinary } from '../harness/cli.js';

describe('dbtrail demo (the README main command)', () => {
  const home = mkdtempSync(join(tmpdir(), 'dbtrail-demo-home-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('starts a sandbox, passes doctor, stops, and keeps its identity across runs', async () => {
    const first = await cliBinary(['demo'], { DBTRAIL_HOME: home });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Sandbox MariaDB is up on 127\.0\.0\.1:\d+/);
    expect(first.stdout).toMatch(/Ready for dbtrail/);
    expect(first.stdout).toMatch(/Sandbox stopped/);
    const serverId = readFileSync(join(home, 'sandbox', 'server-id'), 'utf8');
    expect(existsSync(join(home, 'sandbox', 'data', 'mysql'))).toBe(true);

    const second = await cliBinary(['demo'], { DBTRAIL_HOME: home });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`server_id is ${serverId}`);
  });
});
