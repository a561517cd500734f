import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Decrypter, Encrypter } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CiphertextError, EncryptionKeyError, WrongKeyError } from './errors.js';
import {
  createDecryptStream,
  createEncryptStream,
  decryptFile,
  encryptFile,
  generateKeyPair,
  identityFileText,
  parseIdentityFile,
  parseRecipient,
  parseRecipientFile,
  type KeyPair,
} from './encryption.js';

const CHUNK = 64 * 1024;
const SEALED = CHUNK + 16;

async function encrypt(plain: Buffer, recipients: readonly string[]): Promise<Buffer> {
  return collect(Readable.from(split(plain)), await createEncryptStream(recipients));
}

async function decrypt(cipher: Buffer, identities: readonly string[]): Promise<Buffer> {
  return collect(Readable.from(split(cipher)), createDecryptStream(identities, 'test.age'));
}

/** Feeds input in uneven pieces so chunk boundaries never line up with writes. */
function split(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  let step = 1;
  while (at < buf.length) {
    out.push(buf.subarray(at, at + step));
    at += step;
    step = (step * 7 + 13) % 90_001 || 1;
  }
  return out;
}

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    source,
    transform,
    new Writable({
      write(chunk: Buffer, _e, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}

/** Where the payload (after header and 16-byte nonce) starts. */
function payloadStart(file: Buffer): number {
  const mac = file.indexOf('\n--- ');
  return file.indexOf(0x0a, mac + 1) + 1 + 16;
}

function flip(buf: Buffer, at: number, bits: number): void {
  buf.writeUInt8(buf.readUInt8(at) ^ bits, at);
}

let alice: KeyPair;
let bob: KeyPair;

beforeAll(async () => {
  alice = await generateKeyPair();
  bob = await generateKeyPair();
});

describe('age encryption', () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 200_000]) {
    it(`round-trips ${size} bytes`, async () => {
      const plain = randomBytes(size);
      const sealed = await encrypt(plain, [alice.recipient]);
      const chunks = Math.max(1, Math.ceil(size / CHUNK));
      expect(sealed.length - payloadStart(sealed)).toBe(size + 16 * chunks);
      expect((await decrypt(sealed, [alice.identity])).equals(plain)).toBe(true);
    });
  }

  it('writes files the age-encryption package decrypts, and reads files it wrote', async () => {
    const plain = randomBytes(150_000);
    const ours = await encrypt(plain, [alice.recipient]);
    const d = new Decrypter();
    d.addIdentity(alice.identity);
    expect(Buffer.from(await d.decrypt(new Uint8Array(ours))).equals(plain)).toBe(true);

    const e = new Encrypter();
    e.addRecipient(alice.recipient);
    const theirs = Buffer.from(await e.encrypt(new Uint8Array(plain)));
    expect((await decrypt(theirs, [alice.identity])).equals(plain)).toBe(true);
  });

  it('encrypts to several recipients, each of whom can decrypt', async () => {
    const plain = Buffer.from('two keys');
    const sealed = await encrypt(plain, [alice.recipient, bob.recipient]);
    expect((await decrypt(sealed, [bob.identity])).toString()).toBe('two keys');
    expect((await decrypt(sealed, [alice.identity])).toString()).toBe('two keys');
  });

  it('gives a typed wrong-key error, never garbage', async () => {
    const sealed = await encrypt(randomBytes(1000), [alice.recipient]);
    const attempt = decrypt(sealed, [bob.identity]);
    await expect(attempt).rejects.toThrow(WrongKeyError);
    await expect(decrypt(sealed, [bob.identity])).rejects.toThrow(
      /none of the given identities is a recipient/,
    );
  });

  it('detects truncation anywhere, including exactly at a chunk boundary', async () => {
    const plain = randomBytes(3 * CHUNK + 500);
    const sealed = await encrypt(plain, [alice.recipient]);
    const start = payloadStart(sealed);
    const cuts = [10, start - 5, start, start + 100, start + SEALED, start + 2 * SEALED, sealed.length - 1];
    for (const cut of cuts) {
      await expect(decrypt(sealed.subarray(0, cut), [alice.identity]), `cut at ${cut}`).rejects.toThrow(
        CiphertextError,
      );
    }
  });

  it('detects a flipped byte in the payload and in the header', async () => {
    const sealed = await encrypt(randomBytes(2 * CHUNK), [alice.recipient]);
    const inPayload = Buffer.from(sealed);
    flip(inPayload, payloadStart(sealed) + 10, 1);
    await expect(decrypt(inPayload, [alice.identity])).rejects.toThrow(/chunk 0 failed authentication/);
    const inLast = Buffer.from(sealed);
    flip(inLast, sealed.length - 3, 0x80);
    await expect(decrypt(inLast, [alice.identity])).rejects.toThrow(/final chunk .* truncated or tampered/);
    const inHeader = Buffer.from(sealed);
    const mac = sealed.indexOf('\n--- ');
    inHeader[mac + 8] = inHeader[mac + 8] === 0x41 ? 0x42 : 0x41;
    await expect(decrypt(inHeader, [alice.identity])).rejects.toThrow(CiphertextError);
  });

  it('detects reordered chunks', async () => {
    const sealed = await encrypt(randomBytes(3 * CHUNK + 1), [alice.recipient]);
    const start = payloadStart(sealed);
    const swapped = Buffer.concat([
      sealed.subarray(0, start),
      sealed.subarray(start + SEALED, start + 2 * SEALED),
      sealed.subarray(start, start + SEALED),
      sealed.subarray(start + 2 * SEALED),
    ]);
    await expect(decrypt(swapped, [alice.identity])).rejects.toThrow(/chunk 0 failed authentication/);
  });

  it('refuses data that is not an age file, and names armored files', async () => {
    await expect(decrypt(Buffer.from('INSERT INTO t VALUES (1);\n'), [alice.identity])).rejects.toThrow(
      /not an age file/,
    );
    await expect(
      decrypt(Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n'), [alice.identity]),
    ).rejects.toThrow(/ASCII-armored/);
  });
});

describe('keys', () => {
  it('validates recipients and refuses a secret key in their place', () => {
    expect(parseRecipient(` ${alice.recipient}\n`)).toBe(alice.recipient);
    expect(() => parseRecipient(alice.identity)).toThrow(/secret identity/);
    expect(() => parseRecipient('age1notakey')).toThrow(EncryptionKeyError);
    const broken = alice.recipient.slice(0, -1) + (alice.recipient.endsWith('q') ? 'p' : 'q');
    expect(() => parseRecipient(broken)).toThrow(EncryptionKeyError);
  });

  it('reads age-keygen style identity and recipient files', () => {
    const text = identityFileText(alice, new Date('2026-01-01T00:00:00Z'));
    expect(text).toContain(`# public key: ${alice.recipient}`);
    expect(parseIdentityFile(text, 'key.txt')).toEqual([alice.identity]);
    expect(() => parseIdentityFile('# nothing here\n', 'key.txt')).toThrow(/holds no AGE-SECRET-KEY/);
    expect(() => parseIdentityFile(`${alice.recipient}\n`, 'key.txt')).toThrow(/not an AGE-SECRET-KEY/);
    expect(parseRecipientFile(`# team\n${alice.recipient}\n\n${bob.recipient}\n`, 'r.txt')).toEqual([
      alice.recipient,
      bob.recipient,
    ]);
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbtrail-enc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('encrypts a file with its ciphertext size and hash, and decrypts it back', async () => {
    const plain = randomBytes(300_000);
    await writeFile(join(dir, 'a.sql'), plain);
    const { size, sha256 } = await encryptFile(join(dir, 'a.sql'), join(dir, 'a.sql.age'), [alice.recipient]);
    const stored = await readFile(join(dir, 'a.sql.age'));
    expect(size).toBe(stored.length);
    const { createHash } = await import('node:crypto');
    expect(sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    expect((await stat(join(dir, 'a.sql.age'))).mode & 0o777).toBe(0o600);
    await decryptFile(join(dir, 'a.sql.age'), join(dir, 'a.out'), [alice.identity]);
    expect((await readFile(join(dir, 'a.out'))).equals(plain)).toBe(true);
  });

  it('leaves no output file when decryption fails', async () => {
    await writeFile(join(dir, 'b.sql'), randomBytes(100_000));
    await encryptFile(join(dir, 'b.sql'), join(dir, 'b.sql.age'), [alice.recipient]);
    const stored = await readFile(join(dir, 'b.sql.age'));
    await writeFile(join(dir, 'b.cut.age'), stored.subarray(0, stored.length - 20));
    await expect(decryptFile(join(dir, 'b.cut.age'), join(dir, 'b.out'), [alice.identity])).rejects.toThrow(
      CiphertextError,
    );
    await expect(decryptFile(join(dir, 'b.sql.age'), join(dir, 'b.out'), [bob.identity])).rejects.toThrow(
      WrongKeyError,
    );
    expect(existsSync(join(dir, 'b.out'))).toBe(false);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).filter((n) => n.includes('partial'))).toEqual([]);
  });
});
