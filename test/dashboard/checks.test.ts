import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { generateApiKey } from '../../src/server/api-keys.js';
import { serveControlPlane, type RunningControlPlane } from '../../src/server/control-plane.js';
import { dashboardExtension } from '../../src/server/dashboard/extension.js';
import { audit } from '../../src/store/audit-log.js';
import type { NewDrill } from '../../src/store/drills.js';
import { artifactPath, launchChromium, watchErrors } from './browser.js';

/**
 * Each server card's last restore drill and last drift check, in chromium against the real control plane. Drills
 * are recorded through the catalog's drill repository and drift checks as `drift.run` audit entries, the way
 * `dbtrail drill` and `dbtrail drift` record them; the page reads them through the API. Three servers: one whose
 * last drill failed and whose last drift check found drift (red), one with a passed drill and a clean check, one
 * with neither ("None yet").
 */
const MIN = 60_000;
/** The one browser global the tests call; the project's types have no DOM library. */
interface InPage {
  getComputedStyle(element: unknown): { getPropertyValue(property: string): string };
}
const RED = 'rgb(179, 38, 30)'; // --bad in the light scheme
const GREEN = 'rgb(29, 122, 70)'; // --ok

describe('dashboard: last restore drill and last drift check per server', () => {
  let home: string;
  let app: App;
  let running: RunningControlPlane;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let key: string;
  let tenantId: string;
  const ids: Record<string, string> = {};

  const createServer = async (name: string): Promise<string> => {
    const res = await fetch(`${running.url}/api/v1/servers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, connection: { host: '127.0.0.1', user: 'app' } }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };

  const drill = (serverId: string, minutesAgo: number, passed: boolean): NewDrill => {
    const finished = new Date(Date.now() - minutesAgo * MIN);
    return {
      tenantId,
      serverId,
      backupId: passed ? '7c0e5a31-0000-4000-8000-000000000001' : '9f1d2b44-0000-4000-8000-000000000002',
      status: passed ? 'passed' : 'failed',
      startedAt: new Date(finished.getTime() - 2 * MIN),
      finishedAt: finished,
      rtoMs: passed ? 81_000 : null,
      coordinates: { file: 'mariadb-bin.000003', position: 1_048_576, gtid: '0-1-77' },
      steps: [{ step: 'load', ms: 60_000 }],
      tables: [
        {
          table: 'shop.orders',
          sourceRows: '3',
          scratchRows: passed ? '3' : '2',
          sourceChecksum: '111',
          scratchChecksum: passed ? '111' : '222',
          match: passed,
        },
      ],
      error: passed ? null : 'Table shop.orders differs on the scratch server: 2 rows, expected 3',
    };
  };

  const driftRun = (serverId: string, status: 'clean' | 'drift', rows: number, tables: number) =>
    audit(app.store, {
      tenantId,
      actor: { kind: 'cli', id: 'ops' },
      action: 'drift.run',
      target: serverId,
      outcome: status === 'clean' ? 'success' : 'failure',
      details: {
        server_id: serverId,
        server_name: 'n/a',
        mode: 'live',
        status,
        backup_id: '7c0e5a31-0000-4000-8000-000000000001',
        compared_backup_id: null,
        file: 'mariadb-bin.000004',
        position: 4,
        gtid: '0-1-80',
        tables: 2,
        drifted_tables: tables,
        drifted_rows: rows,
      },
    });

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'dbtrail-dashboard-checks-'));
    app = await openApp(loadConfig({ env: { DBTRAIL_HOME: home } }));
    running = await serveControlPlane(app, {
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      extensions: [dashboardExtension()],
    });
    tenantId = (await app.store.tenants.create('acme')).id;
    const k = generateApiKey();
    await app.store.apiKeys.create({ tenantId, name: 'dashboard', prefix: k.prefix, keyHash: k.hash });
    key = k.key;

    ids['alerting'] = await createServer('billing-db');
    ids['healthy'] = await createServer('orders-db');
    ids['fresh'] = await createServer('users-db');
    // billing-db: an older passed drill and clean check, then the newest ones failed; the card shows the newest.
    await app.store.drills.record(drill(ids['alerting'], 90, true));
    await app.store.drills.record(drill(ids['alerting'], 20, false));
    await driftRun(ids['alerting'], 'clean', 0, 0);
    await driftRun(ids['alerting'], 'drift', 3, 1);
    await app.store.drills.record(drill(ids['healthy'], 10, true));
    await driftRun(ids['healthy'], 'clean', 0, 0);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    await page.emulateMedia({ colorScheme: 'light' });
    errors = watchErrors(page);
    await page.goto(running.url);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await app?.close();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  const card = (which: string): Locator => page.locator(`article[data-server-id="${ids[which]}"]`);
  const check = (which: string, kind: 'drill' | 'drift'): Locator =>
    card(which).locator(`[data-check="${kind}"]`);
  /** A computed style property of the element, as the browser resolved it. */
  const color = (l: Locator, property: string): Promise<string> =>
    l.evaluate((e, p) => (globalThis as unknown as InPage).getComputedStyle(e).getPropertyValue(p), property);

  it('shows a failed last drill in red with when it ran, the backup and the reason', async () => {
    const fact = check('alerting', 'drill');
    await expect.poll(() => fact.count(), { timeout: 15_000 }).toBe(1);
    expect(await fact.getAttribute('data-state')).toBe('bad');
    expect(await fact.locator('dt').textContent()).toBe('Last restore drill');
    const text = await fact.locator('dd').textContent();
    expect(text).toContain('Failed');
    expect(text).toContain('20 minutes ago');
    expect(text).toContain('backup 9f1d2b44');
    expect(text).toContain('1 table differing');
    expect(text).toContain('Table shop.orders differs on the scratch server: 2 rows, expected 3');
    // A failed drill has no RTO to show.
    expect(text).not.toContain('RTO');
    const badge = fact.locator('.badge');
    expect(await badge.textContent()).toBe('Failed');
    expect(await color(badge, 'color')).toBe(RED);
    expect(await color(fact, 'border-left-color')).toBe(RED);
  });

  it('shows drift found in red with the drifted rows and tables', async () => {
    const fact = check('alerting', 'drift');
    expect(await fact.getAttribute('data-state')).toBe('bad');
    expect(await fact.locator('dt').textContent()).toBe('Last drift check');
    const text = await fact.locator('dd').textContent();
    expect(text).toContain('Drift found');
    expect(text).toContain('just now');
    expect(text).toContain('3 rows in 1 table drifted');
    expect(await color(fact.locator('.badge'), 'color')).toBe(RED);
    expect(await color(fact, 'border-left-color')).toBe(RED);
  });

  it('shows a passed drill with its RTO and a clean drift check in green', async () => {
    const drillFact = check('healthy', 'drill');
    await expect.poll(() => drillFact.count()).toBe(1);
    expect(await drillFact.getAttribute('data-state')).toBe('ok');
    const text = await drillFact.locator('dd').textContent();
    expect(text).toContain('Passed');
    expect(text).toContain('10 minutes ago');
    expect(text).toContain('RTO 1 min 21 s');
    expect(text).toContain('backup 7c0e5a31');
    expect(await color(drillFact.locator('.badge'), 'color')).toBe(GREEN);

    const driftFact = check('healthy', 'drift');
    expect(await driftFact.getAttribute('data-state')).toBe('ok');
    expect(await driftFact.locator('dd').textContent()).toContain('Clean');
    expect(await driftFact.locator('dd').textContent()).toContain('No drifted rows');
    expect(await color(driftFact, 'border-left-color')).toBe(GREEN);
  });

  it('says "None yet" for a server without drills or drift checks', async () => {
    for (const kind of ['drill', 'drift'] as const) {
      const fact = check('fresh', kind);
      await expect.poll(() => fact.count()).toBe(1);
      expect(await fact.getAttribute('data-state')).toBe('none');
      expect(await fact.locator('dd').textContent()).toBe('None yet');
      expect(await fact.locator('.badge').count()).toBe(0);
    }
  });

  it('renders without page errors; screenshot saved', async () => {
    await page.screenshot({ path: artifactPath('dashboard-checks.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
