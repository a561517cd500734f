import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  loadSecretBox,
  SECRET_KEY_FILE,
  SecretKeyError,
  SecretOpenError,
  secretBoxFromKey,
} from './secret-box.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-secret-box-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `home${++n}`);

const KEY = Buffer.alloc(32, 7);

describe('secretBoxFromKey', () => {
  it('seals to version, key id, nonce, ciphertext and tag, and opens only with the same context', () => {
    const box = secretBoxFromKey(KEY);
    const sealed = box.seal('s3cret pässword', 'server:a');
    const plain = Buffer.from('s3cret pässword', 'utf8');
    expect(sealed.byteLength).toBe(1 + 4 + 12 + plain.byteLength + 16);
    expect(sealed[0]).toBe(1);
    expect(Buffer.from(sealed).includes(plain)).toBe(false);
    expect(box.openText(sealed, 'server:a')).toBe('s3cret pässword');
    // A fresh nonce each time: the same secret never seals to the same bytes.
    expect(Buffer.from(box.seal('s3cret pässword', 'server:a')).equals(Buffer.from(sealed))).toBe(false);
    expect(() => box.open(sealed, 'server:b')).toThrow(SecretOpenError);
    expect(() => box.open(sealed, 'server:b')).toThrow(
      'Cannot open secret for server:b: authentication failed (altered, or sealed for another record)',
    );
  });

  it('detects every altered byte, a foreign key, and truncation', () => {
    const box = secretBoxFromKey(KEY);
    const sealed = box.seal('pw', 'ctx');
    for (let i = 5; i < sealed.byteLength; i++) {
      const bad = Uint8Array.from(sealed);
      bad[i] = bad[i]! ^ 0x01;
      expect(() => box.open(bad, 'ctx'), `byte ${i}`).toThrow(SecretOpenError);
    }
    const other = secretBoxFromKey(Buffer.alloc(32, 8));
    expect(() => other.open(sealed, 'ctx')).toThrow(/sealed with another key/);
    expect(() => box.open(sealed.subarray(0, 20), 'ctx')).toThrow(/shorter than the 33-byte minimum/);
    const future = Uint8Array.from(sealed);
    future[0] = 2;
    expect(() => box.open(future, 'ctx')).toThrow(/unknown format version 2/);
  });

  it('refuses a key of the wrong size', () => {
    expect(() => secretBoxFromKey(Buffer.alloc(16))).toThrow(
      'Cannot use secret key: expected 32 bytes, got 16',
    );
  });
});

describe('loadSecretBox', () => {
  it('creates <home>/secret.key with mode 0600 on first use and reuses it', () => {
    const home = freshDir();
    const first = loadSecretBox({ home });
    const path = join(home, SECRET_KEY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(Buffer.from(text.trim(), 'base64').byteLength).toBe(32);
    const sealed = first.seal('pw', 'server:x');
    const second = loadSecretBox({ home });
    expect(second.openText(sealed, 'server:x')).toBe('pw');
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('refuses a key file that other users can read', () => {
    const home = freshDir();
    loadSecretBox({ home });
    chmodSync(join(home, SECRET_KEY_FILE), 0o644);
    expect(() => loadSecretBox({ home })).toThrow(SecretKeyError);
    expect(() => loadSecretBox({ home })).toThrow(/other users may read it \(mode 644\); run chmod 600/);
  });

  it('reads a provided key file as hex, base64 or raw bytes, and never creates one', () => {
    const home = freshDir();
    const hexFile = join(root, `hex${n}`);
    const b64File = join(root, `b64${n}`);
    const rawFile = join(root, `raw${n}`);
    writeFileSync(hexFile, `${KEY.toString('hex')}\n`);
    writeFileSync(b64File, KEY.toString('base64'));
    writeFileSync(rawFile, KEY);
    const sealed = secretBoxFromKey(KEY).seal('pw', 'c');
    for (const keyFile of [hexFile, b64File, rawFile]) {
      expect(loadSecretBox({ home, keyFile }).openText(sealed, 'c')).toBe('pw');
    }
    expect(() => statSync(join(home, SECRET_KEY_FILE))).toThrow(/ENOENT/);
    const bad = join(root, `bad${n}`);
    writeFileSync(bad, 'not a key');
    expect(() => loadSecretBox({ home, keyFile: bad })).toThrow(
      `Cannot use secret key file ${bad}: expected 32 bytes as 64 hex digits, base64 or raw bytes`,
    );
    expect(() => loadSecretBox({ home, keyFile: join(root, 'missing') })).toThrow(
      /^Cannot read secret key file .*missing: ENOENT/,
    );
  });
});
