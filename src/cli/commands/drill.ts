import { tmpdir } from 'node:os';
import { ageDecryptor, readIdentityFile } from '../../backup/encryption.js';
import { formatDuration } from '../../lib/progress.js';
import { sourceDsn } from '../../source/connect.js';
import { parseDsn, resolvePassword } from '../../source/dsn.js';
import type { DrillRecord } from '../../store/drills.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { resolveServer } from './change-args.js';
import { warnPasswordOnArgv } from './shared.js';

export const drillCommand: CommandSpec = {
  path: ['drill'],
  summary:
    'Prove a restore works: restore the latest backup plus changes into a scratch server, compare per-table checksums with the source, record the result and RTO',
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
        'Scratch server to restore into; the restored schemas are dropped there first (password from DBTRAIL_SCRATCH_PASSWORD or DBTRAIL_SCRATCH_PASSWORD_FILE)',
    },
    {
      name: 'dsn',
      type: 'string',
      value: 'URL',
      config: 'source.dsn',
      description: 'The source server, read in one consistent snapshot for the checksums',
    },
    {
      name: 'identity',
      type: 'string',
      value: 'FILE',
      description: 'age identity file for an encrypted backup',
    },
    { name: 'json', type: 'boolean', description: 'Print the drill record as JSON' },
  ],
  async run(ctx, args) {
    const flagDsn = flagString(args, 'dsn');
    const source = sourceDsn(ctx.config, flagDsn);
    warnPasswordOnArgv(ctx, source, flagDsn);
    const scratchText = flagString(args, 'scratch-dsn') as string;
    const scratch = resolvePassword(parseDsn(scratchText), {
      password: ctx.env['DBTRAIL_SCRATCH_PASSWORD'],
      passwordFile: ctx.env['DBTRAIL_SCRATCH_PASSWORD_FILE'],
    });
    warnPasswordOnArgv(ctx, scratch, scratchText);
    const identityFile = flagString(args, 'identity');
    const decrypt =
      identityFile === undefined ? undefined : ageDecryptor(await readIdentityFile(identityFile));
    const { openApp } = await import('../../app.js');
    const { runDrill } = await import('../../restore/drill.js');
    const { DrillFailedError } = await import('../../restore/errors.js');
    const app = await openApp(ctx.config);
    let record: DrillRecord;
    try {
      const { tenant, server } = await resolveServer(app, flagString(args, 'server-name') as string);
      try {
        record = await runDrill(
          { catalog: app.store.catalog, changes: app.store.changes, drills: app.store.drills },
          {
            tenantId: tenant.id,
            serverId: server.id,
            serverName: server.name,
            source,
            scratch,
            s3: ctx.config.s3,
            ...(decrypt !== undefined ? { decrypt } : {}),
            workDir: tmpdir(),
            logger: ctx.logger.child({ component: 'drill' }),
            signal: ctx.signal,
          },
        );
      } catch (err) {
        if (!(err instanceof DrillFailedError)) throw err;
        // A failed drill is a result: print it like a passed one, then exit 1.
        record = err.fields['drill'] as DrillRecord;
        ctx.stdout.write(
          flagBool(args, 'json') ? `${JSON.stringify(drillJson(record))}\n` : renderDrill(record),
        );
        ctx.stderr.write(`dbtrail: ${err.message}\n`);
        return 1;
      }
    } finally {
      await app.close();
    }
    ctx.stdout.write(flagBool(args, 'json') ? `${JSON.stringify(drillJson(record))}\n` : renderDrill(record));
    return 0;
  },
};

export function drillJson(d: DrillRecord): Record<string, unknown> {
  return {
    id: d.id,
    server_id: d.serverId,
    backup_id: d.backupId,
    status: d.status,
    started_at: d.startedAt.toISOString(),
    finished_at: d.finishedAt.toISOString(),
    rto_ms: d.rtoMs,
    coordinates: d.coordinates,
    steps: d.steps,
    tables: d.tables.map((t) => ({
      table: t.table,
      source_rows: t.sourceRows,
      scratch_rows: t.scratchRows,
      source_checksum: t.sourceChecksum,
      scratch_checksum: t.scratchChecksum,
      match: t.match,
    })),
    error: d.error,
  };
}

function renderDrill(d: DrillRecord): string {
  const lines = [
    `Drill ${d.id}: ${d.status.toUpperCase()}${d.rtoMs !== null ? `, RTO ${formatDuration(d.rtoMs)}` : ''}${d.coordinates ? ` at ${d.coordinates.file}:${d.coordinates.position}` : ''} (backup ${d.backupId ?? 'none'})`,
  ];
  for (const s of d.steps) lines.push(`  ${s.step.padEnd(7)} ${formatDuration(s.ms)}`);
  for (const t of d.tables) {
    lines.push(
      `  ${t.match ? 'ok  ' : 'DIFF'} ${t.table}: ${t.sourceRows} rows${t.match ? '' : ` (scratch ${t.scratchRows}, checksum ${t.scratchChecksum} vs ${t.sourceChecksum})`}`,
    );
  }
  if (d.error !== null) lines.push(`  ${d.error}`);
  return `${lines.join('\n')}\n`;
}
