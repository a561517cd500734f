import { resolve } from 'node:path';
import { openApp } from '../../app.js';
import { parseTableFilter } from '../../capture/filter.js';
import { indexBinlogFiles, type IndexFilesSummary } from '../../capture/index-files.js';
import { captureServer } from '../../capture/server-record.js';
import { identityOf } from '../../capture/server-state.js';
import type { ServerIdentity } from '../../store/change-index.js';
import { connectSource, sourceDsn } from '../../source/connect.js';
import { probeServer } from '../../source/server-facts.js';
import { flagBool, flagList, flagString, type CommandSpec } from '../command.js';
import { warnPasswordOnArgv } from './shared.js';

export const indexFilesCommand: CommandSpec = {
  path: ['index'],
  summary: 'Index binlog files from disk into the change index, continuing from the checkpoint, exactly once',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The server the files belong to (registered by dbtrail stream, or by --dsn here)',
    },
    {
      name: 'dsn',
      type: 'string',
      value: 'URL',
      description: 'Registers a new server and checks its identity (the files are still read from disk)',
    },
    { name: 'schemas', type: 'list', value: 'A,B', description: 'Index only these schemas' },
    { name: 'tables', type: 'list', value: 'S.T,...', description: 'Index only these tables' },
    {
      name: 'accept-gap',
      type: 'boolean',
      description: 'When the files do not continue the checkpoint, record the gap and index them anyway',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as one JSON object' },
  ],
  positionals: [
    {
      name: 'FILE',
      description: 'Binlog files in binlog order, oldest first',
      required: true,
      variadic: true,
    },
  ],
  async run(ctx, args) {
    const serverName = flagString(args, 'server-name') as string;
    const filter = parseTableFilter(flagList(args, 'schemas'), flagList(args, 'tables'));
    const files = args.positionals.map((f) => resolve(f));
    const flagDsn = flagString(args, 'dsn');
    let identity: ServerIdentity | undefined;
    let register: { host: string; port: number; username: string } | undefined;
    if (flagDsn !== undefined) {
      const dsn = sourceDsn(ctx.config, flagDsn);
      warnPasswordOnArgv(ctx, dsn, flagDsn);
      const conn = await connectSource(dsn);
      try {
        identity = identityOf(await probeServer(conn));
      } finally {
        await conn.close();
      }
      register = { host: dsn.host === '' ? 'localhost' : dsn.host, port: dsn.port, username: dsn.user };
    }
    const log = ctx.logger.child({ component: 'index', server: serverName });
    const app = await openApp(ctx.config);
    let summary: IndexFilesSummary;
    try {
      const server = await captureServer(app.store, ctx.config.tenant, serverName, register);
      summary = await indexBinlogFiles({
        files,
        index: app.store.changes,
        serverId: server.id,
        serverName,
        filter,
        acceptGap: flagBool(args, 'accept-gap'),
        signal: ctx.signal,
        logger: log,
        ...(identity !== undefined ? { identity } : {}),
        onGap: (text) => ctx.stderr.write(`dbtrail: changes are missing ${text}\n`),
      });
    } finally {
      await app.close();
    }
    const cp = summary.checkpoint;
    if (flagBool(args, 'json')) {
      ctx.stdout.write(
        `${JSON.stringify({
          server: serverName,
          transactions: summary.transactions,
          changes: summary.changes,
          filesDone: summary.filesDone,
          unfinished: summary.unfinished ?? null,
          skipped: summary.skipped,
          checkpoint: cp,
        })}\n`,
      );
    } else {
      ctx.stdout.write(
        `Indexed ${summary.changes} row changes in ${summary.transactions} transactions for "${serverName}"${
          cp === null ? '' : `; checkpoint ${cp.file}:${cp.position}`
        }${summary.unfinished === undefined ? '' : `; ${summary.unfinished} is still open (no closing ROTATE)`}\n`,
      );
    }
    return 0;
  },
};
