import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRunnerExtension, jobRunnerOf } from '../../src/agent/extension.js';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { serveControlPlane, type RunningControlPlane } from '../../src/server/control-plane.js';
import { dashboardExtension } from '../../src/server/dashboard/extension.js';
import { cli } from '../harness/cli.js';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import { artifactPath, launchChromium, watchErrors } from './browser.js';

/**
 * The dashboard end to end, as a person uses it: the real control plane (REST API, scheduler, embedded agent,
 * dashboard) over HTTP, a private MariaDB, and Debian's chromium. Sign in with a key made by the CLI, create and
 * edit a schedule, press "Back up now", watch the backup succeed in the history, and see it on the server's
 * recoverability timeline. The binlog retention of the MariaDB is set so that the timeline has a horizon to draw.
 */
const BINLOG_RETENTION_SECONDS = 2 * 86_400;

interface ScheduleJson {
  id: string;
  cron: string;
  timezone: string;
  retention_days: number;
  enabled: boolean;
  next_run_at: string | null;
}

interface BackupJson {
  id: string;
  status: string;
  size_bytes: number | null;
  duration_ms: number | null;
  server_id: string | null;
}

describe('dashboard in chromium against the real control plane', () => {
  let db: MariaDbSandbox;
  let home: string;
  let app: App;
  let running: RunningControlPlane;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let key: string;
  let keyId: string;
  let serverId: string;

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
    return JSON.parse(text) as T;
  };

  beforeAll(async () => {
    db = await startMariaDb({ extraArgs: [`--binlog-expire-logs-seconds=${BINLOG_RETENTION_SECONDS}`] });
    await db.query('CREATE DATABASE shop');
    await db.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(12,2), note VARCHAR(100))');
    await db.query(
      "INSERT INTO shop.orders VALUES (1, 19.99, 'first'), (2, 5.00, 'second'), (3, 120.50, 'third')",
    );

    home = mkdtempSync(join(tmpdir(), 'dbtrail-dashboard-'));
    const env = { DBTRAIL_HOME: home };
    const tenant = await cli(['tenant', 'create', 'acme'], env);
    expect(tenant.code, tenant.stderr).toBe(0);
    const created = await cli(['apikey', 'create', '--tenant', 'acme', '--name', 'dashboard test'], env);
    expect(created.code, created.stderr).toBe(0);
    key = created.stdout.trim();
    keyId = /Created API key (\S+)/.exec(created.stderr)![1]!;

    app = await openApp(loadConfig({ env }));
    running = await serveControlPlane(app, {
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      extensions: [
        jobRunnerExtension({ agent: { pollMs: 200 }, scheduler: { tickMs: 1_000 } }),
        dashboardExtension({
          binlogRetentionSeconds: (id, a) => jobRunnerOf(a)?.service.factsOf(id)?.binlogRetentionSeconds,
        }),
      ],
    });
    const server = await api<{ id: string }>('POST', '/servers', {
      name: 'orders-db',
      connection: { host: '127.0.0.1', port: db.port, user: db.appUser, password: db.appPassword },
    });
    serverId = server.id;

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watchErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await app?.close();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  const card = (): ReturnType<Page['locator']> => page.locator(`article[data-server-id="${serverId}"]`);

  it('refuses a wrong key on the sign-in form and explains why', async () => {
    await page.goto(running.url);
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in to dbtrail' }).isVisible()).toBe(true);
    await page.getByLabel('API key').fill(`bt_live_${'x'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('#sign-in-error');
    await expect
      .poll(() => alert.textContent())
      .toBe('Cannot authenticate request: the API key is unknown or revoked');
    expect(await page.getByLabel('API key').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#app-view').isHidden()).toBe(true);
  });

  it('signs in with a real key and shows the server, with empty states for schedules and history', async () => {
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => card().isVisible()).toBe(true);
    expect(await page.locator('#tenant').textContent()).toBe('Tenant acme');
    expect(await card().getByRole('heading', { name: 'orders-db' }).isVisible()).toBe(true);
    expect(await card().locator('.mono').first().textContent()).toBe(`${db.appUser}@127.0.0.1:${db.port}`);
    // Nothing protects it yet, and the page says so rather than calling it healthy.
    expect(await card().locator('.badge').first().textContent()).toBe('Unprotected');
    // The reason comes from the server's own `health` in the API response.
    expect(await card().textContent()).toContain('No enabled backup schedule covers this server');
    expect(await page.locator('#schedules .empty-title').textContent()).toBe('No schedules yet');
    expect(await page.locator('#backups .empty-title').textContent()).toBe('No backups yet');
    // The key stays in this tab only.
    expect(await page.evaluate("sessionStorage.getItem('dbtrail.apiKey')")).toBe(key);
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });

  it('creates a schedule, showing the field error for a bad cron first', async () => {
    await page.getByRole('button', { name: 'New schedule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New schedule' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await dialog.getByLabel('When (cron)').fill('61 3 * * *');
    await dialog.getByRole('button', { name: 'Create schedule' }).click();
    const cronError = dialog.locator('#schedule-cron-error');
    await expect.poll(() => cronError.textContent()).toMatch(/^Minute/);
    expect(await dialog.getByLabel('When (cron)').getAttribute('aria-invalid')).toBe('true');
    expect((await api<{ schedules: ScheduleJson[] }>('GET', '/schedules')).schedules).toEqual([]);

    await dialog.getByLabel('When (cron)').fill('0 3 * * *');
    await dialog.getByLabel('Time zone').fill('Europe/Paris');
    await dialog.getByLabel('Keep backups for (days)').fill('14');
    await dialog.getByRole('button', { name: 'Create schedule' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);

    const { schedules } = await api<{ schedules: ScheduleJson[] }>('GET', '/schedules');
    expect(schedules).toHaveLength(1);
    const schedule = schedules[0]!;
    expect(schedule).toMatchObject({
      cron: '0 3 * * *',
      timezone: 'Europe/Paris',
      retention_days: 14,
      enabled: true,
    });
    expect(schedule.next_run_at).not.toBeNull();
    const row = page.locator(`tr[data-schedule-id="${schedule.id}"]`);
    await expect.poll(() => row.isVisible()).toBe(true);
    const text = await row.textContent();
    expect(text).toContain('0 3 * * *');
    expect(text).toContain('Europe/Paris');
    expect(text).toContain('14 days');
    expect(text).toContain('Never run');
  });

  it('disables, re-enables and edits the schedule', async () => {
    const schedule = (await api<{ schedules: ScheduleJson[] }>('GET', '/schedules')).schedules[0]!;
    const row = page.locator(`tr[data-schedule-id="${schedule.id}"]`);
    const toggle = row.getByRole('switch', { name: /^Enabled: orders-db 0 3 \* \* \*$/ });
    expect(await toggle.isChecked()).toBe(true);
    await toggle.click();
    await expect
      .poll(async () => (await api<ScheduleJson>('GET', `/schedules/${schedule.id}`)).enabled)
      .toBe(false);
    await expect.poll(() => row.textContent()).toContain('Disabled');
    await row.getByRole('switch').click();
    await expect
      .poll(async () => (await api<ScheduleJson>('GET', `/schedules/${schedule.id}`)).enabled)
      .toBe(true);

    await row.getByRole('button', { name: /^Edit schedule/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit schedule' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.getByLabel('When (cron)').inputValue()).toBe('0 3 * * *');
    expect(await dialog.getByLabel('Server').isDisabled()).toBe(true);
    await dialog.getByLabel('Keep backups for (days)').fill('21');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await expect
      .poll(async () => (await api<ScheduleJson>('GET', `/schedules/${schedule.id}`)).retention_days)
      .toBe(21);
    await expect.poll(() => row.textContent()).toContain('21 days');
  });

  it('backs up on demand with live status, and the backup succeeds in the history with duration and size', async () => {
    const button = card().getByRole('button', { name: 'Back up now' });
    await button.click();
    // While it runs, the button cannot start a second one.
    await expect.poll(() => card().getByRole('button', { name: 'Backing up…' }).isDisabled()).toBe(true);

    const row = page.locator('#backups tr[data-status="succeeded"]');
    await expect.poll(() => row.count(), { timeout: 150_000, interval: 500 }).toBe(1);
    const backupId = (await row.getAttribute('data-backup-id'))!;
    const backup = await api<BackupJson>('GET', `/backups/${backupId}`);
    expect(backup.status).toBe('succeeded');
    expect(backup.server_id).toBe(serverId);
    expect(backup.size_bytes).toBeGreaterThan(0);
    expect(backup.duration_ms).toBeGreaterThan(0);

    const cells = await row.locator('td, th').allTextContents();
    expect(cells[0]).toBe('Succeeded');
    expect(cells[1]).toBe('orders-db');
    expect(cells[3]).toBe('On demand');
    expect(cells[5]).toMatch(/^\d+(\.\d)? (ms|s)$|min/);
    expect(cells[6]).toMatch(/^\d+(\.\d+)? (B|KiB|MiB|GiB)$/);
    await expect.poll(() => card().locator('.live').textContent()).toMatch(/^Succeeded in .+ · .+B$/);
    expect(await card().getByRole('button', { name: 'Back up now' }).isEnabled()).toBe(true);
  });

  it('draws the backup on the recoverability timeline, with the binlog retention horizon', async () => {
    const backup = (await api<{ backups: BackupJson[] }>('GET', `/backups?server_id=${serverId}`))
      .backups[0]!;
    const mark = card().locator(`svg.timeline .tl-dump[data-backup-id="${backup.id}"]`);
    await expect.poll(() => mark.count(), { timeout: 10_000 }).toBe(1);
    const svg = card().locator('svg.timeline');
    expect(await svg.getAttribute('role')).toBe('img');
    expect(await svg.getAttribute('aria-label')).toMatch(
      /^Recoverability timeline of orders-db: 1 successful dump/,
    );
    // The agent reported the server's binlog_expire_logs_seconds while backing up; the horizon is two days back.
    await expect.poll(() => card().locator('svg.timeline .tl-horizon').count(), { timeout: 35_000 }).toBe(1);
    const horizon = await card().locator('svg.timeline .tl-horizon').boundingBox();
    const dump = await mark.boundingBox();
    expect(horizon!.x).toBeLessThan(dump!.x);
    expect(await card().locator('figcaption').textContent()).toContain('no changes captured yet');

    await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('goes back to sign-in with the reason when the key is revoked', async () => {
    const revoked = await cli(['apikey', 'revoke', keyId], { DBTRAIL_HOME: home });
    expect(revoked.code, revoked.stderr).toBe(0);
    // Any refresh notices; changing a filter refreshes at once.
    await page.locator('#filter-status').selectOption('failed');
    await expect.poll(() => page.locator('#sign-in-view').isVisible()).toBe(true);
    expect(await page.locator('#sign-in-error').textContent()).toBe(
      'Cannot authenticate request: the API key is unknown or revoked',
    );
    expect(await page.evaluate("sessionStorage.getItem('dbtrail.apiKey')")).toBeNull();
  });
});
