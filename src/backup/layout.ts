import { joinKey, keyProblem } from '../objects/store.js';
import { MANIFEST_FILE, type Manifest } from './manifest.js';
import { ManifestError } from './errors.js';

/**
 * Where a backup lives in the object store, below the store's own root (`s3://bucket/prefix` or the objects
 * directory):
 *
 *   `<base>/<YYYY-MM-DD>/<HHMMSS>`   (UTC, from the manifest's `started_at`)
 *
 * where `<base>` is `<tenant>/<server-name>` by default, or a schedule's own object prefix (`s3_prefix`), which
 * must start with `<tenant>/` so that every key of a tenant stays under its name. The manifest is
 * `<that>/manifest.json` and each file `<that>/<file path>`. A backup without a manifest object is incomplete:
 * the manifest is always written last.
 *
 * Two backups of one server that start in the same second would share `<HHMMSS>`. The first one to take the
 * folder keeps the plain name; the other goes to `<HHMMSS>-<first 8 characters of its backup id>`
 * (`distinctBackupPrefix`), e.g. `2026-03-13/141500-3f2a9c1d`. The suffix is derived from the backup alone, so
 * a retried upload lands in the same place whatever else was uploaded meanwhile, it sorts right after its
 * sibling, and a person can tell which backup it is from the name. Readers never guess a location: the catalog
 * records the one each backup was uploaded to.
 */
export interface BackupPrefixOptions {
  /** The folder the dated folders go under, `<tenant>/<server-name>` by default; must start with `<tenant>/`. */
  readonly base?: string;
}

type PlacedManifest = Pick<Manifest, 'tenant' | 'server_name' | 'started_at'>;

export function backupPrefix(manifest: PlacedManifest, options: BackupPrefixOptions = {}): string {
  const { date, time } = dateAndTime(manifest.started_at);
  return joinKey(basePrefix(manifest, options.base), date, time);
}

/** The folder of a backup whose plain `<HHMMSS>` folder holds another backup (see above). */
export function distinctBackupPrefix(
  manifest: PlacedManifest & Pick<Manifest, 'backup_id'>,
  options: BackupPrefixOptions = {},
): string {
  const { date, time } = dateAndTime(manifest.started_at);
  const suffix = manifest.backup_id.slice(0, 8);
  return joinKey(basePrefix(manifest, options.base), date, pathSegment(`${time}-${suffix}`, 'backup id'));
}

function basePrefix(manifest: PlacedManifest, base: string | undefined): string {
  const tenant = pathSegment(manifest.tenant, 'tenant');
  if (base === undefined) return joinKey(tenant, pathSegment(manifest.server_name, 'server name'));
  const trimmed = base.replace(/\/+$/, '');
  const problem =
    keyProblem(trimmed, false) ??
    (trimmed.startsWith(`${tenant}/`) ? undefined : `it does not start with the tenant "${tenant}/"`);
  if (problem !== undefined) {
    throw new ManifestError(
      `Cannot place backup in the object store: object prefix "${base}" is not usable: ${problem}`,
      { fields: { prefix: base, tenant } },
    );
  }
  return trimmed;
}

function dateAndTime(startedAt: string): { date: string; time: string } {
  const started = utcTime(startedAt);
  return {
    date: `${pad(started.getUTCFullYear(), 4)}-${pad(started.getUTCMonth() + 1)}-${pad(started.getUTCDate())}`,
    time: `${pad(started.getUTCHours())}${pad(started.getUTCMinutes())}${pad(started.getUTCSeconds())}`,
  };
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
        fields: {
          [what === 'tenant' ? 'tenant' : what === 'server name' ? 'serverName' : 'backupId']: value,
        },
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
