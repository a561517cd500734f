import { openApp } from '../../app.js';
import { parseTableFilter } from '../../capture/filter.js';
import { formatMicros } from '../../capture/gap.js';
import { CaptureStatusLine } from '../../capture/progress.js';
import { captureServer } from '../../capture/server-record.js';
import { runStreamCapture, type CaptureSummary } from '../../capture/stream.js';
import { connectSource, sourceDsn } from '../../source/connect.js';
import { flagBool, flagList, flagString, type CommandSpec } from '../command.js';
import { openServerArchive } from '../../archive/open.js';
import type { BinlogArchiver } from '../../archive/archiver.js';
import { openObjectStore } from '../../objects/open.js';
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
      name: 'archive',
      type: 'boolean',
      description:
        'Also archive the raw binlog as segments in the object store (default: archive.enabled, on); --no-archive turns it off',
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
    let archive: BinlogArchiver | undefined;
    let closeObjects: (() => void) | undefined;
    try {
      const server = await captureServer(app.store, ctx.config.tenant, serverName, {
        host: dsn.host === '' ? 'localhost' : dsn.host,
        port: dsn.port,
        username: dsn.user,
      });
      const archiveOn =
        args.flags['archive'] === undefined ? ctx.config.archive.enabled : flagBool(args, 'archive');
      if (archiveOn) {
        const objects = openObjectStore(ctx.config.objectsUrl, ctx.config.s3);
        closeObjects = () => objects.close();
        archive = await openServerArchive({
          config: ctx.config,
          catalog: app.store.binlogArchive,
          objects,
          tenant: ctx.config.tenant,
          serverName,
          serverId: server.id,
          logger: log,
        });
      }
      summary = await runStreamCapture({
        dsn,
        index: app.store.changes,
        serverId: server.id,
        serverName,
        filter,
        stopAtEnd: flagBool(args, 'stop-at-end'),
        acceptGap: flagBool(args, 'accept-gap'),
        ...(archive !== undefined ? { rawSink: archive } : {}),
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
      try {
        // Close the last segment and upload what is spooled; what cannot be uploaded now waits in the spool.
        const done = await archive?.close();
        if (done !== undefined && done.pending > 0) {
          log.warn(
            { pending: done.pending },
            'Archive segments left in the spool; they are uploaded on the next start',
          );
        }
      } finally {
        closeObjects?.();
        await app.close();
      }
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
