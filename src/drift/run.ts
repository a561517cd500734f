import { setTimeout as sleep } from 'node:timers/promises';
import type { Decryptor } from '../backup/fetch.js';
import { compareCoordinates } from '../capture/coordinates.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { S3StoreConfig } from '../objects/s3.js';
import { executeRestore, type RestoreProgress, type RestoreReport } from '../restore/execute.js';
import { planRestore, type PlanDeps } from '../restore/plan.js';
import { connectSource, type SourceConnection } from '../source/connect.js';
import { describeDsn, type ResolvedDsn } from '../source/dsn.js';
import type { BackupCatalog } from '../store/catalog.js';
import { pkText, type BinlogCoordinates, type ChangeIndex } from '../store/change-index.js';
import {
  compareTable,
  quoteId,
  type ChecksumLimits,
  type ComparedTable,
  type DriftedRow,
  type TableComparison,
} from './checksum.js';
import { DriftRunError } from './errors.js';
import { openSnapshot } from './snapshot.js';

/**
 * Drift detection: does the live database equal what dbtrail says it must be?
 *
 * 1. The live server is read in one consistent snapshot tied to exact binlog coordinates (snapshot.ts).
 * 2. The **expected** state at those coordinates is built on a scratch server: the newest backup before them,
 *    loaded, plus every captured transaction up to them (the restore module's plan and execution, the same
 *    code path a point-in-time restore takes, so a drift check also proves that path).
 * 3. Both are compared table by table with chunked checksums under bounded load (checksum.ts); differing chunks
 *    are drilled into, row by row.
 * 4. Each drifted row is checked against the change index: when the newest captured change of that row (at or
 *    before the coordinates) left exactly the live row behind, the row came through the binlog and the expected
 *    side is what is wrong; otherwise nothing captured explains it (`sql_log_bin=0`, a restore from elsewhere, a
 *    change on a replica...).
 *
 * `--between A B` (`runBetweenBackups`) builds backup A plus the changes up to B's coordinates as the expected
 * state and backup B itself as the actual one, on one scratch server under two schema names.
 */
export interface DriftTable extends TableComparison {
  /** Set when the table exists on one side only. */
  readonly missingOn?: 'expected' | 'actual';
  readonly driftedRows: readonly ExplainedRow[];
}

export interface ExplainedRow extends DriftedRow {
  /** True when a captured change left exactly the actual row: the drift is on the expected side. */
  readonly explainedByCapture: boolean;
  /** The newest captured change of this row at or before the coordinates, if any. */
  readonly lastCapturedChange: {
    readonly seq: string;
    readonly gtid: string | null;
    readonly type: string;
    readonly commitTimeUs: string;
  } | null;
}

export interface DriftResult {
  readonly status: 'clean' | 'drift';
  readonly mode: 'live' | 'between';
  readonly coordinates: BinlogCoordinates;
  readonly snapshotMethod: string | null;
  readonly backupId: string;
  readonly comparedBackupId: string | null;
  readonly tables: readonly DriftTable[];
  readonly driftedRows: number;
  readonly restoreMs: number;
  readonly compareMs: number;
  readonly restore: RestoreReport;
}

export interface DriftDeps extends PlanDeps {
  readonly catalog: PlanDeps['catalog'] & Partial<Pick<BackupCatalog, 'resolveId'>>;
  readonly changes: PlanDeps['changes'] & Pick<ChangeIndex, 'query'>;
}

interface CommonOptions {
  readonly tenantId: string;
  readonly serverId: string;
  readonly serverName: string;
  readonly scratch: ResolvedDsn;
  readonly s3: S3StoreConfig;
  readonly decrypt?: Decryptor;
  readonly workDir: string;
  /** Only these schemas (default: every schema of the server but the system ones). */
  readonly schemas?: readonly string[];
  /** Only these `schema.table`s. */
  readonly tables?: readonly string[];
  readonly limits?: ChecksumLimits;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: RestoreProgress) => void;
  /** Runs after the scratch server is restored (tests use it to tamper with the expected side). */
  readonly afterRestore?: () => Promise<void>;
}

export interface LiveDriftOptions extends CommonOptions {
  readonly source: ResolvedDsn;
  readonly flavor: 'mysql' | 'mariadb';
  /** How long to wait for capture to reach the snapshot's coordinates (default 60 s). */
  readonly captureWaitMs?: number;
}

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

export async function runLiveDrift(deps: DriftDeps, o: LiveDriftOptions): Promise<DriftResult> {
  const live = await connect(o.source, 'source');
  try {
    await live.query("SET SESSION time_zone = '+00:00'");
    await refuseSameServer(live, o.scratch);
    const snap = await openSnapshot(live, o.flavor);
    try {
      await waitForCapture(deps.changes, o, snap.coordinates);
      const plan = await planRestore(deps, {
        tenantId: o.tenantId,
        serverId: o.serverId,
        serverName: o.serverName,
        target: { kind: 'position', file: snap.coordinates.file, position: snap.coordinates.position },
      });
      const tables = await listTables(live, o);
      const schemas = [...new Set(tables.map((t) => t.schema))];
      const restoreStart = Date.now();
      // The scratch server gets the compared schemas fresh: a drift check owns them there.
      await dropSchemas(o.scratch, schemas);
      const restore = await restoreInto(o, plan, new Map());
      const restoreMs = Date.now() - restoreStart;
      await o.afterRestore?.();
      const expected = await connect(o.scratch, 'scratch server');
      try {
        await expected.query("SET SESSION time_zone = '+00:00'");
        const compareStart = Date.now();
        const compared = await compareAll(live, expected, tables, new Map(), o.limits);
        const explained = await explain(deps.changes, o, compared, snap.coordinates);
        return result('live', snap.coordinates, snap.method, plan.backup.id, null, explained, restore, {
          restoreMs,
          compareMs: Date.now() - compareStart,
        });
      } finally {
        await expected.close();
        await dropSchemas(o.scratch, schemas).catch(() => undefined);
      }
    } finally {
      await snap.release().catch(() => undefined);
    }
  } finally {
    await live.close();
  }
}

export interface BetweenOptions extends CommonOptions {
  readonly backupA: string;
  readonly backupB: string;
}

/** The schema name backup B is loaded under on the scratch server. */
export function actualSchemaName(schema: string): string {
  return `dbtrail_b_${schema}`.slice(0, 64);
}

export async function runBetweenBackups(deps: DriftDeps, o: BetweenOptions): Promise<DriftResult> {
  const scope = { tenantId: o.tenantId };
  const ofServer = async (idOrPrefix: string) => {
    const resolve = deps.catalog.resolveId?.bind(deps.catalog);
    const id = resolve !== undefined ? await resolve(idOrPrefix, scope) : idOrPrefix;
    const record = await deps.catalog.get(id, scope);
    const mine =
      record.serverId === o.serverId || (record.serverId === null && record.serverName === o.serverName);
    if (!mine) {
      throw new DriftRunError(
        `Cannot compare backups: backup ${idOrPrefix} is not a backup of "${o.serverName}"`,
        'input',
      );
    }
    return record;
  };
  const a = await ofServer(o.backupA);
  const b = await ofServer(o.backupB);
  const at = b.coordinates;
  if (at === null || at === undefined) {
    throw new DriftRunError(
      `Cannot compare backups: backup ${o.backupB} records no binlog coordinates`,
      'input',
    );
  }
  const coordinates: BinlogCoordinates = {
    file: at.file,
    position: at.position,
    gtidSet: at.gtid,
  };
  // A: the older backup plus every captured change up to B's coordinates: what B must contain.
  const planA = await planRestore(deps, {
    tenantId: o.tenantId,
    serverId: o.serverId,
    serverName: o.serverName,
    backupId: a.id,
    target: { kind: 'position', file: coordinates.file, position: coordinates.position },
  });
  // B on its own, with nothing replayed (its own coordinates are the target).
  const planB = await planRestore(deps, {
    tenantId: o.tenantId,
    serverId: o.serverId,
    serverName: o.serverName,
    backupId: b.id,
    target: { kind: 'position', file: coordinates.file, position: coordinates.position },
  });
  if (compareCoordinates(planA.backupCoordinates, coordinates) > 0) {
    throw new DriftRunError(
      `Cannot compare backups: ${a.id} was taken after ${b.id}; give the older one first`,
      'input',
    );
  }
  const restoreStart = Date.now();
  if (o.schemas !== undefined)
    await dropSchemas(o.scratch, [...o.schemas, ...o.schemas.map(actualSchemaName)]);
  const restore = await restoreInto(o, planA, new Map(), o.schemas === undefined);
  // B is loaded under other names, so that both states sit side by side on the one scratch server.
  const schemas = o.schemas !== undefined ? [...o.schemas] : [...restore.schemas];
  const renames = new Map(schemas.map((s) => [s, actualSchemaName(s)]));
  await dropSchemas(o.scratch, [...renames.values()]);
  await restoreInto(o, planB, renames);
  const restoreMs = Date.now() - restoreStart;
  await o.afterRestore?.();
  const scratch = await connect(o.scratch, 'scratch server');
  const scratch2 = await connect(o.scratch, 'scratch server');
  try {
    const tables = await listTables(scratch2, { ...o, schemas });
    const compareStart = Date.now();
    // The "actual" side is B (renamed schemas), the expected side A plus changes.
    const compared = await compareAll(scratch, scratch2, tables, renames, o.limits);
    const explained = await explain(deps.changes, o, compared, coordinates);
    return result('between', coordinates, null, a.id, b.id, explained, restore, {
      restoreMs,
      compareMs: Date.now() - compareStart,
    });
  } finally {
    await scratch.close();
    await scratch2.close();
    await dropSchemas(o.scratch, [...schemas, ...renames.values()]).catch(() => undefined);
  }
}

function result(
  mode: DriftResult['mode'],
  coordinates: BinlogCoordinates,
  snapshotMethod: string | null,
  backupId: string,
  comparedBackupId: string | null,
  tables: DriftTable[],
  restore: RestoreReport,
  times: { restoreMs: number; compareMs: number },
): DriftResult {
  const drifted = tables.reduce((n, t) => n + t.driftedRowCount, 0);
  return {
    status: tables.every((t) => t.equal) ? 'clean' : 'drift',
    mode,
    coordinates,
    snapshotMethod,
    backupId,
    comparedBackupId,
    tables,
    driftedRows: drifted,
    restoreMs: times.restoreMs,
    compareMs: times.compareMs,
    restore,
  };
}

async function restoreInto(
  o: CommonOptions,
  plan: Awaited<ReturnType<typeof planRestore>>,
  renames: ReadonlyMap<string, string>,
  /** The scratch server may hold the schemas already (a --between run without --schemas cannot drop them first). */
  overwrite = false,
): Promise<RestoreReport> {
  return executeRestore({
    plan,
    target: o.scratch,
    filters: {
      schemas: o.schemas !== undefined ? [...o.schemas] : null,
      tables: o.tables !== undefined ? [...o.tables] : null,
    },
    renames,
    force: overwrite,
    skipLoad: false,
    sourceIdentity: null,
    s3: o.s3,
    ...(o.decrypt !== undefined ? { decrypt: o.decrypt } : {}),
    workDir: o.workDir,
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
  });
}

async function dropSchemas(dsn: ResolvedDsn, schemas: readonly string[]): Promise<void> {
  const conn = await connect(dsn, 'scratch server');
  try {
    for (const s of schemas) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(s)}`);
  } finally {
    await conn.close();
  }
}

async function compareAll(
  actual: SourceConnection,
  expected: SourceConnection,
  tables: readonly ComparedTable[],
  renames: ReadonlyMap<string, string>,
  limits: ChecksumLimits | undefined,
): Promise<DriftTable[]> {
  const out: DriftTable[] = [];
  const expectedTables = await tableSet(expected, [...new Set(tables.map((t) => t.schema))]);
  const actualTables = await tableSet(actual, [
    ...new Set(tables.map((t) => renames.get(t.schema) ?? t.schema)),
  ]);
  for (const t of tables) {
    const actualSchema = renames.get(t.schema) ?? t.schema;
    const onActual = actualTables.has(`${actualSchema}.${t.table}`);
    const onExpected = expectedTables.has(`${t.schema}.${t.table}`);
    if (!onActual || !onExpected) {
      out.push(missingTable(t, onActual ? 'expected' : 'actual'));
      continue;
    }
    const r = await compareTable(
      actual,
      expected,
      { ...t, schema: actualSchema, expectedSchema: t.schema },
      limits,
    );
    out.push({
      ...r,
      schema: t.schema,
      driftedRows: r.driftedRows.map((d) => ({ ...d, explainedByCapture: false, lastCapturedChange: null })),
    });
  }
  return out;
}

function missingTable(t: ComparedTable, missingOn: 'expected' | 'actual'): DriftTable {
  return {
    schema: t.schema,
    table: t.table,
    equal: false,
    missingOn,
    chunks: 0,
    differingChunks: 0,
    actualRows: 0n,
    expectedRows: 0n,
    driftedRowCount: 0,
    driftedRows: [],
    chunkMs: { max: 0, total: 0, p95: 0 },
    pauses: 0,
    pausedMs: 0,
    bytes: 0n,
  };
}

async function tableSet(conn: SourceConnection, schemas: readonly string[]): Promise<Set<string>> {
  if (schemas.length === 0) return new Set();
  const rows = await conn.query<{ s: string; t: string }>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${schemas.map(() => '?').join(', ')})`,
    schemas,
  );
  return new Set(rows.map((r) => `${r.s}.${r.t}`));
}

/** The base tables to compare, with their columns and primary key, read from `conn`. */
async function listTables(
  conn: SourceConnection,
  o: { readonly schemas?: readonly string[]; readonly tables?: readonly string[] },
): Promise<ComparedTable[]> {
  const where =
    o.schemas !== undefined && o.schemas.length > 0
      ? `c.TABLE_SCHEMA IN (${o.schemas.map(() => '?').join(', ')})`
      : `c.TABLE_SCHEMA NOT IN (${SYSTEM_SCHEMAS.map(() => '?').join(', ')})`;
  const params = o.schemas !== undefined && o.schemas.length > 0 ? [...o.schemas] : SYSTEM_SCHEMAS;
  const cols = await conn.query<{ s: string; t: string; c: string; k: string | null }>(
    `SELECT c.TABLE_SCHEMA AS s, c.TABLE_NAME AS t, c.COLUMN_NAME AS c, c.COLUMN_KEY AS k
       FROM information_schema.COLUMNS c
       JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
      WHERE t.TABLE_TYPE = 'BASE TABLE' AND ${where}
      ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`,
    params,
  );
  const keys = await conn.query<{ s: string; t: string; c: string }>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.STATISTICS
      WHERE INDEX_NAME = 'PRIMARY' AND ${where.replaceAll('c.TABLE_SCHEMA', 'TABLE_SCHEMA')}
      ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX`,
    params,
  );
  const byTable = new Map<
    string,
    { schema: string; table: string; columns: string[]; primaryKey: string[] }
  >();
  for (const r of cols) {
    const key = `${r.s}.${r.t}`;
    const t = byTable.get(key) ?? { schema: r.s, table: r.t, columns: [], primaryKey: [] };
    t.columns.push(r.c);
    byTable.set(key, t);
  }
  for (const r of keys) byTable.get(`${r.s}.${r.t}`)?.primaryKey.push(r.c);
  const only = o.tables !== undefined && o.tables.length > 0 ? new Set(o.tables) : null;
  return [...byTable.entries()].filter(([k]) => only === null || only.has(k)).map(([, t]) => t);
}

async function explain(
  changes: DriftDeps['changes'],
  o: CommonOptions,
  tables: DriftTable[],
  at: BinlogCoordinates,
): Promise<DriftTable[]> {
  const out: DriftTable[] = [];
  for (const t of tables) {
    const rows: ExplainedRow[] = [];
    for (const d of t.driftedRows) {
      if (Object.keys(d.key).length === 0 || t.driftedRows.length === 0) {
        rows.push(d);
        continue;
      }
      let last: ExplainedRow['lastCapturedChange'] = null;
      let explained = false;
      try {
        const found = await changes.query({
          tenantId: o.tenantId,
          serverId: o.serverId,
          schema: t.schema,
          table: t.table,
          pk: pkText(Object.values(d.key)),
          order: 'desc',
          limit: 20,
        });
        const before = found.find((c) => compareCoordinates({ file: c.file, position: c.position }, at) < 0);
        if (before !== undefined) {
          last = {
            seq: before.seq.toString(),
            gtid: before.gtid,
            type: before.type,
            commitTimeUs: before.commitTimeUs.toString(),
          };
          explained = sameImage(before.after, d.actual);
        }
      } catch {
        // A key the index cannot be searched by (e.g. a table it never captured) explains nothing.
      }
      rows.push({ ...d, explainedByCapture: explained, lastCapturedChange: last });
    }
    out.push({ ...t, driftedRows: rows });
  }
  return out;
}

function sameImage(
  image: Readonly<Record<string, unknown>> | null,
  row: Readonly<Record<string, unknown>> | null,
): boolean {
  if (image === null || row === null) return image === null && row === null;
  const keys = Object.keys(row);
  return keys.every((k) => JSON.stringify(image[k] ?? null) === JSON.stringify(row[k] ?? null));
}

async function waitForCapture(
  changes: DriftDeps['changes'],
  o: LiveDriftOptions,
  at: BinlogCoordinates,
): Promise<void> {
  const deadline = Date.now() + (o.captureWaitMs ?? 60_000);
  for (;;) {
    const cp = await changes.checkpoint(o.serverId);
    if (cp !== undefined && compareCoordinates(cp.coordinates, at) >= 0) return;
    if (Date.now() > deadline || o.signal?.aborted === true) {
      throw new DriftRunError(
        `Cannot check "${o.serverName}" for drift: capture has not reached the snapshot's position ${at.file}:${at.position} (checkpoint ${cp === undefined ? 'none' : `${cp.coordinates.file}:${cp.coordinates.position}`}); is dbtrail stream running?`,
        'gap',
      );
    }
    await sleep(200);
  }
}

async function refuseSameServer(live: SourceConnection, scratch: ResolvedDsn): Promise<void> {
  const other = await connect(scratch, 'scratch server');
  try {
    const q = 'SELECT @@server_id AS id, @@hostname AS host, @@port AS port';
    const [a] = await live.query<{ id: string; host: string; port: string }>(q);
    const [b] = await other.query<{ id: string; host: string; port: string }>(q);
    if (
      a !== undefined &&
      b !== undefined &&
      String(a.id) === String(b.id) &&
      a.host === b.host &&
      String(a.port) === String(b.port)
    ) {
      throw new DriftRunError(
        `Cannot check for drift into ${describeDsn(scratch)}: it is the source server itself, and its schemas would be dropped`,
        'conflict',
      );
    }
  } finally {
    await other.close();
  }
}

async function connect(dsn: ResolvedDsn, what: string): Promise<SourceConnection> {
  try {
    return await connectSource(dsn);
  } catch (err) {
    throw new DriftRunError(
      `Cannot connect to the ${what} ${describeDsn(dsn)}: ${messageOf(err)}`,
      'connection',
      {
        cause: err,
      },
    );
  }
}
