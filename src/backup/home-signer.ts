import type { Config } from '../config/schema.js';
import { loadOrCreateSigner, signingPaths, type ManifestSigner } from './signing.js';

/**
 * The manifest signer of this dbtrail home, as every dump is given it (CLI commands, the embedded and the remote
 * agent). `onCreated` runs when this call created the key pair, so that the caller records the new signing key
 * in the audit log: exactly the kind of change an auditor wants to see.
 */
export async function homeSigner(
  config: Pick<Config, 'home' | 'signing'>,
  onCreated?: (signer: ManifestSigner, file: string) => Promise<void>,
): Promise<ManifestSigner> {
  const file = signingPaths(config).signingKeyFile;
  const { signer, created } = await loadOrCreateSigner(file);
  if (created) await onCreated?.(signer, file);
  return signer;
}
