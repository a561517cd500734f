import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server/app.js';
import { dashboardRoutes } from '../../src/server/dashboard/routes.js';
import type { RunningServer } from '../../src/server/http.js';
import { artifactPath, launchChromium, watchErrors } from './browser.js';

/**
 * The recoverability timeline drawn by the browser from data a fresh test server cannot produce: several dumps
 * (one failed), two capture windows around a purged-binlog gap, and a retention horizon. The page's own module is
 * loaded from the dashboard routes and called with that data; the SVG it draws is then measured.
 */
const H = 3_600_000;
const NOW = Date.parse('2024-05-02T12:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function backup(id: string, hoursAgo: number, status: 'succeeded' | 'failed'): Record<string, unknown> {
  const started = NOW - hoursAgo * H;
  return {
    id,
    tool: 'mydumper',
    status,
    created_at: iso(started),
    started_at: iso(started),
    dump_finished_at: iso(started + 60_000),
    finished_at: iso(started + 90_000),
    duration_ms: 90_000,
    size_bytes: status === 'succeeded' ? 1_048_576 : null,
    error: status === 'failed' ? { code: 'DUMP_FAILED', message: 'Cannot dump server: access denied' } : null,
  };
}

const backups = [
  backup('b-old', 30, 'succeeded'), // before capture started: a point, not a window start
  backup('b-first', 24, 'succeeded'), // first dump inside window 1
  backup('b-failed', 18, 'failed'),
  backup('b-second', 6, 'succeeded'), // first dump inside window 2
];

const coverage = {
  windows: [
    { from: iso(NOW - 28 * H), to: iso(NOW - 15 * H) },
    { from: iso(NOW - 13 * H), to: iso(NOW - 60_000) },
  ],
  gaps: [{ from: iso(NOW - 15 * H), to: iso(NOW - 13 * H), reason: 'binlog_purged', detail: 'purged' }],
  binlog_retention_horizon: iso(NOW - 20 * H),
};

/** Runs in the page: draws a timeline with the dashboard's module and measures what it drew, in CSS pixels. */
const IN_PAGE = `
import { timelineModel, renderTimeline } from '/assets/timeline.js';
const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, width: r.width }; };
const center = (e) => { const r = e.getBoundingClientRect(); return r.x + r.width / 2; };
const mark = (e) => ({ id: e.getAttribute('data-backup-id') ?? '', x: center(e) });
globalThis.draw = (input, now) => {
  const model = timelineModel({ ...input, now });
  const svg = renderTimeline(model, { width: 900, label: 'orders-db' });
  document.body.replaceChildren(svg);
  const horizon = svg.querySelector('.tl-horizon');
  return {
    summary: model.summary,
    label: svg.getAttribute('aria-label'),
    dumps: [...svg.querySelectorAll('.tl-dump')].map(mark),
    failed: [...svg.querySelectorAll('.tl-dump-failed')].map(mark),
    bands: [...svg.querySelectorAll('.tl-band')].map(box),
    recoverable: [...svg.querySelectorAll('.tl-recoverable')].map(box),
    gaps: [...svg.querySelectorAll('.tl-gap')].map((e) => ({ ...box(e), title: e.querySelector('title')?.textContent ?? '' })),
    horizon: horizon === null ? null : center(horizon),
    width: svg.getBoundingClientRect().width,
  };
};
`;

interface Drawn {
  summary: string;
  label: string | null;
  dumps: { id: string; x: number }[];
  failed: { id: string; x: number }[];
  bands: { x: number; width: number }[];
  recoverable: { x: number; width: number }[];
  gaps: { x: number; width: number; title: string }[];
  horizon: number | null;
  width: number;
}

describe('recoverability timeline in chromium', () => {
  let browser: Browser;
  let server: RunningServer;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    const app = createApp({ routes: dashboardRoutes(), logger: pino({ level: 'silent' }) });
    server = await app.listen('127.0.0.1', 0);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 400 } });
    errors = watchErrors(page);
    // A blank page of the origin that imports the module as the dashboard does. (A module script rather than an
    // import() inside page.evaluate: the test runner rewrites dynamic imports in the functions it compiles.)
    await page.route(`${server.url}/blank`, (r) =>
      r.fulfill({
        contentType: 'text/html',
        body: '<!doctype html><link rel="stylesheet" href="/assets/dashboard.css">',
      }),
    );
    await page.goto(`${server.url}/blank`);
    await page.addScriptTag({ type: 'module', content: IN_PAGE });
    await page.waitForFunction(() => 'draw' in globalThis);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  function draw(input: { backups: unknown[]; coverage: unknown }): Promise<Drawn> {
    return page.evaluate(
      ([i, now]) => (globalThis as unknown as { draw(i: unknown, now: number): Drawn }).draw(i, now),
      [input, NOW] as const,
    );
  }

  it('draws dumps as marks, coverage as bands, the gap in red and the horizon, in time order', async () => {
    const d = await draw({ backups, coverage });
    expect(d.width).toBe(900);
    expect(d.dumps.map((m) => m.id)).toEqual(['b-old', 'b-first', 'b-second']);
    expect(d.failed.map((m) => m.id)).toEqual(['b-failed']);
    expect(d.bands).toHaveLength(2);
    expect(d.gaps).toHaveLength(1);
    expect(d.gaps[0]!.title).toMatch(/^Gap \(binlog purged\) from .* to .*: purged$/);
    const [old, first, second] = d.dumps.map((m) => m.x) as [number, number, number];
    const [band1, band2] = d.bands as [{ x: number; width: number }, { x: number; width: number }];
    const gap = d.gaps[0]!;
    // Time runs left to right: old dump, band 1, failed dump, horizon between, gap, band 2, newest dump.
    expect(old).toBeLessThan(band1.x);
    expect(first).toBeGreaterThan(band1.x);
    expect(gap.x).toBeCloseTo(band1.x + band1.width, 0);
    expect(band2.x).toBeCloseTo(gap.x + gap.width, 0);
    expect(d.horizon).not.toBeNull();
    expect(d.horizon!).toBeGreaterThan(first);
    expect(d.horizon!).toBeLessThan(d.failed[0]!.x);
    // Recoverable: from the first good dump inside each band to the band's end, not from the band's start.
    expect(d.recoverable).toHaveLength(2);
    expect(d.recoverable[0]!.x).toBeCloseTo(first, 0);
    expect(d.recoverable[0]!.x + d.recoverable[0]!.width).toBeCloseTo(band1.x + band1.width, 0);
    expect(d.recoverable[1]!.x).toBeCloseTo(second, 0);
    expect(d.summary).toMatch(/^Recoverable to any moment from .+ to .+; 1 gap in captured changes$/);
    expect(d.label).toBe(`Recoverability timeline of orders-db: ${d.summary}`);
    await page.screenshot({
      path: artifactPath('timeline.png'),
      clip: { x: 0, y: 0, width: 920, height: 150 },
    });
  });

  it('without coverage from the API, shows the dumps and says that coverage is not reported', async () => {
    const d = await draw({ backups, coverage: null });
    expect(d.dumps).toHaveLength(3);
    expect(d.bands).toHaveLength(0);
    expect(d.recoverable).toHaveLength(0);
    expect(d.horizon).toBeNull();
    expect(d.summary).toBe(
      '3 successful dumps, each restorable to the moment it was taken; captured change coverage is not reported',
    );
  });

  it('says plainly when nothing is recoverable', async () => {
    expect((await draw({ backups: [], coverage: null })).summary).toBe(
      'Not recoverable yet: no dump has been taken',
    );
    const onlyFailed = await draw({ backups: [backup('f', 2, 'failed')], coverage });
    expect(onlyFailed.summary).toBe('Not recoverable: every dump so far has failed');
    expect(onlyFailed.recoverable).toHaveLength(0);
    expect(errors).toEqual([]);
  });
});
