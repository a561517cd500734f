import { empty, type ApiResponse } from '../response.js';
import { route, type Route } from '../router.js';
import { loadDashboardAssets, type DashboardAsset } from './assets.js';

/**
 * The dashboard's routes: the page at `/` and its scripts, styles and icon under `/assets/`. They are public
 * (the page asks for an API key and sends it with each API call itself) and left out of the OpenAPI document.
 * Mount them beside the API routes of the control plane.
 */
export interface DashboardOptions {
  /** Where the asset files are; the folder beside this module by default. */
  readonly assetDir?: URL;
}

/**
 * The page may load only its own scripts, styles and images and talk only to its own origin: nothing inline, so
 * data shown on the page can never run as code. It cannot be framed (clickjacking a "Back up now" button) and has
 * no use for form submission or plugins.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SHARED_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  // Revalidate on every load: the files are tiny and must match the server's API after an upgrade.
  'cache-control': 'no-cache',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

export function dashboardRoutes(options: DashboardOptions = {}): readonly Route[] {
  const assets = loadDashboardAssets(options.assetDir);
  return Object.freeze(
    assets.map((asset) =>
      route({
        method: 'GET',
        path: asset.urlPath,
        operationId: `dashboard:${asset.file}`,
        summary: asset.urlPath === '/' ? 'The dashboard page' : `Dashboard asset ${asset.file}`,
        tags: ['dashboard'],
        auth: 'none',
        hidden: true,
        responses: {
          200: { description: asset.file, contentType: asset.contentType },
          304: { description: 'Not modified' },
        },
        handle: (_input, ctx) => serveAsset(asset, ctx.headers['if-none-match']),
      }),
    ),
  );
}

function serveAsset(asset: DashboardAsset, ifNoneMatch: string | undefined): ApiResponse {
  const headers: Record<string, string> = { ...SHARED_HEADERS, etag: asset.etag };
  if (asset.urlPath === '/') headers['content-security-policy'] = DASHBOARD_CSP;
  if (ifNoneMatch !== undefined && matchesEtag(ifNoneMatch, asset.etag)) return empty(304, headers);
  return { status: 200, headers: { ...headers, 'content-type': asset.contentType }, body: asset.body };
}

/** RFC 9110 section 13.1.2: If-None-Match is `*` or a list of entity tags, compared weakly (W/ ignored). */
export function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .includes(etag);
}
