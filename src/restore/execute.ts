import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { clientOptions } from '../backup/dump.js';
import { fetchBackup, type Decryptor } from '../backup/fetch.js';
import { openBackupLocation } from '../backup/location.js';
import { readRemoteManifest } from '../backup/transfer.js';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { S3StoreConfig } from '../objects/s3.js';
import type { ResolvedDsn } from '../source/dsn.js';
import { describeDsn } from '../source/dsn.js';
import type { ServerIdentity } from '../store/change-index.js';
import { describeTx, ReplayApplier, replayTarget } from './applier.js';
import { RestoreStepError, RestoreTargetNotEmptyError } from './errors.js';
import { applyFilters, dumpFileObject, inScope, runMyloader, type LoadFilters } from './load.js';
import { checkNewDatadir, prepareAndCopyBack, startOnDatadir } from './physical.js';
import { replayFromArchive } from './archive-replay.js';
import type { ObjectStore } from '../objects/store.js';
import type { MariaDbSandbox } from '../sandbox/mariadb.js';
import type { RestorePlan } from './plan.js';
import { configureReplica, type Flavor, type ReplicaStatus } from './replica.js';
import type { ReplayTransaction } from './transactions.js';
import { resumeTriggers, suspendTriggers } from './triggers.js';

/**
 * Executes a restore plan against a target server: check the target, fetch (verify, decrypt) the backup, load it
 * with myloader, replay the captured transactions up to the target, and report the time of each step (the RTO).
 * Every failure names the step, the last transaction replayed and how to resume.
 */
export type RestoreStepName = 'check' | 'fetch' | 'load' | 'replay' | 'replica';

export interface RestoreProgress {
  readonly step: RestoreStepName;
  readonly done: number;
  readonly total: number;
  /** `bytes` for fetch and load, `transactions` for replay. */
  readonly unit: 'bytes' | 'transactions';
}

export interface RestoreOptions {
  readonly plan: RestorePlan;
  /** The server to restore into; for a physical backup, the user replay connects with (root over the socket without). */
  readonly target?: ResolvedDsn;
  /** Physical backups: the new datadir to copy the prepared backup into; a server is started on it for replay. */
  readonly datadir?: string;
  readonly filters: LoadFilters;
  readonly renames: ReadonlyMap<string, string>;
  /** Write into schemas that already hold tables; restore into the source itself. */
  readonly force: boolean;
  /** Skip fetch and load: the backup is loaded already and replay resumes (plan built with resumeFrom). */
  readonly skipLoad: boolean;
  /** The captured server's identity, so that restoring into the source is refused without --force. */
  readonly sourceIdentity: ServerIdentity | null;
  readonly s3: S3StoreConfig;
  readonly decrypt?: Decryptor;
  readonly threads?: number;
  /** Where the backup is fetched to (a new directory under it, removed afterwards). */
  readonly workDir: string;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: RestoreProgress) => void;
  /** Statements per replay round trip. */
  readonly batchStatements?: number;
  /** Connections replay spreads waves of non-conflicting transactions over (default: the cores, at most 4; 1 = serial). */
  readonly parallel?: number;
  /** The object store holding the raw binlog archive (needed when the plan replays from it). */
  readonly archiveObjects?: ObjectStore;
  /** Replica bootstrap: after the load, replicate from this source from the backup's coordinates (no replay). */
  readonly replicaOf?: { readonly source: ResolvedDsn; readonly waitMs?: number };
}

export interface StepReport {
  readonly step: RestoreStepName;
  readonly ms: number;
  readonly bytes?: number;
  readonly transactions?: number;
}

export interface RestoreReport {
  readonly backupId: string;
  readonly schemas: readonly string[];
  readonly steps: readonly StepReport[];
  readonly totalMs: number;
  readonly transactionsReplayed: number;
  readonly rowChangesReplayed: number;
  readonly lastReplayed: {
    readonly gtid: string | null;
    readonly file: string;
    readonly position: number;
  } | null;
  readonly stopAt: RestorePlan['stopAt'];
  /** Replica bootstrap: the replication status once it ran and caught up. */
  readonly replica?: ReplicaStatus;
}

export async function executeRestore(o: RestoreOptions): Promise<RestoreReport> {
  const steps: StepReport[] = [];
  const started = Date.now();
  const plan = o.plan;
  const location = plan.backup.location as string;
  let step: RestoreStepName = 'check';
  let applier: ReplayApplier | undefined;
  let conn: mysql.Connection | undefined;
  let server: MariaDbSandbox | undefined;
  const lanes: mysql.Connection[] = [];
  try {
    // 1. The target: not the source (unless forced) and empty for the schemas the restore writes.
    let t = Date.now();
    const { store, prefix } = openBackupLocation(location, o.s3);
    let schemas: string[];
    let totalBytes: number;
    let physical = false;
    let tool = '';
    try {
      const remote = await readRemoteManifest(store, prefix, o.signal);
      if (remote === undefined) {
        throw new RestoreStepError(
          `Cannot read the manifest of backup ${plan.backup.id} at ${location}`,
          'not_found',
          {
            fields: { step: 'check', backupId: plan.backup.id },
          },
        );
      }
      physical = remote.manifest.kind !== 'logical';
      tool = remote.manifest.tool.name;
      if (physical !== (o.datadir !== undefined)) {
        throw new RestoreStepError(
          physical
            ? `Cannot restore backup ${plan.backup.id} into a running server: it is a physical (${tool}) backup; restore it into a new datadir with --datadir`
            : `Cannot restore backup ${plan.backup.id} into a datadir: it is a logical (${tool}) backup; give --target-dsn`,
          'unsupported',
          { fields: { step: 'check', backupId: plan.backup.id } },
        );
      }
      if (physical && (o.filters.schemas !== null || o.filters.tables !== null || o.renames.size > 0)) {
        throw new RestoreStepError(
          `Cannot restore part of physical backup ${plan.backup.id}: a physical backup restores the whole server, without --schemas, --tables or --rename-schema`,
          'usage',
          { fields: { step: 'check', backupId: plan.backup.id } },
        );
      }
      const found = new Set<string>();
      for (const f of remote.manifest.files) {
        const path = f.path.replace(/\.age$/, '');
        if (physical) {
          const dir = /^([^/]+)\/[^/]+\.frm$/.exec(path)?.[1];
          if (dir !== undefined && !PHYSICAL_SYSTEM_DIRS.has(dir)) found.add(dir);
          continue;
        }
        const obj = dumpFileObject(path);
        if (obj !== undefined && inScope(o.filters, obj.schema, obj.table)) found.add(obj.schema);
      }
      schemas = [...found].sort();
      totalBytes = remote.manifest.files.reduce((s, f) => s + f.size, 0);
    } finally {
      store.close();
    }
    if (physical) {
      if (!o.skipLoad) await checkNewDatadir(o.datadir as string);
    } else {
      if (o.target === undefined) {
        throw new RestoreStepError(
          'Cannot restore a logical backup without a target server (--target-dsn)',
          'usage',
          {
            fields: { step: 'check' },
          },
        );
      }
      conn = await connectTarget(o.target);
      await checkTarget(conn, o, o.target, schemas);
    }
    steps.push({ step: 'check', ms: Date.now() - t });

    if (!o.skipLoad) {
      // 2. Fetch, verify and decrypt.
      step = 'fetch';
      t = Date.now();
      const dir = join(await mkdtemp(join(o.workDir, 'dbtrail-restore-')), 'backup');
      try {
        const fetchStore = openBackupLocation(location, o.s3);
        try {
          await fetchBackup(fetchStore.store, fetchStore.prefix, dir, {
            ...(o.decrypt !== undefined ? { decrypt: o.decrypt } : {}),
            ...(o.signal !== undefined ? { signal: o.signal } : {}),
            onProgress: (p) =>
              o.onProgress?.({ step: 'fetch', done: p.bytesDone, total: p.bytesTotal, unit: 'bytes' }),
          });
        } finally {
          fetchStore.store.close();
        }
        steps.push({ step: 'fetch', ms: Date.now() - t, bytes: totalBytes });
        // 3. Load.
        step = 'load';
        t = Date.now();
        o.onProgress?.({ step: 'load', done: 0, total: totalBytes, unit: 'bytes' });
        if (physical) {
          await prepareAndCopyBack({
            tool: tool === 'xtrabackup' ? 'xtrabackup' : 'mariadb-backup',
            backupDir: dir,
            datadir: o.datadir as string,
            ...(o.logger !== undefined ? { logger: o.logger } : {}),
            ...(o.signal !== undefined ? { signal: o.signal } : {}),
          });
          server = await startOnDatadir(o.datadir as string);
          conn = await connectTarget({
            ...(o.target ?? ROOT_OVER_SOCKET),
            socketPath: server.socket,
          });
        } else {
          await applyFilters(dir, o.filters);
          await runMyloader({
            dir,
            connection: clientOptions(o.target as ResolvedDsn),
            threads: o.threads ?? 4,
            overwrite: o.force,
            renames: o.renames,
            schemas,
            ...(o.logger !== undefined ? { logger: o.logger } : {}),
            ...(o.signal !== undefined ? { signal: o.signal } : {}),
          });
        }
        o.onProgress?.({ step: 'load', done: totalBytes, total: totalBytes, unit: 'bytes' });
        steps.push({ step: 'load', ms: Date.now() - t, bytes: totalBytes });
      } finally {
        await rm(join(dir, '..'), { recursive: true, force: true });
      }
    }

    if (conn === undefined) {
      // A physical restore resumed (--resume-from): the datadir is loaded; start a server on it.
      server = await startOnDatadir(o.datadir as string);
      conn = await connectTarget({
        ...(o.target ?? ROOT_OVER_SOCKET),
        socketPath: server.socket,
      });
    }
    if (o.replicaOf !== undefined) {
      step = 'replica';
      t = Date.now();
      const [versionRows] = await conn.query('SELECT VERSION() AS v');
      const version = String((versionRows as { v: string }[])[0]?.v ?? '');
      const flavor: Flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
      const status = await configureReplica(
        conn,
        { flavor, source: o.replicaOf.source, coordinates: plan.backupCoordinates },
        {
          ...(o.replicaOf.waitMs !== undefined ? { waitMs: o.replicaOf.waitMs } : {}),
          ...(o.signal !== undefined ? { signal: o.signal } : {}),
        },
      );
      steps.push({ step: 'replica', ms: Date.now() - t });
      return {
        backupId: plan.backup.id,
        schemas: schemas.map((s) => o.renames.get(s) ?? s),
        steps,
        totalMs: Date.now() - started,
        transactionsReplayed: 0,
        rowChangesReplayed: 0,
        lastReplayed: null,
        stopAt: plan.stopAt,
        replica: status,
      };
    }

    // 4. Replay.
    step = 'replay';
    t = Date.now();
    if (plan.archive !== undefined) {
      if (o.archiveObjects === undefined) {
        throw new RestoreStepError(
          'Cannot replay from the binlog archive: no object store given',
          'internal',
        );
      }
      if (o.filters.schemas !== null || o.filters.tables !== null || o.renames.size > 0) {
        throw new RestoreStepError(
          'Cannot replay part of the server from the binlog archive: --schemas, --tables and --rename-schema need the change index',
          'unsupported',
          { fields: { step: 'replay' } },
        );
      }
      o.onProgress?.({ step: 'replay', done: 0, total: plan.archive.bytes, unit: 'bytes' });
      await replayFromArchive({
        replay: plan.archive,
        objects: o.archiveObjects,
        connection:
          server !== undefined
            ? { user: o.target?.user ?? 'root', password: o.target?.password, socket: server.socket }
            : clientOptions(o.target as ResolvedDsn),
        workDir: o.workDir,
        ...(o.signal !== undefined ? { signal: o.signal } : {}),
      });
      o.onProgress?.({ step: 'replay', done: plan.archive.bytes, total: plan.archive.bytes, unit: 'bytes' });
      steps.push({ step: 'replay', ms: Date.now() - t, bytes: plan.archive.bytes });
      return {
        backupId: plan.backup.id,
        schemas: schemas.map((s) => o.renames.get(s) ?? s),
        steps,
        totalMs: Date.now() - started,
        transactionsReplayed: plan.archive.segments.reduce((a, x) => a + x.transactions, 0),
        rowChangesReplayed: 0,
        lastReplayed: null,
        stopAt: plan.stopAt,
      };
    }
    const replay = scopeTransactions(plan.transactions, o.filters);
    const total = replay.length;
    const main = conn;
    for (let i = 1; i < (o.parallel ?? Math.min(4, availableParallelism())); i++) {
      lanes.push(
        await connectTarget(
          server !== undefined
            ? { ...(o.target ?? ROOT_OVER_SOCKET), socketPath: server.socket }
            : (o.target as ResolvedDsn),
        ),
      );
    }
    applier = new ReplayApplier(replayTarget(main), {
      lanes: lanes.map(replayTarget),
      renames: o.renames,
      ...(o.batchStatements !== undefined ? { batchStatements: o.batchStatements } : {}),
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      onCommitted: (_last, count) =>
        o.onProgress?.({ step: 'replay', done: count, total, unit: 'transactions' }),
    });
    await applier.prepareSession();
    o.onProgress?.({ step: 'replay', done: 0, total, unit: 'transactions' });
    const suspended = await suspendTriggers(
      main,
      schemas.map((s) => o.renames.get(s) ?? s),
    );
    try {
      await applier.apply(replay);
    } finally {
      await resumeTriggers(main, suspended);
    }
    steps.push({ step: 'replay', ms: Date.now() - t, transactions: total });
    const last = applier.progress.last;
    return {
      backupId: plan.backup.id,
      schemas: schemas.map((s) => o.renames.get(s) ?? s),
      steps,
      totalMs: Date.now() - started,
      transactionsReplayed: applier.progress.committed,
      rowChangesReplayed: replay.reduce((s, x) => s + x.changes.length, 0),
      lastReplayed: last === undefined ? null : { gtid: last.gtid, file: last.file, position: last.position },
      stopAt: plan.stopAt,
    };
  } catch (err) {
    throw stepFailure(err, step, plan, applier, o);
  } finally {
    await conn?.end().catch(() => undefined);
    for (const l of lanes) await l.end().catch(() => undefined);
    // The restored datadir is the result: its server is stopped cleanly, never removed.
    await server?.stop();
  }
}

/** Replay into a server started on a restored datadir, without --target-dsn: root over its socket. */
const ROOT_OVER_SOCKET: ResolvedDsn = {
  host: 'localhost',
  port: 0,
  user: 'root',
  password: undefined,
  database: undefined,
  socketPath: undefined,
  tls: 'off',
  passwordOrigin: 'none',
};

/** Schema directories of a physical backup that belong to the server, not to the application. */
const PHYSICAL_SYSTEM_DIRS = new Set(['mysql', 'performance_schema', 'sys']);

/** The transactions restricted to the restored schemas and tables (a transaction left empty is dropped). */
export function scopeTransactions(
  txs: readonly ReplayTransaction[],
  filters: LoadFilters,
): ReplayTransaction[] {
  if (filters.schemas === null && filters.tables === null) return [...txs];
  const out: ReplayTransaction[] = [];
  for (const t of txs) {
    if (t.ddl !== null) {
      if (ddlInScope(filters, t.ddl)) out.push(t);
      continue;
    }
    const changes = t.changes.filter((c) => inScope(filters, c.schema, c.table));
    if (changes.length === t.changes.length) out.push(t);
    else if (changes.length > 0) out.push({ ...t, changes });
  }
  return out;
}

/**
 * Whether a DDL statement concerns the restored objects. The statement text is searched for the schemas (as
 * `schema.` qualifiers, or the statement's default schema) and, with --tables, for the tables themselves. A
 * statement naming restored and other objects at once (`DROP TABLE a, b`) is kept and may fail on the target.
 */
export function ddlInScope(
  filters: LoadFilters,
  ddl: { readonly schema: string | null; readonly statement: string },
): boolean {
  if (filters.schemas === null && filters.tables === null) return true;
  const stmt = ddl.statement;
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const q = (x: string) => `\`?${esc(x)}\`?`;
  if (filters.tables !== null) {
    return filters.tables.some((name) => {
      const dot = name.indexOf('.');
      const schema = name.slice(0, dot);
      const table = name.slice(dot + 1);
      if (new RegExp(`${q(schema)}\\s*\\.\\s*${q(table)}(?![\\w$])`, 'i').test(stmt)) return true;
      return ddl.schema === schema && new RegExp(`(^|[^\\w$.\`])${q(table)}(?![\\w$.])`, 'i').test(stmt);
    });
  }
  return (filters.schemas ?? []).some(
    (schema) => ddl.schema === schema || new RegExp(`(^|[^\\w$])${q(schema)}\\s*\\.`, 'i').test(stmt),
  );
}

async function connectTarget(dsn: ResolvedDsn): Promise<mysql.Connection> {
  try {
    return await mysql.createConnection({
      ...(dsn.socketPath !== undefined ? { socketPath: dsn.socketPath } : { host: dsn.host, port: dsn.port }),
      user: dsn.user,
      ...(dsn.password !== undefined ? { password: dsn.password } : {}),
      ...(dsn.tls === 'required' ? { ssl: { rejectUnauthorized: true } } : {}),
      charset: 'UTF8MB4_GENERAL_CI',
      multipleStatements: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: 'Z',
      connectTimeout: 10_000,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new RestoreStepError(
      `Cannot connect to the restore target ${describeDsn(dsn)}: ${messageOf(err)}`,
      code === 'ER_ACCESS_DENIED_ERROR' ? 'auth' : 'connection',
      {
        cause: err,
        fields: { step: 'check' },
      },
    );
  }
}

async function checkTarget(
  conn: mysql.Connection,
  o: RestoreOptions,
  target: ResolvedDsn,
  schemas: readonly string[],
): Promise<void> {
  const [rows] = await conn.query('SELECT @@server_id AS id, @@hostname AS host');
  const me = (rows as { id: string; host: string }[])[0];
  const src = o.sourceIdentity;
  if (
    !o.force &&
    src !== null &&
    me !== undefined &&
    String(me.id) === src.serverId &&
    me.host === src.hostname
  ) {
    throw new RestoreTargetNotEmptyError(
      `Cannot restore into ${describeDsn(target)}: it is the captured source server itself (server_id ${me.id} on ${me.host}); give --force to restore into it on purpose`,
      { fields: { step: 'check' } },
    );
  }
  if (o.force || o.skipLoad) return;
  const targets = schemas.map((s) => o.renames.get(s) ?? s);
  if (targets.length === 0) return;
  const [tables] = await conn.query(
    conn.format(
      `SELECT TABLE_SCHEMA AS s, COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${targets.map(() => '?').join(', ')}) GROUP BY TABLE_SCHEMA`,
      targets,
    ),
  );
  const busy = (tables as { s: string; n: string }[]).filter((r) => Number(r.n) > 0);
  if (busy.length > 0) {
    throw new RestoreTargetNotEmptyError(
      `Cannot restore into ${describeDsn(target)}: ${busy.map((b) => `schema ${b.s} holds ${b.n} tables`).join(', ')}; restore into an empty server, use --rename-schema, or give --force to overwrite`,
      { fields: { step: 'check', schemas: busy.map((b) => b.s) } },
    );
  }
}

function stepFailure(
  err: unknown,
  step: RestoreStepName,
  plan: RestorePlan,
  applier: ReplayApplier | undefined,
  o: RestoreOptions,
): Error {
  if (err instanceof RestoreTargetNotEmptyError) return err;
  if (isDbtrailError(err) && step === 'check') return err;
  const last = applier?.progress.last;
  const next = nextAfter(plan.transactions, last);
  const lastText = last === undefined ? 'none' : describeTx(last);
  const resume =
    step === 'replay'
      ? next === undefined
        ? ''
        : `; to resume, run the same command with --backup ${plan.backup.id} --resume-from ${next.file}:${next.position} (the load is kept)`
      : '; nothing was replayed, run the same command again (with --force, since the target now holds part of the load)';
  const kind = isDbtrailError(err) ? err.kind : 'internal';
  return new RestoreStepError(
    `Cannot finish the restore at step ${step}: ${messageOf(err)}; last replayed transaction: ${lastText}${resume}`,
    kind,
    {
      cause: err,
      fields: {
        step,
        lastReplayed:
          last === undefined ? null : { gtid: last.gtid, file: last.file, position: last.position },
        resumeFrom: next === undefined ? null : `${next.file}:${next.position}`,
        interrupted: o.signal?.aborted === true,
      },
    },
  );
}

function nextAfter(
  txs: readonly ReplayTransaction[],
  last: ReplayTransaction | undefined,
): ReplayTransaction | undefined {
  if (last === undefined) return txs[0];
  const i = txs.findIndex((t) => t.firstSeq === last.firstSeq);
  return txs[i + 1];
}
