import { openApp } from '../../app.js';
import { parseTableFilter } from '../../capture/filter.js';
import { formatMicros } from '../../capture/gap.js';
import { CaptureStatusLine } from '../../capture/progress.js';
import { captureServer } from '../../capture/server-record.js';
import { runStreamCapture, type CaptureSummary } from '../../capture/stream.js';
import { connectSource, sourceDsn } from '../../source/connect.js';
import { flagBool, flagList, flagString, type CommandSpec } from '../command.js';
import { warnPasswordOnArgv } from './shared.js';

export const streamCommand: CommandSpec = {
  path: ['stream'],
  summary:
    'Capture every row change and DDL of a server from its binlog into the change index, exactly once, until stopped',
  flags: [
    {
      name: 'dsn',
      type: 'string',
      value: 'URL',
      description: 'mysql://user@host:port (password from DBTRAIL_SOURCE_PASSWORD or a file)',
    },
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The server the changes belong to; registered on its first capture',
    },
    {
      name: 'schemas',
      type: 'list',
      value: 'A,B',
      description: 'Capture only these schemas (with --tables: either matches)',
    },
    {
      name: 'tables',
      type: 'list',
      value: 'S.T,...',
      description: 'Capture only these tables (with --schemas: either matches)',
    },
    {
      name: 'stop-at-end',
      type: 'boolean',
      description: 'Exit 0 once caught up with the end of the binlog instead of waiting for new changes',
    },
    {
      name: 'accept-gap',
      type: 'boolean',
      description:
        'When binlogs the checkpoint needs were purged, record the gap and continue from the oldest binlog',
    },
  ],
  async run(ctx, args) {
    const flagDsn = flagString(args, 'dsn');
    const dsn = sourceDsn(ctx.config, flagDsn);
    const serverName = flagString(args, 'server-name') as string;
    const filter = parseTableFilter(flagList(args, 'schemas'), flagList(args, 'tables'));
    warnPasswordOnArgv(ctx, dsn, flagDsn);
    // Reach the source before touching the store: a wrong DSN registers nothing.
    await (await connectSource(dsn)).close();

    const log = ctx.logger.child({ component: 'capture', server: serverName });
    const status = new CaptureStatusLine(ctx.stderr, 'stream');
    const app = await openApp(ctx.config, { longRunning: true });
    let summary: CaptureSummary;
    try {
      const server = await captureServer(app.store, ctx.config.tenant, serverName, {
        host: dsn.host === '' ? 'localhost' : dsn.host,
        port: dsn.port,
        username: dsn.user,
      });
      summary = await runStreamCapture({
        dsn,
        index: app.store.changes,
        serverId: server.id,
        serverName,
        filter,
        stopAtEnd: flagBool(args, 'stop-at-end'),
        acceptGap: flagBool(args, 'accept-gap'),
        signal: ctx.signal,
        logger: log,
        status,
        onGap: (gap) => {
          if (gap.accepted) {
            status.finish();
            ctx.stderr.write(`dbtrail: recorded a gap in the captured history ${gap.text}\n`);
          }
        },
      });
    } finally {
      status.finish();
      await app.close();
    }
    const at = summary.checkpoint;
    log.info(
      {
        transactions: summary.transactions,
        changes: summary.changes,
        reconnects: summary.reconnects,
        checkpoint: at,
        stoppedBy: summary.stoppedBy,
      },
      `Capture stopped (${summary.stoppedBy === 'signal' ? 'signal' : 'caught up'}): ${summary.changes} row changes in ${summary.transactions} transactions${at === null ? '' : `, checkpoint ${at.file}:${at.position}${at.gtidSet ? ` (GTID ${at.gtidSet})` : ''}`}`,
    );
    for (const g of summary.gaps) {
      log.warn(
        {
          from: g.gap.from,
          to: g.gap.to,
          fromTime: g.fromTimeUs === null ? null : formatMicros(g.fromTimeUs),
        },
        'Gap recorded during this capture',
      );
    }
    return 0;
  },
};
