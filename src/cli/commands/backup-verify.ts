import { describeVerifyProblems, verifyBackup, type VerifyResult } from '../../backup/verify.js';
import { formatBytes } from '../../lib/progress.js';
import { flagBool, type CommandSpec } from '../command.js';
import { EXIT_INTERRUPTED } from '../exit-codes.js';
import { openBackupArg, runTransfer } from './shared.js';

export const backupVerifyCommand: CommandSpec = {
  path: ['backup', 'verify'],
  summary: 'Re-read every object of a backup and check it against the manifest; exits 1 on any problem',
  positionals: [
    {
      name: 'BACKUP',
      description:
        'A backup id from dbtrail backup list, or the backup location: s3://bucket/prefix/<tenant>/<server>/<date>/<time>, its file:// URL or a path',
      required: true,
    },
  ],
  flags: [
    {
      name: 'concurrency',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 64,
      description: 'Objects read at the same time (default 4)',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as one JSON object' },
  ],
  async run(ctx, args) {
    const { store, prefix } = await openBackupArg(ctx, args.positionals[0] as string);
    let result: VerifyResult | undefined;
    try {
      result = await runTransfer(ctx, args, { label: 'verify', interrupted: 'verify interrupted' }, (o) =>
        verifyBackup(store, prefix, o),
      );
    } finally {
      store.close();
    }
    if (result === undefined) return EXIT_INTERRUPTED;
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (result.ok) {
      ctx.stdout.write(
        `Backup ${result.backupId} at ${result.location}: OK (${result.files.length} files, ${formatBytes(result.bytesRead)} read; manifest signature not checked)\n`,
      );
    } else {
      const problems = describeVerifyProblems(result);
      const name = result.backupId === undefined ? 'Backup' : `Backup ${result.backupId}`;
      ctx.stdout.write(
        `${name} at ${result.location}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
          problems.map((p) => `  ${p}\n`).join(''),
      );
    }
    return result.ok ? 0 : 1;
  },
};
