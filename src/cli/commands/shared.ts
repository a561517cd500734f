import type { BackupLocation } from '../../backup/location.js';
import type { ResolvedDsn } from '../../source/dsn.js';
import type { CommandContext } from '../command.js';

/** A password typed into --dsn is visible to every user of the host in the process list; say so once. */
export function warnPasswordOnArgv(ctx: CommandContext, dsn: ResolvedDsn, flagDsn: string | undefined): void {
  if (dsn.passwordOrigin === 'dsn' && flagDsn !== undefined) {
    ctx.logger.warn(
      'The password in --dsn is visible in the process list; prefer DBTRAIL_SOURCE_PASSWORD or source.passwordFile',
    );
  }
}

/**
 * Opens the backup a command argument names: a catalog id (or unique prefix, as `backup list` shows), an
 * object-store URL or a local path. Only an id needs the state store, which is closed again at once.
 */
export async function openBackupArg(ctx: CommandContext, arg: string): Promise<BackupLocation> {
  const { resolveBackupLocation } = await import('../../backup/resolve.js');
  const { openApp } = await import('../../app.js');
  let app: Awaited<ReturnType<typeof openApp>> | undefined;
  try {
    return await resolveBackupLocation(arg, {
      s3: ctx.config.s3,
      catalog: {
        // The catalog is opened only when the argument is an id.
        resolveId: async (id, scope) => (await open()).store.catalog.resolveId(id, scope),
        get: async (id, scope) => (await open()).store.catalog.get(id, scope),
      },
      tenantId: async () => (await (await open()).store.tenants.ensure(ctx.config.tenant)).id,
    });
  } finally {
    await app?.close();
  }
  async function open(): Promise<Awaited<ReturnType<typeof openApp>>> {
    app ??= await openApp(ctx.config);
    return app;
  }
}
