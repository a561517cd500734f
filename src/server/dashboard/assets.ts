import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { messageOf } from '../../lib/errors.js';
import { DashboardAssetError } from './errors.js';

/**
 * The dashboard's static files: plain HTML, CSS and browser JavaScript modules kept as real files beside this
 * module (no framework, no bundler), so they can be read and edited as what they are. `tsc` does not copy them;
 * `npm run build` does (its `build:assets` step), which puts them at the same place relative to the compiled
 * module. They are read once, when the routes are built, so a broken installation fails at startup rather than on
 * a person's first visit.
 */
export interface DashboardAsset {
  /** Where it is served: `/` for the page, `/assets/<file>` for the rest. */
  readonly urlPath: string;
  readonly file: string;
  readonly contentType: string;
  readonly body: Uint8Array;
  /** A strong validator derived from the content, quoted as HTTP wants it. */
  readonly etag: string;
}

export const DEFAULT_ASSET_DIR: URL = new URL('./assets/', import.meta.url);

/** The page itself; everything else lives under ASSET_URL_PREFIX. */
export const PAGE_FILE = 'index.html';
export const ASSET_URL_PREFIX = '/assets/';

const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
});

// Names become literal route segments; keeping them this plain rules out traversal and odd encodings.
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.([a-z0-9]+)$/;

/** Reads every file of the asset directory. Throws DashboardAssetError when the directory or the page is missing. */
export function loadDashboardAssets(dir: URL = DEFAULT_ASSET_DIR): readonly DashboardAsset[] {
  const path = fileURLToPath(dir);
  let names: string[];
  try {
    names = readdirSync(path, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    throw new DashboardAssetError(`Cannot load dashboard assets from ${path}: ${messageOf(error)}`, {
      cause: error,
      fields: { dir: path },
    });
  }
  if (!names.includes(PAGE_FILE)) {
    throw new DashboardAssetError(`Cannot load dashboard assets from ${path}: ${PAGE_FILE} is missing`, {
      fields: { dir: path },
    });
  }
  return Object.freeze(
    names.map((file) => {
      const extension = FILE_NAME.exec(file)?.[1];
      const contentType = extension === undefined ? undefined : CONTENT_TYPES[extension];
      if (contentType === undefined) {
        throw new DashboardAssetError(
          `Cannot load dashboard asset "${file}": expected a lower-case name ending in ${Object.keys(
            CONTENT_TYPES,
          )
            .map((e) => `.${e}`)
            .join(', ')}`,
          { fields: { dir: path, file } },
        );
      }
      const body = readFileSync(new URL(file, dir));
      const digest = createHash('sha256').update(body).digest('base64url').slice(0, 27);
      return Object.freeze({
        urlPath: file === PAGE_FILE ? '/' : `${ASSET_URL_PREFIX}${file}`,
        file,
        contentType,
        body: new Uint8Array(body),
        etag: `"${digest}"`,
      });
    }),
  );
}
