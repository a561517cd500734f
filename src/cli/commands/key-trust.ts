import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SigningKeyError } from '../../backup/errors.js';
import { keyIdOf, loadTrustedKeys, publicKeyFromBase64, signingPaths } from '../../backup/signing.js';
import { messageOf } from '../../lib/errors.js';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { auditCli } from './audit-helpers.js';

/**
 * `dbtrail key trust KEY`: accept manifests signed by another dbtrail home (a remote agent's `dbtrail key show`)
 * by adding its public key to the trusted keys file. Recorded in the audit log.
 */
export const keyTrustCommand: CommandSpec = {
  path: ['key', 'trust'],
  summary: "Trust another home's manifest signing public key (as printed by its dbtrail key show)",
  positionals: [
    { name: 'PUBLIC_KEY', description: 'Base64 Ed25519 public key, 44 characters', required: true },
  ],
  flags: [],
  async run(ctx, args) {
    const key = (args.positionals[0] as string).trim();
    if (publicKeyFromBase64(key) === undefined) {
      throw new UsageError(
        `Cannot trust key "${key}": expected a base64 Ed25519 public key of 44 characters, as printed by dbtrail key show`,
        { key },
      );
    }
    const paths = signingPaths(ctx.config);
    const keyId = keyIdOf(Buffer.from(key, 'base64'));
    if ((await loadTrustedKeys(paths)).keys.has(key)) {
      ctx.stdout.write(`Key ${keyId} is already trusted\n`);
      return 0;
    }
    try {
      await mkdir(dirname(paths.trustedKeysFile), { recursive: true, mode: 0o700 });
      await appendFile(paths.trustedKeysFile, `${key} # ${keyId} added ${new Date().toISOString()}\n`, {
        mode: 0o644,
      });
    } catch (err) {
      throw new SigningKeyError(
        `Cannot write trusted keys file ${paths.trustedKeysFile}: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
    await auditCli(ctx, {
      tenant: 'none',
      action: 'signing_key.trust',
      target: keyId,
      outcome: 'success',
      details: { public_key: key },
    });
    ctx.stdout.write(`Trusted key ${keyId}\n`);
    return 0;
  },
};
