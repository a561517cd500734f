import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import { BackupIoError, CiphertextError, EncryptionKeyError, WrongKeyError } from './errors.js';

/**
 * Encryption at rest in the age format (https://age-encryption.org/v1), chosen because:
 * - it is public-key: agents that dump hold only the X25519 *recipient*; the identity (secret key) that decrypts
 *   stays with whoever restores;
 * - it is authenticated and streaming: the payload is cut into 64 KiB chunks, each sealed with
 *   ChaCha20-Poly1305 under a nonce made of its chunk counter and a last-chunk flag (the STREAM construction),
 *   so tampering, truncation (the final flag is missing) and reordering (the counter differs) all fail;
 * - the standard `age` tool decrypts our files, so a restore never depends on dbtrail being installed.
 *
 * The header (recipient stanzas and the header MAC: the X25519 key agreement and its HKDF/HMAC) is built and
 * checked by the `age-encryption` package. The payload is sealed here with Node's built-in ChaCha20-Poly1305
 * (OpenSSL), following the spec's STREAM section, because the package's pure-JS cipher runs at about 80 MB/s on
 * our CI machines against about 900 MB/s natively, and dump + encrypt + upload must stay within 1.3x a plain
 * mydumper run. Both directions are tested against the package and against the `age` CLI.
 *
 * Layout of an age file (spec, "Header" and "Payload"):
 *   "age-encryption.org/v1\n", stanzas ("-> type args\nbody\n"), "--- " + base64(HMAC) + "\n"   header
 *   nonce: 16 random bytes                                                                       payload key salt
 *   chunks: 64 KiB plaintext + 16-byte Poly1305 tag each; the last may be shorter (empty only if it is the only one)
 * payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload"), 32 bytes;
 * chunk nonce = 11-byte big-endian chunk counter || 1 byte last-chunk flag (0x01 on the final chunk).
 */

export const AGE_MAGIC = 'age-encryption.org/v1\n';
const ARMOR_START = '-----BEGIN AGE';
export const AGE_FILE_SUFFIX = '.age';
const CHUNK_SIZE = 64 * 1024;
const TAG_SIZE = 16;
const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
const PAYLOAD_NONCE_SIZE = 16;
/** A header longer than this is not one we wrote or can sanely read. */
const MAX_HEADER_BYTES = 1024 * 1024;

/** X25519 recipients only: what `age` 1.x and every agent can use. Bech32, 32 bytes of key. */
const RECIPIENT_RE = /^age1[02-9ac-hj-np-z]{58}$/;
const IDENTITY_RE = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

export interface KeyPair {
  /** The secret `AGE-SECRET-KEY-1...` string: keep it off agents. */
  readonly identity: string;
  /** The public `age1...` recipient that agents encrypt to. */
  readonly recipient: string;
}

export async function generateKeyPair(): Promise<KeyPair> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** Checks an `age1...` X25519 recipient; `source` names where it came from for the message. */
export function parseRecipient(text: string, source = 'recipient'): string {
  const value = text.trim();
  if (value.startsWith('AGE-SECRET-KEY-')) {
    throw new EncryptionKeyError(
      `Cannot use ${source} as a recipient: it is a secret identity; give its public age1... recipient`,
    );
  }
  let ok = RECIPIENT_RE.test(value);
  if (ok) {
    try {
      new Encrypter().addRecipient(value);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new EncryptionKeyError(
      `Cannot use ${source} as a recipient: expected an age X25519 recipient (age1 followed by 58 characters), got "${value.slice(0, 80)}"`,
    );
  }
  return value;
}

function parseIdentity(value: string, source: string): string {
  let ok = IDENTITY_RE.test(value);
  if (ok) {
    try {
      new Decrypter().addIdentity(value);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new EncryptionKeyError(
      `Cannot read identity from ${source}: a line is not an AGE-SECRET-KEY-1... identity`,
    );
  }
  return value;
}

/**
 * Parses a key file in `age-keygen` format: comment lines start with `#`, blank lines are ignored, every other line
 * is one entry. Used for identity files and for recipient files (one `age1...` per line).
 */
function keyLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export function parseIdentityFile(text: string, source: string): string[] {
  const lines = keyLines(text);
  if (lines.length === 0)
    throw new EncryptionKeyError(
      `Cannot read identity from ${source}: the file holds no AGE-SECRET-KEY-1... line`,
    );
  return lines.map((l) => parseIdentity(l, source));
}

export function parseRecipientFile(text: string, source: string): string[] {
  const lines = keyLines(text);
  if (lines.length === 0)
    throw new EncryptionKeyError(`Cannot read recipients from ${source}: the file holds no age1... line`);
  return lines.map((l, i) => parseRecipient(l, `${source} line ${i + 1}`));
}

export async function readIdentityFile(path: string): Promise<string[]> {
  return parseIdentityFile(await readKeyFile(path, 'identity'), path);
}

export async function readRecipientFile(path: string): Promise<string[]> {
  return parseRecipientFile(await readKeyFile(path, 'recipients'), path);
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new EncryptionKeyError(`Cannot read ${what} file ${path}: ${messageOf(err)}`, {
      cause: err,
      fields: { file: path },
    });
  }
}

/** The age key-file text `age-keygen` would write for this pair. */
export function identityFileText(pair: KeyPair, createdAt: Date = new Date()): string {
  return `# created: ${createdAt.toISOString()}\n# public key: ${pair.recipient}\n${pair.identity}\n`;
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  // Counter in bytes 0..10 big-endian; 48 bits (bytes 5..10) cover 2^48 chunks = 16 EiB.
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

/**
 * The header for `recipients` and the file key in it. The package encrypts an empty payload; a recipient of our
 * own that adds no stanza is handed the file key like every other recipient. Its output is
 * header || 16-byte nonce || one 16-byte sealed empty chunk, so the header is all but the last 32 bytes; the
 * nonce and chunk are discarded and our payload gets a fresh nonce.
 */
async function makeHeader(recipients: readonly string[]): Promise<{ header: Buffer; fileKey: Uint8Array }> {
  if (recipients.length === 0) throw new EncryptionKeyError('Cannot encrypt: no recipients given');
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(parseRecipient(r));
  let fileKey: Uint8Array | undefined;
  e.addRecipient({
    wrapFileKey(key: Uint8Array) {
      fileKey = Uint8Array.from(key);
      return [];
    },
  });
  const sealed = await e.encrypt(new Uint8Array(0));
  const header = Buffer.from(sealed.subarray(0, sealed.length - PAYLOAD_NONCE_SIZE - TAG_SIZE));
  if (
    fileKey === undefined ||
    !header.subarray(0, AGE_MAGIC.length).equals(Buffer.from(AGE_MAGIC)) ||
    header.at(-1) !== 0x0a
  ) {
    throw new Error('age-encryption produced an unexpected header');
  }
  return { header, fileKey };
}

class EncryptStream extends Transform {
  readonly #key: Buffer;
  readonly #pending = Buffer.alloc(CHUNK_SIZE);
  #used = 0;
  #counter = 0;

  constructor(header: Buffer, fileKey: Uint8Array) {
    super();
    const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
    this.#key = payloadKey(fileKey, nonce);
    this.push(Buffer.concat([header, nonce]));
  }

  #seal(plain: Buffer, last: boolean): Buffer {
    const cipher = createCipheriv('chacha20-poly1305', this.#key, chunkNonce(this.#counter++, last), {
      authTagLength: TAG_SIZE,
    });
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let data = chunk;
    while (data.length > 0) {
      // A full buffer is sealed as a non-final chunk only once more data proves it is not the last one.
      if (this.#used === CHUNK_SIZE) {
        this.push(this.#seal(this.#pending, false));
        this.#used = 0;
      }
      const n = Math.min(CHUNK_SIZE - this.#used, data.length);
      data.copy(this.#pending, this.#used, 0, n);
      this.#used += n;
      data = data.subarray(n);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.push(this.#seal(this.#pending.subarray(0, this.#used), true));
    done();
  }
}

/** A Transform that turns plaintext into an age file for `recipients`. */
export async function createEncryptStream(recipients: readonly string[]): Promise<Transform> {
  const { header, fileKey } = await makeHeader(recipients);
  return new EncryptStream(header, fileKey);
}

class DecryptStream extends Transform {
  readonly #identities: readonly string[];
  readonly #subject: string;
  #buffer: Buffer = Buffer.alloc(0);
  #key: Buffer | undefined;
  #counter = 0;

  constructor(identities: readonly string[], subject: string) {
    super();
    this.#identities = identities;
    this.#subject = subject;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (this.#key !== undefined) {
      this.#drain(done);
      return;
    }
    let header: Buffer | undefined;
    try {
      header = this.#takeHeader();
    } catch (err) {
      done(err as Error);
      return;
    }
    if (header === undefined) {
      done();
      return;
    }
    this.#openHeader(header).then(
      () => this.#drain(done),
      (err: unknown) => done(err as Error),
    );
  }

  /** The header bytes once the whole header and the payload nonce have arrived; undefined while waiting. */
  #takeHeader(): Buffer | undefined {
    const magic = Buffer.from(AGE_MAGIC);
    const seen = this.#buffer.subarray(0, Math.min(magic.length, this.#buffer.length));
    if (!seen.equals(magic.subarray(0, seen.length))) {
      const start = this.#buffer.subarray(0, ARMOR_START.length).toString('latin1');
      if (start.length < ARMOR_START.length && ARMOR_START.startsWith(start)) return undefined;
      const armored = start === ARMOR_START;
      throw new CiphertextError(
        `Cannot decrypt ${this.#subject}: ${armored ? 'it is ASCII-armored; dearmor it first (age -d handles it)' : 'not an age file (no age-encryption.org/v1 header)'}`,
        { fields: { file: this.#subject } },
      );
    }
    const macLine = this.#buffer.indexOf('\n--- ');
    const end = macLine === -1 ? -1 : this.#buffer.indexOf(0x0a, macLine + 1);
    if (end === -1) {
      if (this.#buffer.length > MAX_HEADER_BYTES) {
        throw new CiphertextError(
          `Cannot decrypt ${this.#subject}: the age header does not end within ${MAX_HEADER_BYTES} bytes`,
        );
      }
      return undefined;
    }
    if (this.#buffer.length < end + 1 + PAYLOAD_NONCE_SIZE) return undefined;
    const header = this.#buffer.subarray(0, end + 1);
    return header;
  }

  async #openHeader(header: Buffer): Promise<void> {
    const d = new Decrypter();
    for (const id of this.#identities) d.addIdentity(id);
    let fileKey: Uint8Array;
    try {
      fileKey = await d.decryptHeader(header);
    } catch (err) {
      const why = messageOf(err);
      if (/no identity matched/i.test(why)) {
        throw new WrongKeyError(
          `Cannot decrypt ${this.#subject}: none of the given identities is a recipient of this file (wrong key file?)`,
          { fields: { file: this.#subject } },
        );
      }
      if (/HMAC/i.test(why)) {
        throw new CiphertextError(
          `Cannot decrypt ${this.#subject}: the header MAC does not match (the header was tampered with)`,
          {
            fields: { file: this.#subject },
          },
        );
      }
      throw new CiphertextError(`Cannot decrypt ${this.#subject}: malformed age header: ${why}`, {
        fields: { file: this.#subject },
        cause: err,
      });
    }
    const nonce = this.#buffer.subarray(header.length, header.length + PAYLOAD_NONCE_SIZE);
    this.#key = payloadKey(fileKey, nonce);
    this.#buffer = this.#buffer.subarray(header.length + PAYLOAD_NONCE_SIZE);
  }

  #open(sealed: Buffer, last: boolean): Buffer {
    const decipher = createDecipheriv(
      'chacha20-poly1305',
      this.#key as Buffer,
      chunkNonce(this.#counter, last),
      {
        authTagLength: TAG_SIZE,
      },
    );
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    try {
      decipher.final();
    } catch {
      throw new CiphertextError(
        last
          ? `Cannot decrypt ${this.#subject}: the final chunk (${this.#counter}) failed authentication: the file was truncated or tampered with`
          : `Cannot decrypt ${this.#subject}: chunk ${this.#counter} failed authentication: the file was tampered with or its chunks reordered`,
        { fields: { file: this.#subject, chunk: this.#counter } },
      );
    }
    this.#counter++;
    return plain;
  }

  #drain(done: TransformCallback): void {
    try {
      // Keep at least one byte past a full chunk: only then is that chunk known not to be the final one.
      while (this.#buffer.length > SEALED_CHUNK_SIZE) {
        this.push(this.#open(this.#buffer.subarray(0, SEALED_CHUNK_SIZE), false));
        this.#buffer = this.#buffer.subarray(SEALED_CHUNK_SIZE);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.#key === undefined) {
        throw new CiphertextError(
          `Cannot decrypt ${this.#subject}: the file ends inside the age header (truncated)`,
          {
            fields: { file: this.#subject },
          },
        );
      }
      if (this.#buffer.length < TAG_SIZE) {
        throw new CiphertextError(
          `Cannot decrypt ${this.#subject}: the file ends without its final chunk (truncated)`,
          {
            fields: { file: this.#subject },
          },
        );
      }
      const plain = this.#open(this.#buffer, true);
      if (plain.length === 0 && this.#counter > 1) {
        throw new CiphertextError(
          `Cannot decrypt ${this.#subject}: an empty final chunk after data is not valid age`,
          {
            fields: { file: this.#subject },
          },
        );
      }
      this.push(plain);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

/**
 * A Transform that turns an age file into its plaintext, failing (never ending early) on a wrong key, a tampered,
 * truncated or reordered file. Authenticated chunks are emitted as they verify, so a consumer must not treat the
 * output as complete before the stream finished without error.
 */
export function createDecryptStream(identities: readonly string[], subject = 'the file'): Transform {
  if (identities.length === 0) throw new EncryptionKeyError(`Cannot decrypt ${subject}: no identities given`);
  for (const id of identities) parseIdentity(id, 'the identities given');
  return new DecryptStream(identities, subject);
}

/** Decrypts a stored object's stream; the shape fetch expects for its decryptor. */
export function ageDecryptor(
  identities: readonly string[],
): (ciphertext: Readable, path: string) => Readable {
  return (ciphertext, path) => {
    const t = createDecryptStream(identities, `"${path}"`);
    ciphertext.once('error', (err) => t.destroy(err));
    return ciphertext.pipe(t);
  };
}

export interface EncryptedFile {
  /** Size of the written age file. */
  readonly size: number;
  /** Lower-case hex SHA-256 of the written age file. */
  readonly sha256: string;
}

/**
 * Encrypts `src` into `dst` (created new, mode 0600), hashing the ciphertext as it is written so the manifest's
 * size and SHA-256 of the stored bytes cost no second read.
 */
export async function encryptFile(
  src: string,
  dst: string,
  recipients: readonly string[],
  signal?: AbortSignal,
): Promise<EncryptedFile> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      createReadStream(src),
      await createEncryptStream(recipients),
      tap,
      createWriteStream(dst, { flags: 'wx', mode: 0o600 }),
      signal === undefined ? {} : { signal },
    );
  } catch (err) {
    await rm(dst, { force: true });
    if (isDbtrailError(err)) throw err;
    throw new BackupIoError(`Cannot encrypt ${src} into ${dst}: ${messageOf(err)}`, {
      cause: err,
      code: (err as { code?: string }).code,
      fields: { file: src },
    });
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Decrypts `src` into `dst`. The plaintext goes to a temporary name beside `dst` and is renamed only after the
 * final chunk authenticated, so a wrong key, tampering or truncation never leaves a plausible-looking file.
 */
export async function decryptFile(
  src: string,
  dst: string,
  identities: readonly string[],
  signal?: AbortSignal,
): Promise<{ size: number }> {
  const tmp = `${dst}.dbtrail-partial-${randomBytes(4).toString('hex')}`;
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      createReadStream(src),
      createDecryptStream(identities, src),
      count,
      createWriteStream(tmp, { flags: 'wx', mode: 0o600 }),
      signal === undefined ? {} : { signal },
    );
    await rename(tmp, dst);
  } catch (err) {
    await rm(tmp, { force: true });
    if (isDbtrailError(err)) throw err;
    throw new BackupIoError(`Cannot decrypt ${src} into ${dst}: ${messageOf(err)}`, {
      cause: err,
      code: (err as { code?: string }).code,
      fields: { file: src },
    });
  }
  return { size };
}
