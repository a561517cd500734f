import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigningKeyError } from './errors.js';
import {
  MANIFEST_FORMAT,
  parseManifest,
  serializeManifest,
  signManifest,
  type ManifestV1,
} from './manifest.js';
import {
  checkManifestSignature,
  loadOrCreateSigner,
  loadTrustedKeys,
  signingPaths,
  type ManifestSigner,
  type TrustedKeys,
} from './signing.js';

const V1: ManifestV1 = {
  format: MANIFEST_FORMAT,
  version: 1,
  backup_id: 'bk_0001',
  tenant: 'acme',
  server_name: 'db-main',
  kind: 'logical',
  tool: { name: 'mydumper', version: '0.19.1' },
  server: { flavor: 'mariadb', version: '11.4.5', server_id: 1, server_uuid: null, hostname: 'db1' },
  started_at: '2026-03-13T14:15:00.123Z',
  finished_at: '2026-03-13T14:16:30.000Z',
  coordinates: { file: 'binlog.000042', position: 12345, gtid: '0-1-100' },
  filters: { schemas: null, tables: null },
  compression: 'zstd',
  encryption: null,
  files: [{ path: 'shop.orders.00000.sql.zst', size: 10, sha256: 'a'.repeat(64) }],
};

let dir: string;
let signer: ManifestSigner;
let trusted: TrustedKeys;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dbtrail-signing-'));
  signer = (await loadOrCreateSigner(join(dir, 'keys', 'manifest-signing.pem'))).signer;
  trusted = { keys: new Set([signer.key.publicKey]) };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const bytesOf = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value, null, 2));

describe('signing key', () => {
  it('is created once with mode 0600 and read back on later calls', async () => {
    const file = join(dir, 'k2', 'key.pem');
    const first = await loadOrCreateSigner(file);
    const second = await loadOrCreateSigner(file);
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.signer.key).toEqual(first.signer.key);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(first.signer.key.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(first.signer.key.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(first.signer.key.pem).toContain('BEGIN PUBLIC KEY');
    expect(JSON.stringify(first.signer)).not.toContain('PRIVATE');
  });

  it('refuses a key file that is not an Ed25519 private key', async () => {
    const file = join(dir, 'bad.pem');
    await writeFile(file, 'not a key\n');
    await expect(loadOrCreateSigner(file)).rejects.toThrow(SigningKeyError);
    await expect(loadOrCreateSigner(file)).rejects.toThrow(
      /Cannot load manifest signing key .*bad.pem: not a PEM private key/,
    );
  });

  it('trusts its own key and the keys file, and names a bad line', async () => {
    const home = join(dir, 'home');
    const paths = signingPaths({ home, signing: { keyFile: undefined, trustedKeysFile: undefined } });
    const own = (await loadOrCreateSigner(paths.signingKeyFile)).signer;
    await writeFile(paths.trustedKeysFile, `# remote agent\n${signer.key.publicKey} # agent-1\n\n`);
    expect([...(await loadTrustedKeys(paths)).keys].sort()).toEqual(
      [own.key.publicKey, signer.key.publicKey].sort(),
    );
    await writeFile(paths.trustedKeysFile, `${signer.key.publicKey}\nnot-a-key\n`);
    await expect(loadTrustedKeys(paths)).rejects.toThrow(/line 2 is not a base64 Ed25519 public key/);
  });
});

describe('manifest signatures', () => {
  it('signs a version 2 manifest that parses and verifies', () => {
    const signed = signManifest(V1, signer);
    expect(signed.version).toBe(2);
    expect(signed.signature).toMatchObject({
      algorithm: 'ed25519',
      key_id: signer.key.keyId,
      public_key: signer.key.publicKey,
    });
    const text = serializeManifest(signed);
    expect(parseManifest(text)).toEqual(signed);
    expect(checkManifestSignature(bytesOf(text), trusted)).toEqual({
      status: 'valid',
      keyId: signer.key.keyId,
    });
  });

  it('survives re-formatting of the stored JSON (the signature is over canonical bytes)', () => {
    const signed = signManifest(V1, signer);
    expect(checkManifestSignature(Buffer.from(JSON.stringify(signed)), trusted).status).toBe('valid');
  });

  type Editable = {
    files: { size: number; sha256: string }[];
    coordinates: { position: number };
    note?: string;
  };
  it.each([
    ['a file size', (m: Editable) => (m.files[0]!.size = 11)],
    ['a checksum', (m: Editable) => (m.files[0]!.sha256 = 'b'.repeat(64))],
    ['the coordinates', (m: Editable) => (m.coordinates.position = 99999)],
    ['an added member', (m: Editable) => (m.note = 'harmless?')],
    ['a removed file', (m: Editable) => (m.files = [])],
  ])('finds a manifest modified after signing: %s', (_what, edit) => {
    const m = JSON.parse(serializeManifest(signManifest(V1, signer))) as Editable;
    edit(m);
    const check = checkManifestSignature(bytesOf(m), trusted);
    expect(check.status).toBe('invalid');
    expect(check.problem).toMatch(/does not match the manifest: it was modified after signing/);
  });

  it('reports a correct signature by another key as unknown_key', async () => {
    const other = (await loadOrCreateSigner(join(dir, 'other', 'key.pem'))).signer;
    const check = checkManifestSignature(bytesOf(signManifest(V1, other)), trusted);
    expect(check).toMatchObject({ status: 'unknown_key', keyId: other.key.keyId });
    expect(check.problem).toMatch(/not trusted here/);
  });

  it('reports version 1 as unsigned, and version 2 without a signature as invalid', () => {
    expect(checkManifestSignature(bytesOf(V1), trusted).status).toBe('unsigned');
    const stripped = { ...signManifest(V1, signer), signature: undefined };
    expect(checkManifestSignature(bytesOf(stripped), trusted)).toMatchObject({
      status: 'invalid',
      problem: 'the manifest is version 2 but has no signature',
    });
  });

  it('refuses a malformed signature member and non-JSON without throwing', () => {
    const m = { ...signManifest(V1, signer), signature: { algorithm: 'rsa', value: 'x' } };
    expect(checkManifestSignature(bytesOf(m), trusted).status).toBe('invalid');
    expect(checkManifestSignature(Buffer.from('{'), trusted).status).toBe('invalid');
    const short = signManifest(V1, signer);
    const bad = { ...short, signature: { ...short.signature, value: Buffer.alloc(10).toString('base64') } };
    expect(checkManifestSignature(bytesOf(bad), trusted).status).toBe('invalid');
  });

  it('parseManifest refuses a version 2 manifest without a signature object', () => {
    const m = { ...V1, version: 2 };
    expect(() => parseManifest(JSON.stringify(m))).toThrow(/signature is not a JSON object/);
  });

  it('writes the key file readable by openssl as PKCS#8', async () => {
    const text = await readFile(join(dir, 'keys', 'manifest-signing.pem'), 'utf8');
    expect(text).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });
});
