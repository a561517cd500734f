/**
 * Ed25519 signatures on backup manifests, so that an auditor can tell a manifest (and through its SHA-256 list,
 * every file of the backup) is exactly what dbtrail wrote.
 *
 * The signing key: one Ed25519 key pair per dbtrail home, created on first use as a PKCS#8 PEM file with mode
 * 0600 (`signingKeyFile`, default `<home>/keys/manifest-signing.pem`); the private key is never logged or printed.
 * The public key is published by `dbtrail key show` (raw 32 bytes in base64, and as an SPKI PEM for openssl).
 * Its key id is the first 16 hex digits of the SHA-256 of the raw public key.
 *
 * What is signed (manifest version 2): the manifest's JSON object with its `signature` member removed, in
 * canonical JSON (src/lib/canonical-json.ts: keys sorted, no whitespace, UTF-8, no trailing newline). The
 * signature member is `{"algorithm":"ed25519","key_id":...,"public_key":BASE64,"value":BASE64}` with the 64-byte
 * signature (RFC 8032, pure Ed25519, no pre-hash) in `value`. The signed bytes are taken from the stored JSON
 * itself, not from the parsed manifest, so that a member the parser ignores cannot be added unnoticed.
 *
 * Trust: a signature counts only when its public key is this home's own key or is listed in the trusted keys
 * file (`trustedKeysFile`, default `<home>/keys/trusted-signing-keys`: one base64 public key per line, `#` starts
 * a comment), e.g. the keys of remote agents. The `public_key` inside the manifest only says which key to look
 * for: a forger can put their own key there, which is why it must also be trusted here.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalBytes } from '../lib/canonical-json.js';
import { messageOf } from '../lib/errors.js';
import { SigningKeyError } from './errors.js';

export const SIGNATURE_ALGORITHM = 'ed25519';

export interface ManifestSignature {
  readonly algorithm: typeof SIGNATURE_ALGORITHM;
  readonly key_id: string;
  /** Raw 32-byte Ed25519 public key, base64. */
  readonly public_key: string;
  /** 64-byte signature over the canonical bytes, base64. */
  readonly value: string;
}

/** The public half of a signing key, in the forms people and tools need. */
export interface PublicSigningKey {
  readonly keyId: string;
  /** Raw 32 bytes, base64: what manifests and the trusted keys file carry. */
  readonly publicKey: string;
  /** SubjectPublicKeyInfo PEM, for `openssl pkeyutl -verify -pubin -inkey`. */
  readonly pem: string;
}

export interface ManifestSigner {
  readonly key: PublicSigningKey;
  /** The signature member for a manifest object that has no `signature` member yet. */
  sign(unsigned: Readonly<Record<string, unknown>>): ManifestSignature;
}

export interface SigningPaths {
  readonly signingKeyFile: string;
  readonly trustedKeysFile: string;
}

/** Where the key files are for a config (explicit paths win over the defaults under home). */
export function signingPaths(config: {
  readonly home: string;
  readonly signing?: { readonly keyFile: string | undefined; readonly trustedKeysFile: string | undefined };
}): SigningPaths {
  return {
    signingKeyFile: config.signing?.keyFile ?? join(config.home, 'keys', 'manifest-signing.pem'),
    trustedKeysFile: config.signing?.trustedKeysFile ?? join(config.home, 'keys', 'trusted-signing-keys'),
  };
}

/**
 * The signer of this home, creating its key pair when the file does not exist yet. `created` tells the caller
 * to record the new key in the audit log. Two processes racing to create it: the exclusive create lets one win
 * and the other read the winner's key.
 */
export async function loadOrCreateSigner(
  file: string,
): Promise<{ signer: ManifestSigner; created: boolean }> {
  let created = false;
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SigningKeyError(`Cannot read manifest signing key ${file}: ${messageOf(err)}`, {
        cause: err,
        fields: { file },
      });
    }
    const pair = generateKeyPairSync('ed25519');
    pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (writeErr) {
      if ((writeErr as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SigningKeyError(`Cannot create manifest signing key ${file}: ${messageOf(writeErr)}`, {
          cause: writeErr,
          fields: { file },
        });
      }
      pem = await readFile(file, 'utf8');
    }
  }
  return { signer: signerFromPem(pem, file), created };
}

/** The signer of an existing key file; throws SigningKeyError when it is missing or not an Ed25519 key. */
export async function loadSigner(file: string): Promise<ManifestSigner> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SigningKeyError(
      `Cannot read manifest signing key ${file}: ${missing ? 'no such file (it is created by the first backup, or by dbtrail key show)' : messageOf(err)}`,
      { cause: err, fields: { file } },
    );
  }
  return signerFromPem(pem, file);
}

function signerFromPem(pem: string, file: string): ManifestSigner {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new SigningKeyError(`Cannot load manifest signing key ${file}: not a PEM private key`, {
      cause: err,
      fields: { file },
    });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(
      `Cannot load manifest signing key ${file}: it is a ${String(privateKey.asymmetricKeyType)} key, expected ed25519`,
      { fields: { file } },
    );
  }
  const key = describePublicKey(createPublicKey(privateKey));
  return Object.freeze({
    key,
    sign(unsigned: Readonly<Record<string, unknown>>): ManifestSignature {
      if ('signature' in unsigned) throw new Error('Cannot sign a manifest that already has a signature');
      const value = sign(null, canonicalBytes(unsigned), privateKey).toString('base64');
      return { algorithm: SIGNATURE_ALGORITHM, key_id: key.keyId, public_key: key.publicKey, value };
    },
  });
}

// SPKI DER of an Ed25519 key is this 12-byte header followed by the 32 raw bytes (RFC 8410 section 4).
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function describePublicKey(publicKey: KeyObject): PublicSigningKey {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const raw = der.subarray(ED25519_SPKI_PREFIX.length);
  return {
    keyId: keyIdOf(raw),
    publicKey: raw.toString('base64'),
    pem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

export function keyIdOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** A raw base64 Ed25519 public key as a KeyObject; undefined when it is not 32 bytes of base64. */
export function publicKeyFromBase64(text: string): KeyObject | undefined {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== 32) return undefined;
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The public keys whose signatures are accepted, by raw base64 form. */
export interface TrustedKeys {
  readonly keys: ReadonlySet<string>;
}

/**
 * This home's own public key (when its key file exists) plus every key in the trusted keys file (when it
 * exists). A malformed line is an error naming the file and line, never skipped: a silently ignored key would
 * turn into a confusing "unknown key" later.
 */
export async function loadTrustedKeys(paths: SigningPaths): Promise<TrustedKeys> {
  const keys = new Set<string>();
  try {
    keys.add((await loadSigner(paths.signingKeyFile)).key.publicKey);
  } catch (err) {
    if (!(err instanceof SigningKeyError && (err.cause as { code?: string })?.code === 'ENOENT')) throw err;
  }
  let text: string | undefined;
  try {
    text = await readFile(paths.trustedKeysFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SigningKeyError(`Cannot read trusted keys file ${paths.trustedKeysFile}: ${messageOf(err)}`, {
        cause: err,
        fields: { file: paths.trustedKeysFile },
      });
    }
  }
  for (const [i, line] of (text ?? '').split('\n').entries()) {
    const key = line.replace(/#.*$/, '').trim();
    if (key === '') continue;
    if (publicKeyFromBase64(key) === undefined) {
      throw new SigningKeyError(
        `Cannot read trusted keys file ${paths.trustedKeysFile}: line ${i + 1} is not a base64 Ed25519 public key (44 characters, as printed by dbtrail key show)`,
        { fields: { file: paths.trustedKeysFile, line: i + 1 } },
      );
    }
    keys.add(key);
  }
  return { keys };
}

export type SignatureStatus = 'valid' | 'unsigned' | 'invalid' | 'unknown_key';

export interface SignatureCheck {
  readonly status: SignatureStatus;
  readonly keyId?: string;
  /** Why it is not valid, in one sentence-case line. */
  readonly problem?: string;
}

/**
 * Checks the signature of stored manifest bytes. `unsigned`: a version 1 manifest (written before signing);
 * `invalid`: the bytes were changed after signing or the signature member is malformed (a version 2 manifest
 * without one counts as invalid: the member was stripped); `unknown_key`: a correct signature by a key not
 * trusted here. Pure apart from the crypto; never throws for bad input.
 */
export function checkManifestSignature(bytes: Uint8Array, trusted: TrustedKeys): SignatureCheck {
  let root: unknown;
  try {
    root = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { status: 'invalid', problem: 'the manifest is not valid JSON' };
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    return { status: 'invalid', problem: 'the manifest is not a JSON object' };
  }
  const { signature, ...unsigned } = root as Record<string, unknown>;
  if (signature === undefined) {
    return (unsigned['version'] ?? 1) === 1
      ? { status: 'unsigned', problem: 'the manifest is version 1, written before manifests were signed' }
      : {
          status: 'invalid',
          problem: `the manifest is version ${JSON.stringify(unsigned['version'])} but has no signature`,
        };
  }
  const sig = signature as Partial<Record<keyof ManifestSignature, unknown>> | null | undefined;
  if (
    typeof sig !== 'object' ||
    sig === null ||
    sig.algorithm !== SIGNATURE_ALGORITHM ||
    typeof sig.public_key !== 'string' ||
    typeof sig.value !== 'string'
  ) {
    return {
      status: 'invalid',
      problem: 'the signature member is malformed (expected an ed25519 signature)',
    };
  }
  const publicKey = publicKeyFromBase64(sig.public_key);
  if (publicKey === undefined) {
    return { status: 'invalid', problem: 'signature.public_key is not a base64 Ed25519 public key' };
  }
  const keyId = keyIdOf(Buffer.from(sig.public_key, 'base64'));
  const value = Buffer.from(sig.value, 'base64');
  let signed: Buffer;
  try {
    signed = canonicalBytes(unsigned);
  } catch (err) {
    return { status: 'invalid', keyId, problem: `the manifest has no canonical form: ${messageOf(err)}` };
  }
  if (value.length !== 64 || !verify(null, signed, publicKey, value)) {
    return {
      status: 'invalid',
      keyId,
      problem: `the signature by key ${keyId} does not match the manifest: it was modified after signing`,
    };
  }
  if (!trusted.keys.has(sig.public_key)) {
    return {
      status: 'unknown_key',
      keyId,
      problem: `the manifest is signed by key ${keyId}, which is not trusted here (dbtrail key show lists the trusted keys)`,
    };
  }
  return { status: 'valid', keyId };
}
