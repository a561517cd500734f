import { openApp } from '../../app.js';
import { fetchSegments, segmentsCovering, type ArchivePosition } from '../../archive/fetch.js';
import { openObjectStore } from '../../objects/open.js';
import type { ArchiveGap, BinlogSegment } from '../../store/binlog-archive.js';
import { flagBool, flagInt, flagString, type CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { exactJson } from '../render/json.js';
import { resolveServer } from './change-args.js';

/** A segment as `--json` prints it (snake_case, as the API). */
export function segmentToJson(s: BinlogSegment): Record<string, unknown> {
  return {
    id: s.id,
    file: s.file,
    start_position: s.startPosition,
    end_position: s.endPosition,
    ends_file: s.endsFile,
    start_gtid_set: s.startGtidSet,
    end_gtid_set: s.endGtidSet,
    first_gtid: s.firstGtid,
    last_gtid: s.lastGtid,
    first_commit_time: s.firstCommitUs === null ? null : isoMicros(s.firstCommitUs),
    last_commit_time: s.lastCommitUs === null ? null : isoMicros(s.lastCommitUs),
    transactions: s.transactions,
    bytes: s.bytes,
    sha256: s.sha256,
    object_key: s.objectKey,
    created_at: s.createdAt.toISOString(),
  };
}

function gapToJson(g: ArchiveGap): Record<string, unknown> {
  return {
    id: g.id,
    from: { file: g.from.file, position: g.from.position, gtid_set: g.from.gtidSet },
    to: { file: g.to.file, position: g.to.position, gtid_set: g.to.gtidSet },
    reason: g.reason,
    detail: g.detail,
    recorded_at: g.recordedAt.toISOString(),
  };
}

/** `2026-03-13T14:15:00.123456Z`: microseconds kept. */
function isoMicros(us: bigint): string {
  const ms = us / 1000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 23)}${String(us % 1000n).padStart(3, '0')}Z`;
}

export const binlogArchiveListCommand: CommandSpec = {
  path: ['binlog', 'archive', 'list'],
  summary: 'List the archived binlog segments of a server and the archive gaps',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The server (in the configured tenant)',
    },
    { name: 'json', type: 'boolean', description: 'Print {"segments": [...], "gaps": [...]}' },
  ],
  async run(ctx, args) {
    const app = await openApp(ctx.config);
    let segments: readonly BinlogSegment[];
    let gaps: readonly ArchiveGap[];
    try {
      const { server } = await resolveServer(app, flagString(args, 'server-name') as string);
      segments = await app.store.binlogArchive.list(server.id);
      gaps = await app.store.binlogArchive.gaps(server.id);
    } finally {
      await app.close();
    }
    if (flagBool(args, 'json')) {
      ctx.stdout.write(
        `${exactJson({ segments: segments.map(segmentToJson), gaps: gaps.map(gapToJson) })}\n`,
      );
      return 0;
    }
    if (segments.length === 0) ctx.stdout.write('No archived binlog segments\n');
    for (const s of segments) {
      const times =
        s.firstCommitUs === null || s.lastCommitUs === null
          ? '-'
          : `${isoMicros(s.firstCommitUs).slice(0, 19)}..${isoMicros(s.lastCommitUs).slice(11, 19)}`;
      ctx.stdout.write(
        `${s.file}:${s.startPosition}-${s.endPosition}${s.endsFile ? ' (end of file)' : ''}  ${s.transactions} trx  ${s.bytes} B  ${times}  ${s.lastGtid ?? ''}\n`,
      );
    }
    for (const g of gaps) {
      ctx.stdout.write(
        `gap: ${g.from.file}:${g.from.position} to ${g.to.file}:${g.to.position} (${g.reason}): ${g.detail}\n`,
      );
    }
    return 0;
  },
};

export const binlogArchiveFetchCommand: CommandSpec = {
  path: ['binlog', 'archive', 'fetch'],
  summary: 'Download and verify the archived binlog segments covering a range, ready for mariadb-binlog',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The server (in the configured tenant)',
    },
    {
      name: 'to',
      type: 'string',
      value: 'DIR',
      required: true,
      description: 'Directory the segments are written to',
    },
    {
      name: 'from-file',
      type: 'string',
      value: 'F',
      description: 'Start at this source binlog file (default: the archive start)',
    },
    {
      name: 'from-pos',
      type: 'integer',
      value: 'P',
      min: 4,
      description: 'Start at this position of --from-file',
    },
    {
      name: 'stop-file',
      type: 'string',
      value: 'F',
      description: 'Up to this source binlog file (default: the archive end)',
    },
    {
      name: 'stop-pos',
      type: 'integer',
      value: 'P',
      min: 4,
      description: 'Up to this position of --stop-file',
    },
    { name: 'json', type: 'boolean', description: 'Print the files and their segments as JSON' },
  ],
  async run(ctx, args) {
    const from = position(args, 'from-file', 'from-pos');
    const stop = position(args, 'stop-file', 'stop-pos');
    const app = await openApp(ctx.config);
    const objects = openObjectStore(ctx.config.objectsUrl, ctx.config.s3);
    let files: string[];
    let segments: readonly BinlogSegment[];
    try {
      const { server } = await resolveServer(app, flagString(args, 'server-name') as string);
      const first = (await app.store.binlogArchive.list(server.id))[0];
      const start =
        from ?? (first === undefined ? undefined : { file: first.file, position: first.startPosition });
      if (start === undefined) {
        ctx.stdout.write('No archived binlog segments\n');
        return 0;
      }
      ({ segments } = await segmentsCovering(app.store.binlogArchive, server.id, start, stop));
      files = await fetchSegments(objects, segments, flagString(args, 'to') as string, {
        signal: ctx.signal,
      });
    } finally {
      objects.close();
      await app.close();
    }
    if (flagBool(args, 'json')) {
      ctx.stdout.write(
        `${exactJson(files.map((path, i) => ({ path, segment: segmentToJson(segments[i] as BinlogSegment) })))}\n`,
      );
    } else {
      for (const f of files) ctx.stdout.write(`${f}\n`);
    }
    return 0;
  },
};

function position(
  args: Parameters<CommandSpec['run']>[1],
  fileFlag: string,
  posFlag: string,
): ArchivePosition | undefined {
  const file = flagString(args, fileFlag);
  const pos = flagInt(args, posFlag);
  if (file === undefined && pos === undefined) return undefined;
  if (file === undefined || pos === undefined) {
    throw new UsageError(
      `Cannot use --${fileFlag} and --${posFlag}: give both (a binlog file and a position in it)`,
      {
        flag: `--${file === undefined ? fileFlag : posFlag}`,
      },
    );
  }
  return { file, position: pos };
}
