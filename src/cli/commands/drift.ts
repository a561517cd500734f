import { tmpdir } from 'node:os';
import { ageDecryptor, readIdentityFile } from '../../backup/encryption.js';
import type { DriftResult } from '../../drift/run.js';
import { formatDuration } from '../../lib/progress.js';
import { sourceDsn } from '../../source/connect.js';
import { parseDsn, resolvePassword } from '../../source/dsn.js';
import { audit, cliActor } from '../../store/audit-log.js';
import { messageOf } from '../../lib/errors.js';
import type { ControlPlaneEvent } from '../../scheduler/webhook.js';
import {
  flagBool,
  flagInt,
  flagList,
  flagString,
  type CommandContext,
  type CommandSpec,
} from '../command.js';
import { UsageError } from '../errors.js';
import { resolveServer } from './change-args.js';
import { warnPasswordOnArgv } from './shared.js';

export const driftCommand: CommandSpec = {
  path: ['drift'],
  summary:
    'Find changes that did not come through the binlog: compare the live server (or a backup) with the last dump plus captured changes, row by row',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The captured server',
    },
    {
      name: 'scratch-dsn',
      type: 'string',
      value: 'URL',
      required: true,
      description:
        'Scratch server the expected state is built on; the compared schemas are dropped there first (password from DBTRAIL_SCRATCH_PASSWORD or DBTRAIL_SCRATCH_PASSWORD_FILE)',
    },
    {
      name: 'dsn',
      type: 'string',
      value: 'URL',
      config: 'source.dsn',
      description: 'The live server, read in one consistent snapshot (not used with --between)',
    },
    {
      name: 'between',
      type: 'string',
      value: 'BACKUP_A',
      description:
        'Compare two backups instead of the live server: BACKUP_A plus the changes captured up to BACKUP_B must equal BACKUP_B (give BACKUP_B as the argument)',
    },
    { name: 'schemas', type: 'list', value: 'a,b', description: 'Only these schemas' },
    { name: 'tables', type: 'list', value: 's.t,...', description: 'Only these tables' },
    {
      name: 'chunk-time-ms',
      type: 'integer',
      value: 'MS',
      min: 10,
      max: 60_000,
      description: 'Aimed time per checksum chunk on the live server (default 250)',
    },
    {
      name: 'max-threads-running',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 100_000,
      description: 'Wait while the live server runs more threads than this (default 25)',
    },
    {
      name: 'identity',
      type: 'string',
      value: 'FILE',
      description: 'age identity file for encrypted backups',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as JSON' },
  ],
  positionals: [{ name: 'BACKUP_B', description: 'With --between: the newer backup' }],
  async run(ctx, args) {
    const between = flagString(args, 'between');
    const backupB = args.positionals[0];
    if (between !== undefined && backupB === undefined) {
      throw new UsageError(
        'Cannot run drift --between: expected two backup ids, --between BACKUP_A BACKUP_B',
        {
          flag: '--between',
        },
      );
    }
    if (between === undefined && backupB !== undefined) {
      throw new UsageError(`Unexpected argument "${backupB}": a backup id is only taken with --between`, {
        value: backupB,
      });
    }
    const tables = flagList(args, 'tables');
    for (const t of tables ?? []) {
      if (!/^[^.]+\.[^.]+$/.test(t)) {
        throw new UsageError(`Cannot use --tables "${t}": expected schema.table`, {
          flag: '--tables',
          value: t,
        });
      }
    }
    const scratchText = flagString(args, 'scratch-dsn') as string;
    const scratch = resolvePassword(parseDsn(scratchText), {
      password: ctx.env['DBTRAIL_SCRATCH_PASSWORD'],
      passwordFile: ctx.env['DBTRAIL_SCRATCH_PASSWORD_FILE'],
    });
    warnPasswordOnArgv(ctx, scratch, scratchText);
    const identityFile = flagString(args, 'identity');
    const decrypt =
      identityFile === undefined ? undefined : ageDecryptor(await readIdentityFile(identityFile));
    const chunkMs = flagInt(args, 'chunk-time-ms');
    const maxThreads = flagInt(args, 'max-threads-running');
    const limits = {
      ...(chunkMs !== undefined ? { targetChunkMs: chunkMs } : {}),
      ...(maxThreads !== undefined ? { maxThreadsRunning: maxThreads } : {}),
    };
    const schemas = flagList(args, 'schemas');
    const { openApp } = await import('../../app.js');
    const { runBetweenBackups, runLiveDrift } = await import('../../drift/run.js');
    const app = await openApp(ctx.config);
    let result: DriftResult;
    try {
      const { tenant, server } = await resolveServer(app, flagString(args, 'server-name') as string);
      const common = {
        tenantId: tenant.id,
        serverId: server.id,
        serverName: server.name,
        scratch,
        s3: ctx.config.s3,
        ...(decrypt !== undefined ? { decrypt } : {}),
        workDir: tmpdir(),
        ...(schemas !== undefined ? { schemas } : {}),
        ...(tables !== undefined ? { tables } : {}),
        limits,
        logger: ctx.logger.child({ component: 'drift' }),
        signal: ctx.signal,
      };
      const deps = {
        catalog: app.store.catalog,
        changes: app.store.changes,
        archive: app.store.binlogArchive,
      };
      try {
        if (between !== undefined) {
          result = await runBetweenBackups(deps, { ...common, backupA: between, backupB: backupB as string });
        } else {
          const flagDsn = flagString(args, 'dsn');
          const source = sourceDsn(ctx.config, flagDsn);
          warnPasswordOnArgv(ctx, source, flagDsn);
          const checkpoint = await app.store.changes.checkpoint(server.id);
          result = await runLiveDrift(deps, {
            ...common,
            source,
            flavor: checkpoint?.identity.flavor ?? 'mariadb',
          });
        }
      } catch (err) {
        await notify(ctx, {
          event: 'drift.failed',
          tenant_id: tenant.id,
          server_id: server.id,
          server_name: server.name,
          drifted_tables: [],
          drifted_rows: 0,
          coordinates: null,
          error: messageOf(err),
        });
        await audit(app.store, {
          tenantId: tenant.id,
          actor: cliActor(),
          action: 'drift.run',
          target: server.id,
          outcome: 'failure',
          details: { server_id: server.id, server_name: server.name, error: messageOf(err) },
        });
        throw err;
      }
      if (result.status === 'drift') {
        await notify(ctx, {
          event: 'drift.detected',
          tenant_id: tenant.id,
          server_id: server.id,
          server_name: server.name,
          drifted_tables: result.tables.filter((t) => !t.equal).map((t) => `${t.schema}.${t.table}`),
          drifted_rows: result.driftedRows,
          coordinates: {
            file: result.coordinates.file,
            position: result.coordinates.position,
            gtid: result.coordinates.gtidSet,
          },
          error: null,
        });
      }
      await audit(app.store, {
        tenantId: tenant.id,
        actor: cliActor(),
        action: 'drift.run',
        target: server.id,
        outcome: result.status === 'clean' ? 'success' : 'failure',
        details: {
          server_id: server.id,
          server_name: server.name,
          mode: result.mode,
          status: result.status,
          backup_id: result.backupId,
          compared_backup_id: result.comparedBackupId,
          file: result.coordinates.file,
          position: result.coordinates.position,
          gtid: result.coordinates.gtidSet,
          tables: result.tables.length,
          drifted_tables: result.tables.filter((t) => !t.equal).length,
          drifted_rows: result.driftedRows,
        },
      });
    } finally {
      await app.close();
    }
    ctx.stdout.write(flagBool(args, 'json') ? `${JSON.stringify(driftJson(result))}\n` : renderDrift(result));
    // Drift found is a result, not a failure to run: exit 1 like a failed check.
    return result.status === 'clean' ? 0 : 1;
  },
};

/** Drift is what the failure webhook exists for: a person must hear of it without looking. */
async function notify(ctx: CommandContext, event: ControlPlaneEvent): Promise<void> {
  const url = ctx.config.notify.webhookUrl;
  if (url === undefined) return;
  const { WebhookNotifier } = await import('../../scheduler/webhook.js');
  const notifier = new WebhookNotifier({ url, logger: ctx.logger });
  notifier.notify(event);
  await notifier.flush();
}

export function driftJson(r: DriftResult): Record<string, unknown> {
  return {
    status: r.status,
    mode: r.mode,
    coordinates: { file: r.coordinates.file, position: r.coordinates.position, gtid: r.coordinates.gtidSet },
    snapshot_method: r.snapshotMethod,
    backup_id: r.backupId,
    compared_backup_id: r.comparedBackupId,
    drifted_rows: r.driftedRows,
    restore_ms: r.restoreMs,
    compare_ms: r.compareMs,
    tables: r.tables.map((t) => ({
      table: `${t.schema}.${t.table}`,
      equal: t.equal,
      missing_on: t.missingOn ?? null,
      actual_rows: t.actualRows.toString(),
      expected_rows: t.expectedRows.toString(),
      chunks: t.chunks,
      differing_chunks: t.differingChunks,
      chunk_ms: { max: round(t.chunkMs.max), p95: round(t.chunkMs.p95), total: round(t.chunkMs.total) },
      pauses: t.pauses,
      bytes: t.bytes.toString(),
      drifted_row_count: t.driftedRowCount,
      drifted_rows: t.driftedRows.map((d) => ({
        kind: d.kind,
        key: d.key,
        expected: d.expected,
        actual: d.actual,
        explained_by_capture: d.explainedByCapture,
        last_captured_change:
          d.lastCapturedChange === null
            ? null
            : {
                seq: d.lastCapturedChange.seq,
                gtid: d.lastCapturedChange.gtid,
                type: d.lastCapturedChange.type,
                commit_time_us: d.lastCapturedChange.commitTimeUs,
              },
      })),
    })),
  };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

function renderDrift(r: DriftResult): string {
  const at = `${r.coordinates.file}:${r.coordinates.position}${r.coordinates.gtidSet ? ` (GTID ${r.coordinates.gtidSet})` : ''}`;
  const what =
    r.mode === 'live'
      ? `live server vs backup ${r.backupId} + captured changes at ${at}`
      : `backup ${r.comparedBackupId ?? ''} vs backup ${r.backupId} + captured changes up to ${at}`;
  const lines = [
    `Drift check: ${r.status === 'clean' ? 'CLEAN' : `DRIFT in ${r.tables.filter((t) => !t.equal).length} table(s), ${r.driftedRows} row(s)`}`,
    `  ${what}`,
    `  restore ${formatDuration(r.restoreMs)}, compare ${formatDuration(r.compareMs)}`,
  ];
  for (const t of r.tables) {
    if (t.missingOn !== undefined) {
      lines.push(`  DIFF ${t.schema}.${t.table}: the table is missing on the ${t.missingOn} side`);
      continue;
    }
    lines.push(
      `  ${t.equal ? 'ok  ' : 'DIFF'} ${t.schema}.${t.table}: ${t.actualRows} rows, ${t.chunks} chunks (max ${Math.round(t.chunkMs.max)} ms)${t.equal ? '' : `, ${t.driftedRowCount} drifted`}`,
    );
    for (const d of t.driftedRows) {
      const why = d.explainedByCapture
        ? `matches captured change ${d.lastCapturedChange?.gtid ?? d.lastCapturedChange?.seq ?? ''}: the expected side is wrong`
        : 'no captured change explains it';
      lines.push(`       ${d.kind} ${JSON.stringify(d.key)}: ${why}`);
      if (d.expected !== null) lines.push(`         expected ${JSON.stringify(d.expected)}`);
      if (d.actual !== null) lines.push(`         actual   ${JSON.stringify(d.actual)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
