import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import { connectSource, type SourceConnection } from '../source/connect.js';
import type { ResolvedDsn } from '../source/dsn.js';
import { probeServer } from '../source/server-facts.js';
import { AGE_FILE_SUFFIX, encryptFile, parseRecipient } from './encryption.js';
import {
  BackupIoError,
  CoordinatesMissingError,
  DumpAbortedError,
  DumpMetadataError,
  DumpOptionsError,
  OutputDirError,
} from './errors.js';
import { watchDirectorySize } from '../lib/dir-size.js';
import { acquireLock } from './lock.js';
import { checkPhysicalTool, runPhysicalBackup } from './mariabackup.js';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  serializeManifest,
  type BackupTool,
  type Compression,
  type Coordinates,
  type Manifest,
  type ManifestFile,
} from './manifest.js';
import {
  normaliseFilters,
  parseTableName,
  runMydumper,
  versionString,
  type DumpFilters,
} from './mydumper.js';
import type { ClientOptions } from './option-file.js';

/**
 * The dump service: one consistent backup of one server into a new local directory, described by manifest.json.
 *
 * Order of work, and why:
 * 1. Read the server's identity over our own connection (server_id, server_uuid on MySQL, hostname, version).
 * 2. Take the per-server lock, then create `<out>/<server>-<UTC time>-<id>/` with an exclusive mkdir: dbtrail only
 *    ever writes into, and on failure removes, a directory it has just created. `--out DIR` is the parent; DIR
 *    itself (which may be the user's) is created if missing but never emptied or removed.
 * 3. Read the binlog position, run the tool, read the position again: the tool's coordinates must lie between
 *    the two, which catches a tool that wrote coordinates of another server or none that make sense.
 * 4. Encrypt (when asked) right after the tool exits, then hash: see `sealFiles` for why not during the dump.
 * 5. Write manifest.json last (temporary name, then rename), so a directory without one is visibly incomplete.
 * Any failure removes the new directory and releases the lock; a backup without coordinates is never "good".
 */
export interface DumpRequest {
  readonly dsn: ResolvedDsn;
  readonly serverName: string;
  readonly tenant: string;
  readonly tool?: BackupTool;
  readonly threads?: number;
  readonly schemas?: readonly string[] | null;
  readonly tables?: readonly string[] | null;
  /** Parent directory; the backup goes into a new subdirectory. */
  readonly outDir: string;
  readonly compression?: Compression;
  /** age X25519 recipients; encryption is on when there is at least one. */
  readonly recipients?: readonly string[];
  /** Where the per-server lock files live. */
  readonly lockDir: string;
  /** Release mydumper's global lock once the snapshot exists (only right for all-InnoDB data; < 0.19 only). */
  readonly transactionalOnly?: boolean;
  readonly bins?: { readonly mydumper?: string; readonly physical?: string };
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** Files encrypted or hashed at once (default 4). */
  readonly concurrency?: number;
  /** Called while the tool runs with the bytes written so far and the estimated total (the data size on the server). */
  readonly onProgress?: (progress: {
    readonly bytesDone: number;
    readonly bytesEstimated: number | undefined;
  }) => void;
  /** The id to give the backup (the catalog's id when the dump runs as part of `backup run`); a new UUID otherwise. */
  readonly backupId?: string;
}

export interface DumpResult {
  readonly backupId: string;
  readonly dir: string;
  readonly manifest: Manifest;
  /** Total stored bytes. */
  readonly bytes: number;
}

const SERVER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export async function runDump(request: DumpRequest): Promise<DumpResult> {
  const logger = request.logger?.child({ component: 'dump', server: request.serverName });
  const tool = request.tool ?? 'mydumper';
  const threads = request.threads ?? 4;
  if (!SERVER_NAME_RE.test(request.serverName)) {
    throw new DumpOptionsError(
      `Cannot dump: server name "${request.serverName}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new DumpOptionsError(`Cannot dump with ${threads} threads: expected a whole number from 1 to 256`);
  }
  const filters = normaliseFilters({ schemas: request.schemas ?? null, tables: request.tables ?? null });
  const recipients = (request.recipients ?? []).map((r, i) => parseRecipient(r, `recipient ${i + 1}`));
  const compression = request.compression ?? 'none';
  if (tool !== 'mydumper') {
    if (filters.schemas !== null || filters.tables !== null) {
      throw new DumpOptionsError(
        `Cannot filter schemas or tables with ${tool}: a physical backup copies the whole server; use --tool mydumper`,
      );
    }
    if (compression !== 'none') {
      throw new DumpOptionsError(
        `Cannot compress with ${tool}: dbtrail stores physical backups uncompressed; use --compress none`,
      );
    }
  }

  const facts = await withConnection(request.dsn, probeServer);
  if ((facts.variables['log_bin'] ?? '').toUpperCase() !== 'ON') {
    throw new CoordinatesMissingError(
      `Cannot back up server "${request.serverName}": binary logging is off, so no backup could name where changes continue (set log_bin)`,
    );
  }
  if (tool !== 'mydumper') checkPhysicalTool(tool, facts.flavor);

  const lock = await acquireLock(request.lockDir, request.serverName, { purpose: 'dump' });
  const backupId = request.backupId ?? randomUUID();
  const startedAt = new Date();
  let dir: string | undefined;
  try {
    dir = await createBackupDir(request.outDir, request.serverName, startedAt, backupId);
    logger?.info({ backupId, dir, tool, threads }, 'Dump started');
    const before = await withConnection(request.dsn, readBinlogPosition);
    const connection = clientOptions(request.dsn);
    const onProgress = request.onProgress;
    const estimated =
      onProgress !== undefined
        ? await withConnection(request.dsn, (c) => estimateDataSize(c, filters))
        : undefined;
    const stopWatching =
      onProgress !== undefined
        ? watchDirectorySize(dir, 500, (bytesDone) => onProgress({ bytesDone, bytesEstimated: estimated }))
        : () => undefined;
    let toolVersion: string;
    let coordinates: Coordinates;
    let stored: Compression = compression;
    try {
      if (tool === 'mydumper') {
        const run = await runMydumper({
          connection,
          outputDir: dir,
          threads,
          filters,
          compression,
          ...(request.bins?.mydumper !== undefined ? { bin: request.bins.mydumper } : {}),
          ...(request.transactionalOnly !== undefined
            ? { transactionalOnly: request.transactionalOnly }
            : {}),
          ...(logger !== undefined ? { logger } : {}),
          ...(request.signal !== undefined ? { signal: request.signal } : {}),
        });
        toolVersion = versionString(run.version);
        coordinates = run.metadata.coordinates;
        stored = run.compression;
        if (filters.tables !== null) await addSchemaCreateFiles(request.dsn, dir, filters);
      } else {
        const run = await runPhysicalBackup({
          tool: tool,
          connection,
          targetDir: dir,
          threads,
          ...(request.bins?.physical !== undefined ? { bin: request.bins.physical } : {}),
          ...(logger !== undefined ? { logger } : {}),
          ...(request.signal !== undefined ? { signal: request.signal } : {}),
        });
        toolVersion = run.tool.version;
        coordinates = run.coordinates;
      }
    } finally {
      stopWatching();
    }
    const after = await withConnection(request.dsn, readBinlogPosition);
    checkCoordinatesBetween(coordinates, before, after, request.serverName);
    const dumpedAt = new Date();
    logger?.info(
      { backupId, coordinates, seconds: (dumpedAt.getTime() - startedAt.getTime()) / 1000 },
      'Dump tool finished',
    );

    throwIfAborted(request.signal);
    const files = await sealFiles(dir, recipients, request.concurrency ?? 4, request.signal);
    const finishedAt = new Date();
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: 1,
      backup_id: backupId,
      tenant: request.tenant,
      server_name: request.serverName,
      kind: tool === 'mydumper' ? 'logical' : 'physical',
      tool: { name: tool, version: toolVersion },
      server: {
        flavor: facts.flavor,
        version: facts.version,
        server_id: Number(facts.serverId),
        server_uuid: facts.flavor === 'mysql' ? facts.serverUuid : null,
        hostname: facts.hostname,
      },
      started_at: startedAt.toISOString(),
      finished_at: finishedAt.toISOString(),
      coordinates,
      filters: { schemas: filters.schemas, tables: filters.tables },
      compression: stored,
      encryption: recipients.length > 0 ? { scheme: 'age', recipients } : null,
      files,
    };
    await writeManifest(dir, manifest);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    logger?.info(
      {
        backupId,
        dir,
        files: files.length,
        bytes,
        seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      },
      'Dump finished',
    );
    return { backupId, dir, manifest, bytes };
  } catch (err) {
    if (dir !== undefined) {
      logger?.warn({ backupId, dir, error: messageOf(err) }, 'Dump failed; removing its directory');
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
    throw err;
  } finally {
    await lock.release();
  }
}

/** The server's data + index size for the dumped schemas: an estimate of the dump size, for progress only. */
async function estimateDataSize(conn: SourceConnection, filters: DumpFilters): Promise<number | undefined> {
  const schemas = filters.schemas ?? filters.tables?.map((t) => t.split('.')[0] as string) ?? null;
  const where =
    schemas === null
      ? "table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
      : `table_schema IN (${schemas.map(() => '?').join(',')})`;
  const rows = await conn.query<{ bytes: string | null }>(
    `SELECT SUM(data_length + index_length) AS bytes FROM information_schema.tables WHERE ${where}`,
    schemas ?? [],
  );
  const bytes = rows[0]?.bytes;
  return bytes === null || bytes === undefined ? undefined : Number(bytes);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new DumpAbortedError('Cannot finish the dump: aborted');
}

export function clientOptions(dsn: ResolvedDsn): ClientOptions {
  return {
    user: dsn.user,
    password: dsn.password,
    ...(dsn.socketPath !== undefined ? { socket: dsn.socketPath } : { host: dsn.host, port: dsn.port }),
  };
}

async function withConnection<T>(dsn: ResolvedDsn, use: (conn: SourceConnection) => Promise<T>): Promise<T> {
  const conn = await connectSource(dsn);
  try {
    return await use(conn);
  } finally {
    await conn.close();
  }
}

/** The server's current binlog file and position (SHOW BINARY LOG STATUS on MySQL 8.2+, where the old form is gone). */
export async function readBinlogPosition(
  conn: SourceConnection,
): Promise<{ file: string; position: number } | null> {
  let rows: { File?: string; Position?: string | number }[];
  try {
    rows = await conn.query('SHOW MASTER STATUS');
  } catch {
    rows = await conn.query('SHOW BINARY LOG STATUS');
  }
  const row = rows[0];
  if (row?.File === undefined || row.Position === undefined) return null;
  return { file: row.File, position: Number(row.Position) };
}

function binlogOrder(file: string): { base: string; index: number } | null {
  const m = /^(.*)\.(\d+)$/.exec(file);
  return m === null ? null : { base: m[1] as string, index: Number(m[2]) };
}

function compareCoordinates(
  a: { file: string; position: number },
  b: { file: string; position: number },
): number | null {
  const oa = binlogOrder(a.file);
  const ob = binlogOrder(b.file);
  if (oa === null || ob === null || oa.base !== ob.base) return null;
  return oa.index !== ob.index ? oa.index - ob.index : a.position - b.position;
}

/**
 * The tool's coordinates must lie between the positions read just before and just after it ran. This catches
 * coordinates of another server (a tool pointed at a replica's source) or garbage, before they start a window.
 */
export function checkCoordinatesBetween(
  coordinates: Coordinates,
  before: { file: string; position: number } | null,
  after: { file: string; position: number } | null,
  serverName: string,
): void {
  if (before === null || after === null) {
    throw new CoordinatesMissingError(
      `Cannot back up server "${serverName}": SHOW MASTER STATUS returned nothing (binary logging off?)`,
    );
  }
  const low = compareCoordinates(coordinates, before);
  const high = compareCoordinates(coordinates, after);
  if (low === null || high === null || low < 0 || high > 0) {
    throw new DumpMetadataError(
      `Cannot accept the dump's coordinates ${coordinates.file}:${coordinates.position}: the server was at ${before.file}:${before.position} before the dump and ${after.file}:${after.position} after it`,
      { fields: { coordinates, before, after } },
    );
  }
}

async function createBackupDir(
  outDir: string,
  serverName: string,
  at: Date,
  backupId: string,
): Promise<string> {
  try {
    await mkdir(outDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new BackupIoError(`Cannot create output directory ${outDir}: ${messageOf(err)}`, { cause: err });
  }
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const dir = join(outDir, `${serverName}-${stamp}-${backupId.slice(0, 8)}`);
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new OutputDirError(
        `Cannot create backup directory ${dir}: it already exists, and dbtrail writes only into new directories`,
        {
          fields: { dir },
        },
      );
    }
    throw new BackupIoError(`Cannot create backup directory ${dir}: ${messageOf(err)}`, { cause: err });
  }
  return dir;
}

/**
 * mydumper writes `<db>-schema-create.sql` only when it dumps a whole schema; with a table filter the schema
 * statement is missing and myloader could not create the database. We add it from SHOW CREATE DATABASE.
 */
async function addSchemaCreateFiles(dsn: ResolvedDsn, dir: string, filters: DumpFilters): Promise<void> {
  const names = new Set(await readdir(dir));
  const schemas = [...new Set((filters.tables ?? []).map((t) => parseTableName(t).schema))];
  await withConnection(dsn, async (conn) => {
    for (const schema of schemas) {
      if ([...names].some((n) => n.startsWith(`${schema}-schema-create.sql`))) continue;
      const rows = await conn.query<Record<string, string>>(
        `SHOW CREATE DATABASE \`${schema.replace(/`/g, '``')}\``,
      );
      const statement = rows[0]?.['Create Database'];
      if (statement === undefined) continue;
      await writeFile(join(dir, `${schema}-schema-create.sql`), `${statement};\n`, { flag: 'wx' });
    }
  });
}

/** Every regular file under `dir`, as sorted forward-slash paths relative to it, without the manifest. */
export async function listBackupFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const rel = relative(dir, join(e.parentPath, e.name)).split(sep).join('/');
    if (rel === MANIFEST_FILE) continue;
    out.push(rel);
  }
  return out.sort();
}

/**
 * Encrypts (when there are recipients) and hashes every file, returning the manifest's file list.
 *
 * Files are encrypted right after the tool exits, not as it writes them: mydumper before 0.14 has no hook that
 * says a file is complete (its `--exec` arrived later), and putting a pipe in place of each file would change
 * how the tool writes. Sealing costs one sequential read and write per file at the native ChaCha20 speed (about
 * 900 MB/s, several files at once), a few seconds per GB against a dump that runs at the server's pace, and the
 * hash of the stored bytes is taken in the same pass. The plaintext lives only in the new 0700 directory and
 * each file is removed as soon as its encrypted copy is complete.
 */
async function sealFiles(
  dir: string,
  recipients: readonly string[],
  concurrency: number,
  signal?: AbortSignal,
): Promise<ManifestFile[]> {
  const paths = await listBackupFiles(dir);
  const results = new Map<string, ManifestFile>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      throwIfAborted(signal);
      const path = paths[next++] as string;
      const full = join(dir, path);
      if (recipients.length > 0) {
        const sealed = await encryptFile(full, `${full}${AGE_FILE_SUFFIX}`, recipients, signal);
        await unlink(full);
        results.set(path, { path: `${path}${AGE_FILE_SUFFIX}`, ...sealed });
      } else {
        results.set(path, { path, ...(await hashFile(full)) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, paths.length)) }, worker));
  return paths
    .map((p) => results.get(p) as ManifestFile)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(path), hash);
    return { size: (await stat(path)).size, sha256: hash.digest('hex') };
  } catch (err) {
    if (isDbtrailError(err)) throw err;
    throw new BackupIoError(`Cannot hash ${path}: ${messageOf(err)}`, {
      cause: err,
      code: (err as { code?: string }).code,
    });
  }
}

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = join(dir, `${MANIFEST_FILE}.tmp`);
  await writeFile(tmp, serializeManifest(manifest), { mode: 0o644, flag: 'wx' });
  await rename(tmp, join(dir, MANIFEST_FILE));
}
