import { join } from 'node:path';
import { runDump, type DumpRequest, type DumpResult } from '../../backup/dump.js';
import { parseRecipient, readRecipientFile } from '../../backup/encryption.js';
import { BACKUP_TOOLS, COMPRESSIONS, type BackupTool, type Compression } from '../../backup/manifest.js';
import { Progress } from '../../lib/progress.js';
import { sourceDsn } from '../../source/connect.js';
import {
  flagBool,
  flagInt,
  flagList,
  flagString,
  type CommandContext,
  type CommandSpec,
  type FlagSpec,
  type ParsedArgs,
} from '../command.js';
import { UsageError } from '../errors.js';
import { warnPasswordOnArgv } from './shared.js';
import { cliSigner } from './audit-helpers.js';

/** The dump flags, shared with `backup run`. */
export const DUMP_FLAGS: readonly FlagSpec[] = [
  {
    name: 'dsn',
    type: 'string',
    value: 'URL',
    description: 'mysql://user@host:port (password from DBTRAIL_SOURCE_PASSWORD or source.passwordFile)',
  },
  {
    name: 'server-name',
    type: 'string',
    value: 'NAME',
    required: true,
    description: 'Name of the server, used in directory and object paths',
  },
  {
    name: 'tool',
    type: 'string',
    value: 'TOOL',
    choices: BACKUP_TOOLS,
    description: 'mydumper (logical, default), mariadb-backup or xtrabackup (physical)',
  },
  {
    name: 'threads',
    type: 'integer',
    value: 'N',
    min: 1,
    max: 256,
    description: 'Dump threads (default 4)',
  },
  {
    name: 'schemas',
    type: 'list',
    value: 'A,B',
    description: 'Dump only these schemas (default: every schema except the system ones)',
  },
  {
    name: 'tables',
    type: 'list',
    value: 'S.T,...',
    description: 'Dump only these tables, as schema.table',
  },
  {
    name: 'out',
    type: 'string',
    value: 'DIR',
    description: 'Parent directory; the backup goes into a new subdirectory (default <home>/backups)',
  },
  {
    name: 'compress',
    type: 'string',
    value: 'KIND',
    choices: COMPRESSIONS,
    description: 'Compression by mydumper: none (default), gzip or zstd',
  },
  {
    name: 'encrypt',
    type: 'boolean',
    description: 'Encrypt every file with age to --recipient or --recipient-file',
  },
  {
    name: 'recipient',
    type: 'list',
    value: 'AGE1...',
    description: 'age public key(s) to encrypt to (from dbtrail generate-key)',
  },
  {
    name: 'recipient-file',
    type: 'string',
    value: 'FILE',
    description: 'File with one age public key per line',
  },
  { name: 'json', type: 'boolean', description: 'Print the result as one JSON object' },
];

export const dumpCommand: CommandSpec = {
  path: ['dump'],
  summary:
    'Take a consistent backup of a server into a new local directory, with binlog coordinates and a manifest',
  flags: DUMP_FLAGS,
  async run(ctx, args) {
    const progress = new Progress({ stream: ctx.stderr, label: 'dump' });
    let result: DumpResult;
    try {
      result = await runDump(await dumpRequestFrom(ctx, args, progress));
    } finally {
      progress.finish();
    }
    ctx.stdout.write(flagBool(args, 'json') ? `${JSON.stringify(jsonResult(result))}\n` : render(result));
    return 0;
  },
};

/** The dump request the flags describe. */
export async function dumpRequestFrom(
  ctx: CommandContext,
  args: ParsedArgs,
  progress?: Progress,
): Promise<DumpRequest> {
  const flagDsn = flagString(args, 'dsn');
  const dsn = sourceDsn(ctx.config, flagDsn);
  warnPasswordOnArgv(ctx, dsn, flagDsn);
  const recipients = await recipientsFrom(args);
  return {
    dsn,
    serverName: flagString(args, 'server-name') as string,
    tenant: ctx.config.tenant,
    tool: (flagString(args, 'tool') ?? 'mydumper') as BackupTool,
    threads: flagInt(args, 'threads') ?? 4,
    schemas: flagList(args, 'schemas') ?? null,
    tables: flagList(args, 'tables') ?? null,
    outDir: flagString(args, 'out') ?? join(ctx.config.home, 'backups'),
    compression: (flagString(args, 'compress') ?? 'none') as Compression,
    recipients,
    lockDir: join(ctx.config.home, 'locks'),
    signer: await cliSigner(ctx),
    logger: ctx.logger,
    signal: ctx.signal,
    ...(progress !== undefined ? { onProgress: (p) => progress.update(p.bytesDone, p.bytesEstimated) } : {}),
  };
}

async function recipientsFrom(args: ParsedArgs): Promise<string[]> {
  const listed = flagList(args, 'recipient') ?? [];
  const file = flagString(args, 'recipient-file');
  const encrypt = flagBool(args, 'encrypt');
  if (!encrypt) {
    if (listed.length > 0 || file !== undefined) {
      throw new UsageError('Cannot encrypt the backup: --recipient and --recipient-file need --encrypt');
    }
    return [];
  }
  const recipients = listed.map((r) => parseRecipient(r, '--recipient'));
  if (file !== undefined) recipients.push(...(await readRecipientFile(file)));
  if (recipients.length === 0) {
    throw new UsageError(
      'Cannot encrypt the backup: --encrypt needs --recipient AGE1... or --recipient-file FILE (see dbtrail generate-key)',
    );
  }
  return [...new Set(recipients)];
}

function jsonResult(result: DumpResult): Record<string, unknown> {
  return { backup_id: result.backupId, dir: result.dir, bytes: result.bytes, manifest: result.manifest };
}

function render(result: DumpResult): string {
  const m = result.manifest;
  const c = m.coordinates;
  const lines = [
    `Backup ${result.backupId} of ${m.server_name} written to ${result.dir}`,
    `  tool:        ${m.tool.name} ${m.tool.version}`,
    `  coordinates: ${c.file}:${c.position}${c.gtid !== null ? ` (GTID ${c.gtid})` : ''}`,
    `  files:       ${m.files.length}, ${result.bytes} bytes${m.encryption !== null ? ', encrypted with age' : ''}`,
  ];
  return `${lines.join('\n')}\n`;
}
