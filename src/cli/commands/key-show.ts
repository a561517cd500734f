import { loadTrustedKeys, signingPaths } from '../../backup/signing.js';
import { flagBool, type CommandSpec } from '../command.js';
import { cliSigner } from './audit-helpers.js';

/**
 * `dbtrail key show`: the public key that signs this home's backup manifests (created on first use), for an
 * auditor to verify manifests independently, and the other keys trusted here. Never prints the private key.
 */
export const keyShowCommand: CommandSpec = {
  path: ['key', 'show'],
  summary: 'Print the public key that signs backup manifests (created on first use) and the trusted keys',
  flags: [{ name: 'json', type: 'boolean', description: 'Print one JSON object' }],
  async run(ctx, args) {
    const paths = signingPaths(ctx.config);
    const signer = await cliSigner(ctx);
    const trusted = [...(await loadTrustedKeys(paths)).keys].filter((k) => k !== signer.key.publicKey);
    if (flagBool(args, 'json')) {
      ctx.stdout.write(
        `${JSON.stringify({
          key_id: signer.key.keyId,
          algorithm: 'ed25519',
          public_key: signer.key.publicKey,
          public_key_pem: signer.key.pem,
          signing_key_file: paths.signingKeyFile,
          trusted_keys_file: paths.trustedKeysFile,
          trusted_keys: trusted,
        })}\n`,
      );
      return 0;
    }
    ctx.stdout.write(
      [
        `Manifest signing key ${signer.key.keyId} (Ed25519)`,
        `  public key:   ${signer.key.publicKey}`,
        `  private key:  ${paths.signingKeyFile} (never printed)`,
        `  also trusted: ${trusted.length === 0 ? 'none' : trusted.join(', ')} (${paths.trustedKeysFile})`,
        '',
        signer.key.pem.trimEnd(),
        '',
      ].join('\n'),
    );
    return 0;
  },
};
