import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import { connectSource, type SourceConnection } from '../source/connect.js';
import type { ResolvedDsn } from '../source/dsn.js';
import { probeServer } from '../source/server-facts.js';
import { parseRecipient } from './encryption.js';
import {
  BackupIoError,
  CoordinatesMissingError,
  DumpAbortedError,
  DumpMetadataError,
  DumpOptionsError,
  DumpStalledError,
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
  signManifest,
  type ManifestV1,
} from './manifest.js';
import {
  normaliseFilters,
  parseTableName,
  runMydumper,
  versionString,
  type DumpFilters,
} from './mydumper.js';
import type { ClientOptions } from './option-file.js';
import { FileSealer } from './sealer.js';
import { watchForStall } from './stall-watch.js';
import type { ManifestSigner } from './signing.js';

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
 * 4. Seal each file (hash it, or encrypt it and hash the ciphertext) as soon as mydumper has completed it, while
 *    it writes the others (see sealer.ts), so that the dump step costs little more than the tool itself and a
 *    caller can upload sealed files early (`onFileSealed`). Physical backups are sealed after the tool exits.
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
  /**
   * Signs the manifest (version 2, src/backup/signing.ts). Every command and agent passes this home's signer;
   * without one the manifest is written unsigned as version 1, which verify reports as "unsigned".
   */
  readonly signer?: ManifestSigner;
  /** Called once the backup directory exists, before the tool runs, with what places the backup in a store. */
  readonly onDumpStarted?: (started: DumpStarted) => void;
  /**
   * Called for each file once it is sealed (final bytes, size and SHA-256 known), often while the tool still runs.
   * A file may be reported again with other digests if it changed after all; the manifest has the last ones.
   */
  readonly onFileSealed?: (file: ManifestFile, localPath: string) => void;
  /** How long mydumper may use no CPU, with no query of it running, before it counts as stalled (default 60 s). */
  readonly stallMs?: number;
}

export interface DumpStarted {
  readonly backupId: string;
  readonly dir: string;
  /** The manifest's `started_at`. */
  readonly startedAt: string;
  readonly tenant: string;
  readonly serverName: string;
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
  try {
    return await runDumpOnce(request);
  } catch (err) {
    // A stalled tool is stopped and its directory removed; one more attempt usually runs clean (see DumpStalledError).
    if (!(err instanceof DumpStalledError)) throw err;
    request.logger?.warn({ error: err.message }, 'Dump stalled; dumping again');
    return runDumpOnce(request);
  }
}

/** Whether no session of `user` other than this one is running a statement on the server. */
async function runsNoQuery(conn: SourceConnection, user: string): Promise<boolean> {
  const rows = await conn.query<{ n: string | number }>(
    "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE user = ? AND id <> CONNECTION_ID() AND command NOT IN ('Sleep', 'Daemon')",
    [user],
  );
  return Number(rows[0]?.n ?? 1) === 0;
}

async function runDumpOnce(request: DumpRequest): Promise<DumpResult> {
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
  let sealer: FileSealer | undefined;
  try {
    dir = await createBackupDir(request.outDir, request.serverName, startedAt, backupId);
    logger?.info({ backupId, dir, tool, threads }, 'Dump started');
    request.onDumpStarted?.({
      backupId,
      dir,
      startedAt: startedAt.toISOString(),
      tenant: request.tenant,
      serverName: request.serverName,
    });
    sealer = new FileSealer(dir, {
      recipients,
      concurrency: request.concurrency ?? 4,
      ...(request.signal !== undefined ? { signal: request.signal } : {}),
      ...(request.onFileSealed !== undefined ? { onSealed: request.onFileSealed } : {}),
    });
    const watching = sealer;
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
        const stall = new AbortController();
        let stalledMs: number | undefined;
        let stopStallWatch = (): void => undefined;
        const signal =
          request.signal !== undefined ? AbortSignal.any([request.signal, stall.signal]) : stall.signal;
        let run: Awaited<ReturnType<typeof runMydumper>>;
        try {
          run = await runMydumper({
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
            signal,
            onSpawn: (pid) => {
              watching.watch(pid);
              stopStallWatch = watchForStall(pid, {
                ...(request.stallMs !== undefined ? { stallMs: request.stallMs } : {}),
                isServerIdle: () => withConnection(request.dsn, (c) => runsNoQuery(c, request.dsn.user)),
                onStall: (ms) => {
                  stalledMs = ms;
                  stall.abort();
                },
              });
            },
          });
        } catch (err) {
          if (stalledMs !== undefined && request.signal?.aborted !== true) {
            throw new DumpStalledError(
              `Cannot finish the dump: mydumper used no CPU for ${Math.round(stalledMs / 1000)} s while the server ran no query for it, so it was stopped`,
              { cause: err, fields: { dir } },
            );
          }
          throw err;
        } finally {
          stopStallWatch();
        }
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
    const files = await sealer.finish();
    logger?.debug({ backupId, files: files.length, sealedEarly: sealer.sealedEarly }, 'Dump files sealed');
    const finishedAt = new Date();
    const unsigned: ManifestV1 = {
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
    const manifest: Manifest =
      request.signer === undefined ? unsigned : signManifest(unsigned, request.signer);
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
    await sealer?.stop();
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

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = join(dir, `${MANIFEST_FILE}.tmp`);
  await writeFile(tmp, serializeManifest(manifest), { mode: 0o644, flag: 'wx' });
  await rename(tmp, join(dir, MANIFEST_FILE));
}
