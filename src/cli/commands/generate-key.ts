import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateKeyPair, identityFileText } from '../../backup/encryption.js';
import { BackupIoError, OutputDirError } from '../../backup/errors.js';
import { messageOf } from '../../lib/errors.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';

export const generateKeyCommand: CommandSpec = {
  path: ['generate-key'],
  summary:
    'Create an age key pair for backup encryption: the identity goes to a 0600 file, the public key is printed',
  flags: [
    {
      name: 'out',
      type: 'string',
      value: 'FILE',
      description: 'Identity file to create (default <home>/keys/backup-identity.txt); never overwritten',
    },
    { name: 'json', type: 'boolean', description: 'Print {"recipient","identityFile"} as JSON' },
  ],
  async run(ctx, args) {
    const file = flagString(args, 'out') ?? join(ctx.config.home, 'keys', 'backup-identity.txt');
    const pair = await generateKeyPair();
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, identityFileText(pair), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new OutputDirError(
          `Cannot write identity file ${file}: it already exists (dbtrail never overwrites a key)`,
          {
            fields: { file },
          },
        );
      }
      throw new BackupIoError(`Cannot write identity file ${file}: ${messageOf(err)}`, { cause: err });
    }
    if (flagBool(args, 'json')) {
      ctx.stdout.write(`${JSON.stringify({ recipient: pair.recipient, identityFile: file })}\n`);
    } else {
      ctx.stdout.write(
        `${pair.recipient}\n` +
          (ctx.stdout.isTTY === true
            ? `\nThat is the public key: give it to dump with --encrypt --recipient.\nThe secret identity is in ${file}; keep it away from the agents and safe: without it no backup can be decrypted.\n`
            : ''),
      );
    }
    return 0;
  },
};
