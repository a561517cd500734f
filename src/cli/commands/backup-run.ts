import { runBackup } from '../../backup/run.js';
import { Progress, formatBytes, formatDuration } from '../../lib/progress.js';
import { openObjectStore } from '../../objects/open.js';
import { backupToJson, type BackupRecord } from '../../store/catalog.js';
import { openApp } from '../../app.js';
import { messageOf } from '../../lib/errors.js';
import { audit, cliActor } from '../../store/audit-log.js';
import { flagBool, type CommandSpec } from '../command.js';
import { DUMP_FLAGS, dumpRequestFrom } from './dump.js';

export const backupRunCommand: CommandSpec = {
  path: ['backup', 'run'],
  summary: 'Dump a server, upload the backup to the object store and record it in the catalog (one step)',
  flags: [
    ...DUMP_FLAGS,
    {
      name: 'to',
      type: 'string',
      value: 'URL',
      config: 'objectsUrl',
      description: 'Object store: s3://bucket/prefix or file:///path (default: objectsUrl from the config)',
    },
  ],
  async run(ctx, args) {
    const dumpProgress = new Progress({ stream: ctx.stderr, label: 'dump' });
    const request = await dumpRequestFrom(ctx, args, dumpProgress);
    const app = await openApp(ctx.config);
    const objects = openObjectStore(ctx.config.objectsUrl, ctx.config.s3);
    const log = ctx.logger.child({ component: 'backup' });
    const progress = new Progress({ stream: ctx.stderr, label: 'upload' });
    try {
      const tenant = await app.store.tenants.ensure(ctx.config.tenant);
      let backupId: string | null = null;
      const result = await runBackup(
        { catalog: app.store.catalog, objects, logger: log },
        {
          ...request,
          tenantId: tenant.id,
          upload: {
            onProgress: (p) => {
              dumpProgress.finish();
              progress.update(p.bytesDone, p.bytesTotal);
            },
          },
          onStatus: (r) => {
            backupId = r.id;
            log.debug({ backupId: r.id, status: r.status }, 'Backup status changed');
          },
        },
      ).catch(async (err: unknown) => {
        await audit(
          app.store,
          {
            tenantId: tenant.id,
            actor: cliActor(),
            action: 'backup.run',
            target: backupId,
            outcome: 'failure',
            details: { server_name: request.serverName, error: messageOf(err).slice(0, 500) },
          },
          ctx.logger,
        );
        throw err;
      });
      await audit(
        app.store,
        {
          tenantId: tenant.id,
          actor: cliActor(),
          action: 'backup.run',
          target: result.record.id,
          outcome: 'success',
          details: {
            server_name: result.record.serverName,
            location: result.record.location,
            signature_key_id: request.signer?.key.keyId ?? null,
          },
        },
        ctx.logger,
      );
      progress.finish();
      ctx.stdout.write(
        flagBool(args, 'json') ? `${JSON.stringify(backupToJson(result.record))}\n` : render(result.record),
      );
      return 0;
    } finally {
      dumpProgress.finish();
      progress.finish();
      objects.close();
      await app.close();
    }
  },
};

function render(r: BackupRecord): string {
  const c = r.coordinates;
  return (
    [
      `Backup ${r.id} of ${r.serverName}: ${r.status}`,
      `  tool:        ${r.tool}${r.toolVersion !== null ? ` ${r.toolVersion}` : ''}`,
      `  coordinates: ${c === null ? '-' : `${c.file}:${c.position}${c.gtid !== null && c.gtid !== '' ? ` (GTID ${c.gtid})` : ''}`}`,
      `  size:        ${r.sizeBytes === null ? '-' : formatBytes(r.sizeBytes)}`,
      `  duration:    ${r.durationMs === null ? '-' : formatDuration(r.durationMs)}`,
      `  location:    ${r.location ?? '-'}`,
    ].join('\n') + '\n'
  );
}
