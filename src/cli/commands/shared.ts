import type { BackupLocation } from '../../backup/location.js';
import type { ResolvedDsn } from '../../source/dsn.js';
import { Progress } from '../../lib/progress.js';
import { flagInt, type CommandContext, type ParsedArgs } from '../command.js';

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

/** What a transfer step (upload, verify, fetch) receives: the command's signal, concurrency and a progress sink. */
export interface TransferOptions {
  readonly signal: AbortSignal;
  readonly concurrency?: number;
  readonly onProgress: (p: { readonly bytesDone: number; readonly bytesTotal: number }) => void;
}

/**
 * Runs one transfer step with a progress bar on a TTY (and progress events in the log), and turns Ctrl-C into a
 * one-line message and the interrupted exit code. Returns undefined when interrupted.
 */
export async function runTransfer<T>(
  ctx: CommandContext,
  args: ParsedArgs,
  step: { readonly label: string; readonly interrupted: string },
  work: (options: TransferOptions) => Promise<T>,
): Promise<T | undefined> {
  const log = ctx.logger.child({ component: step.label });
  const progress = new Progress({
    stream: ctx.stderr,
    label: step.label,
    onEvent: (s) =>
      log.info(
        { bytesDone: s.done, bytesTotal: s.total, rate: Math.round(s.rate) },
        `${step.label} progress`,
      ),
  });
  const concurrency = flagInt(args, 'concurrency');
  try {
    return await work({
      signal: ctx.signal,
      ...(concurrency !== undefined ? { concurrency } : {}),
      onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal),
    });
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    progress.finish();
    ctx.stderr.write(`dbtrail: ${step.interrupted}\n`);
    return undefined;
  } finally {
    progress.finish();
  }
}
