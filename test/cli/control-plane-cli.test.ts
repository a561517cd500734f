import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { cli } from '../harness/cli.js';

const home = mkdtempSync(join(tmpdir(), 'dbtrail-control-plane-cli-'));
const env = { DBTRAIL_HOME: home };
afterAll(() => rmSync(home, { recursive: true, force: true }));

function raw<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(join(home, 'dbtrail.db'), { timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

let key = '';
let tenantId = '';

describe('dbtrail tenant and apikey', () => {
  it('creates a tenant and prints its id alone', async () => {
    const r = await cli(['tenant', 'create', 'acme'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\n$/);
    tenantId = r.stdout.trim();
    const again = await cli(['tenant', 'create', 'acme'], env);
    expect(again.code).toBe(8);
    expect(again.stderr).toBe('dbtrail: Cannot create tenant "acme": a tenant of that name exists\n');
    const bad = await cli(['tenant', 'create', '../etc'], env);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^dbtrail: Cannot use tenant name "..\/etc": expected 1 to 63 letters/);
  });

  it('prints a new key once; only its hash is stored', async () => {
    const r = await cli(['apikey', 'create', '--tenant', 'acme', '--name', 'ci'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^bt_live_[0-9A-Za-z]{43}\n$/);
    key = r.stdout.trim();
    expect(r.stderr).toMatch(
      /^Created API key [0-9a-f-]{36} \(bt_live_[0-9A-Za-z]{6}\.\.\.\) for tenant "acme"\. It is shown only once: store it now\.\n$/,
    );
    const rows = raw((db) => db.prepare('SELECT * FROM api_keys').all()) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      tenant_id: tenantId,
      name: 'ci',
      prefix: key.slice(0, 14),
      key_hash: createHash('sha256').update(key).digest('hex'),
    });
    expect(JSON.stringify(rows)).not.toContain(key.slice(14));

    const missing = await cli(['apikey', 'create', '--tenant', 'nope'], env);
    expect(missing.code).toBe(7);
    expect(missing.stderr).toBe(
      'dbtrail: Cannot create API key: no tenant named "nope"; create it with dbtrail tenant create nope\n',
    );
    const noFlag = await cli(['apikey', 'create'], env);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toMatch(/missing required flag --tenant/);
  });

  it('lists keys by prefix, never the key', async () => {
    const r = await cli(['apikey', 'list', '--tenant', 'acme'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+PREFIX\s+NAME\s+CREATED\s+LAST USED\s+STATUS$/);
    expect(lines[1]).toContain(`${key.slice(0, 14)}...`);
    expect(lines[1]).toMatch(/ci\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+never\s+active$/);
    expect(r.stdout).not.toContain(key);
    const asJson = await cli(['apikey', 'list', '--tenant', 'acme', '--json'], env);
    expect(JSON.parse(asJson.stdout)).toEqual([
      {
        id: expect.any(String),
        prefix: key.slice(0, 14),
        name: 'ci',
        created_at: expect.any(String),
        last_used_at: null,
        revoked_at: null,
      },
    ]);
  });
});

describe('dbtrail server', () => {
  it('serves the API on the address given until it is signalled, then stops', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const controller = new AbortController();
    const exit = runCli(['server', '--listen', '127.0.0.1:0'], {
      env: { ...env, DBTRAIL_LOG_LEVEL: 'warn' },
      stdout,
      stderr,
      signal: controller.signal,
    });
    const deadline = Date.now() + 20_000;
    while (!/listening on (\S+)\n/.test(out)) {
      if (Date.now() > deadline) throw new Error(`server did not start: ${out} ${err}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const url = /listening on (\S+)\n/.exec(out)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const me = await fetch(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { tenant: { name: string } }).tenant.name).toBe('acme');
    expect((await fetch(`${url}/api/v1/servers`)).status).toBe(401);

    // Revoked from the CLI while the server runs: the key stops working at once.
    const revoke = await cli(['apikey', 'revoke', key.slice(0, 14)], env);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(
      /^Revoked: API key [0-9a-f-]{36} \(bt_live_\w{6}\.\.\.\) of tenant "acme"\n$/,
    );
    const after = await fetch(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
    expect(after.status).toBe(401);

    controller.abort();
    expect(await exit).toBe(0);
    expect(out).toContain('dbtrail server stopping\n');
    expect(err).toBe('');
    await expect(fetch(`${url}/api/v1/openapi.json`)).rejects.toThrow();

    const list = await cli(['apikey', 'list', '--tenant', 'acme', '--json'], env);
    const [listed] = JSON.parse(list.stdout) as { last_used_at: string | null; revoked_at: string | null }[];
    expect(listed?.last_used_at).not.toBeNull();
    expect(listed?.revoked_at).not.toBeNull();
    const twice = await cli(['apikey', 'revoke', key.slice(0, 14)], env);
    expect(twice.stdout).toMatch(/^Already revoked: /);
    const unknown = await cli(['apikey', 'revoke', 'bt_live_zzzzzz'], env);
    expect(unknown.code).toBe(7);
  });

  it('refuses a malformed listen address', async () => {
    const r = await cli(['server', '--listen', 'localhost'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'dbtrail: Cannot listen on "localhost": expected HOST:PORT such as 127.0.0.1:8420 or [::1]:8420, with a port up to 65535\n',
    );
  });
});
