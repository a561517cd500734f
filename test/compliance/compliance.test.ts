import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRunnerExtension } from '../../src/agent/extension.js';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { ReportJson } from '../../src/compliance/report.js';
import { serveControlPlane, type RunningControlPlane } from '../../src/server/control-plane.js';
import { dashboardExtension } from '../../src/server/dashboard/extension.js';
import { artifactPath, launchChromium, watchErrors } from '../dashboard/browser.js';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';

/**
 * Compliance checkpoints end to end, on the real control plane with a private MariaDB and chromium: a backup taken
 * through the API by the embedded agent is signed with the home's Ed25519 key and verifies; every step lands in
 * the hash-chained audit log under its actor; the coverage (recoverable window from that backup over captured
 * changes, binlog retention the agent reported and persisted, dump warnings) shows in `status` and on the
 * dashboard; the auditor's report renders in chromium; and tampering with a manifest or the audit log is caught
 * with exit code 9. The dashboard extension is given no in-memory retention callback on purpose: what it shows
 * comes from the stored server facts.
 */
const RETENTION = 2 * 86_400;

interface BackupJson {
  id: string;
  status: string;
  location: string | null;
}

describe('compliance checkpoints against the real control plane', () => {
  let db: MariaDbSandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let app: App;
  let running: RunningControlPlane;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let key: string;
  let keyId: string;
  let serverId: string;
  let backup: BackupJson;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${running.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
  const stream = async (): Promise<void> => {
    const r = await cli(
      ['stream', '--dsn', db.dsnWithoutPassword, '--server-name', 'orders-db', '--stop-at-end'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
  };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    db = await startMariaDb({ extraArgs: [`--binlog-expire-logs-seconds=${RETENTION}`] });
    await db.query('CREATE DATABASE shop');
    await db.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(12,2))');
    home = mkdtempSync(join(tmpdir(), 'dbtrail-compliance-'));
    env = { DBTRAIL_HOME: home, DBTRAIL_TENANT: 'acme', DBTRAIL_SOURCE_PASSWORD: db.appPassword };
    expect((await cli(['tenant', 'create', 'acme'], env)).code).toBe(0);
    const created = await cli(['apikey', 'create', '--tenant', 'acme', '--name', 'compliance'], env);
    expect(created.code, created.stderr).toBe(0);
    key = created.stdout.trim();
    keyId = /Created API key (\S+)/.exec(created.stderr)![1]!;

    app = await openApp(loadConfig({ env }));
    running = await serveControlPlane(app, {
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      extensions: [jobRunnerExtension({ agent: { pollMs: 200 }, scheduler: false }), dashboardExtension()],
    });
    serverId = (
      await api<{ id: string }>('POST', '/servers', {
        name: 'orders-db',
        connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: db.appPassword },
      })
    ).id;
    await api('POST', '/schedules', { server_id: serverId, cron: '0 3 * * *', retention_days: 14 });

    // Capture before and after the backup, with a second between each step: binlog commit times have whole
    // seconds, and the recoverable window must start after the dump and end after it.
    await stream();
    await db.query('INSERT INTO shop.orders VALUES (1, 10.00), (2, 20.00)');
    await stream();
    await pause(1100);
    const accepted = await api<{ backup_id: string }>('POST', '/backup', { server_id: serverId });
    const deadline = Date.now() + 150_000;
    for (;;) {
      const status = (await api<BackupJson>('GET', `/backups/${accepted.backup_id}`)).status;
      if (status === 'succeeded') break;
      if (status === 'failed' || Date.now() > deadline) throw new Error(`The backup ended ${status}`);
      await pause(500);
    }
    backup = await api<BackupJson>('GET', `/backups/${accepted.backup_id}`);
    // Two seconds: the window after the dump then spans at least one whole second.
    await pause(2100);
    await db.query('INSERT INTO shop.orders VALUES (3, 30.00)');
    await stream();

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    errors = watchErrors(page);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await app?.close();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  it('signs the manifest of an agent-run backup, and backup verify checks the signature', async () => {
    const shown = await cli(['key', 'show', '--json'], env);
    expect(shown.code, shown.stderr).toBe(0);
    const pub = JSON.parse(shown.stdout) as { key_id: string; public_key: string; public_key_pem: string };
    expect(shown.stdout).not.toContain('PRIVATE');
    const manifest = JSON.parse(
      readFileSync(join(fileURLToPath(backup.location!), 'manifest.json'), 'utf8'),
    ) as {
      version: number;
      signature: { key_id: string; public_key: string };
    };
    expect(manifest.version).toBe(2);
    expect(manifest.signature).toMatchObject({ key_id: pub.key_id, public_key: pub.public_key });

    const verified = await cli(['backup', 'verify', backup.id, '--require-signature'], env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`manifest signed by trusted key ${pub.key_id}`);
  });

  it('persists the binlog retention the agent reported, for status and the dashboard', async () => {
    const facts = await app.store.serverFacts.get(serverId);
    expect(facts).toMatchObject({ binlogRetentionSeconds: RETENTION, flavor: 'mariadb' });
  });

  it('status shows the recoverable window from the backup, the retention horizon and the dump warning', async () => {
    const r = await cli(['status', '--server-name', 'orders-db', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const [status] = JSON.parse(r.stdout) as {
      coverage: {
        recoverable_windows: { from: string; to: string; backup_id: string }[];
        binlog_retention_seconds: number;
        binlog_retention_horizon: string;
        good_dumps: number;
        warnings: { code: string }[];
      };
      windows: { from: string; to: string }[];
    }[];
    expect(status!.windows).toHaveLength(1);
    expect(status!.coverage.recoverable_windows).toHaveLength(1);
    const w = status!.coverage.recoverable_windows[0]!;
    expect(w.backup_id).toBe(backup.id);
    expect(w.to).toBe(status!.windows[0]!.to);
    expect(Date.parse(w.from)).toBeGreaterThan(Date.parse(status!.windows[0]!.from));
    expect(status!.coverage.binlog_retention_seconds).toBe(RETENTION);
    expect(Date.now() - Date.parse(status!.coverage.binlog_retention_horizon)).toBeGreaterThanOrEqual(
      RETENTION * 1000 - 60_000,
    );
    expect(status!.coverage.good_dumps).toBe(1);
    expect(status!.coverage.warnings.map((x) => x.code)).toEqual(['fewer_than_two_retention_cycles']);

    const human = await cli(['status', '--server-name', 'orders-db'], env);
    expect(human.stdout).toMatch(/Recoverable\s+1\n\s+- .* to .* \(from backup /);
    expect(human.stdout).toMatch(/Binlog kept\s+2d: binlogs before .* UTC may be gone/);
    expect(human.stdout).toContain('WARNING: Only 1 good dump in the last two binlog retention cycles (4d)');
  });

  it('the dashboard shows the recoverable window, the retention and the warning', async () => {
    await page.goto(running.url);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const facts = page.locator(`#server-${serverId}-coverage`);
    await expect.poll(() => facts.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await facts.locator('[data-coverage="retention"]').textContent()).toMatch(
      /^Binlog retention on the server: 2 days; binlogs before .+ may be gone$/,
    );
    expect(await facts.locator('[data-coverage="recoverable"]').textContent()).toMatch(
      /^Recoverable: .+ to .+$/,
    );
    expect(await facts.locator('[data-coverage="newest-dump"]').textContent()).toMatch(/\(1 good in all\)$/);
    const warning = page.locator(
      `article[data-server-id="${serverId}"] [data-warning="fewer_than_two_retention_cycles"]`,
    );
    expect(await warning.isVisible()).toBe(true);
    expect(await warning.getAttribute('role')).toBe('alert');
    const coverage = await api<{ warnings: { code: string }[]; recoverable_windows: unknown[] }>(
      'GET',
      `/servers/${serverId}/coverage`,
    );
    expect(coverage.recoverable_windows).toHaveLength(1);
    await page.screenshot({ path: artifactPath('dashboard-coverage.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('writes the report as JSON with backups, verification, drills, gaps and the recoverable window', async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const r = await cli(
      ['report', '--server-name', 'orders-db', '--from', from, '--to', to, '--format', 'json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ReportJson;
    expect(report).toMatchObject({
      report_version: 1,
      tenant: 'acme',
      server: { id: serverId, name: 'orders-db' },
      summary: {
        backups_taken: 1,
        backups_succeeded: 1,
        backups_failed: 0,
        backups_verified_ok: 1,
        backups_never_verified: 0,
        drills_passed: 0,
        gaps: 0,
      },
      drills: [],
      drift_checks: [],
      gaps: [],
      audit_chain: { ok: true, problems: [] },
    });
    expect(report.backups[0]).toMatchObject({
      id: backup.id,
      status: 'succeeded',
      verification: { outcome: 'success', signature: 'valid' },
    });
    expect(report.recoverable_windows).toEqual([expect.objectContaining({ backup_id: backup.id })]);
    // A few seconds of a two-hour period: captured changes end right after the backup.
    expect(report.summary.recoverable_seconds).toBeGreaterThanOrEqual(1);
    expect(report.summary.recoverable_per_mille).toBeLessThan(10);
    expect(report.period.seconds).toBe(7200);
    expect(report.signing_key?.key_id).toMatch(/^[0-9a-f]{16}$/);
    expect(report.coverage_now.warnings.map((w) => w.code)).toEqual(['fewer_than_two_retention_cycles']);

    const bad = await cli(['report', '--server-name', 'orders-db', '--from', to, '--to', from], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--to .* must be after --from/);
  });

  it('renders the HTML report self-contained in chromium (screenshot artifact)', async () => {
    const out = join(home, 'report.html');
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const r = await cli(
      ['report', '--server-name', 'orders-db', '--from', from, '--to', to, '--output', out],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(out, 'utf8');
    // Self-contained: no scripts, stylesheets, images or fonts from anywhere.
    expect(html).not.toMatch(/<script|<link|<img|url\(|@import/i);
    const requests: string[] = [];
    const reportPage = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    reportPage.on('request', (req) => requests.push(req.url()));
    await reportPage.goto(`file://${out}`);
    expect(await reportPage.locator('h1').textContent()).toBe('Compliance report: server orders-db');
    expect(await reportPage.locator('#verdict').textContent()).toBe('No problems found in the period');
    expect(await reportPage.locator('table').first().textContent()).toContain(backup.id);
    expect(await reportPage.getByText('No drills recorded').isVisible()).toBe(true);
    expect(await reportPage.getByText('No drift checks recorded').isVisible()).toBe(true);
    expect(await reportPage.locator('.bar i').count()).toBe(1);
    expect(requests).toEqual([`file://${out}`]);
    await reportPage.screenshot({ path: artifactPath('compliance-report.png'), fullPage: true });
    await reportPage.close();
    // Never overwritten.
    const again = await cli(
      ['report', '--server-name', 'orders-db', '--from', from, '--to', to, '--output', out],
      env,
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('the file exists');
  });

  it('counts recorded drills in the report', async () => {
    const tenantId = (await app.store.tenants.findByName('acme'))!.id;
    const now = Date.now();
    await app.store.drills.record({
      tenantId,
      serverId,
      backupId: backup.id,
      status: 'passed',
      startedAt: new Date(now - 60_000),
      finishedAt: new Date(now - 30_000),
      rtoMs: 25_000,
      coordinates: null,
      steps: [],
      tables: [],
      error: null,
    });
    const from = new Date(now - 3_600_000).toISOString();
    const to = new Date(now + 3_600_000).toISOString();
    const r = await cli(
      ['report', '--server-name', 'orders-db', '--from', from, '--to', to, '--format', 'json'],
      env,
    );
    const report = JSON.parse(r.stdout) as ReportJson;
    expect(report.summary).toMatchObject({ drills_passed: 1, drills_failed: 0 });
    expect(report.drills[0]).toMatchObject({
      outcome: 'success',
      details: { backup_id: backup.id, rto_ms: 25_000 },
    });
  });

  it('records every operation in the audit log with its actor', async () => {
    const schedule = (await api<{ schedules: { id: string }[] }>('GET', '/schedules')).schedules[0]!;
    await api('PATCH', `/schedules/${schedule.id}`, { retention_days: 30 });
    await fetch(`${running.url}/api/v1/schedules/${schedule.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${key}` },
    });
    const r = await cli(['audit', 'list', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const entries = JSON.parse(r.stdout) as {
      action: string;
      actor_kind: string;
      actor_id: string;
      target: string;
      outcome: string;
      details: Record<string, unknown>;
    }[];
    const by = (action: string) => entries.filter((e) => e.action === action);
    expect(by('apikey.create')[0]).toMatchObject({ actor_kind: 'cli', target: keyId });
    expect(by('schedule.create')[0]).toMatchObject({ actor_kind: 'api_key', actor_id: keyId });
    expect(by('schedule.update')[0]).toMatchObject({
      actor_kind: 'api_key',
      target: schedule.id,
      details: expect.objectContaining({
        retention_days: 30,
        before: expect.objectContaining({ retention_days: 14 }),
      }),
    });
    expect(by('schedule.delete')[0]).toMatchObject({ actor_kind: 'api_key', target: schedule.id });
    expect(by('backup.request')[0]).toMatchObject({
      actor_kind: 'api_key',
      actor_id: keyId,
      target: backup.id,
    });
    expect(by('backup.run')[0]).toMatchObject({ actor_kind: 'agent', target: backup.id, outcome: 'success' });
    expect(by('backup.verify')[0]).toMatchObject({
      actor_kind: 'cli',
      target: backup.id,
      outcome: 'success',
    });
    // The key was created outside any tenant: listed with --all-tenants.
    const all = JSON.parse((await cli(['audit', 'list', '--all-tenants', '--json'], env)).stdout) as {
      action: string;
    }[];
    expect(all.map((e) => e.action)).toContain('signing_key.create');
    const ok = await cli(['audit', 'verify'], env);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^Audit log OK: \d+ entries, head \d+:[0-9a-f]{64}\n$/);
  });

  it('fails verify with exit 9 on a manifest modified after signing, and on a key not trusted here', async () => {
    // Another dbtrail home does not know this home's key...
    const otherHome = mkdtempSync(join(tmpdir(), 'dbtrail-compliance-other-'));
    try {
      const otherEnv = { DBTRAIL_HOME: otherHome };
      const unknown = await cli(['backup', 'verify', backup.location!], otherEnv);
      expect(unknown.code, unknown.stdout).toBe(9);
      expect(unknown.stdout).toMatch(
        /signature unknown key: the manifest is signed by key [0-9a-f]{16}, which is not trusted here/,
      );
      // ...until it trusts it, as an auditor would after `dbtrail key show` on the source.
      const pub = (JSON.parse((await cli(['key', 'show', '--json'], env)).stdout) as { public_key: string })
        .public_key;
      expect((await cli(['key', 'trust', pub], otherEnv)).code).toBe(0);
      expect((await cli(['backup', 'verify', backup.location!], otherEnv)).code).toBe(0);
    } finally {
      rmSync(otherHome, { recursive: true, force: true });
    }

    const file = join(fileURLToPath(backup.location!), 'manifest.json');
    const original = readFileSync(file, 'utf8');
    const m = JSON.parse(original) as { coordinates: { position: number } };
    m.coordinates.position += 1;
    writeFileSync(file, JSON.stringify(m, null, 2));
    const tampered = await cli(['backup', 'verify', backup.id], env);
    expect(tampered.code, tampered.stdout).toBe(9);
    expect(tampered.stdout).toMatch(
      /signature invalid: the signature by key [0-9a-f]{16} does not match the manifest: it was modified after signing/,
    );
    writeFileSync(file, original);
  });

  it('audit verify exits 9 on an entry edited in the SQLite file', async () => {
    const sqlite = new Database(join(home, 'dbtrail.db'), { timeout: 10_000 });
    try {
      sqlite.prepare("UPDATE audit_log SET actor_id = 'someone-else' WHERE action = 'backup.request'").run();
    } finally {
      sqlite.close();
    }
    const r = await cli(['audit', 'verify', '--json'], env);
    expect(r.code).toBe(9);
    const result = JSON.parse(r.stdout) as { ok: boolean; problems: { kind: string }[] };
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.kind)).toEqual(['edited']);
  });
});
