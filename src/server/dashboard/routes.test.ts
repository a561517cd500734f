import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { bearerAuth } from '../auth.js';
import { buildOpenApi } from '../openapi.js';
import { loadDashboardAssets } from './assets.js';
import { DashboardAssetError } from './errors.js';
import { DASHBOARD_CSP, dashboardRoutes, matchesEtag } from './routes.js';

// The auth middleware is in the stack so that the test proves the page and assets need no key.
const app = createApp({
  routes: dashboardRoutes(),
  middleware: [bearerAuth({ verifyApiKey: () => Promise.resolve(undefined) })],
});

describe('dashboard routes', () => {
  it('serves the page at / without an API key, with a strict content security policy', async () => {
    const res = await app.request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.text).toContain('<script type="module" src="/assets/dashboard.js"></script>');
  });

  it('serves every script the page imports, with a JavaScript content type', async () => {
    const seen = new Set<string>();
    const pending = ['/assets/dashboard.js'];
    while (pending.length > 0) {
      const path = pending.pop()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const res = await app.request('GET', path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
      for (const m of res.text.matchAll(/from '\.\/([a-z-]+\.js)'/g)) pending.push(`/assets/${m[1]}`);
    }
    expect([...seen].sort()).toEqual(
      [
        '/assets/api.js',
        '/assets/checks.js',
        '/assets/coverage.js',
        '/assets/dashboard.js',
        '/assets/dom.js',
        '/assets/format.js',
        '/assets/health.js',
        '/assets/timeline.js',
      ].sort(),
    );
  });

  it('serves the stylesheet and icon the page links', async () => {
    const css = await app.request('GET', '/assets/dashboard.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const icon = await app.request('GET', '/assets/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
  });

  it('answers a conditional request with 304 when the ETag matches, 200 when it does not', async () => {
    const first = await app.request('GET', '/assets/dashboard.css');
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const again = await app.request('GET', '/assets/dashboard.css', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.etag).toBe(etag);
    const other = await app.request('GET', '/assets/dashboard.css', { headers: { 'if-none-match': '"x"' } });
    expect(other.status).toBe(200);
  });

  it('answers HEAD with headers and no body', async () => {
    const res = await app.request('HEAD', '/');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(1000);
  });

  it('does not serve files outside the asset folder', async () => {
    for (const path of ['/assets/../routes.ts', '/assets/%2e%2e%2froutes.ts', '/assets/routes.ts']) {
      const res = await app.request('GET', path);
      expect(res.status, path).toBe(404);
    }
  });

  it('stays out of the OpenAPI document', () => {
    const doc = buildOpenApi(dashboardRoutes(), { title: 't', version: '1' }) as { paths: object };
    expect(Object.keys(doc.paths)).toEqual([]);
  });
});

describe('matchesEtag', () => {
  it('compares weakly and accepts lists and *', () => {
    expect(matchesEtag('"a"', '"a"')).toBe(true);
    expect(matchesEtag('W/"a"', '"a"')).toBe(true);
    expect(matchesEtag('"b", "a"', '"a"')).toBe(true);
    expect(matchesEtag('*', '"a"')).toBe(true);
    expect(matchesEtag('"b"', '"a"')).toBe(false);
  });
});

describe('loadDashboardAssets', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('fails with a clear error when the asset folder was not installed', () => {
    const missing = pathToFileURL(join(tmpdir(), 'dbtrail-no-such-assets/'));
    expect(() => loadDashboardAssets(missing)).toThrow(DashboardAssetError);
    expect(() => loadDashboardAssets(missing)).toThrow(
      /^Cannot load dashboard assets from .*dbtrail-no-such-assets/,
    );
  });

  it('refuses a folder without the page, and files it has no content type for', () => {
    dir = mkdtempSync(join(tmpdir(), 'dbtrail-assets-'));
    const url = pathToFileURL(`${dir}/`);
    writeFileSync(join(dir, 'app.js'), '');
    expect(() => loadDashboardAssets(url)).toThrow(/index\.html is missing/);
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    expect(() => loadDashboardAssets(url)).toThrow(/Cannot load dashboard asset "notes\.txt": expected/);
  });

  it('serves the bytes of the files as they are on disk', () => {
    const page = loadDashboardAssets().find((a) => a.urlPath === '/')!;
    const onDisk = readFileSync(new URL('./assets/index.html', import.meta.url));
    expect(Buffer.from(page.body).equals(onDisk)).toBe(true);
  });
});
