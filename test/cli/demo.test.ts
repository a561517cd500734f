import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_CLI, cliBinary } from '../harness/cli.js';

describe('dbtrail demo (the README main command)', () => {
  const home = mkdtempSync(join(tmpdir(), 'dbtrail-demo-home-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('--check starts a sandbox, passes doctor, stops, and keeps its identity across runs', async () => {
    const first = await cliBinary(['demo', '--check'], { DBTRAIL_HOME: home });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Sandbox MariaDB is up on 127\.0\.0\.1:\d+/);
    expect(first.stdout).toMatch(/Ready for dbtrail/);
    expect(first.stdout).toMatch(/Sandbox stopped/);
    const serverId = readFileSync(join(home, 'sandbox', 'server-id'), 'utf8');
    expect(existsSync(join(home, 'sandbox', 'data', 'mysql'))).toBe(true);

    const second = await cliBinary(['demo', '--check'], { DBTRAIL_HOME: home });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`server_id is ${serverId}`);
  });

  it('runs the whole product: API, a first backup, capture of the sample traffic, and stops on Ctrl-C', async () => {
    const child = spawn(process.execPath, [BUILT_CLI, 'demo', '--listen', '127.0.0.1:0'], {
      env: { PATH: process.env['PATH'], HOME: home, DBTRAIL_HOME: home, DBTRAIL_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      for (let i = 0; i < 300 && !out.includes('Press Ctrl-C'); i++) await sleep(100);
      expect(out, err).toContain('Press Ctrl-C');
      const url = /Dashboard:\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
      const key = /API key:\s+(bt_live_\w+)/.exec(out)?.[1];
      expect(url).toBeDefined();
      expect(key).toBeDefined();
      const headers = { authorization: `Bearer ${key}` };

      let status = '';
      for (let i = 0; i < 200 && status !== 'succeeded'; i++) {
        const res = (await (await fetch(`${url}/api/v1/backups`, { headers })).json()) as {
          backups: { status: string }[];
        };
        status = res.backups[0]?.status ?? '';
        if (status === 'failed') break;
        await sleep(100);
      }
      expect(status).toBe('succeeded');
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);

      // The sample traffic reaches the change index through capture.
      let changes = 0;
      for (let i = 0; i < 100 && changes === 0; i++) {
        const r = await cliBinary(['status', '--json'], { DBTRAIL_HOME: home });
        const servers = JSON.parse(r.stdout) as { server: string; rowChanges: string | number }[];
        changes = Number(servers.find((x) => x.server === 'sandbox')?.rowChanges ?? 0);
        if (changes === 0) await sleep(300);
      }
      expect(changes).toBeGreaterThan(0);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('Sandbox stopped');
  });
});
