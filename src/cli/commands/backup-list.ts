import { BACKUP_STATUSES, type BackupStatus } from '../../store/backup-lifecycle.js';
import { backupToJson, MAX_LIST_LIMIT, type BackupRecord } from '../../store/catalog.js';
import { openApp } from '../../app.js';
import { flagBool, flagInt, flagString, type CommandSpec } from '../command.js';
import { DEFAULT_TABLE_WIDTH, renderBackupTable } from '../render/backup-list.js';

export const backupListCommand: CommandSpec = {
  path: ['backup', 'list'],
  summary: 'List the backups of the configured tenant, newest first',
  flags: [
    { name: 'server-name', type: 'string', value: 'NAME', description: 'Only backups of this server' },
    {
      name: 'status',
      type: 'string',
      value: 'STATUS',
      choices: BACKUP_STATUSES,
      description: 'Only backups in this status',
    },
    {
      name: 'limit',
      type: 'integer',
      value: 'N',
      min: 1,
      max: MAX_LIST_LIMIT,
      description: 'At most N backups (default 20)',
    },
    { name: 'json', type: 'boolean', description: 'Print a JSON array of backup records' },
  ],
  async run(ctx, args) {
    const app = await openApp(ctx.config);
    let backups: readonly BackupRecord[];
    try {
      const serverName = flagString(args, 'server-name');
      const status = flagString(args, 'status') as BackupStatus | undefined;
      // Listing never creates the tenant: an unknown tenant simply has no backups.
      const tenant = await app.store.tenants.findByName(ctx.config.tenant);
      backups =
        tenant === undefined
          ? []
          : await app.store.catalog.list({
              tenantId: tenant.id,
              limit: flagInt(args, 'limit') ?? 20,
              ...(serverName === undefined ? {} : { serverName }),
              ...(status === undefined ? {} : { status }),
            });
    } finally {
      await app.close();
    }
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${JSON.stringify(backups.map(backupToJson))}\n`);
    } else if (backups.length === 0) {
      ctx.stdout.write(`No backups for tenant "${ctx.config.tenant}" match\n`);
    } else {
      const width =
        ctx.stdout.isTTY === true && ctx.stdout.columns !== undefined
          ? ctx.stdout.columns
          : DEFAULT_TABLE_WIDTH;
      ctx.stdout.write(renderBackupTable(backups, width));
    }
    return 0;
  },
};
