import { resolve } from 'node:path';
import { ageDecryptor, readIdentityFile } from '../../backup/encryption.js';
import { fetchBackup, type FetchResult } from '../../backup/fetch.js';
import { formatBytes } from '../../lib/progress.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { EXIT_INTERRUPTED } from '../exit-codes.js';
import { openBackupArg, runTransfer } from './shared.js';

export const backupFetchCommand: CommandSpec = {
  path: ['backup', 'fetch'],
  summary:
    'Download a backup into a new directory, verifying (and decrypting) every file, ready for myloader or mariadb-backup',
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
      name: 'to',
      type: 'string',
      value: 'DIR',
      required: true,
      description: 'Target directory; must be new or empty',
    },
    {
      name: 'identity',
      type: 'string',
      value: 'FILE',
      description: 'age identity file (AGE-SECRET-KEY-1...) that decrypts an encrypted backup',
    },
    {
      name: 'concurrency',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 64,
      description: 'Files fetched at the same time (default 4)',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as one JSON object' },
  ],
  async run(ctx, args) {
    const toDir = resolve(flagString(args, 'to') as string);
    const identityFile = flagString(args, 'identity');
    // The secret key comes from a file, never from argv.
    const decrypt =
      identityFile === undefined ? undefined : ageDecryptor(await readIdentityFile(identityFile));
    const { store, prefix } = await openBackupArg(ctx, args.positionals[0] as string);
    let result: FetchResult | undefined;
    try {
      result = await runTransfer(
        ctx,
        args,
        { label: 'fetch', interrupted: 'fetch interrupted; the files written so far were removed' },
        (o) => fetchBackup(store, prefix, toDir, { ...o, ...(decrypt !== undefined ? { decrypt } : {}) }),
      );
    } finally {
      store.close();
    }
    if (result === undefined) return EXIT_INTERRUPTED;
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const decrypted = result.files.some((f) => f.decrypted) ? ', decrypted' : '';
      ctx.stdout.write(
        `Fetched backup ${result.backupId} from ${result.location} into ${result.toDir}\n` +
          `  ${result.files.length} files, ${formatBytes(result.bytes)}, every SHA-256 verified${decrypted}\n`,
      );
    }
    return 0;
  },
};
