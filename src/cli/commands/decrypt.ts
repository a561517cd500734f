import { existsSync } from 'node:fs';
import { decryptFile, readIdentityFile, AGE_FILE_SUFFIX } from '../../backup/encryption.js';
import { OutputDirError } from '../../backup/errors.js';
import { flagString, type CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';

export const decryptCommand: CommandSpec = {
  path: ['decrypt'],
  summary: 'Decrypt one age-encrypted backup file; the output appears only if the whole file authenticated',
  positionals: [{ name: 'FILE', description: 'The .age file', required: true }],
  flags: [
    {
      name: 'identity',
      type: 'string',
      value: 'KEYFILE',
      required: true,
      description: 'Identity file from dbtrail generate-key (or age-keygen)',
    },
    {
      name: 'out',
      type: 'string',
      value: 'FILE',
      description: 'Output file (default: FILE without .age); never overwritten',
    },
  ],
  async run(ctx, args) {
    const file = args.positionals[0] as string;
    let out = flagString(args, 'out');
    if (out === undefined) {
      if (!file.endsWith(AGE_FILE_SUFFIX)) {
        throw new UsageError(
          `Cannot parse dbtrail decrypt: "${file}" does not end in ${AGE_FILE_SUFFIX}, so give --out FILE`,
        );
      }
      out = file.slice(0, -AGE_FILE_SUFFIX.length);
    }
    if (existsSync(out)) {
      throw new OutputDirError(`Cannot decrypt into ${out}: it already exists (dbtrail never overwrites)`, {
        fields: { file: out },
      });
    }
    const identities = await readIdentityFile(flagString(args, 'identity') as string);
    const { size } = await decryptFile(file, out, identities, ctx.signal);
    ctx.logger.info({ file, out, bytes: size }, 'Decrypted');
    return 0;
  },
};
