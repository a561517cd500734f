import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DbtrailError, messageOf, type ErrorOptions } from './errors.js';

/**
 * Encryption at rest for small secrets the state store must keep (the passwords of registered servers), with
 * AES-256-GCM (NIST SP 800-38D) under one key per install.
 *
 * Sealed layout, version 1 (all offsets in bytes):
 *   0        version, 0x01
 *   1..4     key id: the first 4 bytes of SHA-256(key), so that a secret sealed under another key is reported as
 *            such instead of as tampering
 *   5..16    nonce, 12 random bytes (the GCM recommended IV length, SP 800-38D section 8.2.2)
 *   17..n-17 ciphertext, as long as the plaintext
 *   n-16..   authentication tag, 16 bytes
 * The additional authenticated data is "dbtrail secret-box v1", a zero byte and the caller's context (e.g.
 * `server:<uuid>`): a ciphertext copied onto another record fails to open there.
 *
 * Random 96-bit nonces keep the chance of a repeat under 2^-32 for up to 2^32 seals per key (SP 800-38D section
 * 8.3), far beyond the number of passwords an install will ever store.
 */
export interface SecretBox {
  /** Encrypts; `context` binds the result to the record it belongs to. */
  seal(plaintext: Uint8Array | string, context: string): Uint8Array;
  /** Decrypts what `seal` made with the same key and context; throws SecretOpenError otherwise. */
  open(sealed: Uint8Array, context: string): Uint8Array;
  /** `open` for secrets that are UTF-8 text. */
  openText(sealed: Uint8Array, context: string): string;
}

/** The file under DBTRAIL_HOME that holds the per-install key when no key file is configured. */
export const SECRET_KEY_FILE = 'secret.key';

const VERSION = 0x01;
const KEY_BYTES = 32;
const KEY_ID_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES;
const AAD_PREFIX = Buffer.from('dbtrail secret-box v1\0', 'utf8');

/** The key cannot be created, read or used. */
export class SecretKeyError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SECRET_KEY_INVALID', 'config', message, options);
  }
}

/** A sealed secret does not open: another key, another record, or altered bytes. */
export class SecretOpenError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SECRET_OPEN_FAILED', 'integrity', message, options);
  }
}

/** A box over a 32-byte key. */
export function secretBoxFromKey(key: Uint8Array): SecretBox {
  if (key.byteLength !== KEY_BYTES) {
    throw new SecretKeyError(`Cannot use secret key: expected ${KEY_BYTES} bytes, got ${key.byteLength}`);
  }
  const keyBytes = Buffer.from(key);
  const keyId = createHash('sha256').update(keyBytes).digest().subarray(0, KEY_ID_BYTES);
  const aad = (context: string): Buffer => Buffer.concat([AAD_PREFIX, Buffer.from(context, 'utf8')]);

  const open = (sealed: Uint8Array, context: string): Uint8Array => {
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (bytes.byteLength < HEADER_BYTES + TAG_BYTES) {
      throw new SecretOpenError(
        `Cannot open secret for ${context}: it is ${bytes.byteLength} bytes, shorter than the ${HEADER_BYTES + TAG_BYTES}-byte minimum`,
        { fields: { context } },
      );
    }
    if (bytes[0] !== VERSION) {
      throw new SecretOpenError(
        `Cannot open secret for ${context}: unknown format version ${bytes[0]}, expected ${VERSION}`,
        { fields: { context } },
      );
    }
    if (!bytes.subarray(1, 1 + KEY_ID_BYTES).equals(keyId)) {
      throw new SecretOpenError(
        `Cannot open secret for ${context}: it was sealed with another key than this install's (set DBTRAIL_SECRET_KEY_FILE to the key it was made with)`,
        { fields: { context } },
      );
    }
    const nonce = bytes.subarray(1 + KEY_ID_BYTES, HEADER_BYTES);
    const tag = bytes.subarray(bytes.byteLength - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', keyBytes, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(context));
    decipher.setAuthTag(tag);
    try {
      return new Uint8Array(
        Buffer.concat([
          decipher.update(bytes.subarray(HEADER_BYTES, bytes.byteLength - TAG_BYTES)),
          decipher.final(),
        ]),
      );
    } catch (err) {
      throw new SecretOpenError(
        `Cannot open secret for ${context}: authentication failed (altered, or sealed for another record)`,
        { cause: err, fields: { context } },
      );
    }
  };

  return Object.freeze({
    seal(plaintext: Uint8Array | string, context: string): Uint8Array {
      const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : Buffer.from(plaintext);
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keyBytes, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(context));
      const body = Buffer.concat([cipher.update(data), cipher.final()]);
      return new Uint8Array(Buffer.concat([Buffer.from([VERSION]), keyId, nonce, body, cipher.getAuthTag()]));
    },
    open,
    openText(sealed: Uint8Array, context: string): string {
      return Buffer.from(open(sealed, context)).toString('utf8');
    },
  });
}

export interface LoadSecretBoxOptions {
  /** DBTRAIL_HOME: `secret.key` is created there on first use. */
  readonly home: string;
  /**
   * A key file provided by the operator (DBTRAIL_SECRET_KEY_FILE), shared by every host of a multi-host install;
   * never created. Holds 32 bytes as 64 hex digits, as base64, or raw.
   */
  readonly keyFile?: string | undefined;
}

/**
 * The install's secret box: from the configured key file, or from `<home>/secret.key`, created (mode 0600) with
 * 32 random bytes on first use. Creation is atomic: several processes starting at once agree on one key.
 */
export function loadSecretBox(options: LoadSecretBoxOptions): SecretBox {
  if (options.keyFile !== undefined) return secretBoxFromKey(readKeyFile(options.keyFile));
  const path = join(options.home, SECRET_KEY_FILE);
  ensureKeyFile(options.home, path);
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new SecretKeyError(`Cannot read secret key file ${path}: ${messageOf(err)}`, {
      cause: err,
      fields: { path },
    });
  }
  if ((mode & 0o077) !== 0) {
    throw new SecretKeyError(
      `Cannot use secret key file ${path}: other users may read it (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${path}`,
      { fields: { path } },
    );
  }
  return secretBoxFromKey(readKeyFile(path));
}

function ensureKeyFile(home: string, path: string): void {
  try {
    statSync(path);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SecretKeyError(`Cannot read secret key file ${path}: ${messageOf(err)}`, {
        cause: err,
        fields: { path },
      });
    }
  }
  // Written in full to a private temporary file, then linked into place: link() fails when the name exists, so
  // a reader never sees a half-written key and two processes racing keep whichever key was linked first.
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    writeFileSync(temporary, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(temporary, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } catch (err) {
    throw new SecretKeyError(`Cannot create secret key file ${path}: ${messageOf(err)}`, {
      cause: err,
      fields: { path },
    });
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // Never created, or already gone: nothing to clean up.
    }
  }
}

function readKeyFile(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new SecretKeyError(`Cannot read secret key file ${path}: ${messageOf(err)}`, {
      cause: err,
      fields: { path },
    });
  }
  if (raw.byteLength === KEY_BYTES) return new Uint8Array(raw);
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.byteLength === KEY_BYTES) return new Uint8Array(bytes);
  }
  throw new SecretKeyError(
    `Cannot use secret key file ${path}: expected ${KEY_BYTES} bytes as 64 hex digits, base64 or raw bytes`,
    { fields: { path } },
  );
}
