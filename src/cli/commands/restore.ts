import { tmpdir } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { ageDecryptor, readIdentityFile } from '../../backup/encryption.js';
import { formatBytes, formatDuration, Progress } from '../../lib/progress.js';
import type { RestoreProgress, RestoreReport } from '../../restore/execute.js';
import type { RestorePlan } from '../../restore/plan.js';
import {
  describeTarget,
  isoUs,
  parseGtidArg,
  parsePositionArg,
  parseRenameArgs,
  type RestoreTarget,
} from '../../restore/target.js';
import { parseDsn, resolvePassword } from '../../source/dsn.js';
import type { ServerIdentity } from '../../store/change-index.js';
import { flagBool, flagInt, flagList, flagString, type CommandSpec, type ParsedArgs } from '../command.js';
import { UsageError } from '../errors.js';
import { checkTimeZone, parseTimeArg, resolveServer } from './change-args.js';
import { warnPasswordOnArgv } from './shared.js';

export const restoreCommand: CommandSpec = {
  path: ['restore'],
  summary:
    'Restore a server to a point in time: load the newest covering backup into a target and replay captured changes up to the target',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The captured server to restore',
    },
    {
      name: 'target-dsn',
      type: 'string',
      value: 'URL',
      description:
        'Server to restore into, mysql://user@host:port (password from DBTRAIL_TARGET_PASSWORD or DBTRAIL_TARGET_PASSWORD_FILE); not needed with --dry-run',
    },
    {
      name: 'to-time',
      type: 'string',
      value: 'TIME',
      description:
        'Up to this instant, inclusive: YYYY-MM-DD HH:MM:SS[.ffffff] with --tz, or ISO 8601 with a zone',
    },
    {
      name: 'tz',
      type: 'string',
      value: 'ZONE',
      description: 'Time zone of --to-time without one (UTC, +02:00, Europe/Berlin)',
    },
    {
      name: 'to-gtid',
      type: 'string',
      value: 'GTID',
      description: 'Up to and including the transaction with this GTID',
    },
    {
      name: 'before-gtid',
      type: 'string',
      value: 'GTID',
      description: 'Up to, not including, the transaction with this GTID',
    },
    {
      name: 'to-position',
      type: 'string',
      value: 'FILE:POS',
      description: 'Every transaction that starts before this binlog position',
    },
    { name: 'latest', type: 'boolean', description: 'Everything captured so far' },
    { name: 'schemas', type: 'list', value: 'A,B', description: 'Only these schemas' },
    { name: 'tables', type: 'list', value: 'S.T,...', description: 'Only these tables' },
    {
      name: 'rename-schema',
      type: 'list',
      value: 'OLD:NEW',
      description: 'Restore schema OLD as NEW (repeatable)',
    },
    {
      name: 'backup',
      type: 'string',
      value: 'ID',
      description: 'Use this backup instead of choosing the newest covering one',
    },
    {
      name: 'resume-from',
      type: 'string',
      value: 'FILE:POS',
      description:
        'Resume a failed replay: skip fetch and load, replay from this transaction on (as the failure message says)',
    },
    {
      name: 'datadir',
      type: 'string',
      value: 'DIR',
      description:
        'Physical backups: copy the prepared backup into this new datadir, start a server on it for the replay, and stop it cleanly at the end',
    },
    {
      name: 'identity',
      type: 'string',
      value: 'FILE',
      description: 'age identity file that decrypts an encrypted backup',
    },
    {
      name: 'threads',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 64,
      description: 'myloader threads (default 4)',
    },
    {
      name: 'as-replica-of-dsn',
      type: 'string',
      value: 'URL',
      description:
        'Bootstrap a replica: load the newest backup, then replicate from this source (host:port) from its coordinates; replication password from DBTRAIL_REPLICATION_PASSWORD or DBTRAIL_REPLICATION_PASSWORD_FILE',
    },
    {
      name: 'parallel',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 32,
      description:
        'Connections the replay spreads non-conflicting transactions over (default: the cores, at most 4; 1 = one at a time)',
    },
    {
      name: 'force',
      type: 'boolean',
      description: 'Overwrite tables that exist in the target (and allow restoring into the source itself)',
    },
    { name: 'dry-run', type: 'boolean', description: 'Print the plan and change nothing' },
    { name: 'json', type: 'boolean', description: 'Print the plan or report as JSON' },
  ],
  async run(ctx, args) {
    const replicaText = flagString(args, 'as-replica-of-dsn');
    const target: RestoreTarget = replicaText !== undefined ? replicaTarget(args) : parseTarget(args);
    const schemas = flagList(args, 'schemas') ?? null;
    const tables = flagList(args, 'tables') ?? null;
    if (tables !== null) {
      for (const t of tables) {
        if (!/^[^.\s]+\.[^.\s]+$/.test(t)) {
          throw new UsageError(`Cannot parse --tables "${t}": expected schema.table`, {
            flag: '--tables',
            value: t,
          });
        }
      }
    }
    const renames = new Map(
      parseRenameArgs('rename-schema', flagList(args, 'rename-schema') ?? []).map((r) => [r.from, r.to]),
    );
    const resumeText = flagString(args, 'resume-from');
    const resumeFrom = resumeText === undefined ? undefined : parsePositionArg('resume-from', resumeText);
    const dryRun = flagBool(args, 'dry-run');
    const targetText = flagString(args, 'target-dsn');
    const datadirText = flagString(args, 'datadir');
    const datadir = datadirText === undefined ? undefined : resolvePath(datadirText);
    if (!dryRun && targetText === undefined && datadir === undefined) {
      throw new UsageError(
        'Cannot restore: missing --target-dsn URL (the server to restore into) or --datadir DIR (physical backups), or give --dry-run',
        {
          flag: '--target-dsn',
        },
      );
    }
    const targetDsn =
      targetText === undefined
        ? undefined
        : resolvePassword(parseDsn(targetText), {
            password: ctx.env['DBTRAIL_TARGET_PASSWORD'],
            passwordFile: ctx.env['DBTRAIL_TARGET_PASSWORD_FILE'],
          });
    if (targetDsn !== undefined) warnPasswordOnArgv(ctx, targetDsn, targetText);
    const identityFile = flagString(args, 'identity');
    const decrypt =
      identityFile === undefined ? undefined : ageDecryptor(await readIdentityFile(identityFile));

    const replicaOf =
      replicaText === undefined
        ? undefined
        : resolvePassword(parseDsn(replicaText), {
            password: ctx.env['DBTRAIL_REPLICATION_PASSWORD'],
            passwordFile: ctx.env['DBTRAIL_REPLICATION_PASSWORD_FILE'],
          });
    if (replicaOf !== undefined) warnPasswordOnArgv(ctx, replicaOf, replicaText);

    const { openApp } = await import('../../app.js');
    const { planRestore, planReplicaBootstrap } = await import('../../restore/plan.js');
    const app = await openApp(ctx.config);
    let plan: RestorePlan;
    let identity: ServerIdentity | null = null;
    try {
      const serverName = flagString(args, 'server-name') as string;
      const backupArg = flagString(args, 'backup');
      if (replicaOf !== undefined) {
        // A replica needs only a backup with coordinates: the server need not be captured.
        const tenant = await app.store.tenants.ensure(app.config.tenant);
        const backupId =
          backupArg === undefined
            ? undefined
            : await app.store.catalog.resolveId(backupArg, { tenantId: tenant.id });
        plan = await planReplicaBootstrap(app.store.catalog, {
          tenantId: tenant.id,
          serverName,
          ...(backupId !== undefined ? { backupId } : {}),
        });
      } else {
        const { tenant, server } = await resolveServer(app, serverName);
        const backupId =
          backupArg === undefined
            ? undefined
            : await app.store.catalog.resolveId(backupArg, { tenantId: tenant.id });
        plan = await planRestore(
          { catalog: app.store.catalog, changes: app.store.changes, archive: app.store.binlogArchive },
          {
            tenantId: tenant.id,
            serverId: server.id,
            serverName: server.name,
            target,
            ...(backupId !== undefined ? { backupId } : {}),
            ...(resumeFrom !== undefined ? { resumeFrom } : {}),
          },
        );
        identity = (await app.store.changes.checkpoint(server.id))?.identity ?? null;
      }
    } finally {
      await app.close();
    }
    if (dryRun || (targetDsn === undefined && datadir === undefined)) {
      ctx.stdout.write(flagBool(args, 'json') ? `${JSON.stringify(planJson(plan))}\n` : renderPlan(plan));
      return 0;
    }
    if (!flagBool(args, 'json')) ctx.stderr.write(renderPlan(plan));
    const { executeRestore } = await import('../../restore/execute.js');
    const log = ctx.logger.child({ component: 'restore' });
    let bar: Progress | undefined;
    let barStep: string | undefined;
    const onProgress = (p: RestoreProgress): void => {
      if (barStep !== p.step) {
        bar?.finish();
        barStep = p.step;
        bar = new Progress({
          stream: ctx.stderr,
          label: p.step,
          total: p.total,
          onEvent: (s) =>
            log.info(
              { step: p.step, done: s.done, total: s.total, unit: p.unit, etaMs: s.etaMs },
              'restore progress',
            ),
        });
      }
      bar?.update(p.done, p.total);
    };
    let report: RestoreReport;
    const { openObjectStore } = await import('../../objects/open.js');
    const archiveObjects =
      plan.archive !== undefined ? openObjectStore(ctx.config.objectsUrl, ctx.config.s3) : undefined;
    try {
      const threads = flagInt(args, 'threads');
      report = await executeRestore({
        plan,
        ...(targetDsn !== undefined ? { target: targetDsn } : {}),
        ...(datadir !== undefined ? { datadir } : {}),
        filters: { schemas, tables },
        renames,
        force: flagBool(args, 'force'),
        skipLoad: resumeFrom !== undefined,
        sourceIdentity: identity,
        s3: ctx.config.s3,
        ...(decrypt !== undefined ? { decrypt } : {}),
        ...(threads !== undefined ? { threads } : {}),
        ...(flagInt(args, 'parallel') !== undefined ? { parallel: flagInt(args, 'parallel') as number } : {}),
        workDir: tmpdir(),
        logger: log,
        signal: ctx.signal,
        onProgress,
        ...(replicaOf !== undefined ? { replicaOf: { source: replicaOf } } : {}),
        ...(archiveObjects !== undefined ? { archiveObjects } : {}),
      });
    } finally {
      bar?.finish();
      archiveObjects?.close();
    }
    ctx.stdout.write(
      flagBool(args, 'json') ? `${JSON.stringify(reportJson(report))}\n` : renderReport(report),
    );
    return 0;
  },
};

/** A replica continues from the backup itself: no restore target may be given. */
function replicaTarget(args: ParsedArgs): RestoreTarget {
  for (const f of [
    'to-time',
    'to-gtid',
    'before-gtid',
    'to-position',
    'resume-from',
    'rename-schema',
    'schemas',
    'tables',
  ]) {
    if (args.flags[f] !== undefined) {
      throw new UsageError(
        `Cannot bootstrap a replica with --${f}: a replica holds the whole backup and continues from its coordinates`,
        {
          flag: `--${f}`,
        },
      );
    }
  }
  return { kind: 'latest' };
}

function parseTarget(args: ParsedArgs): RestoreTarget {
  const given: RestoreTarget[] = [];
  const time = flagString(args, 'to-time');
  const tz = flagString(args, 'tz');
  if (tz !== undefined) checkTimeZone(tz);
  if (time !== undefined) given.push({ kind: 'time', atUs: parseTimeArg('to-time', time, tz) });
  const to = flagString(args, 'to-gtid');
  if (to !== undefined) given.push({ kind: 'to-gtid', gtid: parseGtidArg('to-gtid', to) });
  const before = flagString(args, 'before-gtid');
  if (before !== undefined) given.push({ kind: 'before-gtid', gtid: parseGtidArg('before-gtid', before) });
  const pos = flagString(args, 'to-position');
  if (pos !== undefined) given.push({ kind: 'position', ...parsePositionArg('to-position', pos) });
  if (flagBool(args, 'latest')) given.push({ kind: 'latest' });
  if (given.length !== 1) {
    throw new UsageError(
      `Cannot restore: give exactly one target (--to-time, --to-gtid, --before-gtid, --to-position or --latest), got ${given.length}`,
    );
  }
  return given[0] as RestoreTarget;
}

export function planJson(p: RestorePlan): Record<string, unknown> {
  return {
    server_name: p.serverName,
    target: describeTarget(p.target),
    backup: {
      id: p.backup.id,
      tool: p.backup.tool,
      size_bytes: p.backup.sizeBytes,
      location: p.backup.location,
      coordinates: {
        file: p.backupCoordinates.file,
        position: p.backupCoordinates.position,
        gtid: p.backupCoordinates.gtid,
      },
    },
    steps: [
      { step: 'fetch', bytes: p.backup.sizeBytes },
      { step: 'load', bytes: p.backup.sizeBytes },
      {
        step: 'replay',
        transactions: p.transactions.length,
        row_changes: p.rowChanges,
        ddl_events: p.ddlEvents,
      },
    ],
    stop_at: p.stopAt,
    last_commit_time: p.lastCommitTimeUs === null ? null : isoUs(p.lastCommitTimeUs),
    archive:
      p.archive === undefined
        ? null
        : {
            segments: p.archive.segments.length,
            bytes: p.archive.bytes,
            start_gtid: p.archive.startGtid,
            stop: p.archive.stop,
            because: p.archive.because,
          },
    pkless_tables: p.pklessTables.map((t) => ({
      table: t.table,
      row_changes: t.rowChanges,
      cost: PKLESS_COST,
    })),
    refused_backups: p.refused.map((r) => ({ backup_id: r.backupId, reason: r.reason })),
  };
}

const PKLESS_COST =
  'one index lookup per row change through a NOT NULL unique key or a secondary index over the row when the table has one, else one table scan per row change';

function archiveStop(a: NonNullable<RestorePlan['archive']>): string {
  if (a.stop.kind === 'gtid') return `, up to GTID ${a.stop.gtid} inclusive`;
  if (a.stop.kind === 'datetime') return `, before ${a.stop.utc} UTC`;
  return ', to the end of the archive';
}

export function renderPlan(p: RestorePlan): string {
  const size = p.backup.sizeBytes === null ? 'size unknown' : formatBytes(p.backup.sizeBytes);
  const lines = [
    `Restore plan for "${p.serverName}" to ${describeTarget(p.target)}`,
    `  backup   ${p.backup.id} (${p.backup.tool}, ${size}) at ${p.backupCoordinates.file}:${p.backupCoordinates.position}${p.backupCoordinates.gtid ? ` GTID ${p.backupCoordinates.gtid}` : ''}`,
    `  1. fetch  ${size}, verify and decrypt`,
    `  2. load   ${size} with myloader`,
    p.archive !== undefined
      ? `  3. replay from the binlog archive: ${p.archive.segments.length} segments (${formatBytes(p.archive.bytes)}) through mariadb-binlog | mariadb, after GTID ${p.archive.startGtid}${archiveStop(p.archive)}; the change index cannot serve it: ${p.archive.because}`
      : `  3. replay ${p.transactions.length} transactions (${p.rowChanges} row changes, ${p.ddlEvents} DDL), stopping before ${p.stopAt.file}:${p.stopAt.position}${p.stopAt.gtid ? ` (GTID ${p.stopAt.gtid})` : ''}`,
  ];
  if (p.lastCommitTimeUs !== null)
    lines.push(`  state reached: last transaction committed at ${isoUs(p.lastCommitTimeUs)}`);
  for (const t of p.pklessTables)
    lines.push(`  table ${t.table} has no primary key: ${t.rowChanges} row changes, ${PKLESS_COST}`);
  for (const r of p.refused) lines.push(`  skipped newer backup ${r.backupId}: ${r.reason}`);
  return `${lines.join('\n')}\n`;
}

function reportJson(r: RestoreReport): Record<string, unknown> {
  return {
    backup_id: r.backupId,
    schemas: r.schemas,
    steps: r.steps.map((s) => ({
      step: s.step,
      ms: s.ms,
      bytes: s.bytes ?? null,
      transactions: s.transactions ?? null,
    })),
    total_ms: r.totalMs,
    transactions_replayed: r.transactionsReplayed,
    row_changes_replayed: r.rowChangesReplayed,
    last_replayed: r.lastReplayed,
    stop_at: r.stopAt,
    replica:
      r.replica === undefined
        ? null
        : {
            io_running: r.replica.ioRunning,
            sql_running: r.replica.sqlRunning,
            seconds_behind: r.replica.secondsBehind,
            gtid_pos: r.replica.gtidPos,
          },
  };
}

function renderReport(r: RestoreReport): string {
  const lines = [
    `Restored backup ${r.backupId} (${r.schemas.join(', ') || 'no schemas'}) in ${formatDuration(r.totalMs)}`,
  ];
  for (const s of r.steps) {
    const extra =
      s.bytes !== undefined
        ? `, ${formatBytes(s.bytes)}`
        : s.transactions !== undefined
          ? `, ${s.transactions} transactions`
          : '';
    lines.push(`  ${s.step.padEnd(7)} ${formatDuration(s.ms)}${extra}`);
  }
  if (r.replica !== undefined) {
    lines.push(
      `  replica: IO and SQL threads running, ${r.replica.secondsBehind ?? '?'} s behind, GTID position ${r.replica.gtidPos ?? 'unknown'}`,
    );
  }
  if (r.lastReplayed !== null) {
    lines.push(
      `  last replayed: ${r.lastReplayed.gtid ?? ''} at ${r.lastReplayed.file}:${r.lastReplayed.position}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
