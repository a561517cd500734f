import { joinKey, keyProblem } from '../objects/store.js';
import { MANIFEST_FILE, type Manifest } from './manifest.js';
import { ManifestError } from './errors.js';

/**
 * Where a backup lives in the object store: `<tenant>/<server-name>/<YYYY-MM-DD>/<HHMMSS>` (UTC, from the
 * manifest's `started_at`), below the store's own root (`s3://bucket/prefix` or the objects directory). The
 * manifest is `<that>/manifest.json` and each file `<that>/<file path>`. A backup without a manifest object is
 * incomplete: the manifest is always written last.
 */
export function backupPrefix(manifest: Pick<Manifest, 'tenant' | 'server_name' | 'started_at'>): string {
  const tenant = pathSegment(manifest.tenant, 'tenant');
  const server = pathSegment(manifest.server_name, 'server name');
  const started = utcTime(manifest.started_at);
  const date = `${pad(started.getUTCFullYear(), 4)}-${pad(started.getUTCMonth() + 1)}-${pad(started.getUTCDate())}`;
  const time = `${pad(started.getUTCHours())}${pad(started.getUTCMinutes())}${pad(started.getUTCSeconds())}`;
  return joinKey(tenant, server, date, time);
}

/** The key of a backup file (or of the manifest, with `MANIFEST_FILE`) under a backup prefix. */
export function backupKey(prefix: string, path: string): string {
  return joinKey(prefix, path);
}

export function manifestKey(prefix: string): string {
  return joinKey(prefix, MANIFEST_FILE);
}

/** The prefix to list a backup's objects with: its own folder, never a sibling whose name merely starts alike. */
export function listPrefix(prefix: string): string {
  return prefix === '' ? '' : `${prefix}/`;
}

function pathSegment(value: string, what: string): string {
  const problem = value.includes('/') ? 'it contains "/"' : keyProblem(value, false);
  if (problem !== undefined) {
    throw new ManifestError(
      `Cannot place backup in the object store: ${what} "${value}" is not usable in a path: ${problem}`,
      {
        fields: { [what === 'tenant' ? 'tenant' : 'serverName']: value },
      },
    );
  }
  return value;
}

function utcTime(text: string): Date {
  // An explicit zone is required: a local time would put the backup under a date that depends on the host.
  const zoned = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text);
  const date = new Date(text);
  if (!zoned || Number.isNaN(date.getTime())) {
    throw new ManifestError(
      `Cannot place backup in the object store: started_at "${text}" is not an ISO-8601 time with a zone (expected e.g. 2026-03-13T14:15:00Z)`,
      { fields: { startedAt: text } },
    );
  }
  return date;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}
