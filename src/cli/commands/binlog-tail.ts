import { once } from 'node:events';
import { renderNdjson, renderText } from '../../binlog/render.js';
import { sourceDsn } from '../../source/connect.js';
import { openBinlogStream, type StartPosition } from '../../source/replication/binlog-stream.js';
import { isStreamArtifact } from '../../source/replication/coordinates.js';
import { UsageError } from '../errors.js';
import { flagBool, flagInt, flagString, type CommandSpec } from '../command.js';
import { warnPasswordOnArgv } from './shared.js';

export const binlogTailCommand: CommandSpec = {
  path: ['binlog', 'tail'],
  summary: 'Stream binlog events from a server as a replica, in the same NDJSON (or text) as binlog decode',
  flags: [
    {
      name: 'dsn',
      type: 'string',
      value: 'URL',
      description: 'mysql://user@host:port (password from DBTRAIL_SOURCE_PASSWORD or a file)',
    },
    {
      name: 'from-file',
      type: 'string',
      value: 'FILE',
      description: 'Start in this binlog file (default: the current end)',
    },
    {
      name: 'from-pos',
      type: 'integer',
      value: 'N',
      min: 4,
      description: 'Start at this offset of --from-file (default 4)',
    },
    {
      name: 'from-gtid',
      type: 'string',
      value: 'GTID',
      description: 'Start after this GTID position: MariaDB 0-1-100,... or a MySQL GTID set uuid:1-5',
    },
    {
      name: 'stop-at-end',
      type: 'boolean',
      description: 'Stop at the end of the binlog instead of waiting for new events',
    },
    {
      name: 'format',
      type: 'string',
      value: 'FORMAT',
      choices: ['ndjson', 'text'],
      description: 'Output format: ndjson (default) or text',
    },
    {
      name: 'server-id',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 4294967295,
      description: 'Replica server id to register with (default: random, unique per run)',
    },
    {
      name: 'heartbeat',
      type: 'integer',
      value: 'MS',
      min: 1,
      max: 4294967,
      description:
        'Heartbeat period requested from the server; silence of 2.5 periods ends with an error (default 5000)',
    },
  ],
  async run(ctx, args) {
    const flagDsn = flagString(args, 'dsn');
    const start = startFromFlags(
      flagString(args, 'from-file'),
      flagInt(args, 'from-pos'),
      flagString(args, 'from-gtid'),
    );
    const dsn = sourceDsn(ctx.config, flagDsn);
    warnPasswordOnArgv(ctx, dsn, flagDsn);
    const render = flagString(args, 'format') === 'text' ? renderText : renderNdjson;
    const stream = await openBinlogStream(dsn, {
      from: start,
      stopAtEnd: flagBool(args, 'stop-at-end'),
      serverId: flagInt(args, 'server-id'),
      heartbeatMs: flagInt(args, 'heartbeat'),
      signal: ctx.signal,
    });
    ctx.logger.debug(
      { replicaServerId: stream.replicaServerId, start: stream.start, server: stream.facts.version },
      'Binlog stream started',
    );
    try {
      for await (const event of stream) {
        // Heartbeats and the events the server adds to a dump are not binlog content: leave them out so the
        // output equals `binlog decode` over the same range.
        if (isStreamArtifact(event)) continue;
        // One write per event, so a live tail shows each event as it arrives; wait when the reader is slow, which
        // pauses the socket in turn.
        if (!ctx.stdout.write(render(event)))
          await once(ctx.stdout, 'drain', { signal: ctx.signal }).catch(() => undefined);
      }
    } finally {
      await stream.close();
    }
    return 0;
  },
};

function startFromFlags(
  file: string | undefined,
  pos: number | undefined,
  gtid: string | undefined,
): StartPosition | undefined {
  if (gtid !== undefined && (file !== undefined || pos !== undefined)) {
    throw new UsageError('Cannot combine --from-gtid with --from-file/--from-pos: give one start position');
  }
  if (gtid !== undefined) return { gtid };
  if (pos !== undefined && file === undefined) {
    throw new UsageError('Cannot use --from-pos without --from-file: the position is an offset in that file');
  }
  if (file !== undefined) return { file, position: pos ?? 4 };
  return undefined;
}
