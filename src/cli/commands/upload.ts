import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openApp } from '../../app.js';
import { uploadCatalogBackup } from '../../backup/run.js';
import { backupToJson } from '../../store/catalog.js';
import { uploadBackup, type UploadResult } from '../../backup/upload.js';
import { Progress, formatBytes } from '../../lib/progress.js';
import { openObjectStore } from '../../objects/open.js';
import { flagBool, flagInt, type CommandContext, type CommandSpec, type ParsedArgs } from '../command.js';
import { EXIT_INTERRUPTED } from '../exit-codes.js';
import { audit, cliActor } from '../../store/audit-log.js';
import { auditBackupOperation } from './audit-helpers.js';
import { runTransfer } from './shared.js';

export const uploadCommand: CommandSpec = {
  path: ['upload'],
  summary:
    'Upload a local backup directory to the object store, manifest last; a rerun uploads only what is missing',
  positionals: [
    {
      name: 'BACKUP_ID|DIR',
      description: 'A catalog backup id (retries its upload) or a backup directory written by dbtrail dump',
      required: true,
    },
  ],
  flags: [
    {
      name: 'to',
      type: 'string',
      value: 'URL',
      config: 'objectsUrl',
      description: 'Object store: s3://bucket/prefix or file:///path (default: objectsUrl from the config)',
    },
    {
      name: 'concurrency',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 64,
      description: 'Files uploaded at the same time (default 4)',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as one JSON object' },
  ],
  async run(ctx, args) {
    const arg = args.positionals[0] as string;
    if (!existsSync(arg)) return uploadById(ctx, args, arg);
    const dir = resolve(arg);
    const store = openObjectStore(ctx.config.objectsUrl, ctx.config.s3);
    let result: UploadResult | undefined;
    try {
      result = await runTransfer(
        ctx,
        args,
        { label: 'upload', interrupted: 'upload interrupted; run the same command again to upload the rest' },
        (o) => uploadBackup(dir, store, o),
      );
    } finally {
      store.close();
    }
    if (result === undefined) return EXIT_INTERRUPTED;
    await auditBackupOperation(ctx, {
      action: 'backup.upload',
      backupId: result.backupId,
      outcome: 'success',
      details: { location: result.location, bytes_uploaded: result.bytesUploaded },
    });
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    }
    const uploaded = result.files.filter((f) => f.status === 'uploaded').length;
    const skipped = result.files.length - uploaded;
    ctx.stdout.write(
      `Uploaded backup ${result.backupId} to ${result.location}\n` +
        `  ${result.files.length} files: ${uploaded} uploaded (${formatBytes(result.bytesUploaded)}), ` +
        `${skipped} already in place (${formatBytes(result.bytesSkipped)}); manifest ${result.manifest === 'uploaded' ? 'written' : 'already in place'}\n`,
    );
    return 0;
  },
};

/** Retries the upload of a catalog backup (status failed after its dump finished), recording the outcome. */
async function uploadById(ctx: CommandContext, args: ParsedArgs, idOrPrefix: string): Promise<number> {
  const app = await openApp(ctx.config);
  const store = openObjectStore(ctx.config.objectsUrl, ctx.config.s3);
  const progress = new Progress({ stream: ctx.stderr, label: 'upload' });
  try {
    const tenant = await app.store.tenants.ensure(ctx.config.tenant);
    const id = await app.store.catalog.resolveId(idOrPrefix, { tenantId: tenant.id });
    const record = await app.store.catalog.get(id, { tenantId: tenant.id });
    const concurrency = flagInt(args, 'concurrency');
    const result = await uploadCatalogBackup(
      { catalog: app.store.catalog, objects: store, logger: ctx.logger.child({ component: 'upload' }) },
      record,
      {
        signal: ctx.signal,
        ...(concurrency !== undefined ? { concurrency } : {}),
        onProgress: (p) => progress.update(p.bytesDone, p.bytesTotal),
      },
    );
    progress.finish();
    await audit(
      app.store,
      {
        tenantId: tenant.id,
        actor: cliActor(),
        action: 'backup.upload',
        target: result.record.id,
        outcome: result.record.status === 'succeeded' ? 'success' : 'failure',
        details: { server_name: result.record.serverName, location: result.upload.location },
      },
      ctx.logger,
    );
    if (flagBool(args, 'json')) ctx.stdout.write(`${JSON.stringify(backupToJson(result.record))}\n`);
    else
      ctx.stdout.write(
        `Uploaded backup ${result.record.id} to ${result.upload.location}: ${result.record.status}\n`,
      );
    return 0;
  } finally {
    progress.finish();
    store.close();
    await app.close();
  }
}
