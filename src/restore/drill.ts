import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { compareCoordinates } from '../capture/coordinates.js';
import type { Decryptor } from '../backup/fetch.js';
import { openBackupLocation } from '../backup/location.js';
import { readRemoteManifest } from '../backup/transfer.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { S3StoreConfig } from '../objects/s3.js';
import { describeDsn, type ResolvedDsn } from '../source/dsn.js';
import type { BackupCatalog } from '../store/catalog.js';
import type { ChangeIndex } from '../store/change-index.js';
import type { DrillRecord, DrillRepository, DrillTableResult } from '../store/drills.js';
import { ident } from './applier.js';
import { DrillFailedError, RestoreStepError } from './errors.js';
import { executeRestore, type RestoreProgress, type RestoreReport } from './execute.js';
import { dumpFileObject } from './load.js';
import { planRestore } from './plan.js';

/**
 * A restore drill: restore the latest backup plus captured changes into a scratch server and prove it right.
 *
 * The source is read in one consistent snapshot (`START TRANSACTION WITH CONSISTENT SNAPSHOT`, whose binlog
 * coordinates MariaDB reports as `binlog_snapshot_file`/`binlog_snapshot_position`): per-table row counts and
 * checksums are taken in that snapshot, and the scratch server is restored to exactly those coordinates (every
 * transaction that starts before them), so both sides describe the same point in the binlog. The result, the
 * per-table comparison and the RTO (fetch + load + replay) are recorded in the catalog, pass or fail.
 */
export interface DrillOptions {
  readonly tenantId: string;
  readonly serverId: string;
  readonly serverName: string;
  readonly source: ResolvedDsn;
  readonly scratch: ResolvedDsn;
  readonly s3: S3StoreConfig;
  readonly decrypt?: Decryptor;
  readonly workDir: string;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: RestoreProgress) => void;
  /** How long to wait for capture to reach the snapshot's coordinates (default 60 s). */
  readonly captureWaitMs?: number;
  /** Runs between the restore and the scratch checksums (tests use it to tamper with the scratch server). */
  readonly afterRestore?: () => Promise<void>;
}

export interface DrillDeps {
  readonly catalog: Pick<BackupCatalog, 'list' | 'get'>;
  readonly changes: Pick<ChangeIndex, 'query' | 'ddl' | 'gaps' | 'checkpoint' | 'coverage'>;
  readonly drills: Pick<DrillRepository, 'record'>;
}

export async function runDrill(deps: DrillDeps, o: DrillOptions): Promise<DrillRecord> {
  const startedAt = new Date();
  let backupId: string | null = null;
  let coordinates: DrillRecord['coordinates'] = null;
  let report: RestoreReport | undefined;
  let tables: DrillTableResult[] = [];
  let error: string | null = null;
  try {
    const source = await connect(o.source, 'source');
    let sourceSums: Map<string, { rows: string; sum: string }>;
    let schemas: string[];
    let plan: Awaited<ReturnType<typeof planRestore>>;
    try {
      await checkNotSource(o, source);
      await source.query("SET SESSION time_zone = '+00:00'");
      await source.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
      const [status] = await source.query("SHOW STATUS LIKE 'binlog_snapshot_%'");
      const vars = new Map(
        (status as { Variable_name: string; Value: string }[]).map((r) => [
          r.Variable_name.toLowerCase(),
          r.Value,
        ]),
      );
      const file = vars.get('binlog_snapshot_file');
      const position = Number(vars.get('binlog_snapshot_position'));
      if (file === undefined || file === '' || !Number.isSafeInteger(position)) {
        throw new RestoreStepError(
          `Cannot run a drill of "${o.serverName}": the source reports no binlog snapshot coordinates (binlog_snapshot_file), which a drill needs (MariaDB with binary logging)`,
          'unsupported',
          { fields: { step: 'snapshot' } },
        );
      }
      coordinates = { file, position, gtid: null };
      await waitForCapture(deps.changes, o, { file, position });
      plan = await planRestore(deps, {
        tenantId: o.tenantId,
        serverId: o.serverId,
        serverName: o.serverName,
        target: { kind: 'position', file, position },
      });
      backupId = plan.backup.id;
      schemas = await backupSchemas(plan.backup.location as string, o);
      sourceSums = new Map();
      for (const t of await listTables(source, schemas)) sourceSums.set(t, await checksum(source, t));
      await source.query('COMMIT');
    } finally {
      await source.end().catch(() => undefined);
    }

    // The scratch server gets exactly the restored schemas, fresh.
    const scratch = await connect(o.scratch, 'scratch server');
    try {
      for (const s of schemas) await scratch.query(`DROP DATABASE IF EXISTS ${ident(s)}`);
    } finally {
      await scratch.end().catch(() => undefined);
    }
    report = await executeRestore({
      plan,
      target: o.scratch,
      filters: { schemas: null, tables: null },
      renames: new Map(),
      force: false,
      skipLoad: false,
      sourceIdentity: null,
      s3: o.s3,
      ...(o.decrypt !== undefined ? { decrypt: o.decrypt } : {}),
      workDir: o.workDir,
      ...(o.logger !== undefined ? { logger: o.logger } : {}),
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
    });
    await o.afterRestore?.();

    const check = await connect(o.scratch, 'scratch server');
    try {
      await check.query("SET SESSION time_zone = '+00:00'");
      const scratchTables = new Set(await listTables(check, schemas));
      for (const [table, src] of sourceSums) {
        const got = scratchTables.has(table)
          ? await checksum(check, table)
          : { rows: 'missing', sum: 'missing' };
        tables.push({
          table,
          sourceRows: src.rows,
          scratchRows: got.rows,
          sourceChecksum: src.sum,
          scratchChecksum: got.sum,
          match: src.rows === got.rows && src.sum === got.sum,
        });
      }
      for (const t of scratchTables) {
        if (!sourceSums.has(t)) {
          tables.push({
            table: t,
            sourceRows: 'missing',
            scratchRows: '?',
            sourceChecksum: 'missing',
            scratchChecksum: '?',
            match: false,
          });
        }
      }
    } finally {
      await check.end().catch(() => undefined);
    }
    const bad = tables.filter((t) => !t.match);
    if (bad.length > 0) {
      error = `${bad.length} of ${tables.length} tables differ from the source at ${coordinates.file}:${coordinates.position}: ${bad
        .slice(0, 5)
        .map((t) => `${t.table} (rows ${t.sourceRows} vs ${t.scratchRows})`)
        .join(', ')}`;
    }
  } catch (err) {
    error = messageOf(err);
    tables = tables.length > 0 ? tables : [];
  }
  const restoreMs = report?.steps.filter((s) => s.step !== 'check').reduce((a, s) => a + s.ms, 0) ?? null;
  const record = await deps.drills.record({
    tenantId: o.tenantId,
    serverId: o.serverId,
    backupId,
    status: error === null ? 'passed' : 'failed',
    startedAt,
    finishedAt: new Date(),
    rtoMs: error === null || report !== undefined ? restoreMs : null,
    coordinates,
    steps: report?.steps.map((s) => ({ step: s.step, ms: s.ms })) ?? [],
    tables,
    error,
  });
  if (record.status === 'failed') {
    throw new DrillFailedError(`Drill of "${o.serverName}" failed: ${error ?? 'unknown'}`, {
      fields: { drillId: record.id, drill: record },
    });
  }
  return record;
}

async function connect(dsn: ResolvedDsn, what: string): Promise<mysql.Connection> {
  try {
    return await mysql.createConnection({
      ...(dsn.socketPath !== undefined ? { socketPath: dsn.socketPath } : { host: dsn.host, port: dsn.port }),
      user: dsn.user,
      ...(dsn.password !== undefined ? { password: dsn.password } : {}),
      ...(dsn.tls === 'required' ? { ssl: { rejectUnauthorized: true } } : {}),
      charset: 'UTF8MB4_GENERAL_CI',
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      connectTimeout: 10_000,
    });
  } catch (err) {
    throw new RestoreStepError(
      `Cannot connect to the ${what} ${describeDsn(dsn)}: ${messageOf(err)}`,
      'connection',
      { cause: err },
    );
  }
}

/** A drill drops and rewrites schemas on the scratch server: never let that be the source. */
async function checkNotSource(o: DrillOptions, source: mysql.Connection): Promise<void> {
  const scratch = await connect(o.scratch, 'scratch server');
  try {
    const q = 'SELECT @@server_id AS id, @@hostname AS host, @@port AS port';
    type Who = { id: string; host: string; port: string };
    const [ra, rb] = await Promise.all([source.query(q), scratch.query(q)]);
    const a = (ra[0] as Who[])[0];
    const b = (rb[0] as Who[])[0];
    if (
      a !== undefined &&
      b !== undefined &&
      String(a.id) === String(b.id) &&
      a.host === b.host &&
      String(a.port) === String(b.port)
    ) {
      throw new RestoreStepError(
        `Cannot run a drill into ${describeDsn(o.scratch)}: it is the source server itself`,
        'conflict',
        {
          fields: { step: 'check' },
        },
      );
    }
  } finally {
    await scratch.end().catch(() => undefined);
  }
}

async function waitForCapture(
  changes: DrillDeps['changes'],
  o: DrillOptions,
  at: { file: string; position: number },
): Promise<void> {
  const deadline = Date.now() + (o.captureWaitMs ?? 60_000);
  for (;;) {
    const cp = await changes.checkpoint(o.serverId);
    if (cp !== undefined && compareCoordinates(cp.coordinates, at) >= 0) return;
    if (Date.now() > deadline || o.signal?.aborted === true) {
      throw new RestoreStepError(
        `Cannot run a drill of "${o.serverName}": capture has not reached the source's position ${at.file}:${at.position} (checkpoint ${cp === undefined ? 'none' : `${cp.coordinates.file}:${cp.coordinates.position}`}); is dbtrail stream running?`,
        'gap',
        { fields: { step: 'capture' } },
      );
    }
    await sleep(200);
  }
}

async function backupSchemas(location: string, o: DrillOptions): Promise<string[]> {
  const { store, prefix } = openBackupLocation(location, o.s3);
  try {
    const remote = await readRemoteManifest(store, prefix, o.signal);
    const out = new Set<string>();
    for (const f of remote?.manifest.files ?? []) {
      const obj = dumpFileObject(f.path.replace(/\.age$/, ''));
      if (obj !== undefined) out.add(obj.schema);
    }
    return [...out].sort();
  } finally {
    store.close();
  }
}

async function listTables(conn: mysql.Connection, schemas: readonly string[]): Promise<string[]> {
  if (schemas.length === 0) return [];
  const [rows] = await conn.query(
    conn.format(
      `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
       WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${schemas.map(() => '?').join(', ')}) ORDER BY 1, 2`,
      [...schemas],
    ),
  );
  return (rows as { s: string; t: string }[]).map((r) => `${r.s}.${r.t}`);
}

/**
 * Row count and an order-independent checksum of a table: the sum of a 60-bit slice of each row's MD5 over all
 * its columns (separated, with a NULL flag per column so NULL and '' differ). A sum, unlike XOR, does not cancel
 * out identical rows of a table without a primary key. Read inside the caller's snapshot.
 */
async function checksum(conn: mysql.Connection, table: string): Promise<{ rows: string; sum: string }> {
  const dot = table.indexOf('.');
  const schema = table.slice(0, dot);
  const name = table.slice(dot + 1);
  const [cols] = await conn.query(
    conn.format(
      'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [schema, name],
    ),
  );
  const parts = (cols as { c: string }[]).map((c) => `${ident(c.c)}, ISNULL(${ident(c.c)})`).join(', ');
  const [rows] = await conn.query(
    `SELECT COUNT(*) AS n, COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(0x1f, ${parts})), 1, 15), 16, 10) AS DECIMAL(30,0))), 0) AS s
     FROM ${ident(schema)}.${ident(name)}`,
  );
  const r = (rows as { n: string | number; s: string | number }[])[0];
  return { rows: String(r?.n ?? '0'), sum: String(r?.s ?? '0') };
}
