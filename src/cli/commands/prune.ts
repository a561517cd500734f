import { openApp } from '../../app.js';
import { isoMicros, type Gap } from '../../store/change-index.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { exactJson } from '../render/json.js';
import { parseDurationArg, resolveServer } from './change-args.js';

export const pruneCommand: CommandSpec = {
  path: ['prune'],
  summary: 'Delete captured changes older than a duration, recording the pruned history as a gap',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The server (in the configured tenant)',
    },
    {
      name: 'older-than',
      type: 'string',
      value: 'DURATION',
      required: true,
      description: 'Delete changes committed more than DURATION ago: 30d, 12h, 90m, 2w',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as JSON' },
  ],
  async run(ctx, args) {
    const serverName = flagString(args, 'server-name')!;
    const olderThan = flagString(args, 'older-than')!;
    const durationUs = parseDurationArg('older-than', olderThan);
    const app = await openApp(ctx.config);
    let result: { readonly deleted: bigint; readonly gap: Gap | null };
    let cutoffUs: bigint;
    try {
      const { server } = await resolveServer(app, serverName);
      cutoffUs = BigInt(app.clock.now().getTime()) * 1000n - durationUs;
      result = await app.store.changes.prune(server.id, cutoffUs);
    } finally {
      await app.close();
    }
    const cutoff = isoMicros(cutoffUs);
    if (flagBool(args, 'json')) {
      ctx.stdout.write(
        `${exactJson({ server: serverName, cutoff, deleted: result.deleted, gapId: result.gap?.id ?? null }, 2)}\n`,
      );
    } else if (result.gap === null) {
      ctx.stdout.write(
        `Nothing to prune: server "${serverName}" has no changes committed before ${cutoff}\n`,
      );
    } else {
      ctx.stdout.write(
        `Pruned ${result.deleted} row changes of server "${serverName}" committed before ${cutoff}; recorded gap ${result.gap.id} so that the covered window starts at the cutoff\n`,
      );
    }
    return 0;
  },
};
